"""PartitionKey/RowKey design: the part of the data contract readers depend on.

- Event rows: RowKey = inverted ticks of the event time + "-" + event identity, so a partition
  reads newest first and a redelivered event lands on its own row again.
- A Redis cache's events share one partition: the lower-cased cache name (names are global).
- App Configuration events are spread over SHARDS partitions per store by a hash of the key,
  so a bulk import never lands in one partition, and one key's history (all labels) sits
  in one partition. Snapshot events have a partition of their own per store.
- Key state rows live in the same shard partitions as the key's events; RowKey = hash of
  (key, label), since keys may hold characters and lengths that Table keys refuse.
- Control-plane events of a resource (cache or store) share one partition: its lower-cased name and
  a hash of its resource id, since Azure Managed Redis names are not globally unique and a cache of
  each generation may share a name. Its state rows (per resource and child) use the same partition,
  and so do its chain rows: each Resource Notification of a resource or child twice, newest first and
  oldest first, so either neighbour of an event is the first row after a key (one row read).
- Revision rows (values) and pending captures live in the key's shard partition too, keyed by a hash
  of (key, label, etag): one row per revision, whoever writes it first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from eventaudit.timestamps import inverted_ticks, ticks

SHARDS = 16
NEWEST_FIRST, OLDEST_FIRST = "n", "o"
# Reverses the order of same-length lower-case hex strings (event identities) character by character.
_HEX_COMPLEMENT = str.maketrans("0123456789abcdef", "fedcba9876543210")
SNAPSHOT_PARTITION_SUFFIX = "snapshots"
UNDATED = "undated"


def event_row_key(time: dt.datetime, identity: str) -> str:
    return f"{inverted_ticks(time)}-{identity}"


def cache_partition(cache_name: str) -> str:
    return cache_name.lower()


def key_shard(key: str) -> int:
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:4], "big") % SHARDS


def key_partition(store_name: str, key: str) -> str:
    return store_partition(store_name, key_shard(key))


def store_partition(store_name: str, shard: int) -> str:
    return f"{store_name.lower()}-{shard:02d}"


def store_partitions(store_name: str) -> list[str]:
    """Every partition holding a store's key events and key state."""
    return [store_partition(store_name, shard) for shard in range(SHARDS)]


def snapshot_partition(store_name: str) -> str:
    return f"{store_name.lower()}-{SNAPSHOT_PARTITION_SUFFIX}"


def key_row_key(key: str, label: str) -> str:
    text = json.dumps([key, label], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def unhandled_partition(time: dt.datetime | None, identity: str) -> str:
    """Per day and shard: a flood of unknown events spreads, and 'recent' reads a few partitions."""
    day = time.strftime("%Y-%m-%d") if time else UNDATED
    return f"{day}-{int(identity[:8], 16) % SHARDS:02d}"


def key_state_version(time: dt.datetime, sequence: int, identity: str) -> str:
    """Orders the events of one key: event time, then the sync token's sequence number, then id."""
    return f"{ticks(time):019d}.{max(sequence, 0):020d}.{identity}"


def resource_hash(resource_key: str) -> str:
    """8 hex digits of SHA-256 of a lower-cased resource id (control_plane.targets.Target.key)."""
    return hashlib.sha256(resource_key.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def control_plane_partition(name: str, resource_key: str) -> str:
    return f"{name.lower()}-{resource_hash(resource_key)}"


def regional_resource_row_key(name: str, resource_key: str) -> str:
    """AuditResources RowKey of a resource whose name is unique only per region (Azure Managed Redis):
    "~" sorts after every character of a name, so it never equals or splits another name's row."""
    return f"{name.lower()}~{resource_hash(resource_key)}"


def state_row_key(target_key: str) -> str:
    """RowKey of the state of a resource or of one of its children (lower-cased id)."""
    return hashlib.sha256(target_key.encode("utf-8", "surrogatepass")).hexdigest()


def chain_row_key(target_key: str, order: str, time: dt.datetime, identity: str) -> str:
    """RowKey of an event in the chain of its resource or child (lower-cased id), in `order`.

    NEWEST_FIRST: "<state row key>-n-<event row key>", the order of ControlPlaneEvents. OLDEST_FIRST:
    "<state row key>-o-<ticks>-<identity, each hex digit complemented>", exactly the reverse order,
    ties included (identities are 32 lower-case hex digits).
    """
    if order == NEWEST_FIRST:
        event = event_row_key(time, identity)
    elif order == OLDEST_FIRST:
        event = f"{ticks(time):019d}-{identity.translate(_HEX_COMPLEMENT)}"
    else:
        raise ValueError(f"chain order {order!r} is neither {NEWEST_FIRST!r} nor {OLDEST_FIRST!r}")
    return f"{chain_prefix(target_key, order)}{event}"


def chain_prefix(target_key: str, order: str) -> str:
    """What every chain RowKey of one resource or child in one order starts with."""
    return f"{state_row_key(target_key)}-{order}-"


def revision_row_key(key: str, label: str, etag: str) -> str:
    """One revision of a key-value: the etag App Configuration gave it, with its key and label."""
    text = json.dumps([key, label, etag], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def pending_capture_row_key(key: str, label: str, etag: str, change: str) -> str:
    """The capture an event asks for: its revision and the kind of change (a delete shares the etag)."""
    return f"{revision_row_key(key, label, etag)}-{change[:1].lower()}"
