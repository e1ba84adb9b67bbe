"""Questions about Azure App Configuration (tables AppConfigurationEvents and AppConfigurationKeys)."""

from __future__ import annotations

from collections.abc import Sequence

from eventaudit.queries.errors import InvalidQuery
from eventaudit.queries.models import ConfigChange, KeyState, Page, config_change_from, key_state_from
from eventaudit.queries.ranges import ANY_TIME, TimeRange
from eventaudit.queries.reader import (
    PartitionQuery,
    check_limit,
    decode_token,
    encode_token,
    read_all,
    read_merged,
)
from eventaudit.queries.resources import APP_CONFIGURATION_STORE, list_resources, resolve
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


def _check_text(name: str, value: str | None, *, required: bool = False) -> str | None:
    if value is None or (value == "" and not required):
        return value
    if not isinstance(value, str) or (required and value == ""):
        raise InvalidQuery(f"{name} is empty")
    if len(value) > MAX_KEY_CHARS:
        raise InvalidQuery(f"{name} is longer than {MAX_KEY_CHARS} characters")
    return value


def key_history(store: AuditStore, store_name: str, key: str, *, label: str | None = None,
                time_range: TimeRange = ANY_TIME, limit: int = 50,
                continuation: str | None = None) -> Page[ConfigChange]:
    """The changes of one key (all labels, or one label: "" is no label), newest first: one partition."""
    key = _check_text("key", key, required=True)  # type: ignore[assignment]
    label = _check_text("label", label)
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
    snapshot = _check_text("snapshot", snapshot) or None
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
    position = decode_token(continuation, question, identity, ("rk", "pk"))
    query = PartitionQuery(APP_CONFIGURATION_EVENTS, partitions, clauses, parameters, time_range,
                           _EVENT_COLUMNS)
    rows, last = read_merged(store, query, limit, (position["rk"], position["pk"]) if position else None)
    token = encode_token(question, identity, {"rk": last[0], "pk": last[1]}) if last else None
    return Page([config_change_from(row) for row in rows], token)


def current_keys(store: AuditStore, store_name: str, *, include_deleted: bool = False,
                 prefix: str | None = None, limit: int = 50,
                 continuation: str | None = None) -> Page[KeyState]:
    """The keys of a store (by key, then label) with their last change; deleted ones on request.

    Key state rows are keyed by a hash, so ordering by name reads the store's 16 partitions (with the
    Deleted and key filters applied by the service) and sorts; the token is the last (key, label).
    """
    limit = check_limit(limit)
    prefix = _check_text("prefix", prefix) or None
    resource = resolve(store, APP_CONFIGURATION_STORE, store_name)
    identity = [resource.name.lower(), include_deleted, prefix]
    position = decode_token(continuation, "keys", identity, ("key", "label"))
    clauses, parameters = ["PartitionKey eq @pk"], {}
    if not include_deleted:
        clauses.append("Deleted eq @deleted")
        parameters["deleted"] = False
    lowest = max(prefix or "", position["key"] if position else "")
    if lowest:
        clauses.append("Key ge @lowest")
        parameters["lowest"] = lowest
    filters = [(" and ".join(clauses), {**parameters, "pk": p}) for p in keys.store_partitions(resource.name)]
    rows = [row for part in read_all(store, APP_CONFIGURATION_KEYS, filters, _KEY_COLUMNS) for row in part]
    states = sorted((key_state_from(row) for row in rows), key=lambda s: (s.key, s.label))
    if prefix:
        states = [s for s in states if s.key.startswith(prefix)]
    if position:
        states = [s for s in states if (s.key, s.label) > (position["key"], position["label"])]
    page = states[:limit]
    token = None
    if len(states) > limit:
        token = encode_token("keys", identity, {"key": page[-1].key, "label": page[-1].label})
    return Page(page, token)
