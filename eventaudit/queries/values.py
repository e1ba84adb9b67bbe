"""Values of App Configuration keys: a key's changes from what to what, and a key at a time T.

A key's history joins three partitions of the key's shard (one read each): its change events
(AppConfigurationEvents), its recorded revisions (AppConfigurationRevisions) and the captures
still pending (AppConfigurationCaptures). Every event is an item; so is every recorded revision no
event named (history from before the subscription, recorded by the backfill or as the value just
before a change). "Before" is the revision the capture saw just before (PreviousETag), else the
previous recorded revision of the same key and label.

Where each fact comes from: the event (time, change, etag) from Event Grid; the value, content
type, tags, lock and last-modified time from the store's revisions, matched by etag.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eventaudit.appconfig import records
from eventaudit.appconfig.diff import Diff, Value, diff
from eventaudit.appconfig.pending import PendingCapture, read_pending_of_key, read_state
from eventaudit.queries.appconfig import MAX_KEY_CHARS
from eventaudit.queries.errors import InvalidQuery
from eventaudit.queries.models import Page, _Record
from eventaudit.queries.ranges import ANY_TIME, TimeRange, iso
from eventaudit.queries.reader import check_limit, decode_token, encode_token, read_all
from eventaudit.queries.resources import APP_CONFIGURATION_STORE, resolve
from eventaudit.storage import AuditStore, keys
from eventaudit.storage.tables import APP_CONFIGURATION_EVENTS, APP_CONFIGURATION_REVISIONS
from eventaudit.timestamps import as_utc

MAX_ROWS = 5000  # rows of one key read for a history; a key with more is answered from the newest
STATUS_TEXT = {
    "captured": "value captured from the store's revisions",
    "pending": "value not captured yet",
    "not_retained": "value no longer retained by the store",
    "not_found": "the store listed no revision with this etag",
}


@dataclass(frozen=True)
class RevisionValue:
    """A recorded revision of a key-value (value, or only its SHA-256 when redacted)."""

    etag: str
    value: str | None
    redacted: bool
    value_sha256: str | None
    content_type: str | None
    tags: dict[str, Any]
    locked: bool
    last_modified: dt.datetime | None
    source: str  # event: named by a change event; backfill: from the store's retained history
    kind: str  # text, json, feature_flag, key_vault_reference, redacted
    previous_etag: str | None = None  # the revision just before, as the capture saw it ("": none)

    def as_value(self) -> Value:
        return Value(self.value, self.content_type, self.tags, self.locked, self.redacted, self.value_sha256)


@dataclass(frozen=True)
class ValueChange(_Record):
    """One change of a key-value: from `before` to `after` (None: did not exist / deleted)."""

    store: str
    key: str
    label: str
    change: str  # Modified or Deleted
    time: dt.datetime | None  # the event time, or the revision's last-modified time without event
    etag: str | None
    event_id: str | None
    status: str  # captured, pending, not_retained, not_found
    status_detail: str | None
    before: RevisionValue | None
    after: RevisionValue | None
    before_known: bool  # False: the value before this change was never recorded
    diff: Diff

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class ValueAt(_Record):
    """A key-value as it was at a time T, from the recorded revisions and delete events."""

    store: str
    key: str
    label: str
    at: dt.datetime
    state: str  # present, deleted, unknown
    revision: RevisionValue | None
    detail: str
    recorded_since: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass
class _KeyRecord:
    """Everything recorded about one key (all labels or one)."""

    events: list[Mapping[str, Any]] = field(default_factory=list)
    revisions: dict[tuple[str, str], RevisionValue | Mapping[str, Any]] = field(default_factory=dict)
    chains: dict[str, list[RevisionValue]] = field(default_factory=dict)  # label -> captured, oldest first
    pending: dict[tuple[str, str], PendingCapture] = field(default_factory=dict)


def value_history(
    store: AuditStore,
    store_name: str,
    key: str,
    *,
    label: str | None = None,
    time_range: TimeRange = ANY_TIME,
    limit: int = 50,
    continuation: str | None = None,
) -> Page[ValueChange]:
    """A key's changes newest first, each with the value before and after and what differs."""
    limit = check_limit(limit)
    key, label = _checked(key, label)
    resource = resolve(store, APP_CONFIGURATION_STORE, store_name)
    record = _read(store, resource.name, key, label)
    items = _changes(resource.name, key, record)
    items = [i for i in items if _in_range(i.time, time_range)]
    items.sort(key=_order, reverse=True)
    identity = [resource.name.lower(), key, label]
    position = decode_token(continuation, "values", identity, ("after",))
    if position:
        items = [i for i in items if json.dumps(_order(i)) < position["after"]]
    page = items[:limit]
    token = (
        encode_token("values", identity, {"after": json.dumps(_order(page[-1]))})
        if len(items) > limit
        else None
    )
    state = read_state(store, resource.name)
    return Page(page, token, {"capture": state.to_dict()})


def value_at(
    store: AuditStore, store_name: str, key: str, at: dt.datetime, *, label: str | None = None
) -> Page[ValueAt]:
    """The key-value (each label, or one) as it was at `at`, from what the app recorded."""
    key, label = _checked(key, label)
    resource = resolve(store, APP_CONFIGURATION_STORE, store_name)
    record = _read(store, resource.name, key, label)
    at = as_utc(at)
    labels = sorted(
        {label}
        if label is not None
        else set(record.chains) | {str(e.get("Label") or "") for e in record.events}
    )
    answers = []
    for name in labels:
        chain = record.chains.get(name, [])
        known = [r for r in chain if r.last_modified and r.last_modified <= at]
        since = chain[0].last_modified if chain else None
        deletions = [
            e
            for e in record.events
            if str(e.get("Label") or "") == name
            and e.get("Change") == "Deleted"
            and _time(e, "EventTime")
            and _time(e, "EventTime") <= at
        ]  # type: ignore[operator]
        if not known:
            detail = "no revision recorded at or before this time" + (
                f"; the recorded history starts {iso(since)}" if since else ""
            )
            answers.append(ValueAt(resource.name, key, name, at, "unknown", None, detail, since))
            continue
        revision = known[-1]
        deleted_after = [
            e for e in deletions if revision.last_modified and _time(e, "EventTime") > revision.last_modified
        ]  # type: ignore[operator]
        if deleted_after:
            when = min(_time(e, "EventTime") for e in deleted_after)  # type: ignore[type-var]
            state, detail = "deleted", f"deleted at {iso(when)} (last value shown)"
        else:
            state, detail = "present", f"set at {iso(revision.last_modified)}"
        answers.append(ValueAt(resource.name, key, name, at, state, revision, detail, since))
    return Page(answers)


def _checked(key: str, label: str | None) -> tuple[str, str | None]:
    if not isinstance(key, str) or not key:
        raise InvalidQuery("key is empty")
    if len(key) > MAX_KEY_CHARS or (label is not None and len(label) > MAX_KEY_CHARS):
        raise InvalidQuery(f"key and label hold at most {MAX_KEY_CHARS} characters")
    return key, label


def _read(store: AuditStore, store_name: str, key: str, label: str | None) -> _KeyRecord:
    partition = keys.key_partition(store_name, key)
    text, parameters = "PartitionKey eq @pk and Key eq @key", {"pk": partition, "key": key}
    if label is not None:
        text += " and Label eq @label"
        parameters["label"] = label
    [events], [rows] = (
        read_all(store, table, [(text, parameters)])
        for table in (APP_CONFIGURATION_EVENTS, APP_CONFIGURATION_REVISIONS)
    )
    record = _KeyRecord(events=[e for e in events[:MAX_ROWS] if e.get("Change") in ("Modified", "Deleted")])
    for row in rows[:MAX_ROWS]:
        ident = (str(row.get("Label") or ""), str(row["ETag"]))
        if row.get("Status") == records.CAPTURED:
            revision = _revision(row)
            record.revisions[ident] = revision
            record.chains.setdefault(ident[0], []).append(revision)
        else:
            record.revisions[ident] = row
    for chain in record.chains.values():
        chain.sort(key=lambda r: r.last_modified or dt.datetime.min.replace(tzinfo=dt.UTC))
    for item in read_pending_of_key(store, store_name, key):
        if label is None or item.label == label:
            record.pending[(item.label, item.etag)] = item
    return record


def _changes(store_name: str, key: str, record: _KeyRecord) -> list[ValueChange]:
    items = []
    named: set[tuple[str, str]] = set()
    for event in record.events:
        name, etag, change = str(event.get("Label") or ""), event.get("ETag"), str(event["Change"])
        if change == "Modified" and etag:
            named.add((name, etag))
        items.append(
            _change(
                store_name, key, name, change, _time(event, "EventTime"), etag, event.get("EventId"), record
            )
        )
    for (name, etag), revision in record.revisions.items():
        if isinstance(revision, RevisionValue) and (name, etag) not in named:
            items.append(
                _change(store_name, key, name, "Modified", revision.last_modified, etag, None, record)
            )
    return items


def _change(
    store_name: str,
    key: str,
    label: str,
    change: str,
    time: dt.datetime | None,
    etag: str | None,
    event_id: str | None,
    record: _KeyRecord,
) -> ValueChange:
    found = record.revisions.get((label, etag or ""))
    pending = record.pending.get((label, etag or ""))
    if isinstance(found, RevisionValue):
        status, detail = "captured", None
        after = None if change == "Deleted" else found
        before, known = (found, True) if change == "Deleted" else _before(record, label, found)
    else:
        after = before = None
        known = False
        if found is not None:  # a placeholder: why the value could not be captured
            status = "not_retained" if found.get("Status") == records.NOT_RETAINED else "not_found"
            detail = str(found.get("Reason") or STATUS_TEXT[status])
        elif not etag:
            status, detail = "not_found", "the event carries no etag: no revision can be matched to it"
        else:
            status = "pending"
            detail = STATUS_TEXT["pending"] + (
                f" (tried {pending.attempts} times)" if pending and pending.attempts else ""
            )
    if status == "captured":
        shown = diff(before.as_value() if before else None, after.as_value() if after else None)
        if not known and change == "Modified":
            shown = dataclasses.replace(shown, summary=shown.summary.replace("created: ", "set to: ", 1))
    else:
        shown = Diff("unknown", detail or "")
    return ValueChange(
        store_name, key, label, change, time, etag, event_id, status, detail, before, after, known, shown
    )


def _before(record: _KeyRecord, label: str, revision: RevisionValue) -> tuple[RevisionValue | None, bool]:
    """The value just before `revision`: the one the capture saw, else the previous recorded one."""
    if revision.previous_etag is not None:
        if revision.previous_etag == "":
            return None, True  # the store showed no value just before (new, or expired)
        previous = record.revisions.get((label, revision.previous_etag))
        if isinstance(previous, RevisionValue):
            return previous, True
    chain = record.chains.get(label, [])
    index = next((i for i, r in enumerate(chain) if r.etag == revision.etag), 0)
    if index > 0:
        return chain[index - 1], True
    return None, False


def _revision(row: Mapping[str, Any]) -> RevisionValue:
    tags = row.get("Tags")
    try:
        parsed_tags = json.loads(tags) if isinstance(tags, str) else {}
    except ValueError:
        parsed_tags = {}
    value = RevisionValue(
        etag=str(row["ETag"]),
        value=records.value_of(row),
        redacted=bool(row.get("Redacted", False)),
        value_sha256=row.get("ValueSha256"),
        content_type=row.get("ContentType"),
        tags=parsed_tags,
        locked=bool(row.get("Locked", False)),
        last_modified=_time(row, "LastModified"),
        source=str(row.get("Source") or records.EVENT),
        kind="",
        previous_etag=str(row["PreviousETag"]) if "PreviousETag" in row else None,
    )
    return dataclasses.replace(value, kind=value.as_value().kind)


def _order(item: ValueChange) -> list[Any]:
    return [iso(item.time) or "", item.change == "Modified", item.etag or "", item.event_id or ""]


def _in_range(time: dt.datetime | None, time_range: TimeRange) -> bool:
    if time is None:
        return time_range.since is None and time_range.until is None
    return (time_range.since is None or time >= time_range.since) and (
        time_range.until is None or time < time_range.until
    )


def _time(entity: Mapping[str, Any], name: str) -> dt.datetime | None:
    value = entity.get(name)
    if not isinstance(value, dt.datetime):
        return None
    return as_utc(
        dt.datetime(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            tzinfo=value.tzinfo,
        )
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
