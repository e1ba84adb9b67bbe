"""A cache's or store's history: Redis operation events and control-plane changes in one chronology.

Rows come from ControlPlaneEvents (one partition per resource: keys.control_plane_partition) and,
for an Azure Cache for Redis cache, RedisCacheEvents (its name's partition), merged newest first
with the shared reader (reader.read_merged) and paged with one continuation token.

Who requested a scaling is an inference, never a fact of the outcome event: a Redis
`ScalingCompleted` and a Resource Notification of a new size name no caller. The outcome is matched
to a successful Resource Manager write on the same cache (the cache itself, not a child):
1. by correlation id, when the outcome row carries one (Resource Manager rows do; today's outcomes,
   ScalingCompleted and Resource Notifications, carry none);
2. else the nearest such write at or before the outcome, within MATCH_WINDOW (6 h: scaling a
   clustered Premium cache can take hours). A tag change written in between would be taken for the
   request: the answer says how it was matched and that it is inferred.
A Redis ScalingCompleted carries no sizes either; "P1 → P2" comes from the nearest Resource
Notification of a size change within the same window before it.

timeline_item(row) turns one ControlPlaneEvents row into an item of the merged timeline (time, kind,
resource, summary, details, failed), without reading anything else.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventaudit.control_plane.caller import MANAGED_IDENTITY_TYPE
from eventaudit.control_plane.properties import changes, is_scaling, listing
from eventaudit.control_plane.targets import AZURE_CACHE_FOR_REDIS, Target, family_of
from eventaudit.errors import MalformedEvent
from eventaudit.queries.models import Page, Resource, _Record, entity_text, entity_time
from eventaudit.queries.ranges import ANY_TIME, TimeRange, iso
from eventaudit.queries.reader import (
    PartitionQuery,
    check_limit,
    merge,
    position_token,
    read_all,
    run_bounded,
    token_position,
)
from eventaudit.queries.resources import REDIS_CACHE, resolve_all
from eventaudit.queries.statuses import is_failed
from eventaudit.resource_ids import parse_resource_id
from eventaudit.storage import AuditStore, keys
from eventaudit.storage.tables import CONTROL_PLANE_EVENTS, REDIS_CACHE_EVENTS

MATCH_WINDOW = dt.timedelta(hours=6)
RESOURCE_MANAGER, RESOURCE_NOTIFICATIONS = "ResourceManager", "ResourceNotifications"
CHANGE_COLUMNS = (
    "PartitionKey", "RowKey", "EventId", "EventType", "EventTime", "Source", "Change", "Outcome", "Operation",
    "Status", "CorrelationId", "Kind", "Product", "ResourceType", "ResourceId", "ResourceName",
    "ResourceGroup",
    "SubscriptionId", "SubResource", "CallerType", "CallerObjectId", "CallerUpn", "CallerName", "CallerAppId",
    "CallerManagedIdentity", "ClientIp", "HttpMethod", "Properties", "Sku", "Previous", "PreviousSku",
    "PreviousEventTime", "Changes",
)
REDIS_COLUMNS = ("PartitionKey", "RowKey", "CacheName", "Operation", "Status", "EventTime", "OccurredAt",
                 "ResourceGroup", "SubscriptionId", "EventId", "EventType", "Topic")
_OUTCOME_WORDS = {"Success": "succeeded", "Failure": "failed", "Cancel": "canceled"}
_IDENTITY_WORDS = {"User": "user", "ServicePrincipal": "service principal",
                   MANAGED_IDENTITY_TYPE: "managed identity", "Unknown": "unknown identity type"}


@dataclass(frozen=True)
class Caller(_Record):
    """Who sent a Resource Manager request: the allow-listed claims and the client IP."""

    type: str | None
    object_id: str | None
    upn: str | None
    name: str | None
    app_id: str | None
    managed_identity: str | None
    client_ip: str | None

    def label(self) -> str:
        """'jane.doe@contoso.com (user)', 'contoso-checkout (managed identity)', '<app id> (service
        principal)'."""
        identity = self.managed_identity.rsplit("/", 1)[-1] if self.managed_identity else None
        who = self.upn or self.name or identity or self.app_id or self.object_id or "unknown caller"
        kind = _IDENTITY_WORDS.get(self.type or "", self.type)
        return f"{who} ({kind})" if kind else who

    def sentence(self) -> str:
        """'jane.doe@contoso.com (user) from 203.0.113.24'."""
        return f"{self.label()} from {self.client_ip}" if self.client_ip else self.label()


@dataclass(frozen=True)
class RequestedBy(_Record):
    """The write a scaling outcome is attributed to, and how (an inference)."""

    caller: Caller
    time: dt.datetime | None
    operation: str | None
    correlation_id: str | None
    event_id: str | None
    matched_by: str  # "correlation id" or "time window"
    note: str


@dataclass(frozen=True)
class HistoryItem(_Record):
    """One entry of a history or timeline: what happened to which resource, when, and who did it."""

    time: dt.datetime | None
    kind: str  # "Redis.Scaling", "ResourceManager.Write", "ResourceNotifications.CreatedOrUpdated", ...
    resource: str  # the cache or store, with the child if any: "contoso-amr/databases/default"
    summary: str  # what happened, and who did it or (inferred) requested it
    details: dict[str, Any]
    failed: bool
    what: str = ""  # the summary without the who: "Scaling Succeeded: P1 → P2"
    who: str | None = None  # the caller; for a scaling outcome, who requested it (inferred)
    requested_by: RequestedBy | None = field(default=None)

    @property
    def client_ip(self) -> str | None:
        """The caller's (or the inferred requester's) client IP."""
        caller = self.requested_by.caller if self.requested_by else self.details.get("caller")
        return caller.client_ip if isinstance(caller, Caller) else (caller or {}).get("client_ip")


def history(store: AuditStore, kind: str, name: str, *, time_range: TimeRange = ANY_TIME,
            limit: int = 50, continuation: str | None = None) -> Page[HistoryItem]:
    """A cache's (kind RedisCache, both generations) or a store's history, newest first.

    Every resource recorded under that name is included: an Azure Cache for Redis cache and an Azure
    Managed Redis cache may share one (a migration), and each item names its resource type.
    """
    limit = check_limit(limit)
    resources = resolve_all(store, kind, name)
    partitions = sorted(set(control_plane_partitions(resources)))
    queries = [PartitionQuery(CONTROL_PLANE_EVENTS, partitions, (), {}, time_range, CHANGE_COLUMNS)]
    if kind == REDIS_CACHE and any(r.resource_type == AZURE_CACHE_FOR_REDIS.type_name for r in resources):
        queries.append(PartitionQuery(REDIS_CACHE_EVENTS, [keys.cache_partition(resources[0].name)], (), {},
                                      time_range, REDIS_COLUMNS))
    identity = [kind, [list(q.partitions) for q in queries]]
    # One merged read of both tables (reader.merge): newest first, one token for both.
    hits, position = merge(store, queries, limit, token_position(continuation, "history", identity))
    rows = [hit.entity for hit in hits]
    token = position_token("history", identity, position)
    redis_partition = _redis_resource_partition(resources)
    items = run_bounded(lambda row: _explained(store, row, redis_partition), rows)
    return Page(items, token)


def scalings(store: AuditStore, cache: str, *, limit: int = 200) -> list[HistoryItem]:
    """The scaling outcomes among a cache's latest `limit` history items, newest first: Redis
    ScalingCompleted events (Azure Cache for Redis), and for caches that publish no Redis events
    (Azure Managed Redis) the Resource Notifications of a size change."""
    items = history(store, REDIS_CACHE, cache, limit=limit).items
    return [item for item in items if item.kind == "Redis.Scaling" or (
        item.details.get("scaling") and item.details.get("product") != AZURE_CACHE_FOR_REDIS.product)]


def control_plane_partitions(resources: Sequence[Resource]) -> list[str]:
    """The ControlPlaneEvents partition of each resource, from its recorded resource id (a row whose
    id does not parse has no control-plane history)."""
    partitions = []
    for resource in resources:
        family = family_of(resource.resource_type, "")
        if family is None:
            continue
        try:
            parsed = parse_resource_id(resource.resource_id, namespace=family.namespace, type_=family.type)
        except MalformedEvent:
            continue
        partitions.append(Target(parsed, family, "").partition)
    return partitions


def timeline_item(row: Mapping[str, Any]) -> HistoryItem:
    """One ControlPlaneEvents row as a timeline item; reads nothing else."""
    source, change = entity_text(row, "Source") or "", entity_text(row, "Change") or ""
    below = entity_text(row, "SubResource") or ""
    name = entity_text(row, "ResourceName") or ""
    resource = f"{name}/{below}" if below else name
    caller = caller_of(row) if source == RESOURCE_MANAGER else None
    details: dict[str, Any] = {
        "source": source, "change": change, "outcome": entity_text(row, "Outcome"),
        "product": entity_text(row, "Product"),
        "resourceType": entity_text(row, "ResourceType"), "resourceId": entity_text(row, "ResourceId"),
        "subResource": below or None, "eventId": entity_text(row, "EventId"),
        "eventType": entity_text(row, "EventType"),
    }
    if source == RESOURCE_MANAGER:
        outcome_text = entity_text(row, "Outcome") or ""
        outcome = _OUTCOME_WORDS.get(outcome_text, outcome_text.lower())
        operation = entity_text(row, "Operation")
        what = f"{_operation_label(operation, change)} {outcome}"
        summary = f"{what} by {caller.sentence()}" if caller else what
        details.update(operation=operation, status=entity_text(row, "Status"),
                       correlationId=entity_text(row, "CorrelationId"),
                       caller=caller.to_dict() if caller else None)
    else:
        what = summary = _notification_summary(row, change)
        details.update(sku=entity_text(row, "Sku"), previousSku=entity_text(row, "PreviousSku"),
                       changes=entity_text(row, "Changes"), properties=_json_object(row.get("Properties")),
                       previous=_json_object(row.get("Previous")),
                       previousTime=iso(entity_time(row, "PreviousEventTime")))
    return HistoryItem(time=entity_time(row, "EventTime"), kind=f"{source}.{change}", resource=resource,
                       summary=summary, details={k: v for k, v in details.items() if v is not None},
                       failed=entity_text(row, "Outcome") == "Failure", what=what,
                       who=caller.label() if caller else None)


def redis_item(row: Mapping[str, Any]) -> HistoryItem:
    """One RedisCacheEvents row as a timeline item."""
    operation, status = entity_text(row, "Operation") or "", entity_text(row, "Status") or ""
    return HistoryItem(
        time=entity_time(row, "EventTime"), kind=f"Redis.{operation}",
        resource=entity_text(row, "CacheName") or "",
        summary=f"{operation} {status}".strip(), what=f"{operation} {status}".strip(),
        details={"source": "RedisEvents", "operation": operation, "status": status,
                 "occurredAt": iso(entity_time(row, "OccurredAt")), "eventId": entity_text(row, "EventId"),
                 "eventType": entity_text(row, "EventType"), "resourceId": entity_text(row, "Topic")},
        failed=is_failed(status))


def caller_of(row: Mapping[str, Any]) -> Caller:
    return Caller(type=entity_text(row, "CallerType"), object_id=entity_text(row, "CallerObjectId"),
                  upn=entity_text(row, "CallerUpn"), name=entity_text(row, "CallerName"),
                  app_id=entity_text(row, "CallerAppId"),
                  managed_identity=entity_text(row, "CallerManagedIdentity"),
                  client_ip=entity_text(row, "ClientIp"))


def requested_by(store: AuditStore, partition: str, outcome_time: dt.datetime,
                 correlation_id: str | None = None) -> RequestedBy | None:
    """The successful Resource Manager write on the cache itself (not a child) that a scaling outcome
    in `partition` at `outcome_time` is attributed to, or None (see the module's docstring)."""
    clauses = "PartitionKey eq @pk and Source eq @source and Change eq @change and Outcome eq @outcome " \
              "and SubResource eq @below"
    parameters = {"pk": partition, "source": RESOURCE_MANAGER, "change": "Write", "outcome": "Success",
                  "below": ""}
    if correlation_id:
        [found] = read_all(store, CONTROL_PLANE_EVENTS, [(clauses + " and CorrelationId eq @cid",
                                                           {**parameters, "cid": correlation_id})],
                           CHANGE_COLUMNS, first_only=True)
        if found:
            return _requested(found[0], outcome_time, "correlation id")
    # Ascending RowKey (inverted time): the first row is the nearest before the outcome.
    [found] = read_all(store, CONTROL_PLANE_EVENTS, [_before(clauses, parameters, outcome_time)],
                       CHANGE_COLUMNS, first_only=True)
    return _requested(found[0], outcome_time, "time window") if found else None


def size_change_before(store: AuditStore, partition: str,
                       outcome_time: dt.datetime) -> tuple[str, str] | None:
    """(from, to) of the nearest Resource Notification of a size change at or before `outcome_time`."""
    clauses = "PartitionKey eq @pk and Source eq @source and SubResource eq @below"
    parameters = {"pk": partition, "source": RESOURCE_NOTIFICATIONS, "below": ""}
    [found] = read_all(store, CONTROL_PLANE_EVENTS, [_before(clauses, parameters, outcome_time)],
                       ("Sku", "PreviousSku", "Properties", "Previous"))
    for row in found:
        if row.get("Previous") is not None and is_scaling(_scaling_changes(row)):
            return entity_text(row, "PreviousSku") or "(unknown)", entity_text(row, "Sku") or "(unknown)"
    return None


def _explained(store: AuditStore, row: Mapping[str, Any], redis_partition: str | None) -> HistoryItem:
    """The row's item; a scaling outcome also says from which size to which and who requested it."""
    if row.get("Source") is None:  # a RedisCacheEvents row
        item = redis_item(row)
        if item.kind != "Redis.Scaling" or redis_partition is None or item.time is None:
            return item
        outcome_time = entity_time(row, "OccurredAt") or item.time
        sizes = size_change_before(store, redis_partition, outcome_time)
        return _attributed(item, requested_by(store, redis_partition, outcome_time), sizes)
    item = timeline_item(row)
    # Only a cache's or store's own properties include a size (children track none: properties.py).
    scaling = (entity_text(row, "Source") == RESOURCE_NOTIFICATIONS and row.get("Previous") is not None
               and is_scaling(_scaling_changes(row)))
    if not scaling or item.time is None:
        return item
    sizes = (entity_text(row, "PreviousSku") or "(unknown)", entity_text(row, "Sku") or "(unknown)")
    item = dataclasses.replace(item, details={**item.details, "scaling": True})
    return _attributed(item, requested_by(store, str(row["PartitionKey"]), item.time,
                                          entity_text(row, "CorrelationId")), sizes)


def _attributed(item: HistoryItem, requester: RequestedBy | None,
                sizes: tuple[str, str] | None) -> HistoryItem:
    what, details = item.what, dict(item.details)
    if sizes and item.kind == "Redis.Scaling":
        what += f": {sizes[0]} → {sizes[1]}"
        details.update(fromSku=sizes[0], toSku=sizes[1], sizesFrom="Resource Notifications")
    if requester is None:
        return dataclasses.replace(item, what=what, details=details,
                                   summary=f"{what}; requested by: no matching write recorded")
    summary = f"{what}; requested by {requester.caller.sentence()} ({requester.note})"
    return dataclasses.replace(item, what=what, details=details, requested_by=requester, summary=summary,
                               who=f"{requester.caller.label()} (inferred)")


def _requested(row: Mapping[str, Any], outcome_time: dt.datetime, matched_by: str) -> RequestedBy:
    time = entity_time(row, "EventTime")
    if matched_by == "correlation id":
        note = "inferred: a write with the same correlation id"
    else:
        minutes = (outcome_time - time).total_seconds() / 60 if time else 0
        note = (f"inferred: the nearest successful write on the cache, {_duration(minutes)} before; "
                f"window {int(MATCH_WINDOW.total_seconds() // 3600)} h")
    return RequestedBy(caller=caller_of(row), time=time, operation=entity_text(row, "Operation"),
                       correlation_id=entity_text(row, "CorrelationId"), event_id=entity_text(row, "EventId"),
                       matched_by=matched_by, note=note)


def _before(clauses: str, parameters: dict[str, Any], time: dt.datetime) -> tuple[str, dict[str, Any]]:
    """The filter for rows from MATCH_WINDOW before `time` up to `time` itself (inclusive)."""
    low, high = TimeRange(time - MATCH_WINDOW, time + dt.timedelta(microseconds=1)).row_key_bounds()
    return f"{clauses} and RowKey ge @low and RowKey lt @high", {**parameters, "low": low, "high": high}


def _redis_resource_partition(resources: Sequence[Resource]) -> str | None:
    redis = [r for r in resources if r.resource_type == AZURE_CACHE_FOR_REDIS.type_name]
    found = control_plane_partitions(redis[:1])
    return found[0] if found else None


def _scaling_changes(row: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    return changes(_json_object(row.get("Previous")) or {}, _json_object(row.get("Properties")) or {})


def _notification_summary(row: Mapping[str, Any], change: str) -> str:
    if change == "Deleted":
        was = entity_text(row, "PreviousSku")
        return f"deleted (was {was})" if was else "deleted"
    if row.get("Previous") is None:
        shown = listing(_json_object(row.get("Properties")) or {})
        return f"first seen: {shown}" if shown else "first seen"
    text = entity_text(row, "Changes")
    return f"updated: {text}" if text else "updated (no recorded property changed)"


def _operation_label(operation: str | None, change: str) -> str:
    """'Microsoft.Cache/redis/listKeys/action' -> 'listKeys'; a write or delete by its change."""
    if operation and operation.lower().endswith("/action"):
        return operation.split("/")[-2]
    return change.lower() if change else "operation"


def _json_object(text: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _duration(minutes: float) -> str:
    if minutes < 1:
        return f"{round(minutes * 60)} s"
    if minutes < 120:
        return f"{round(minutes)} min"
    return f"{minutes / 60:.1f} h"
