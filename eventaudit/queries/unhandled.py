"""Events the app kept but no handler applied (table UnhandledEvents), as a timeline source.

Their partitions are per UTC day and shard (storage.keys.unhandled_partition), not per resource, so
the timeline reads them for a window of at most MAX_DAYS days, and only when no resource, type,
label, key or status filter is asked for (they have none of those). A large event spans several
rows; only its first row (with EventParts) is an item.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from eventaudit.queries.models import Resource, TimelineItem, entity_text, entity_time
from eventaudit.queries.sources import Source, TimelineFilter, details
from eventaudit.storage import keys
from eventaudit.storage.tables import UNHANDLED_EVENTS

MAX_DAYS = 7
_COLUMNS = ("PartitionKey", "RowKey", "EventId", "EventType", "EventTime", "Topic", "Subject", "Reason",
            "EventParts", "PartOf")


def _partitions(_: Resource | None, wanted: TimelineFilter) -> list[str] | None:
    window = wanted.time_range
    if window.since is None:
        return None
    until = window.until or dt.datetime.now(dt.UTC) + dt.timedelta(days=1)  # events may run ahead a little
    first, last = window.since.date(), (until - dt.timedelta(microseconds=1)).date()
    if (last - first).days + 1 > MAX_DAYS:
        return None
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    return [f"{day:%Y-%m-%d}-{shard:02d}" for day in days for shard in range(keys.SHARDS)]


def _item(entity: Mapping[str, Any]) -> TimelineItem:
    event_type = entity_text(entity, "EventType") or "(no type)"
    topic = entity_text(entity, "Topic") or ""
    reason = entity_text(entity, "Reason") or ""
    return TimelineItem(
        time=entity_time(entity, "EventTime"), kind="unhandled-event",
        resource=topic.rstrip("/").rsplit("/", 1)[-1] or None, resource_type=None, action=event_type,
        subject=entity_text(entity, "Subject"), label=None, status=None, failed=False,
        summary=f"{event_type} (kept, not interpreted: {reason})",
        details=details(event_id=entity_text(entity, "EventId"), event_type=event_type, topic=topic,
                        subject=entity_text(entity, "Subject"), reason=reason))


UNHANDLED_SOURCE = Source(
    kind="unhandled-event", table=UNHANDLED_EVENTS, resource_types=(), partitions=_partitions, item=_item,
    columns=_COLUMNS, keep=lambda entity: entity.get("PartOf") is None,  # a large event's later rows
    why_skipped=f"read only for a window (since/until) of at most {MAX_DAYS} days")
