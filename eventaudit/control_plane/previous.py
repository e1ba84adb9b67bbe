""""From which size to which": each Resource Notifications row learns the properties before it.

The "previous" of a change is the state before it in event-time order, whatever order the events
arrive in. So a row is not compared with the latest known state (a late event would read a newer
state as its past) but linked to its neighbour in the resource's partition, which lists the
changes newest first:

1. The event's row is written first (MERGE, so a redelivery keeps what others linked to it).
2. Then its two chain rows (ControlPlaneChain, one batch): the resource's (or child's) notifications
   in both time orders, so each neighbour is the first chain row after the event's own key - one row
   read, where a query of the events partition would read every row between the event and its
   neighbour (Table Storage reads all rows of a RowKey range whatever the filter, listKeys and all).
3. Then its next older row becomes its `Previous`, and it becomes the `Previous` of its next newer
   row - each only if no closer row is linked already, decided on the row's ETag
   (AuditStore.update_if), so concurrent writers converge.

Why this ends right: of two events written at once, at least one writes its chain rows before the
other reads its neighbours (each writes, then reads), so every adjacent pair is linked by one of them,
and a link is only ever replaced by a closer one. A chain row is written after its event's row, so
the row it names exists. Redeliveries rewrite the same rows and link again.

The latest known properties of each resource (and child) are also kept in ControlPlaneState,
latest event wins, as AppConfigurationKeys keeps a key's state.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from azure.data.tables import UpdateMode

from eventaudit.control_plane.properties import Properties, changes, describe, sku_label
from eventaudit.control_plane.targets import Target
from eventaudit.events import Envelope
from eventaudit.storage import AuditStore, keys
from eventaudit.storage.tables import CONTROL_PLANE_CHAIN, CONTROL_PLANE_EVENTS, CONTROL_PLANE_STATE

RESOURCE_NOTIFICATIONS = "ResourceNotifications"
_COLUMNS = ["EventRowKey", "EventTime", "Properties"]


def link_neighbours(store: AuditStore, target: Target, event: Envelope, row_key: str,
                    properties: Properties) -> None:
    """Make the row's `Previous` its next older row, and the row the `Previous` of its next newer one."""
    if event.time is None:  # ingest refuses undated events before any handler runs
        raise ValueError("a chain row needs the event time")
    time = event.time
    columns = {"PartitionKey": target.partition, "EventRowKey": row_key, "EventTime": time,
               "Properties": json.dumps(properties, ensure_ascii=False)}
    store.upsert(CONTROL_PLANE_CHAIN, *(
        {**columns, "RowKey": keys.chain_row_key(target.target_key, order, time, event.identity)}
        for order in (keys.NEWEST_FIRST, keys.OLDEST_FIRST)))
    older, newer = neighbours(store, target, time, event.identity)
    if older is not None:
        _link(store, target.partition, row_key, older["EventRowKey"], older.get("EventTime"),
              _loads(older.get("Properties")))
    if newer is not None:
        _link(store, target.partition, newer["EventRowKey"], row_key, time, properties)


def neighbours(store: AuditStore, target: Target, time: dt.datetime, identity: str) -> tuple[Any, Any]:
    """The chain rows of the target's notifications right before and right after an event (its time and
    identity): in each order, the first row after the event's own, of that order. One row read each."""
    def first_after(order: str) -> Any:
        # "~" sorts after the digits, a-f and "-" that chain keys hold: the end of this order's rows.
        start = keys.chain_row_key(target.target_key, order, time, identity)
        end = keys.chain_prefix(target.target_key, order) + "~"
        return store.first_between(CONTROL_PLANE_CHAIN, target.partition, start, end, _COLUMNS)

    return first_after(keys.NEWEST_FIRST), first_after(keys.OLDEST_FIRST)


def _link(store: AuditStore, partition: str, row_key: str, previous_row: str, previous_time: Any,
          previous: Properties) -> None:
    def decide(current: Any) -> dict[str, Any] | None:
        if current is None:
            return None
        linked = current.get("PreviousRowKey")
        if isinstance(linked, str) and linked <= previous_row:
            return None  # linked to this row already, or to one closer in time
        found = changes(previous, _loads(current.get("Properties")))
        update = {"PreviousRowKey": previous_row, "Previous": json.dumps(previous, ensure_ascii=False),
                  "Changes": describe(found), "PreviousSku": sku_label(previous) or ""}
        if previous_time is not None:
            update["PreviousEventTime"] = previous_time
        return update

    store.update_if(CONTROL_PLANE_EVENTS, partition, row_key, decide, mode=UpdateMode.MERGE)


def apply_state(store: AuditStore, target: Target, event: Envelope, change: str,
                properties: Properties) -> bool:
    """The resource's (or child's) latest known properties, latest event wins; True if this event's."""
    if event.time is None:  # ingest refuses undated events before any handler runs
        raise ValueError("a state row needs the event time")
    state = {
        **target.columns(), "Properties": json.dumps(properties, ensure_ascii=False),
        "Sku": sku_label(properties) or "", "Deleted": change == "Deleted", "LastChange": change,
        "LastEventTime": event.time, "LastEventId": event.id,
    }
    return store.apply_state(CONTROL_PLANE_STATE, target.partition, keys.state_row_key(target.target_key),
                             state, keys.key_state_version(event.time, -1, event.identity))


def _loads(text: Any) -> Properties:
    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return dict(value) if isinstance(value, Mapping) else {}
