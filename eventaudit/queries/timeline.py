"""The merged chronology: everything the audit log recorded in a time window, one list, newest first.

"What changed between 14:00 and 14:30?" is one question here, across every cache and store: each
source (sources.Source) in SOURCES becomes one PartitionQuery over the partitions of the resources
asked for (all recorded ones by default), the filters the source can answer become clauses the service
applies, and reader.merge interleaves them by (RowKey, table, PartitionKey), i.e. by event time. A
filter a source has nothing for (a label on a Redis operation, a status on a key change) leaves that
source out, and the answer says which sources were read and which were left out, and why. A source's
explain() then adds what only more reading tells (who requested a scaling) to the rare rows it is for.

A cache's or store's history (history.py) is the same read, of the sources of its kind, restricted to
the resources of that name. To add a source, define a Source next to its questions and list it here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventaudit.queries.appconfig import KEY_CHANGE_SOURCE, SNAPSHOT_SOURCE, check_text
from eventaudit.queries.control_plane import CONTROL_PLANE_SOURCE
from eventaudit.queries.errors import InvalidQuery, UnknownResource
from eventaudit.queries.models import Page, Resource, TimelineItem
from eventaudit.queries.ranges import ANY_TIME, TimeRange
from eventaudit.queries.reader import (
    Entity,
    PartitionQuery,
    check_limit,
    merge,
    position_token,
    run_bounded,
    token_position,
)
from eventaudit.queries.redis import OPERATION_SOURCE
from eventaudit.queries.resources import find_all, list_resources
from eventaudit.queries.sources import Source, TimelineFilter
from eventaudit.queries.statuses import checked_status, status_filter
from eventaudit.queries.unhandled import UNHANDLED_SOURCE
from eventaudit.storage import AuditStore

SOURCES: tuple[Source, ...] = (OPERATION_SOURCE, KEY_CHANGE_SOURCE, SNAPSHOT_SOURCE, CONTROL_PLANE_SOURCE,
                               UNHANDLED_SOURCE)
# A resource's recorded rows per AuditResources kind: every cache of a name (both generations), ...
Named = dict[str, list[Resource]]
MAX_RESOURCES = 50  # names in one resource filter
QUESTION = "timeline"


def all_actions(sources: Sequence[Source] = SOURCES) -> list[str]:
    """Every operation or change type the sources record, in their order."""
    return list(dict.fromkeys(action for source in sources for action in source.actions))


def resource_types(sources: Sequence[Source] = SOURCES) -> list[str]:
    return list(dict.fromkeys(kind for source in sources for kind in source.resource_types))


def known_resources(store: AuditStore, sources: Sequence[Source] = SOURCES) -> list[Resource]:
    """Every recorded resource of the sources' types (one AuditResources partition read per type)."""
    return [resource for kind in resource_types(sources) for resource in list_resources(store, kind)]


def timeline(store: AuditStore, *, resources: Sequence[str] | None = None,
             actions: Sequence[str] | None = None, label: str | None = None, key: str | None = None,
             status: str | None = None,
             time_range: TimeRange = ANY_TIME, limit: int = 50, continuation: str | None = None,
             sources: Sequence[Source] = SOURCES) -> Page[TimelineItem]:
    """Everything recorded in the window across the resources asked for (all by default), newest first."""
    wanted = TimelineFilter(time_range=time_range, resources=_names(resources),
                            actions=_actions(actions, sources), label=check_text("label", label),
                            key=check_text("key", key) or None, status=checked_status(status))
    named = _named_resources(store, wanted.resources, sources)
    return read(store, wanted, named, sources, limit=limit, continuation=continuation)


def read(store: AuditStore, wanted: TimelineFilter, named: Named, sources: Sequence[Source], *,
         limit: int, continuation: str | None, question: str = QUESTION) -> Page[TimelineItem]:
    """The items of `sources` for `wanted` in the partitions of the `named` resources, newest first."""
    limit = check_limit(limit)
    identity = [sorted(name.lower() for name in wanted.resources), sorted(wanted.actions), wanted.label,
                wanted.key, wanted.status, [source.kind for source in sources]]
    after = token_position(continuation, question, identity)
    queries: list[PartitionQuery] = []
    read_from: list[Source] = []
    skipped: dict[str, str] = {}
    for source in sources:
        query, reason = _plan(source, wanted, named)
        if query is None:
            if reason:
                skipped[source.kind] = reason
            continue
        queries.append(query)
        read_from.append(source)
    hits, last = merge(store, queries, limit, after)
    items = _items(store, [(read_from[hit.query], hit.entity) for hit in hits])
    return Page(items, position_token(question, identity, last),
                {"sources": [source.kind for source in read_from], "skipped": skipped})


def _items(store: AuditStore, rows: list[tuple[Source, Entity]]) -> list[TimelineItem]:
    """Each row as its source's item, explained where the source reads more (8 at once)."""
    items = [source.item(row) for source, row in rows]
    todo = [n for n, (source, _) in enumerate(rows) if source.explain is not None]

    def explain(n: int) -> TimelineItem:
        source, row = rows[n]
        return source.explain(store, row, items[n])  # type: ignore[misc]

    for n, item in zip(todo, run_bounded(explain, todo), strict=True):
        items[n] = item
    return items


def _plan(source: Source, wanted: TimelineFilter, named: Named) -> tuple[PartitionQuery | None, str]:
    """The source's query for this filter, or None and why a filter left it out ("" when it simply has
    nothing to read: no resource of its type named, or ever recorded)."""
    clauses: list[str] = []
    parameters: dict[str, Any] = {}
    keeps = [source.keep] if source.keep else []
    if wanted.actions:
        actions = [action for action in wanted.actions if action in source.actions]
        if not actions or source.action_property is None:
            return None, "records none of the types asked for"
        terms = [f"{source.action_property} eq @action{n}" for n in range(len(actions))]
        clauses.append(terms[0] if len(terms) == 1 else "( " + " or ".join(terms) + " )")
        parameters.update({f"action{n}": action for n, action in enumerate(actions)})
    for value, column, what in ((wanted.label, source.label_property, "labels"),
                                (wanted.key, source.key_property, "keys")):
        if value is None:
            continue
        if column is None:
            return None, f"has no {what}"
        clauses.append(f"{column} eq @{what}")
        parameters[what] = value
    if wanted.status:
        if source.status_property is None:
            return None, "has no status"
        clause, found, keep = status_filter(wanted.status, source.status_property)
        clauses += [clause] if clause else []
        parameters.update(found)
        keeps.append(keep)
    partitions = _partitions(source, wanted, named)
    if partitions is None:
        return None, source.why_skipped or "cannot be read for this window"
    if not partitions:
        return None, ""  # nothing to read: no resource of its type was named, or ever recorded
    keep = None if not keeps else (keeps[0] if len(keeps) == 1 else (lambda e: all(k(e) for k in keeps)))
    return PartitionQuery(source.table, partitions, clauses, parameters, wanted.time_range,
                          tuple(source.columns), keep), ""


def _partitions(source: Source, wanted: TimelineFilter, named: Named) -> list[str] | None:
    if not source.resource_types:
        if wanted.resources:
            return []  # a source of no resource holds nothing of the resources named
        found = source.partitions(None, wanted)
        return None if found is None else list(found)
    return sorted({partition for kind in source.resource_types for resource in named.get(kind, [])
                   for partition in source.partitions(resource, wanted)})


def _named_resources(store: AuditStore, names: Sequence[str], sources: Sequence[Source]) -> Named:
    """The recorded resources per kind: every one of each name asked for (a cache of each generation
    may share a name; a cache and a store too), or every recorded one."""
    types = resource_types(sources)
    if not names:
        return {kind: list_resources(store, kind) for kind in types}
    by_type: Named = {kind: [] for kind in types}
    for name in names:
        found = {kind: find_all(store, kind, name) for kind in types}
        if not any(found.values()):
            known = sorted({resource.name for resource in known_resources(store, sources)}, key=str.lower)
            raise UnknownResource(types[0] if len(types) == 1 else None, name, known)
        for kind, resources in found.items():
            by_type[kind] += resources
    return by_type


def _names(resources: Sequence[str] | None) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip() for name in resources or () if name and name.strip()))
    if len(names) > MAX_RESOURCES:
        raise InvalidQuery(f"name at most {MAX_RESOURCES} caches or stores at once")
    return names


def _actions(asked: Sequence[str] | None, sources: Sequence[Source]) -> tuple[str, ...]:
    """The asked types, spelled as recorded (any casing accepted); InvalidQuery for unknown ones."""
    known = all_actions(sources)
    found = []
    for value in asked or ():
        if not value or not value.strip():
            continue
        match = next((action for action in known if action.lower() == value.strip().lower()), None)
        if match is None:
            raise InvalidQuery(f"type {value[:50]!r} is not one of {', '.join(known)}")
        found.append(match)
    return tuple(dict.fromkeys(found))
