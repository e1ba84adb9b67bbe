"""Questions about Azure Cache for Redis operations (table RedisCacheEvents)."""

from __future__ import annotations

from collections.abc import Sequence

from eventaudit.queries.errors import InvalidQuery
from eventaudit.queries.models import LastScaling, Page, RedisOperation, Resource, redis_operation_from
from eventaudit.queries.ranges import ANY_TIME, TimeRange
from eventaudit.queries.reader import (
    PartitionQuery,
    check_limit,
    decode_token,
    encode_token,
    read_all,
    read_merged,
    run_bounded,
)
from eventaudit.queries.resources import REDIS_CACHE, list_resources, resolve
from eventaudit.storage import AuditStore, keys
from eventaudit.storage.tables import REDIS_CACHE_EVENTS

OPERATIONS = ("Scaling", "Patching", "ImportRDB", "ExportRDB")
STATUSES = ("Succeeded", "Failed")
FAILED = "Failed"
REDIS_EVENTS_TYPE = "Microsoft.Cache/Redis"  # the only cache type that publishes the four Redis events
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


def status_name(value: str | None) -> str | None:
    """Succeeded/Failed whatever the casing; another status is kept as given (it is stored as sent)."""
    if value is None or value == "":
        return None
    value = value.strip()
    if len(value) > 100:
        raise InvalidQuery("status is longer than 100 characters")
    return next((name for name in STATUSES if name.lower() == value.lower()), value)


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
    """Every failed operation across caches in a time range, newest first."""
    return recent_operations(store, caches=caches, status=FAILED, time_range=time_range, limit=limit,
                             continuation=continuation)


def _operations(store: AuditStore, caches: Sequence[str], *, operation: str | None, status: str | None,
                time_range: TimeRange, limit: int, continuation: str | None,
                question: str) -> Page[RedisOperation]:
    limit = check_limit(limit)
    operation = operation_name(operation)
    status = status_name(status)
    partitions = sorted({keys.cache_partition(name) for name in caches})
    identity = [partitions, operation, status]
    position = decode_token(continuation, question, identity, ("rk", "pk"))
    clauses, parameters = [], {}
    if operation:
        clauses.append("Operation eq @operation")
        parameters["operation"] = operation
    if status:
        clauses.append("Status eq @status")
        parameters["status"] = status
    query = PartitionQuery(REDIS_CACHE_EVENTS, partitions, clauses, parameters, time_range, _COLUMNS)
    rows, last = read_merged(store, query, limit, (position["rk"], position["pk"]) if position else None)
    token = encode_token(question, identity, {"rk": last[0], "pk": last[1]}) if last else None
    return Page([redis_operation_from(row) for row in rows], token)


def last_scaling(store: AuditStore, *, limit: int = 50, continuation: str | None = None) -> Page[LastScaling]:
    """Each cache (by name) with its latest scaling: one partition read per cache, newest row only."""
    limit = check_limit(limit)
    position = decode_token(continuation, "last-scaling", [], ("cache",))
    after = position["cache"] if position else ""
    caches = [r for r in list_resources(store, REDIS_CACHE) if r.name.lower() > after]
    page, more = caches[:limit], len(caches) > limit

    def latest(resource: Resource) -> list:
        if resource.resource_type != REDIS_EVENTS_TYPE:  # Azure Managed Redis publishes no Redis events
            return []
        [found] = read_all(store, REDIS_CACHE_EVENTS, [(
            "PartitionKey eq @pk and Operation eq @operation",
            {"pk": keys.cache_partition(resource.name), "operation": "Scaling"})], select=_COLUMNS,
            first_only=True)
        return found

    found = run_bounded(latest, page)
    items = [LastScaling(r.name, r.resource_group, redis_operation_from(rows[0]) if rows else None, r.product)
             for r, rows in zip(page, found, strict=True)]
    token = encode_token("last-scaling", [], {"cache": page[-1].name.lower()}) if more and page else None
    return Page(items, token)
