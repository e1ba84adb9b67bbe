"""Rows of AppConfigurationRevisions: one per key-value revision, written by whoever sees it first.

A row is keyed by (key, label, etag) in the key's shard partition, so a redelivered event, two
captures racing and a backfill overlapping live capture all land on the same row. The first write
wins (insert); a later one is a no-op, except that a captured value replaces a placeholder
(NotRetained / NotFound) under an ETag condition.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import (
    ServiceResponseError,
)
from azure.data.tables import TableTransactionError

from eventaudit.appconfig.settings import Redaction
from eventaudit.storage import AuditStore, keys
from eventaudit.storage.fanout import run_bounded
from eventaudit.storage.store import CHUNK_CHARS
from eventaudit.storage.tables import APP_CONFIGURATION_REVISIONS
from eventaudit.timestamps import as_utc, parse_timestamp

logger = logging.getLogger(__name__)

CAPTURED, NOT_RETAINED, NOT_FOUND = "Captured", "NotRetained", "NotFound"
EVENT, BACKFILL = "event", "backfill"
MAX_VALUE_PARTS = 60  # 60 x 16,000 characters: far beyond App Configuration's 10,000 per key-value


@dataclass(frozen=True)
class Revision:
    """A key-value revision as App Configuration lists it (the REST API's JSON, raw)."""

    key: str
    label: str  # "" for no label, as everywhere in the audit tables
    etag: str
    value: str | None
    content_type: str | None
    tags: Mapping[str, Any]
    locked: bool
    last_modified: dt.datetime | None

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> Revision:
        modified = item.get("last_modified")
        return cls(
            key=item["key"],
            label=item.get("label") or "",
            etag=item["etag"],
            value=item.get("value"),
            content_type=item.get("content_type"),
            tags=item.get("tags") or {},
            locked=bool(item.get("locked")),
            last_modified=parse_timestamp(modified) if isinstance(modified, str) else None,
        )

    @property
    def kv(self) -> tuple[str, str]:
        return self.key, self.label


def partition(store_name: str, key: str) -> str:
    return keys.key_partition(store_name, key)


def captured_entity(
    store_name: str,
    revision: Revision,
    *,
    source: str,
    redaction: Redaction,
    previous_etag: str | None = None,
    event_time: dt.datetime | None = None,
) -> dict[str, Any]:
    """The row of a captured revision; the value split over properties if it is long, or hashed."""
    entity: dict[str, Any] = {
        "PartitionKey": partition(store_name, revision.key),
        "RowKey": keys.revision_row_key(revision.key, revision.label, revision.etag),
        "StoreName": store_name,
        "Key": revision.key,
        "Label": revision.label,
        "ETag": revision.etag,
        "Status": CAPTURED,
        "Source": source,
        "Locked": revision.locked,
        "Tags": json.dumps(dict(revision.tags), ensure_ascii=False, sort_keys=True),
        "CapturedAt": dt.datetime.now(dt.UTC),
    }
    if revision.content_type is not None:
        entity["ContentType"] = revision.content_type
    if revision.last_modified is not None:
        entity["LastModified"] = revision.last_modified
    if previous_etag is not None:
        entity["PreviousETag"] = previous_etag  # "": the store held no earlier value of this key-value
    if event_time is not None:
        entity["EventTime"] = event_time
    if revision.value is not None:
        if redaction.redacts(revision.key, revision.content_type):
            entity["Redacted"] = True
            entity["ValueSha256"] = hashlib.sha256(
                revision.value.encode("utf-8", "surrogatepass")
            ).hexdigest()
        else:
            entity.update(_value_properties(revision.value))
    return entity


def placeholder_entity(
    store_name: str,
    key: str,
    label: str,
    etag: str,
    *,
    status: str,
    reason: str,
    event_time: dt.datetime | None,
) -> dict[str, Any]:
    """The row of a revision whose value cannot be captured: why, and when its event happened."""
    entity: dict[str, Any] = {
        "PartitionKey": partition(store_name, key),
        "RowKey": keys.revision_row_key(key, label, etag),
        "StoreName": store_name,
        "Key": key,
        "Label": label,
        "ETag": etag,
        "Status": status,
        "Source": EVENT,
        "Reason": reason[:1000],
        "CapturedAt": dt.datetime.now(dt.UTC),
    }
    if event_time is not None:
        entity["EventTime"] = event_time
    return entity


def _value_properties(value: str) -> dict[str, Any]:
    """Value, Value2, ... of at most CHUNK_CHARS characters each (a property holds 64 KiB of UTF-16)."""
    chunks = [value[i : i + CHUNK_CHARS] for i in range(0, len(value), CHUNK_CHARS)] or [""]
    if len(chunks) > MAX_VALUE_PARTS:
        raise ValueError(f"value of {len(value)} characters is too long to store")
    properties: dict[str, Any] = {"Value": chunks[0]}
    for index, chunk in enumerate(chunks[1:], start=2):
        properties[f"Value{index}"] = chunk
    if len(chunks) > 1:
        properties["ValueParts"] = len(chunks)
    return properties


def value_of(entity: Mapping[str, Any]) -> str | None:
    """The whole value of a row (parts joined); None for a null value, a redacted one or a placeholder."""
    if "Value" not in entity:
        return None
    parts = int(entity.get("ValueParts") or 1)
    return "".join(str(entity[name]) for name in ["Value", *(f"Value{i}" for i in range(2, parts + 1))])


def write(store: AuditStore, entities: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """Insert each row unless its revision is recorded already; (written, already there).

    Rows of one partition go in one transaction; if any already exists the transaction fails as a
    whole (409) and its rows are inserted one by one, each conflict then decided on its own.
    Partitions are written a few at once (FAN_OUT).
    """
    groups = [_unique(rows[start : start + 100]) for rows in by_partition(entities).values()
              for start in range(0, len(rows), 100)]
    counts = run_bounded(lambda chunk: _write_chunk(store, chunk), groups, name="audit-values")
    return sum(w for w, _ in counts), sum(e for _, e in counts)


def by_partition(entities: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for entity in entities:
        groups.setdefault(entity["PartitionKey"], []).append(entity)
    return groups


def _write_chunk(store: AuditStore, chunk: list[dict[str, Any]]) -> tuple[int, int]:
    for entity in chunk:
        store.check_entity(entity)
    if len(chunk) > 1 and store.call(APP_CONFIGURATION_REVISIONS, lambda c: _insert_all(c, chunk)):
        return len(chunk), 0
    inserted = [_insert_one(store, entity) for entity in chunk]
    return sum(inserted), len(inserted) - sum(inserted)


def _insert_all(client: Any, rows: list[dict[str, Any]]) -> bool:
    """One transaction inserting every row; False if one of them exists already (409)."""
    return transaction(client, [("create", row) for row in rows], refused=409)


def transaction(client: Any, operations: list[tuple[str, dict[str, Any]]], *, refused: int) -> bool:
    """Submit a transaction; False if it was refused with `refused` (a row exists / is gone already) or
    its connection broke (azure-core retries no POST): its rows are then decided one by one."""
    try:
        client.submit_transaction(operations)
        return True
    except TableTransactionError as exc:
        if exc.status_code == refused:
            return False
        raise
    except ServiceResponseError:
        logger.info("A transaction's connection broke; deciding its rows one by one")
        return False


def _unique(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entity per RowKey (a transaction refuses two operations on one entity): the most telling."""
    chosen: dict[str, dict[str, Any]] = {}
    for row in rows:
        kept = chosen.get(row["RowKey"])
        if kept is None or _richness(row) > _richness(kept):
            chosen[row["RowKey"]] = row
    return list(chosen.values())


def _richness(row: dict[str, Any]) -> tuple[bool, bool, bool]:
    return row["Status"] == CAPTURED, row.get("Source") == EVENT, "PreviousETag" in row


def _insert_one(store: AuditStore, entity: dict[str, Any]) -> bool:
    """True if this call recorded the revision (new row, or a captured value over a placeholder)."""

    def decide(current: Any) -> dict[str, Any] | None:
        if current is not None and (current.get("Status") == CAPTURED or entity["Status"] != CAPTURED):
            return None  # first writer wins
        return entity

    return store.update_if(APP_CONFIGURATION_REVISIONS, entity["PartitionKey"], entity["RowKey"], decide)


def modified_time(entity: Mapping[str, Any]) -> dt.datetime | None:
    value = entity.get("LastModified") or entity.get("EventTime")
    return as_utc(value) if isinstance(value, dt.datetime) else None
