"""What the merged timeline needs to know of one kind of recorded event: a Source.

A source names its table, the partitions holding one resource's events (or, for events of no
resource, those of a time window), which row properties the timeline's filters can ask the service
about, and how a row becomes a TimelineItem (one function per source, used by the timeline and by a
cache's or store's history alike). Its RowKeys must start with the inverted ticks of the event time
(storage.keys.event_row_key), so the merge orders every source by time and a time window is a RowKey
range. Sources are listed in timeline.SOURCES.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eventaudit.queries.models import Resource, TimelineItem
from eventaudit.queries.ranges import ANY_TIME, TimeRange, iso
from eventaudit.storage import AuditStore

Entity = Mapping[str, Any]


@dataclass(frozen=True)
class TimelineFilter:
    """What the timeline was asked for; an empty field asks for everything."""

    time_range: TimeRange = ANY_TIME
    resources: tuple[str, ...] = ()  # cache or store names, as given
    actions: tuple[str, ...] = ()  # operation or change types, as spelled in Source.actions
    label: str | None = None  # "" is "no label"
    key: str | None = None
    status: str | None = None  # statuses.status_class decides what matches


@dataclass(frozen=True)
class Source:
    kind: str  # names the source in answers and filters, e.g. "redis-operation"
    table: str  # base table name (storage.tables), without AUDIT_TABLE_PREFIX
    # The AuditResources partitions listing its resources (RedisCache, ...); empty: not per resource.
    resource_types: tuple[str, ...]
    # The partitions to read: of one recorded resource, or, when resource_types is empty, of the window
    # (None then: the window is too wide to enumerate, and the source is skipped).
    partitions: Callable[[Resource | None, TimelineFilter], Sequence[str] | None]
    item: Callable[[Entity], TimelineItem]  # reads nothing else
    columns: Sequence[str]  # the properties item() reads ($select)
    actions: Sequence[str] = ()  # the operation or change types it records
    # Row properties the service can filter on; None: the source has no such thing, and a filter on it
    # leaves the source out.
    action_property: str | None = None
    label_property: str | None = None
    key_property: str | None = None
    status_property: str | None = None
    keep: Callable[[Entity], bool] | None = None  # which rows of its partitions are items (default: all)
    why_skipped: str = ""  # said when partitions() gives None
    # What an item says after reading more (who requested a scaling): costs requests, so it must return
    # the item untouched, reading nothing, for every row but the rare ones it explains.
    explain: Callable[[AuditStore, Entity, TimelineItem], TimelineItem] | None = None


def details(**values: Any) -> dict[str, Any]:
    """The shown-on-demand part of an item: set values only, times in ISO 8601."""
    return {name: iso(value) if isinstance(value, dt.datetime) else value
            for name, value in values.items() if value not in (None, "")}
