"""Questions about Azure Cache for Redis operations (table RedisCacheEvents)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eventaudit.control_plane.targets import AZURE_CACHE_FOR_REDIS
from eventaudit.queries.control_plane import explain_scaling_completed
from eventaudit.queries.errors import InvalidQuery
from eventaudit.queries.models import (
    LastScaling,
    Page,
    RedisOperation,
    Resource,
    TimelineItem,
    entity_text,
    redis_operation_from,
    resource_from,
)
from eventaudit.queries.ranges import ANY_TIME, TimeRange
from eventaudit.queries.reader import (
    PartitionQuery,
    check_limit,
    position_token,
    read_all,
    read_merged,
    run_bounded,
    token_position,
)
from eventaudit.queries.resources import REDIS_CACHE, list_resources, resolve
from eventaudit.queries.sources import Source, TimelineFilter, details
from eventaudit.queries.statuses import FAILED, checked_status, is_failed, status_filter
from eventaudit.storage import AuditStore, keys
from eventaudit.storage.tables import AUDIT_RESOURCES, REDIS_CACHE_EVENTS

OPERATIONS = ("Scaling", "Patching", "ImportRDB", "ExportRDB")
# The only cache type that publishes the four Redis events (Azure Managed Redis publishes none).
REDIS_EVENTS_TYPE = AZURE_CACHE_FOR_REDIS.type_name
_COLUMNS = ("PartitionKey", "RowKey", "CacheName", "Operation", "Status", "EventTime", "OccurredAt",
            "ResourceGroup", "SubscriptionId", "EventId", "EventType", "Topic")


def operation_name(value: str | None) -> str | None:
    """One of OPERATIONS, whatever the casing; None for no filter."""
    if value is None or value == "":
        return None
    for name in OPERATIONS:
        if value.strip().lower() == name.lower():
            return name
    raise InvalidQuery(f"operation {value[:50]!r} is not one of {', '.join(OPERATIONS)}")


def cache_operations(store: AuditStore, cache: str, *, operation: str | None = None,
                     status: str | None = None, time_range: TimeRange = ANY_TIME,
                     limit: int = 50, continuation: str | None = None) -> Page[RedisOperation]:
    """The operations of one cache, newest first: one partition."""
    resource = resolve(store, REDIS_CACHE, cache)
    return _operations(store, [resource.name], operation=operation, status=status, time_range=time_range,
                       limit=limit, continuation=continuation, question="cache-operations")


def recent_operations(store: AuditStore, *, caches: Sequence[str] | None = None, operation: str | None = None,
                      status: str | None = None, time_range: TimeRange = ANY_TIME, limit: int = 50,
                      continuation: str | None = None) -> Page[RedisOperation]:
    """Operations across caches (all recorded caches, or those named), merged newest first."""
    if caches:
        names = sorted({resolve(store, REDIS_CACHE, name).name for name in caches}, key=str.lower)
    else:
        names = [resource.name for resource in list_resources(store, REDIS_CACHE)]
    return _operations(store, names, operation=operation, status=status, time_range=time_range, limit=limit,
                       continuation=continuation, question="operations")


def failed_operations(store: AuditStore, *, caches: Sequence[str] | None = None,
                      time_range: TimeRange = ANY_TIME, limit: int = 50,
                      continuation: str | None = None) -> Page[RedisOperation]:
    """Every failed operation across caches in a time range, newest first (statuses.is_failed)."""
    return recent_operations(store, caches=caches, status=FAILED, time_range=time_range, limit=limit,
                             continuation=continuation)


def _operations(store: AuditStore, caches: Sequence[str], *, operation: str | None, status: str | None,
                time_range: TimeRange, limit: int, continuation: str | None,
                question: str) -> Page[RedisOperation]:
    limit = check_limit(limit)
    operation = operation_name(operation)
    status = checked_status(status)
    partitions = sorted({keys.cache_partition(name) for name in caches})
    identity = [partitions, operation, status]
    after = token_position(continuation, question, identity)
    clauses, parameters, keep = _conditions(operation, status)
    query = PartitionQuery(REDIS_CACHE_EVENTS, partitions, clauses, parameters, time_range, _COLUMNS, keep)
    rows, last = read_merged(store, query, limit, after)
    return Page([redis_operation_from(row) for row in rows], position_token(question, identity, last))


def _conditions(operation: str | None, status: str | None) -> tuple[list[str], dict[str, Any], Any]:
    clauses, parameters, keep = [], {}, None
    if operation:
        clauses.append("Operation eq @operation")
        parameters["operation"] = operation
    if status:
        clause, found, keep = status_filter(status)
        clauses += [clause] if clause else []
        parameters.update(found)
    return clauses, parameters, keep


def last_scaling(store: AuditStore, *, limit: int = 50, continuation: str | None = None) -> Page[LastScaling]:
    """Each cache with its latest scaling: one partition read per cache, newest row only.

    Pages follow the caches' AuditResources RowKeys (the lower-cased name; name~hash for Azure Managed
    Redis), read from the service a page at a time: two caches of one name are two rows, each listed.
    """
    limit = check_limit(limit)
    after = token_position(continuation, "last-scaling", [])
    rows, last = read_merged(store, PartitionQuery(AUDIT_RESOURCES, [REDIS_CACHE]), limit, after)
    page = [resource_from(row) for row in rows]

    def latest(resource: Resource) -> list:
        if resource.resource_type != REDIS_EVENTS_TYPE:
            return []
        [found] = read_all(store, REDIS_CACHE_EVENTS, [(
            "PartitionKey eq @pk and Operation eq @operation",
            {"pk": keys.cache_partition(resource.name), "operation": "Scaling"})], select=_COLUMNS,
            first_only=True)
        return found

    found = run_bounded(latest, page)
    items = [LastScaling(r.name, r.resource_group, redis_operation_from(rows[0]) if rows else None, r.product)
             for r, rows in zip(page, found, strict=True)]
    return Page(items, position_token("last-scaling", [], last))


# --- in the merged timeline ------------------------------------------------------------------------

def operation_item(entity: Mapping[str, Any]) -> TimelineItem:
    """One RedisCacheEvents row as an item; reads nothing else."""
    operation = redis_operation_from(entity)
    return TimelineItem(
        time=operation.event_time, kind="redis-operation", resource=operation.cache,
        resource_type=REDIS_CACHE, action=operation.operation, subject=None, label=None,
        status=operation.status, failed=is_failed(operation.status),
        summary=f"{operation.operation} {operation.status}",
        details=details(event_id=operation.event_id, event_type=operation.event_type,
                        occurred_at=operation.occurred_at, resource_group=operation.resource_group,
                        subscription_id=operation.subscription_id,
                        resource_id=entity_text(entity, "Topic")))


def _cache_partitions(cache: Resource | None, _: TimelineFilter) -> list[str]:
    if cache is None or cache.resource_type != REDIS_EVENTS_TYPE:
        return []  # Azure Managed Redis publishes no Redis events: its history is control-plane only
    return [keys.cache_partition(cache.name)]


OPERATION_SOURCE = Source(
    kind="redis-operation", table=REDIS_CACHE_EVENTS, resource_types=(REDIS_CACHE,),
    partitions=_cache_partitions, item=operation_item, columns=_COLUMNS, actions=OPERATIONS,
    action_property="Operation", status_property="Status", explain=explain_scaling_completed)
