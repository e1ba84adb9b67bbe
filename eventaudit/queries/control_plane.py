"""Control-plane changes of caches and stores (table ControlPlaneEvents) in the readers, and who
requested a scaling.

Rows are Azure Resource Manager events (Source ResourceManager: a write, delete or action, its outcome
and caller) and Resource Notifications (Source ResourceNotifications: the resource's properties after a
change). One partition per resource (keys.control_plane_partition: its name and a hash of its id), so
a resource's partition comes from its recorded resource id (control_plane_partitions), and caches of
both generations sharing a name each have their own. CONTROL_PLANE_SOURCE puts them in the merged
timeline, and so in a cache's or store's history (history.py); change_item(row) is the one row ->
item function, reading nothing else.

Who requested a scaling is an inference, never a fact of the outcome event: a Redis
`ScalingCompleted` and a Resource Notification of a new size name no caller. The outcome is matched
to a successful Resource Manager write on the same cache (the cache itself, not a child):
1. by correlation id, when the outcome row carries one (Resource Manager rows do; today's outcomes,
   ScalingCompleted and Resource Notifications, carry none);
2. else the nearest such write at or before the outcome, within MATCH_WINDOW (6 h: scaling a
   clustered Premium cache can take hours). A tag change written in between would be taken for the
   request: the answer says how it was matched and that it is inferred.
A Redis ScalingCompleted carries no sizes either; "P1 → P2" comes from the nearest Resource
Notification of a size change within the same window before it. The explain_* functions add this to
an item (Source.explain): one or two more requests per scaling outcome, none for any other row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from eventaudit.control_plane.properties import changes, is_scaling, listing
from eventaudit.control_plane.targets import AZURE_CACHE_FOR_REDIS, Family, Target, family_of
from eventaudit.errors import MalformedEvent
from eventaudit.queries.models import Caller, RequestedBy, Resource, TimelineItem, entity_text, entity_time
from eventaudit.queries.ranges import TimeRange
from eventaudit.queries.reader import read_all
from eventaudit.queries.resources import APP_CONFIGURATION_STORE, REDIS_CACHE
from eventaudit.queries.sources import Source, TimelineFilter, details
from eventaudit.queries.statuses import is_failed
from eventaudit.resource_ids import parse_resource_id
from eventaudit.storage import AuditStore
from eventaudit.storage.tables import CONTROL_PLANE_EVENTS

KIND = "control-plane"
MATCH_WINDOW = dt.timedelta(hours=6)
RESOURCE_MANAGER, RESOURCE_NOTIFICATIONS = "ResourceManager", "ResourceNotifications"
CHANGES = ("Write", "Delete", "Action", "CreatedOrUpdated", "Deleted")  # Resource Manager, then Notifications
NO_MATCH = "no matching write recorded"
COLUMNS = (
    "PartitionKey", "RowKey", "EventId", "EventType", "EventTime", "Source", "Change", "Outcome", "Operation",
    "Status", "CorrelationId", "Kind", "Product", "ResourceId", "ResourceName", "SubResource", "CallerType",
    "CallerObjectId", "CallerUpn", "CallerName", "CallerAppId", "CallerManagedIdentity", "ClientIp",
    "Properties", "Sku", "Previous", "PreviousSku", "PreviousEventTime", "Changes",
)
_OUTCOME_WORDS = {"Success": "succeeded", "Failure": "failed", "Cancel": "canceled"}


def change_item(row: Mapping[str, Any]) -> TimelineItem:
    """One ControlPlaneEvents row as an item; reads nothing else."""
    source, change = entity_text(row, "Source") or "", entity_text(row, "Change") or ""
    below = entity_text(row, "SubResource") or None
    where = f"{below}: " if below else ""
    outcome = entity_text(row, "Outcome")
    common = {"source": source, "product": entity_text(row, "Product"),
              "resource_id": entity_text(row, "ResourceId"), "event_id": entity_text(row, "EventId"),
              "event_type": entity_text(row, "EventType")}
    caller = who = None
    if source == RESOURCE_MANAGER:
        caller = caller_of(row)
        who = caller.label()
        operation = entity_text(row, "Operation")
        said = _OUTCOME_WORDS.get(outcome or "", outcome or "")
        what = f"{where}{_operation_label(operation, change)} {said}"
        summary = f"{what} by {caller.sentence()}"
        shown = details(**common, operation=operation, operation_status=entity_text(row, "Status"),
                        correlation_id=entity_text(row, "CorrelationId"), caller=caller.to_dict())
    else:
        what = summary = where + _notification_summary(row, change)
        shown = details(**common, sku=entity_text(row, "Sku"), previous_sku=entity_text(row, "PreviousSku"),
                        changes=entity_text(row, "Changes"), properties=_json_object(row.get("Properties")),
                        previous=_json_object(row.get("Previous")),
                        previous_time=entity_time(row, "PreviousEventTime"),
                        scaling=True if _is_size_change(row) else None)
    return TimelineItem(
        time=entity_time(row, "EventTime"), kind=KIND, resource=entity_text(row, "ResourceName"),
        resource_type=entity_text(row, "Kind"), action=change, subject=below, label=None, status=outcome,
        failed=is_failed(outcome), summary=summary, details=shown, what=what, who=who)


def caller_of(row: Mapping[str, Any]) -> Caller:
    return Caller(type=entity_text(row, "CallerType"), object_id=entity_text(row, "CallerObjectId"),
                  upn=entity_text(row, "CallerUpn"), name=entity_text(row, "CallerName"),
                  app_id=entity_text(row, "CallerAppId"),
                  managed_identity=entity_text(row, "CallerManagedIdentity"),
                  client_ip=entity_text(row, "ClientIp"))


def control_plane_partitions(resources: Sequence[Resource]) -> list[str]:
    """The ControlPlaneEvents partition of each resource, from its recorded resource id (a row whose
    id does not parse has no control-plane history)."""
    found = (partition_of(r.resource_id, family_of(r.resource_type, r.kind or "")) for r in resources)
    return [partition for partition in found if partition is not None]


def partition_of(resource_id: str | None, family: Family | None) -> str | None:
    """The ControlPlaneEvents partition of the resource of that id and family, or None."""
    if family is None:
        return None
    try:
        parsed = parse_resource_id(resource_id, namespace=family.namespace, type_=family.type)
    except MalformedEvent:
        return None
    return Target(parsed, family, "").partition


def _partitions(resource: Resource | None, _: TimelineFilter) -> list[str]:
    return control_plane_partitions([resource] if resource else [])


# --- who requested a scaling -------------------------------------------------------------------------

def explain_change(store: AuditStore, row: Mapping[str, Any], item: TimelineItem) -> TimelineItem:
    """A Resource Notification of a cache's or store's new size, with who requested it (inferred)."""
    if not item.details.get("scaling") or item.time is None:
        return item
    requester = requested_by(store, str(row["PartitionKey"]), item.time, entity_text(row, "CorrelationId"))
    return _attributed(item, requester, None)


def explain_scaling_completed(store: AuditStore, row: Mapping[str, Any], item: TimelineItem) -> TimelineItem:
    """A Redis ScalingCompleted (a RedisCacheEvents row) with its sizes and who requested it (inferred).

    Its topic is the cache's resource id, so the cache's control-plane partition is known from the row:
    an Azure Managed Redis cache of the same name is never taken for it.
    """
    if item.action != "Scaling" or item.time is None:
        return item
    partition = partition_of(entity_text(row, "Topic"), AZURE_CACHE_FOR_REDIS)
    if partition is None:
        return item
    outcome_time = entity_time(row, "OccurredAt") or item.time
    sizes = size_change_before(store, partition, outcome_time)
    return _attributed(item, requested_by(store, partition, outcome_time), sizes)


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
                           COLUMNS, first_only=True)
        if found:
            return _requested(found[0], outcome_time, "correlation id")
    # Ascending RowKey (inverted time): the first row is the nearest before the outcome.
    [found] = read_all(store, CONTROL_PLANE_EVENTS, [_before(clauses, parameters, outcome_time)],
                       COLUMNS, first_only=True)
    return _requested(found[0], outcome_time, "time window") if found else None


def size_change_before(store: AuditStore, partition: str,
                       outcome_time: dt.datetime) -> tuple[str, str] | None:
    """(from, to) of the nearest Resource Notification of a size change at or before `outcome_time`."""
    clauses = "PartitionKey eq @pk and Source eq @source and SubResource eq @below"
    parameters = {"pk": partition, "source": RESOURCE_NOTIFICATIONS, "below": ""}
    [found] = read_all(store, CONTROL_PLANE_EVENTS, [_before(clauses, parameters, outcome_time)],
                       ("Sku", "PreviousSku", "Properties", "Previous"))
    for row in found:
        if _is_size_change(row):
            return entity_text(row, "PreviousSku") or "(unknown)", entity_text(row, "Sku") or "(unknown)"
    return None


def _attributed(item: TimelineItem, requester: RequestedBy | None,
                sizes: tuple[str, str] | None) -> TimelineItem:
    what, shown = item.what, dict(item.details)
    if sizes:
        what += f": {sizes[0]} → {sizes[1]}"
        shown.update(from_sku=sizes[0], to_sku=sizes[1], sizes_from="Resource Notifications")
    if requester is None:
        shown["attribution"] = NO_MATCH
        summary = f"{what}; requested by: {NO_MATCH}"
        return dataclasses.replace(item, what=what, details=shown, summary=summary)
    shown["attribution"] = requester.note
    summary = f"{what}; requested by {requester.caller.sentence()} ({requester.note})"
    return dataclasses.replace(item, what=what, details=shown, requested_by=requester, summary=summary,
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


def _is_size_change(row: Mapping[str, Any]) -> bool:
    """A Resource Notifications row whose properties changed size (only a cache's or store's own
    properties include a size: children track none, properties.py)."""
    if row.get("Previous") is None:
        return False
    before, after = _json_object(row.get("Previous")) or {}, _json_object(row.get("Properties")) or {}
    return is_scaling(changes(before, after))


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


CONTROL_PLANE_SOURCE = Source(
    kind=KIND, table=CONTROL_PLANE_EVENTS, resource_types=(REDIS_CACHE, APP_CONFIGURATION_STORE),
    partitions=_partitions, item=change_item, columns=COLUMNS, actions=CHANGES, action_property="Change",
    status_property="Outcome", explain=explain_change)
