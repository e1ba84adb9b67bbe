"""The hand-off from the event path to the capture pass, and each store's capture state.

Table AppConfigurationCaptures holds two kinds of rows:
- a pending capture per key-value change event (PartitionKey: the key's shard partition, so a bulk
  import spreads; RowKey: the revision and the kind of change), written by the event handler with
  one upsert and removed once the value is recorded (or finally reported);
- the capture state of each store (PartitionKey "store", RowKey: the store's lower-case name): the
  requests spent today (capture and backfill), the time before which the store must not be asked
  again (after a 429 or a failure), the problem last reported, the last pass and what it spent, and
  where an unfinished backfill goes on. It is updated under an ETag condition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from eventaudit.storage import AuditStore, keys
from eventaudit.storage.fanout import run_bounded
from eventaudit.storage.tables import APP_CONFIGURATION_CAPTURES
from eventaudit.timestamps import as_utc

PENDING = "Pending"
STATE_PARTITION = "store"
VALUE_STAGE, BEFORE_STAGE = "value", "before"  # looking for the revision / for the value just before


@dataclass(frozen=True)
class PendingCapture:
    partition: str
    row: str
    store: str
    key: str
    label: str
    etag: str
    change: str  # Modified or Deleted
    event_time: dt.datetime
    sync_token: str | None
    attempts: int = 0
    stage: str = VALUE_STAGE
    # At stage "before": the time of the change's revision, and the time from which the pass that
    # found it listed every revision (so the key-value did not change between the two).
    revision_time: dt.datetime | None = None
    scanned_from: dt.datetime | None = None

    @property
    def kv(self) -> tuple[str, str]:
        return self.key, self.label


def pending_entity(
    store_name: str,
    key: str,
    label: str,
    etag: str,
    change: str,
    event_time: dt.datetime,
    sync_token: str | None,
) -> dict[str, Any]:
    """The row the event handler writes (upserted: a redelivery rewrites the same row)."""
    entity: dict[str, Any] = {
        "PartitionKey": keys.key_partition(store_name, key),
        "RowKey": keys.pending_capture_row_key(key, label, etag, change),
        "Kind": PENDING,
        "StoreName": store_name,
        "Key": key,
        "Label": label,
        "ETag": etag,
        "Change": change,
        "EventTime": event_time,
        "Attempts": 0,
        "Stage": VALUE_STAGE,
    }
    if sync_token:
        entity["SyncToken"] = sync_token
    return entity


def from_entity(entity: Any) -> PendingCapture:
    return PendingCapture(
        partition=entity["PartitionKey"],
        row=entity["RowKey"],
        store=entity["StoreName"],
        key=entity["Key"],
        label=entity.get("Label") or "",
        etag=entity["ETag"],
        change=entity["Change"],
        event_time=as_utc(entity["EventTime"]),
        sync_token=entity.get("SyncToken"),
        attempts=int(entity.get("Attempts") or 0),
        stage=entity.get("Stage") or VALUE_STAGE,
        revision_time=_time(entity.get("RevisionTime")),
        scanned_from=_time(entity.get("ScannedFrom")),
    )


def read_pending(store: AuditStore, limit: int) -> list[PendingCapture]:
    """Pending captures, at most `limit`. The table holds only work not yet done, so reading it whole
    costs one request when idle and a page per 1,000 changes after a bulk import."""

    def rows(client: Any) -> list[Any]:
        found = []
        for entity in client.query_entities(
            "Kind eq @kind", parameters={"kind": PENDING}, results_per_page=1000
        ):
            found.append(entity)
            if len(found) >= limit:
                break
        return found

    return [from_entity(e) for e in store.call(APP_CONFIGURATION_CAPTURES, rows)]


def read_pending_of_key(store: AuditStore, store_name: str, key: str) -> list[PendingCapture]:
    partition = keys.key_partition(store_name, key)
    entities = store.call(
        APP_CONFIGURATION_CAPTURES,
        lambda c: list(
            c.query_entities(
                "PartitionKey eq @pk and Kind eq @kind and Key eq @key",
                parameters={"pk": partition, "kind": PENDING, "key": key},
            )
        ),
    )
    return [from_entity(e) for e in entities]


def finish(store: AuditStore, items: list[PendingCapture]) -> None:
    """Remove pending rows whose capture is done: a transaction per partition and 100 rows; if one is
    gone already (a racing pass removed it), that transaction fails whole and its rows go one by one."""
    groups: dict[str, list[PendingCapture]] = {}
    for item in {(i.partition, i.row): i for i in items}.values():
        groups.setdefault(item.partition, []).append(item)
    chunks = [rows[start : start + 100] for rows in groups.values() for start in range(0, len(rows), 100)]
    run_bounded(lambda chunk: _delete_chunk(store, chunk), chunks, name="audit-values")


def _delete_chunk(store: AuditStore, chunk: list[PendingCapture]) -> None:
    from eventaudit.appconfig.records import transaction

    operations = [("delete", {"PartitionKey": i.partition, "RowKey": i.row}) for i in chunk]
    # 404: a row is gone already (the table itself exists: the rows were read from it)
    if len(chunk) > 1 and store.call(APP_CONFIGURATION_CAPTURES,
                                     lambda c: transaction(c, operations, refused=404)):
        return
    for item in chunk:  # delete_entity ignores a row that is gone already
        store.call(APP_CONFIGURATION_CAPTURES, lambda c, i=item: c.delete_entity(i.partition, i.row))


def update(store: AuditStore, item: PendingCapture, **changes: Any) -> None:
    """Record progress on a pending row (attempts, stage, last problem); gone already is fine."""
    entity = {"PartitionKey": item.partition, "RowKey": item.row, **changes}
    try:
        store.call(APP_CONFIGURATION_CAPTURES, lambda c: c.update_entity(entity, mode=UpdateMode.MERGE))
    except ResourceNotFoundError:
        pass


# --- per-store state ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreState:
    store: str
    budget_day: str = ""
    used: int = 0
    not_before: dt.datetime | None = None
    problem: str | None = None  # the reason captures of this store cannot proceed, as last reported
    problem_since: dt.datetime | None = None
    last_pass: dt.datetime | None = None
    last_pass_requests: int = 0  # what that pass spent: the next one waits in proportion (capture.py)
    backfill_next: str | None = None  # the page an unfinished backfill goes on from (backfill.py)
    etag: str | None = None

    def used_on(self, day: str) -> int:
        return self.used if self.budget_day == day else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "requests_today": self.used,
            "budget_day": self.budget_day or None,
            "not_before": _iso(self.not_before),
            "problem": self.problem,
            "problem_since": _iso(self.problem_since),
            "last_pass": _iso(self.last_pass),
        }


def read_state(store: AuditStore, store_name: str) -> StoreState:
    try:
        entity = store.call(
            APP_CONFIGURATION_CAPTURES, lambda c: c.get_entity(STATE_PARTITION, store_name.lower())
        )
    except ResourceNotFoundError:
        return StoreState(store_name)
    return _state_from(store_name, entity)


def change_state(
    store: AuditStore, store_name: str, change: Callable[[StoreState], StoreState]
) -> StoreState:
    """Apply `change` to the stored state under an ETag condition, again on what a racing pass wrote."""
    applied: list[StoreState] = []

    def decide(current: Any) -> dict[str, Any]:
        new = change(StoreState(store_name) if current is None else _state_from(store_name, current))
        applied.append(new)
        return _state_properties(store_name, new)

    store.update_if(APP_CONFIGURATION_CAPTURES, STATE_PARTITION, store_name.lower(), decide)
    return applied[-1]


def _state_from(store_name: str, entity: Any) -> StoreState:
    return StoreState(
        store=store_name,
        budget_day=entity.get("BudgetDay") or "",
        used=int(entity.get("Used") or 0),
        not_before=_time(entity.get("NotBefore")),
        problem=entity.get("Problem") or None,
        problem_since=_time(entity.get("ProblemSince")),
        last_pass=_time(entity.get("LastPass")),
        last_pass_requests=int(entity.get("LastPassRequests") or 0),
        backfill_next=entity.get("BackfillNext") or None,
        etag=entity.metadata["etag"],
    )


def _state_properties(store_name: str, state: StoreState) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "StoreName": store_name,
        "BudgetDay": state.budget_day,
        "Used": state.used,
        "Problem": state.problem or "",
        "LastPassRequests": state.last_pass_requests,
        "BackfillNext": state.backfill_next or "",
    }
    for name, value in (
        ("NotBefore", state.not_before),
        ("ProblemSince", state.problem_since),
        ("LastPass", state.last_pass),
    ):
        if value is not None:
            properties[name] = value
    return properties


def stores_with_state(store: AuditStore) -> Iterator[StoreState]:
    entities = store.call(
        APP_CONFIGURATION_CAPTURES,
        lambda c: list(c.query_entities("PartitionKey eq @pk", parameters={"pk": STATE_PARTITION})),
    )
    for entity in entities:
        yield read_state(store, entity.get("StoreName") or entity["RowKey"])


def _time(value: Any) -> dt.datetime | None:
    return as_utc(value) if isinstance(value, dt.datetime) else None


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
