"""Synthetic raw events of every recorded kind, in both schemas, each with its own id.

Shaped like samples/events: the raw JSON of one event as Event Grid delivers it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

SUBSCRIPTION = "/subscriptions/5b4b650e-28b9-4790-b3ab-ddbd88d727c4/resourceGroups/bench"
CACHE = f"{SUBSCRIPTION}/providers/Microsoft.Cache/Redis/bench-cache"
CONFIG_STORE = f"{SUBSCRIPTION}/providers/Microsoft.AppConfiguration/configurationStores/bench-store"
STORAGE_ACCOUNT = f"{SUBSCRIPTION}/providers/Microsoft.Storage/storageAccounts/benchassets"
START = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)

EVENT_GRID = "EventGridEvent"
CLOUD_EVENTS = "CloudEvent"
SCHEMAS = (EVENT_GRID, CLOUD_EVENTS)

REDIS_TYPES = tuple(f"Microsoft.Cache.{name}Completed" for name in ("Scaling", "Patching", "ImportRDB",
                                                                      "ExportRDB"))
KEY_TYPES = ("Microsoft.AppConfiguration.KeyValueModified", "Microsoft.AppConfiguration.KeyValueDeleted")
SNAPSHOT_TYPES = ("Microsoft.AppConfiguration.SnapshotCreated", "Microsoft.AppConfiguration.SnapshotModified")
UNHANDLED_TYPE = "Microsoft.Storage.BlobCreated"
ALL_TYPES = (*REDIS_TYPES, *KEY_TYPES, *SNAPSHOT_TYPES, UNHANDLED_TYPE)


def event(event_type: str, n: int, schema: str = EVENT_GRID, *, key: str | None = None) -> dict[str, Any]:
    """Event number `n` of a type: its own id and time; key changes touch `key` (default: key n)."""
    time = START + dt.timedelta(milliseconds=n)
    stamp = time.isoformat().replace("+00:00", "Z")
    source, subject, data = _content(event_type, n, stamp, key if key is not None else f"bench/key-{n:06d}")
    if schema == CLOUD_EVENTS:
        return {"specversion": "1.0", "id": f"bench-{n}-{event_type}", "source": source, "type": event_type,
                "subject": subject, "time": stamp, "data": data}
    return {"id": f"bench-{n}-{event_type}", "topic": source, "subject": subject, "eventType": event_type,
            "eventTime": stamp, "data": data, "dataVersion": "1", "metadataVersion": "1"}


def _content(event_type: str, n: int, stamp: str, key: str) -> tuple[str, str, dict[str, Any]]:
    """Source, subject and data of one event, as the real publishers send them."""
    if event_type in REDIS_TYPES:
        name = event_type.rsplit(".", 1)[1]
        return CACHE, name, {"name": name, "timestamp": stamp, "status": "Succeeded"}
    if event_type in KEY_TYPES:
        return CONFIG_STORE, f"https://bench-store.azconfig.io/kv/{key}?label=Production", {
            "key": key, "label": "Production", "etag": f"etag{n:012d}",
            "syncToken": f"zAJw6V16=NDoyOSMx;sn={1_000_000 + n}"}
    if event_type in SNAPSHOT_TYPES:
        return CONFIG_STORE, f"https://bench-store.azconfig.io/snapshots/release-{n}", {
            "name": f"release-{n}", "etag": f"etag{n:012d}", "syncToken": f"zAJw6V16=NDoyOSMx;sn={n}"}
    return STORAGE_ACCOUNT, f"/blobServices/default/containers/uploads/blobs/report-{n}.csv", {
        "api": "PutBlob", "contentType": "text/csv", "contentLength": 524288, "blobType": "BlockBlob",
        "url": f"https://benchassets.blob.core.windows.net/uploads/report-{n}.csv"}


def redis_events(count: int, start: int = 0, schema: str = EVENT_GRID) -> list[dict[str, Any]]:
    """`count` Redis events, cycling through the four types."""
    return [event(REDIS_TYPES[n % len(REDIS_TYPES)], n, schema) for n in range(start, start + count)]


def key_changes(count: int, start: int = 0, schema: str = EVENT_GRID) -> list[dict[str, Any]]:
    """`count` KeyValueModified events of distinct keys: a bulk `az appconfig kv import`."""
    return [event(KEY_TYPES[0], n, schema) for n in range(start, start + count)]
