"""A cache's or store's history: the merged timeline's sources of its kind, restricted to it.

A cache's history holds its Redis operations and its control-plane changes; a store's control-plane
history (`appconfig store-changes`) its control-plane changes only (its key changes are the timeline
with `--resource <store>`). Every resource recorded under the name is included: an Azure Cache for
Redis cache and an Azure Managed Redis cache may share one (a migration), and each item names its
product. Items are those of the timeline, scaling outcomes with who requested them (inferred) and,
for a Redis ScalingCompleted, the sizes (control_plane.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from eventaudit.control_plane.targets import AZURE_CACHE_FOR_REDIS
from eventaudit.queries.control_plane import CONTROL_PLANE_SOURCE
from eventaudit.queries.models import Page, TimelineItem
from eventaudit.queries.ranges import ANY_TIME, TimeRange
from eventaudit.queries.redis import OPERATION_SOURCE
from eventaudit.queries.resources import REDIS_CACHE, resolve_all
from eventaudit.queries.sources import Source, TimelineFilter
from eventaudit.queries.timeline import SOURCES, read
from eventaudit.storage import AuditStore

QUESTION = "history"


def history(store: AuditStore, kind: str, name: str, *, sources: Sequence[Source] | None = None,
            time_range: TimeRange = ANY_TIME, limit: int = 50,
            continuation: str | None = None) -> Page[TimelineItem]:
    """A cache's (kind RedisCache, both generations) or a store's history, newest first: the items of
    `sources` (default: every source of that kind) of every resource of that name."""
    resources = resolve_all(store, kind, name)
    chosen = [s for s in SOURCES if kind in s.resource_types] if sources is None else list(sources)
    wanted = TimelineFilter(time_range=time_range, resources=(name.strip(),))
    return read(store, wanted, {kind: resources}, chosen, limit=limit, continuation=continuation,
                question=QUESTION)


def control_plane_history(store: AuditStore, kind: str, name: str, *, time_range: TimeRange = ANY_TIME,
                          limit: int = 50, continuation: str | None = None) -> Page[TimelineItem]:
    """The control-plane changes only of a cache or store (SKU, replicas, keys, local auth, ...)."""
    return history(store, kind, name, sources=(CONTROL_PLANE_SOURCE,), time_range=time_range, limit=limit,
                   continuation=continuation)


def scalings(store: AuditStore, cache: str, *, limit: int = 200) -> list[TimelineItem]:
    """The scaling outcomes among a cache's latest `limit` history items, newest first: Redis
    ScalingCompleted events (Azure Cache for Redis), and for caches that publish no Redis events
    (Azure Managed Redis) the Resource Notifications of a size change."""
    items = history(store, REDIS_CACHE, cache, limit=limit).items
    return [item for item in items if (item.kind, item.action) == (OPERATION_SOURCE.kind, "Scaling") or (
        item.details.get("scaling") and item.details.get("product") != AZURE_CACHE_FOR_REDIS.product)]
