"""Seeded generators of raw events (both schemas) and of what the tables must hold after them.

Shared by the chaos, soak, throttling, spoofing and fuzz tests. Expectations are computed from the
raw events by the documented rules of docs/data-contract.md (not by the app's code): which table an event lands in, and
the state each key ends in (the latest event time, ties broken by the sync token's `sn`).
"""

from __future__ import annotations

import copy
import datetime as dt
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from eventaudit.storage import AuditStore
from eventaudit.storage.tables import (
    APP_CONFIGURATION_EVENTS,
    APP_CONFIGURATION_KEYS,
    REDIS_CACHE_EVENTS,
    UNHANDLED_EVENTS,
)

SUBSCRIPTION = "5b4b650e-28b9-4790-b3ab-ddbd88d727c4"
OTHER_SUBSCRIPTION = "0f0e0d0c-0b0a-4090-8070-605040302010"
REDIS_TYPES = ("Microsoft.Cache.ScalingCompleted", "Microsoft.Cache.PatchingCompleted",
               "Microsoft.Cache.ImportRDBCompleted", "Microsoft.Cache.ExportRDBCompleted")
KEY_MODIFIED = "Microsoft.AppConfiguration.KeyValueModified"
KEY_DELETED = "Microsoft.AppConfiguration.KeyValueDeleted"
SNAPSHOT_TYPES = ("Microsoft.AppConfiguration.SnapshotCreated", "Microsoft.AppConfiguration.SnapshotModified")
UNKNOWN_TYPES = ("Microsoft.Storage.BlobCreated", "Contoso.Custom.Happened", "Microsoft.Cache.Rebooted")
BASE_TIME = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)

# Table, event id, event type and lower-cased source: how the tests count rows.
RowIdentity = tuple[str, str, str, str]
# Lower-cased store name, key, label.
KeyIdentity = tuple[str, str, str]


def resource_id(namespace: str, type_: str, name: str, *, group: str = "audit-rg",
                subscription: str = SUBSCRIPTION) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{namespace}/{type_}/{name}"


def cache_id(name: str, **parts: str) -> str:
    return resource_id("Microsoft.Cache", "Redis", name, **parts)


def store_id(name: str, **parts: str) -> str:
    return resource_id("Microsoft.AppConfiguration", "configurationStores", name, **parts)


def iso(time: dt.datetime, seventh_digit: int = 0) -> str:
    """Azure's format: seven fractional digits (the worker keeps six) and Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{seventh_digit}Z"


def raw_event(*, cloud: bool, id: str, source: str, type: str, time: str, subject: str,
              data: Any) -> dict[str, Any]:
    """One event as Event Grid delivers it, in the Event Grid schema or CloudEvents 1.0."""
    if cloud:
        return {"specversion": "1.0", "id": id, "source": source, "type": type, "time": time,
                "subject": subject, "data": data}
    return {"id": id, "topic": source, "subject": subject, "eventType": type, "eventTime": time,
            "data": data, "dataVersion": "1", "metadataVersion": "1"}


def fields(raw: dict[str, Any]) -> tuple[str, str, str]:
    """(id, type, source) of a raw event in either schema."""
    if "specversion" in raw:
        return raw["id"], raw["type"], raw["source"]
    return raw["id"], raw["eventType"], raw["topic"]


@dataclass
class Stream:
    """Events to deliver (with duplicates, shuffled) and what the tables must hold afterwards."""

    deliveries: list[dict[str, Any]]
    unique: list[dict[str, Any]]
    # Where each unique event must land exactly once.
    rows: Counter[RowIdentity] = field(default_factory=Counter)
    # Final (LastEventId, Deleted, ETag) of every key.
    key_states: dict[KeyIdentity, tuple[str, bool, str]] = field(default_factory=dict)

    @property
    def duplicates(self) -> int:
        return len(self.deliveries) - len(self.unique)


class EventFactory:
    """Makes the events of a few caches and stores; every call draws from one seeded Random."""

    def __init__(self, rng: random.Random, *, caches: int = 3, stores: int = 3, keys_per_store: int = 40,
                 subscription: str = SUBSCRIPTION) -> None:
        self.rng = rng
        self.caches = [cache_id(f"cache-{i}", subscription=subscription) for i in range(caches)]
        self.stores = [store_id(f"store-{i}", subscription=subscription) for i in range(stores)]
        self.keys = [f"app:{i}/setting#{i % 7}" for i in range(keys_per_store)]
        self.labels = ["", "prod", "dev/eu"]
        self._serial = 0
        # Last sync token sequence per store: App Configuration's sn grows with every change.
        self._sn: Counter[str] = Counter()

    def _id(self, kind: str) -> str:
        self._serial += 1
        return f"{kind}-{self._serial:07d}-{self.rng.getrandbits(32):08x}"

    def _time(self) -> dt.datetime:
        return BASE_TIME + dt.timedelta(microseconds=self.rng.randrange(6 * 3600 * 10**6))

    def _source(self, resource: str) -> str:
        # Azure sends resource ids in varying casing; they are case-insensitive.
        return resource if self.rng.random() < 0.7 else resource.upper()

    def redis(self, *, cloud: bool | None = None, cache: str | None = None) -> dict[str, Any]:
        time = self._time()
        event_type = self.rng.choice(REDIS_TYPES)
        name = event_type.rsplit(".", 1)[1]
        return raw_event(cloud=self._cloud(cloud), id=self._id("redis"),
                         source=self._source(cache or self.rng.choice(self.caches)),
                         type=event_type, time=iso(time), subject=name,
                         data={"name": name, "timestamp": iso(time, 7),
                               "status": self.rng.choice(["Succeeded", "Failed"])})

    def key_change(self, *, key: str | None = None, label: str | None = None, store: str | None = None,
                   time: dt.datetime | None = None, seventh_digit: int = 0, deleted: bool | None = None,
                   cloud: bool | None = None) -> dict[str, Any]:
        store = store or self.rng.choice(self.stores)
        key = key if key is not None else self.rng.choice(self.keys)
        label = label if label is not None else self.rng.choice(self.labels)
        deleted = self.rng.random() < 0.2 if deleted is None else deleted
        self._sn[store] += 1
        data: dict[str, Any] = {"key": key, "label": label or self.rng.choice([None, ""]),
                                "etag": f"etag-{self.rng.getrandbits(40):010x}",
                                "syncToken": f"zAJw6V16=NDoyOSMx;sn={self._sn[store]}"}
        return raw_event(cloud=self._cloud(cloud), id=self._id("kv"), source=self._source(store),
                         type=KEY_DELETED if deleted else KEY_MODIFIED,
                         time=iso(time or self._time(), seventh_digit),
                         subject=f"https://{store.rsplit('/', 1)[1]}.azconfig.io/kv/{key}", data=data)

    def snapshot(self, *, cloud: bool | None = None) -> dict[str, Any]:
        store = self.rng.choice(self.stores)
        self._sn[store] += 1
        return raw_event(cloud=self._cloud(cloud), id=self._id("snap"), source=self._source(store),
                         type=self.rng.choice(SNAPSHOT_TYPES), time=iso(self._time()),
                         subject="snapshot", data={"name": f"snap-{self.rng.randrange(20)}",
                                                   "etag": "e", "syncToken": f"t;sn={self._sn[store]}"})

    def unhandled(self, *, cloud: bool | None = None) -> dict[str, Any]:
        """An event that must land in UnhandledEvents: unknown type, or a known type with bad data."""
        kind = self.rng.randrange(3)
        if kind == 0:
            return raw_event(cloud=self._cloud(cloud), id=self._id("other"), source=self.rng.choice(self.caches),
                             type=self.rng.choice(UNKNOWN_TYPES), time=iso(self._time()), subject="x",
                             data={"anything": self.rng.random()})
        event = self.key_change(cloud=cloud) if kind == 1 else self.redis(cloud=cloud)
        event["data"] = {"key": ""} if kind == 1 else {"status": "Succeeded", "timestamp": "not a time"}
        return event

    def makers(self) -> list[Callable[[], dict[str, Any]]]:
        """The mix of a stream: mostly key changes, then Redis, snapshot and unhandled events."""
        return [self.redis] * 20 + [self.key_change] * 65 + [self.snapshot] * 8 + [self.unhandled] * 7

    def _cloud(self, cloud: bool | None) -> bool:
        return self.rng.random() < 0.5 if cloud is None else cloud


def mixed_stream(rng: random.Random, count: int, *, duplicate_rate: float = 0.05,
                 factory: EventFactory | None = None) -> Stream:
    """`count` unique events of every type and both schemas, plus duplicates, shuffled.

    Several keys get many updates with different event times (arriving in random order), a few of
    them at the same microsecond (the worker drops the seventh digit) where the sync token decides.
    """
    factory = factory or EventFactory(rng, keys_per_store=max(10, count // 25))
    unique: list[dict[str, Any]] = []
    # Hot keys: many versions each, two versions at the same microsecond.
    bursts: list[list[dict[str, Any]]] = []
    for hot in range(max(1, count // 200)):
        key, store = f"hot/{hot}", factory.stores[hot % len(factory.stores)]
        tie = BASE_TIME + dt.timedelta(hours=7, microseconds=hot)
        versions = [factory.key_change(key=key, label="prod", store=store, time=tie, seventh_digit=9),
                    factory.key_change(key=key, label="prod", store=store, time=tie, seventh_digit=1)]
        versions += [factory.key_change(key=key, label="prod", store=store) for _ in range(14)]
        bursts.append(versions)
        unique += versions
    makers = factory.makers()
    while len(unique) < count:
        unique.append(rng.choice(makers)())
    unique = unique[:count]
    hot_ids = {fields(e)[0] for burst in bursts for e in burst}
    deliveries = [copy.deepcopy(e) for e in unique if fields(e)[0] not in hot_ids]
    deliveries += [copy.deepcopy(rng.choice(unique)) for _ in range(round(count * duplicate_rate))]
    rng.shuffle(deliveries)
    # Each hot key's versions arrive together, shuffled, as in a bulk import: concurrent workers
    # then race on the same key state (the ETag protocol's job).
    for burst in bursts:
        burst = [copy.deepcopy(e) for e in burst if fields(e)[0] in {fields(u)[0] for u in unique}]
        rng.shuffle(burst)
        at = rng.randrange(len(deliveries) + 1)
        deliveries[at:at] = burst
    return Stream(deliveries=deliveries, unique=unique, rows=expected_rows(unique),
                  key_states=expected_key_states(unique))


def expected_table(raw: dict[str, Any]) -> str:
    """The table a generated event must land in (generators only make well-formed or clearly bad ones)."""
    _, event_type, _ = fields(raw)
    data = raw.get("data") or {}
    if event_type in REDIS_TYPES and data.get("timestamp", "").endswith("Z"):
        return REDIS_CACHE_EVENTS
    if event_type in (KEY_MODIFIED, KEY_DELETED) and data.get("key"):
        return APP_CONFIGURATION_EVENTS
    if event_type in SNAPSHOT_TYPES:
        return APP_CONFIGURATION_EVENTS
    return UNHANDLED_EVENTS


def expected_rows(events: Iterable[dict[str, Any]]) -> Counter[RowIdentity]:
    found: Counter[RowIdentity] = Counter()
    for raw in events:
        event_id, event_type, source = fields(raw)
        found[(expected_table(raw), event_id, event_type, source.lower())] = 1
    return found


def _worker_time(text: str) -> str:
    """The event time as the worker hands it over: six fractional digits (ISO text sorts by time here)."""
    return text[:26]


def expected_key_states(events: Iterable[dict[str, Any]]) -> dict[KeyIdentity, tuple[str, bool, str]]:
    latest: dict[KeyIdentity, tuple[tuple[str, int], dict[str, Any]]] = {}
    for raw in events:
        event_id, event_type, source = fields(raw)
        if expected_table(raw) != APP_CONFIGURATION_EVENTS or event_type in SNAPSHOT_TYPES:
            continue
        data = raw["data"]
        key = (source.rsplit("/", 1)[1].lower(), data["key"], data["label"] or "")
        order = (_worker_time(raw.get("eventTime") or raw["time"]), int(data["syncToken"].rsplit("=", 1)[1]))
        if key not in latest or order > latest[key][0]:
            latest[key] = (order, raw)
    return {key: (fields(raw)[0], fields(raw)[1] == KEY_DELETED, raw["data"]["etag"])
            for key, (_, raw) in latest.items()}


def observed_rows(store: AuditStore) -> Counter[RowIdentity]:
    """Every event row of the three event tables, counted by table, id, type and lower-cased source."""
    found: Counter[RowIdentity] = Counter()
    for table in (REDIS_CACHE_EVENTS, APP_CONFIGURATION_EVENTS, UNHANDLED_EVENTS):
        for row in _all_rows(store, table):
            if "PartOf" not in row:  # continuation rows of a large unhandled event
                found[(table, row.get("EventId"), row.get("EventType"), str(row.get("Topic", "")).lower())] += 1
    return found


def observed_key_states(store: AuditStore) -> dict[KeyIdentity, tuple[str, bool, str]]:
    return {(row["StoreName"].lower(), row["Key"], row["Label"]): (row["LastEventId"], row["Deleted"], row["ETag"])
            for row in _all_rows(store, APP_CONFIGURATION_KEYS)}


def _all_rows(store: AuditStore, table: str) -> list[dict[str, Any]]:
    try:
        return [dict(e) for e in store.table(table).list_entities()]
    except ResourceNotFoundError:
        return []


def endless_events(factory: EventFactory, *, duplicate_rate: float = 0.05) -> Iterator[dict[str, Any]]:
    """Mixed events, made one at a time (a soak must not hold its input), with some redelivered."""
    makers = factory.makers()
    previous: dict[str, Any] | None = None
    while True:
        if previous is not None and factory.rng.random() < duplicate_rate:
            yield copy.deepcopy(previous)
            continue
        previous = factory.rng.choice(makers)()
        yield previous
