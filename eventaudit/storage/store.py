"""AuditStore: every Table Storage call of the app, and the mapping of events to entities.

Writes are idempotent: event rows are keyed by the event's identity and upserted, key state is
replaced only by a newer event under an ETag condition. So a retried event never duplicates a row.
Azure SDK exceptions are caught here only, and leave as TransientStorageError (retry) or
PermanentStorageError (this entity can never be stored).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from eventaudit.errors import PermanentStorageError, TransientStorageError
from eventaudit.events import Envelope
from eventaudit.resource_ids import ResourceId
from eventaudit.storage import keys
from eventaudit.storage.tables import (
    APP_CONFIGURATION_KEYS,
    AUDIT_RESOURCES,
    UNHANDLED_EVENTS,
)
from eventaudit.timestamps import as_utc, inverted_ticks

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A string property holds 64 KiB of UTF-16; an entity 1 MiB. Checked before sending, since
# Azurite and Azure must refuse the same entities.
MAX_PROPERTY_BYTES = 64 * 1024
MAX_ENTITY_BYTES = 1024 * 1024
# Large events are split into rows of this many characters (at most 2 UTF-16 units each).
CHUNK_CHARS = 16_000
MAX_BATCH = 100
# Table Storage's Edm.DateTime starts at 1601-01-01 UTC and refuses earlier dates with 400;
# Azurite stores them, so this is checked before sending too.
MIN_DATETIME = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)
# Concurrent key-state writers retry a lost ETag race this many times before giving up.
MAX_KEY_STATE_ATTEMPTS = 10


class AuditStore:
    def __init__(self, service: TableServiceClient, table_prefix: str = "") -> None:
        self._service = service
        self._prefix = table_prefix
        self._clients: dict[str, TableClient] = {}
        self._registered: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        # Held across the one registration write: a batch's first events arrive together, 32 at once.
        self._register_lock = threading.Lock()

    @property
    def service(self) -> TableServiceClient:
        return self._service

    def table_name(self, name: str) -> str:
        return f"{self._prefix}{name}"

    def table(self, name: str) -> TableClient:
        """The shared client of one table (same pipeline and connection pool as the service)."""
        client = self._clients.get(name)
        if client is None:
            with self._lock:
                client = self._clients.setdefault(name, self._service.get_table_client(self.table_name(name)))
        return client

    # --- writes -------------------------------------------------------------------------

    def append_event(self, table: str, partition: str, event: Envelope, properties: dict[str, Any], *,
                     mode: UpdateMode = UpdateMode.REPLACE) -> str:
        """One row for one event (upserted: a redelivery rewrites the same row); returns its RowKey.

        MERGE keeps properties other writers added to the row since (control-plane `Previous*`).
        """
        if event.time is None:  # ingest refuses undated events before any handler runs
            raise ValueError("an event row needs the event time")
        entity = {
            "PartitionKey": partition,
            "RowKey": keys.event_row_key(event.time, event.identity),
            **event_properties(event),
            **properties,
        }
        self._upsert(table, [entity], mode)
        return entity["RowKey"]

    def register_resource(self, kind: str, resource: ResourceId, resource_id: str | None, *,
                          row_key: str | None = None, properties: dict[str, Any] | None = None) -> None:
        """Note a cache or store once per process, so readers can list them from AuditResources.

        The RowKey is the lower-cased name unless `row_key` says otherwise (Azure Managed Redis).
        """
        row_key = row_key or resource.name.lower()
        marker = (kind, row_key)
        if marker in self._registered:
            return
        entity = {
            "PartitionKey": kind, "RowKey": row_key, "Name": resource.name,
            "ResourceGroup": resource.resource_group, "SubscriptionId": resource.subscription_id,
            "ResourceId": resource_id or "", **(properties or {}),
        }
        with self._register_lock:
            if marker in self._registered:
                return
            self._call(AUDIT_RESOURCES, lambda c: c.upsert_entity(entity, mode=UpdateMode.MERGE))
            self._registered.add(marker)

    def apply_key_state(self, partition: str, row: str, state: dict[str, Any], version: str) -> bool:
        """Make `state` the key's state unless a newer event already set it; True if applied."""
        return self.apply_state(APP_CONFIGURATION_KEYS, partition, row, state, version)

    def apply_state(self, table: str, partition: str, row: str, state: dict[str, Any], version: str) -> bool:
        """Latest event wins: write `state` unless the row holds a `Version` >= `version`; True if applied."""

        def decide(current: Any) -> dict[str, Any] | None:
            if current is not None and str(current.get("Version", "")) >= version:
                return None  # stored state comes from a later event, or from this one
            return {**state, "Version": version}

        return self.update_if(table, partition, row, decide)

    def update_if(self, table: str, partition: str, row: str,
                  decide: Callable[[Any], dict[str, Any] | None], *,
                  mode: UpdateMode = UpdateMode.REPLACE) -> bool:
        """Write what `decide(current row or None)` returns (None: leave the row); True if written.

        Read, then insert or update under the read ETag: a concurrent writer makes our write fail
        with 409/412 and we decide again on what it wrote. Real Table Storage and Azurite both honour
        If-Match on single-entity operations (unlike in batches on Azurite).
        """
        for _ in range(MAX_KEY_STATE_ATTEMPTS):
            current = self._call(table, lambda c: _get_or_none(c, partition, row))
            properties = decide(current)
            if properties is None:
                return False
            entity = {"PartitionKey": partition, "RowKey": row, **properties}
            self.check_entity(entity)
            try:
                if current is None:
                    self._call(table, lambda c, new=entity: c.create_entity(new))
                else:
                    self._replace_if_unchanged(table, entity, current.metadata["etag"], mode)
                return True
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                logger.info("%s row %s/%s changed while we wrote it; deciding again", table, partition, row)
        raise TransientStorageError(
            f"{table} row {partition}/{row} kept changing under {MAX_KEY_STATE_ATTEMPTS} attempts"
        )

    def _replace_if_unchanged(self, table: str, entity: dict[str, Any], etag: str,
                              mode: UpdateMode = UpdateMode.REPLACE) -> None:
        self._call(table, lambda c: c.update_entity(
            entity, mode=mode, etag=etag, match_condition=MatchConditions.IfNotModified))

    def record_unhandled(self, event: Envelope, reason: str) -> None:
        """Keep an event no handler applied, losslessly: large events span several rows."""
        text = event.to_json()
        chunks = [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
        partition = keys.unhandled_partition(event.time, event.identity)
        row = f"{inverted_ticks(event.time) if event.time else '9' * 19}-{event.identity}"
        main = {
            "PartitionKey": partition,
            "RowKey": row,
            # The one record of the event must be storable: an unstorable time is left to the Event JSON.
            **{k: v for k, v in event_properties(event, include_data=False).items() if _storable_time(v)},
            "Reason": reason[:1000],
            "Event": chunks[0],
            "EventParts": len(chunks),
            "EventLength": len(text),
        }
        # Continuation rows sort right after the main row; readers join them by "PartOf".
        parts = [
            {"PartitionKey": partition, "RowKey": f"{row}~{index:03d}", "PartOf": row, "Part": index,
             "Event": chunk}
            for index, chunk in enumerate(chunks[1:], start=1)
        ]
        if len(parts) + 1 > MAX_BATCH:
            raise PermanentStorageError(f"event of {len(text)} characters is too large to record")
        self._upsert(UNHANDLED_EVENTS, [main, *parts])

    def upsert(self, table: str, *entities: dict[str, Any]) -> None:
        """Insert or replace entities of one partition, all or none (checked against Table Storage's
        limits first; several are one batch transaction)."""
        self._upsert(table, list(entities))

    def call(self, table: str, operation: Callable[[TableClient], T]) -> T:
        """Run one operation on a table (created on first use), with the app's error translation."""
        return self._call(table, operation)

    # --- reads ------------------------------------------------------------------------------

    def first_between(self, table: str, partition: str, after: str, before: str, select: list[str]) -> Any:
        """The first row of `partition` whose RowKey lies strictly between `after` and `before`, or None.

        No filter but the keys, and $top=1: Table Storage reads one row of the range, however many
        rows lie beyond it.
        """
        def first(client: TableClient) -> Any:
            query = client.query_entities("PartitionKey eq @pk and RowKey gt @after and RowKey lt @before",
                                          parameters={"pk": partition, "after": after, "before": before},
                                          select=select, results_per_page=1)
            return next(iter(query), None)

        return self._call(table, first)

    # --- reads used by tools and tests ----------------------------------------------------

    def read_unhandled_event(self, partition: str, row: str) -> str:
        """The whole JSON text of an UnhandledEvents row, parts joined."""
        main = self._call(UNHANDLED_EVENTS, lambda c: c.get_entity(partition, row))
        parts = self._call(
            UNHANDLED_EVENTS,
            lambda c: list(c.query_entities("PartitionKey eq @pk and PartOf eq @row",
                                            parameters={"pk": partition, "row": row})),
        )
        parts.sort(key=lambda e: e["Part"])
        return main["Event"] + "".join(p["Event"] for p in parts)

    # --- plumbing ---------------------------------------------------------------------------

    def _upsert(self, table: str, entities: list[dict[str, Any]],
                mode: UpdateMode = UpdateMode.REPLACE) -> None:
        for entity in entities:
            self.check_entity(entity)
        if len(entities) == 1:
            self._call(table, lambda c: c.upsert_entity(entities[0], mode=mode))
        else:  # One partition, so one atomic transaction: all rows land or none.
            operations = [("upsert", e, {"mode": mode}) for e in entities]
            self._call(table, lambda c: c.submit_transaction(operations))

    def _call(self, table: str, operation: Callable[[TableClient], T]) -> T:
        """Run one Table operation; create the table on first use if it is missing."""
        client = self.table(table)
        with _translated(table):
            try:
                return operation(client)
            except HttpResponseError as exc:
                if _error_code(exc) != "TableNotFound":
                    raise
            self._create_table(client)
            return operation(client)

    def _create_table(self, client: TableClient) -> None:
        logger.info("Creating table %s", client.table_name)
        try:
            client.create_table()
        except ResourceExistsError:
            pass

    @staticmethod
    def check_entity(entity: dict[str, Any]) -> None:
        """PermanentStorageError if Table Storage would refuse this entity (sizes, dates)."""
        total = 4
        for name, value in entity.items():
            size = _property_bytes(value)
            if isinstance(value, str) and size > MAX_PROPERTY_BYTES:
                raise PermanentStorageError(
                    f"property {name} is {size} bytes; Table Storage allows {MAX_PROPERTY_BYTES}"
                )
            if not _storable_time(value):
                raise PermanentStorageError(
                    f"property {name} is {value.isoformat()}; Table Storage stores dates from 1601-01-01"
                )
            total += 8 + 2 * len(name) + size
        if total > MAX_ENTITY_BYTES:
            raise PermanentStorageError(f"entity is about {total} bytes; Table Storage allows 1 MiB")


def event_properties(event: Envelope, *, include_data: bool = True) -> dict[str, Any]:
    """The properties every event row carries."""
    properties: dict[str, Any] = {
        "EventId": event.id,
        "EventType": event.event_type,
        "EventTime": event.time,
        "Topic": event.source,
        "Subject": event.subject,
        "Schema": event.schema,
    }
    if include_data:
        properties["Data"] = json.dumps(event.data, ensure_ascii=False)
    # Table Storage has no null, so absent values are left out; odd types are kept as JSON text.
    return {
        name: value if isinstance(value, (str, dt.datetime)) else json.dumps(value, default=str)
        for name, value in properties.items()
        if value is not None
    }

def _get_or_none(client: TableClient, partition: str, row: str) -> Any:
    try:
        return client.get_entity(partition, row)
    except ResourceNotFoundError as exc:
        if _error_code(exc) == "TableNotFound":
            raise
        return None


def _error_code(exc: HttpResponseError) -> str:
    code = getattr(exc, "error_code", None)
    if not code:  # create_entity re-raises the service's error undecoded: read the code from the body
        try:
            code = exc.response.json()["odata.error"]["code"]  # type: ignore[union-attr]
        except (AttributeError, KeyError, TypeError, ValueError):
            code = None
    return str(getattr(code, "value", code) or "")


def _storable_time(value: Any) -> bool:
    return not isinstance(value, dt.datetime) or as_utc(value) >= MIN_DATETIME


def _property_bytes(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-16-le", "surrogatepass"))
    return 8


@contextmanager
def _translated(table: str) -> Iterator[None]:
    """Azure SDK errors out as the app's own: permanent for a refused entity, else transient."""
    try:
        yield
    except (ResourceExistsError, ResourceModifiedError):
        raise  # part of the key-state protocol
    except ResourceNotFoundError as exc:
        if _error_code(exc) == "TableNotFound":
            raise TransientStorageError(f"table {table} is missing: {exc.message}") from exc
        raise
    except HttpResponseError as exc:
        status = exc.status_code or 0
        if status in (400, 413):
            raise PermanentStorageError(f"{table} refused the entity ({status} {_error_code(exc)})") from exc
        raise TransientStorageError(f"{table} answered {status} {_error_code(exc)}".strip()) from exc
    except AzureError as exc:  # connection refused or reset, timeouts, credential failures
        raise TransientStorageError(f"{table} is unreachable: {type(exc).__name__}: {exc}"[:500]) from exc
