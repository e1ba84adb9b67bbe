"""A year of recorded events, written straight into the audit tables with batch transactions.

The rows are those the handlers write (same partitions, RowKeys and properties: the smoke test
compares them with what the app itself writes for the same kinds of event), generated partition by
partition and sent 100 entities per transaction, one partition each, several transactions at once,
so a million events load in minutes. Deterministic for a given size and seed.

Shape: 8 caches and 8 stores, a few of them much busier than the rest; 20% Redis operations (about
7% of them failed, spelled Failed, FAILED or Failure), 77% key changes (about 40 changes per setting,
5% deletions; the key states follow the last change), 2% snapshot events, 1% events kept unhandled;
spread over the 365 days before END, plus a planted incident of 60 events in INCIDENT.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ResourceExistsError, ServiceRequestError, ServiceResponseError
from azure.data.tables import TableTransactionError

from eventaudit.storage import AuditStore, keys
from eventaudit.storage.tables import (
    ALL_TABLES,
    APP_CONFIGURATION_EVENTS,
    APP_CONFIGURATION_KEYS,
    AUDIT_RESOURCES,
    REDIS_CACHE_EVENTS,
    UNHANDLED_EVENTS,
)
from eventaudit.timestamps import inverted_ticks

END = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
START = END - dt.timedelta(days=365)
INCIDENT = (dt.datetime(2026, 11, 10, 14, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 10, 14, 30, tzinfo=dt.UTC))
PLANTED = 60
SUBSCRIPTION = "5b4b650e-28b9-4790-b3ab-ddbd88d727c4"
GROUP = "platform-prod"
CACHES = [f"cache-{n}" for n in range(8)]
STORES = [f"store-{n}" for n in range(8)]
WEIGHTS = [0.4, 0.2, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05]  # one busy resource, a few quiet ones
OPERATIONS = {name: f"{name}Completed" for name in ("Scaling", "Patching", "ImportRDB", "ExportRDB")}
REDIS = "Microsoft.Cache/Redis"
CONFIG = "Microsoft.AppConfiguration/configurationStores"
STATUSES = ["Succeeded"] * 93 + ["Failed"] * 5 + ["FAILED", "Failure"]
LABELS = ["Production", "Production", "", "", "Staging"]
CHANGES_PER_SETTING = 40
BATCH = 100
WRITERS = 4
ATTEMPTS = 4


@dataclass
class Dataset:
    """What was written: sizes, names, and how long it took."""

    events: int
    caches: list[str]
    stores: list[str]
    rows: int = 0  # entities written, key states and resources included
    seconds: float = 0.0
    settings_per_store: dict[str, int] = field(default_factory=dict)


def load_year(store: AuditStore, events: int, seed: int = 7) -> Dataset:
    """Write `events` recorded events (and the key states and resources they imply) into `store`."""
    for table in ALL_TABLES:
        try:
            store.table(table).create_table()
        except ResourceExistsError:
            pass
    dataset = Dataset(events, list(CACHES), list(STORES))
    started = time.perf_counter()
    with _Writer(store) as writer:
        for table, partition, rows in _partitions(events, random.Random(seed), dataset):
            writer.write(table, partition, rows)
    dataset.rows = writer.rows
    dataset.seconds = time.perf_counter() - started
    return dataset


class _Writer:
    """Batch transactions of up to 100 entities of one partition, WRITERS at once, a bounded queue."""

    def __init__(self, store: AuditStore) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="year-writer")
        self._slots = threading.BoundedSemaphore(WRITERS * 4)
        self._pending: list[Future[None]] = []
        self.rows = 0

    def write(self, table: str, partition: str, rows: list[dict[str, Any]]) -> None:
        client = self._store.table(table)
        for start in range(0, len(rows), BATCH):
            chunk = [("create", row) for row in rows[start:start + BATCH]]
            self._slots.acquire()
            future = self._pool.submit(_submit, client, chunk)
            future.add_done_callback(lambda _: self._slots.release())
            self._pending.append(future)
            self.rows += len(chunk)
        done = [f for f in self._pending if f.done()]
        for future in done:
            future.result()  # raise what failed, early
        self._pending = [f for f in self._pending if not f.done()]

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)
        for future in self._pending:
            future.result()  # raise what failed


def _submit(client: Any, chunk: list[tuple[str, dict[str, Any]]]) -> None:
    """One transaction; sent again if its answer was lost (a retry of one that did commit finds its
    first entity there: done). Azurite under a million entities now and then drops a connection."""
    for attempt in range(ATTEMPTS):
        try:
            client.submit_transaction(chunk)
            return
        except (ServiceRequestError, ServiceResponseError):
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(1 + attempt)
        except TableTransactionError as exc:
            if attempt and str(getattr(exc.error_code, "value", exc.error_code)) == "EntityAlreadyExists":
                return
            raise


def _partitions(events: int, rng: random.Random, dataset: Dataset,
                ) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """(table, partition, rows) of the whole year, one partition at a time."""
    planted = _planted(rng)
    counter = iter(range(10**12))
    redis_total, changes_total = round(events * 0.20), round(events * 0.77)
    snapshot_total = round(events * 0.02)
    unhandled_total = max(0, events - PLANTED - redis_total - changes_total - snapshot_total)
    yield AUDIT_RESOURCES, "RedisCache", [_resource("RedisCache", REDIS, c) for c in CACHES]
    stores = [_resource("AppConfigurationStore", CONFIG, name) for name in STORES]
    yield AUDIT_RESOURCES, "AppConfigurationStore", stores
    for cache, count in zip(CACHES, _split(redis_total, rng), strict=True):
        times = [_time(rng) for _ in range(count)] + planted.pop(("redis", cache), [])
        yield REDIS_CACHE_EVENTS, keys.cache_partition(cache), [
            _redis_row(cache, when, rng, next(counter)) for when in times]
    for store_name, count, snapshots in zip(STORES, _split(changes_total, rng), _split(snapshot_total, rng),
                                            strict=True):
        yield from _store_partitions(store_name, count, planted.pop(("kv", store_name), []), rng, counter,
                                     dataset)
        times = [_time(rng) for _ in range(snapshots)] + planted.pop(("snapshot", store_name), [])
        yield APP_CONFIGURATION_EVENTS, keys.snapshot_partition(store_name), [
            _snapshot_row(store_name, when, next(counter)) for when in times]
    by_partition: dict[str, list[dict[str, Any]]] = {}
    for when in [_time(rng) for _ in range(unhandled_total)] + planted.pop(("unhandled", ""), []):
        row = _unhandled_row(when, next(counter))
        by_partition.setdefault(row["PartitionKey"], []).append(row)
    for partition, rows in by_partition.items():
        yield UNHANDLED_EVENTS, partition, rows


def _store_partitions(store_name: str, changes: int, planted: list[dt.datetime], rng: random.Random,
                      counter: Iterator[int], dataset: Dataset,
                      ) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    settings = max(20, changes // CHANGES_PER_SETTING)
    dataset.settings_per_store[store_name] = settings
    shards: dict[str, list[tuple[str, str]]] = {}
    for n in range(settings):
        key = f"app/section-{n % 25:02d}/setting-{n:06d}"
        shards.setdefault(keys.key_partition(store_name, key), []).append((key, LABELS[n % len(LABELS)]))
    counts = iter(_split(changes, rng, settings, uniform=True))
    planted_iter = iter(planted)
    for partition, settings_here in shards.items():
        events, states = [], []
        for key, label in settings_here:
            times = sorted(_time(rng) for _ in range(next(counts)))
            extra = next(planted_iter, None)
            if extra is not None:
                times = sorted([*times, extra])
            last: dict[str, Any] | None = None
            for when in times:
                last = _key_change_row(store_name, partition, key, label, when, rng, next(counter))
                events.append(last)
            if last is not None:
                states.append(_key_state_row(last))
        yield APP_CONFIGURATION_EVENTS, partition, events
        yield APP_CONFIGURATION_KEYS, partition, states


def _planted(rng: random.Random) -> dict[tuple[str, str], list[dt.datetime]]:
    """60 events in the incident window: operations of three caches, changes in four stores, more."""
    since, until = INCIDENT
    span = (until - since).total_seconds()
    plan = [("redis", c) for c in CACHES[:3]] * 4 + [("kv", s) for s in STORES[:4]] * 10 + [
        ("snapshot", STORES[0]), ("snapshot", STORES[1])] + [("unhandled", "")] * 6
    found: dict[tuple[str, str], list[dt.datetime]] = {}
    for where in plan[:PLANTED]:
        found.setdefault(where, []).append(since + dt.timedelta(seconds=rng.uniform(0, span - 1)))
    return found


def _split(total: int, rng: random.Random, parts: int = len(WEIGHTS), uniform: bool = False) -> list[int]:
    weights = [1.0] * parts if uniform else WEIGHTS
    counts = [0] * parts
    for index in rng.choices(range(parts), weights=weights, k=total):
        counts[index] += 1
    return counts


def _time(rng: random.Random) -> dt.datetime:
    return START + dt.timedelta(microseconds=rng.randrange(int((END - START).total_seconds() * 1e6)))


def _identity(source: str, event_type: str, event_id: str) -> str:
    """As events.Envelope.identity: a hash of (source, type, id)."""
    text = json.dumps([source.lower(), event_type, event_id], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _common(source: str, event_type: str, n: int, when: dt.datetime, subject: str, data: Any
            ) -> tuple[str, dict[str, Any]]:
    event_id = f"year-{n}"
    identity = _identity(source, event_type, event_id)
    return identity, {"RowKey": keys.event_row_key(when, identity), "EventId": event_id,
                      "EventType": event_type, "EventTime": when, "Topic": source, "Subject": subject,
                      "Schema": "EventGridEvent", "Data": json.dumps(data)}


def _source(provider: str, name: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/{provider}/{name}"


def _resource(kind: str, provider: str, name: str) -> dict[str, Any]:
    return {"PartitionKey": kind, "RowKey": name.lower(), "Name": name, "ResourceGroup": GROUP,
            "SubscriptionId": SUBSCRIPTION, "ResourceId": _source(provider, name)}


def _redis_row(cache: str, when: dt.datetime, rng: random.Random, n: int) -> dict[str, Any]:
    operation = rng.choice(list(OPERATIONS))
    status = rng.choice(STATUSES)
    stamp = when.isoformat().replace("+00:00", "Z")
    _, row = _common(_source(REDIS, cache), f"Microsoft.Cache.{OPERATIONS[operation]}", n,
                     when, operation, {"name": operation, "timestamp": stamp, "status": status})
    return {"PartitionKey": keys.cache_partition(cache), **row, "Operation": operation, "Status": status,
            "OccurredAt": when, "CacheName": cache, "ResourceGroup": GROUP, "SubscriptionId": SUBSCRIPTION}


def _key_change_row(store_name: str, partition: str, key: str, label: str, when: dt.datetime,
                    rng: random.Random, n: int) -> dict[str, Any]:
    deleted = rng.random() < 0.05
    event_type = "Microsoft.AppConfiguration.KeyValue" + ("Deleted" if deleted else "Modified")
    etag, sync = f"etag{n:012d}", f"zAJw6V16=NDoyOSMx;sn={n}"
    _, row = _common(_source(CONFIG, store_name), event_type, n, when, f"https://{store_name}.azconfig.io/kv/{key}",
                     {"key": key, "label": label or None, "etag": etag, "syncToken": sync})
    return {"PartitionKey": partition, **row, "Change": "Deleted" if deleted else "Modified",
            "StoreName": store_name, "Key": key, "Label": label, "ETag": etag, "SyncToken": sync}


def _key_state_row(last: dict[str, Any]) -> dict[str, Any]:
    """The key's state after its last change, as handlers/app_configuration.py keeps it."""
    return {"PartitionKey": last["PartitionKey"], "RowKey": keys.key_row_key(last["Key"], last["Label"]),
            "StoreName": last["StoreName"], "Key": last["Key"], "Label": last["Label"], "ETag": last["ETag"],
            "Deleted": last["Change"] == "Deleted", "LastChange": last["Change"],
            "LastEventTime": last["EventTime"], "LastEventId": last["EventId"],
            "LastSyncToken": last["SyncToken"],
            "Version": keys.key_state_version(last["EventTime"], int(last["EventId"].split("-")[1]),
                                              last["RowKey"].split("-", 1)[1])}


def _snapshot_row(store_name: str, when: dt.datetime, n: int) -> dict[str, Any]:
    change = "SnapshotCreated" if n % 3 else "SnapshotModified"
    etag, sync = f"etag{n:012d}", f"zAJw6V16=NDoyOSMx;sn={n}"
    _, row = _common(_source(CONFIG, store_name), f"Microsoft.AppConfiguration.{change}", n, when,
                     f"https://{store_name}.azconfig.io/snapshots/release-{n}",
                     {"name": f"release-{n}", "etag": etag, "syncToken": sync})
    return {"PartitionKey": keys.snapshot_partition(store_name), **row, "Change": change,
            "StoreName": store_name, "Snapshot": f"release-{n}", "ETag": etag, "SyncToken": sync}


def _unhandled_row(when: dt.datetime, n: int) -> dict[str, Any]:
    source = _source("Microsoft.Storage/storageAccounts", "assets")
    identity, row = _common(source, "Microsoft.Storage.BlobCreated", n, when, f"/blobs/report-{n}.csv",
                            {"api": "PutBlob"})
    event = json.dumps({"id": row["EventId"], "topic": source, "eventType": row["EventType"],
                        "eventTime": when.isoformat(), "data": {"api": "PutBlob"}})
    del row["Data"]
    return {"PartitionKey": keys.unhandled_partition(when, identity), **row,
            "RowKey": f"{inverted_ticks(when)}-{identity}",
            "Reason": "no handler for event type Microsoft.Storage.BlobCreated", "Event": event,
            "EventParts": 1, "EventLength": len(event)}


def partitions_of(dataset: Dataset) -> Iterable[str]:
    """Every event partition of the data set's caches and stores (what an all-time timeline reads)."""
    for cache in dataset.caches:
        yield keys.cache_partition(cache)
    for store_name in dataset.stores:
        yield from keys.store_partitions(store_name)
        yield keys.snapshot_partition(store_name)
