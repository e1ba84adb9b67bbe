"""Questions about Azure App Configuration (tables AppConfigurationEvents and AppConfigurationKeys)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eventaudit.queries.errors import InvalidQuery
from eventaudit.queries.models import (
    ConfigChange,
    KeyState,
    Page,
    Resource,
    TimelineItem,
    config_change_from,
    key_state_from,
)
from eventaudit.queries.ranges import ANY_TIME, TimeRange
from eventaudit.queries.reader import (
    PartitionQuery,
    check_limit,
    position_token,
    read_merged,
    token_position,
)
from eventaudit.queries.resources import APP_CONFIGURATION_STORE, list_resources, resolve
from eventaudit.queries.sources import Source, TimelineFilter, details
from eventaudit.queries.text_bounds import check_unicode, prefix_upper_bound
from eventaudit.storage import AuditStore, keys
from eventaudit.storage.tables import APP_CONFIGURATION_EVENTS, APP_CONFIGURATION_KEYS

KEY_CHANGES = ("Modified", "Deleted")
SNAPSHOT_CHANGES = ("SnapshotCreated", "SnapshotModified")
CHANGES = KEY_CHANGES + SNAPSHOT_CHANGES
MAX_KEY_CHARS = 10_000  # App Configuration keys stop at 10 KB
_EVENT_COLUMNS = ("PartitionKey", "RowKey", "StoreName", "Change", "EventTime", "Key", "Label", "Snapshot",
                  "ETag", "SyncToken", "EventId", "EventType")
_KEY_COLUMNS = ("PartitionKey", "RowKey", "StoreName", "Key", "Label", "Deleted", "LastChange",
                "LastEventTime", "ETag", "LastEventId", "LastSyncToken")


def change_name(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    for name in CHANGES:
        if value.strip().lower() == name.lower():
            return name
    raise InvalidQuery(f"change {value[:50]!r} is not one of {', '.join(CHANGES)}")


def check_text(name: str, value: str | None, *, required: bool = False) -> str | None:
    if value is None or (value == "" and not required):
        return value
    if not isinstance(value, str) or (required and value == ""):
        raise InvalidQuery(f"{name} is empty")
    if len(value) > MAX_KEY_CHARS:
        raise InvalidQuery(f"{name} is longer than {MAX_KEY_CHARS} characters")
    return check_unicode(name, value)


def key_history(store: AuditStore, store_name: str, key: str, *, label: str | None = None,
                time_range: TimeRange = ANY_TIME, limit: int = 50,
                continuation: str | None = None) -> Page[ConfigChange]:
    """The changes of one key (all labels, or one label: "" is no label), newest first: one partition."""
    key = check_text("key", key, required=True)  # type: ignore[assignment]
    label = check_text("label", label)
    resource = resolve(store, APP_CONFIGURATION_STORE, store_name)
    clauses, parameters = ["Key eq @key"], {"key": key}
    if label is not None:
        clauses.append("Label eq @label")
        parameters["label"] = label
    partition = keys.key_partition(resource.name, key)
    return _events(store, "key-history", [partition], clauses, parameters, time_range, limit, continuation)


def store_changes(store: AuditStore, store_name: str, *, change: str | None = None,
                  include_snapshots: bool = True, time_range: TimeRange = ANY_TIME, limit: int = 50,
                  continuation: str | None = None) -> Page[ConfigChange]:
    """Everything that changed in one store, newest first: its 16 key partitions and its snapshots."""
    resource = resolve(store, APP_CONFIGURATION_STORE, store_name)
    return recent_changes(store, stores=[resource.name], change=change, include_snapshots=include_snapshots,
                          time_range=time_range, limit=limit, continuation=continuation)


def recent_changes(store: AuditStore, *, stores: Sequence[str] | None = None, change: str | None = None,
                   include_snapshots: bool = True, time_range: TimeRange = ANY_TIME, limit: int = 50,
                   continuation: str | None = None) -> Page[ConfigChange]:
    """Changes across stores (every recorded store, or those named), merged newest first."""
    change = change_name(change)
    if stores:
        names = sorted({resolve(store, APP_CONFIGURATION_STORE, name).name for name in stores}, key=str.lower)
    else:
        names = [r.name for r in list_resources(store, APP_CONFIGURATION_STORE)]
    partitions: list[str] = []
    for name in names:
        if change not in SNAPSHOT_CHANGES:
            partitions += keys.store_partitions(name)
        if change not in KEY_CHANGES and include_snapshots:
            partitions.append(keys.snapshot_partition(name))
    clauses, parameters = [], {}
    if change:
        clauses.append("Change eq @change")
        parameters["change"] = change
    return _events(store, "changes", partitions, clauses, parameters, time_range, limit, continuation)


def snapshot_events(store: AuditStore, store_name: str, *, snapshot: str | None = None,
                    time_range: TimeRange = ANY_TIME, limit: int = 50,
                    continuation: str | None = None) -> Page[ConfigChange]:
    """Snapshot created/modified events of one store (optionally one snapshot), newest first."""
    snapshot = check_text("snapshot", snapshot) or None
    resource = resolve(store, APP_CONFIGURATION_STORE, store_name)
    clauses, parameters = [], {}
    if snapshot:
        clauses.append("Snapshot eq @snapshot")
        parameters["snapshot"] = snapshot
    return _events(store, "snapshots", [keys.snapshot_partition(resource.name)], clauses, parameters,
                   time_range, limit, continuation)


def _events(store: AuditStore, question: str, partitions: list[str], clauses: list[str],
            parameters: dict[str, str], time_range: TimeRange, limit: int,
            continuation: str | None) -> Page[ConfigChange]:
    limit = check_limit(limit)
    partitions = sorted(set(partitions))
    identity = [partitions, sorted(parameters.items())]
    after = token_position(continuation, question, identity)
    query = PartitionQuery(APP_CONFIGURATION_EVENTS, partitions, clauses, parameters, time_range,
                           _EVENT_COLUMNS)
    rows, last = read_merged(store, query, limit, after)
    return Page([config_change_from(row) for row in rows], position_token(question, identity, last))


def current_keys(store: AuditStore, store_name: str, *, include_deleted: bool = False,
                 prefix: str | None = None, limit: int = 50,
                 continuation: str | None = None) -> Page[KeyState]:
    """The keys of a store with their last change; deleted ones on request. Every key exactly once.

    Key state rows are keyed by a hash of (key, label), so pages follow that hash (a k-way merge of the
    store's 16 partitions), each page sorted by key and label for reading: a page reads about as many
    rows as it shows, and the token holds a 64-character hash, whatever the length of the key. A
    prefix becomes a range of keys compared as the service compares them (text_bounds).
    """
    limit = check_limit(limit)
    prefix = check_text("prefix", prefix) or None
    resource = resolve(store, APP_CONFIGURATION_STORE, store_name)
    identity = [resource.name.lower(), include_deleted, prefix]
    after = token_position(continuation, "keys", identity)
    clauses, parameters = [], {}
    if not include_deleted:
        clauses.append("Deleted eq @deleted")
        parameters["deleted"] = False
    if prefix:
        clauses.append("Key ge @low")
        parameters["low"] = prefix
        high = prefix_upper_bound(prefix)  # None: only keys starting with the prefix are >= it
        if high is not None:
            clauses.append("Key lt @high")
            parameters["high"] = high
    query = PartitionQuery(APP_CONFIGURATION_KEYS, keys.store_partitions(resource.name), clauses, parameters,
                           select=_KEY_COLUMNS)
    rows, last = read_merged(store, query, limit, after)
    states = sorted((key_state_from(row) for row in rows), key=lambda s: (s.key, s.label))
    return Page(states, position_token("keys", identity, last))


# --- in the merged timeline ------------------------------------------------------------------------

def _change_item(entity: Mapping[str, Any]) -> TimelineItem:
    change = config_change_from(entity)
    is_snapshot = change.snapshot is not None
    label = "" if is_snapshot else (change.label or "")
    if is_snapshot:
        summary = f"{change.change} snapshot {change.snapshot}"
    else:
        summary = f"{change.change} {change.key} [{label or '(no label)'}]"
    return TimelineItem(
        time=change.event_time, kind="snapshot" if is_snapshot else "key-change", resource=change.store,
        resource_type=APP_CONFIGURATION_STORE, action=change.change,
        subject=change.snapshot if is_snapshot else change.key, label=None if is_snapshot else label,
        status=None, failed=False, summary=summary,
        details=details(event_id=change.event_id, event_type=change.event_type, etag=change.etag,
                        sync_token=change.sync_token))


def _key_partitions(resource: Resource | None, wanted: TimelineFilter) -> list[str]:
    name = resource.name if resource else ""
    if wanted.key is not None:
        return [keys.key_partition(name, wanted.key)]
    return keys.store_partitions(name)


def _snapshot_partitions(resource: Resource | None, _: TimelineFilter) -> list[str]:
    return [keys.snapshot_partition(resource.name if resource else "")]


KEY_CHANGE_SOURCE = Source(
    kind="key-change", table=APP_CONFIGURATION_EVENTS, resource_types=(APP_CONFIGURATION_STORE,),
    partitions=_key_partitions, item=_change_item, columns=_EVENT_COLUMNS, actions=KEY_CHANGES,
    action_property="Change", label_property="Label", key_property="Key")
SNAPSHOT_SOURCE = Source(
    kind="snapshot", table=APP_CONFIGURATION_EVENTS, resource_types=(APP_CONFIGURATION_STORE,),
    partitions=_snapshot_partitions, item=_change_item, columns=_EVENT_COLUMNS, actions=SNAPSHOT_CHANGES,
    action_property="Change")
