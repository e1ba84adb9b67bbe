"""Table requests per event in steady state, counted on the wire, for every type and schema."""

from __future__ import annotations

import collections
from dataclasses import dataclass

from benchmarks import workload
from benchmarks.counting import Request
from benchmarks.harness import install_app, new_prefix
from eventaudit.storage.tables import APP_CONFIGURATION_CAPTURES, AUDIT_RESOURCES
from tools.trigger import deliver


@dataclass(frozen=True)
class RoundTrips:
    # (schema, event type) -> requests of each measured event
    per_event: dict[tuple[str, str], list[int]]
    # successful AuditResources writes per resource over the whole run (warm-up included)
    registrations: dict[str, int]
    # the same, less the requests that hand a key change to the value capture (the path before issue 14)
    per_event_without_handoff: dict[tuple[str, str], list[int]] | None = None

    def worst(self, types: tuple[str, ...], *, without_handoff: bool = False) -> int:
        counts = self.per_event_without_handoff if without_handoff else self.per_event
        assert counts is not None
        return max(max(counts[(schema, t)]) for schema, t in counts if t in types)

    def best(self, types: tuple[str, ...]) -> int:
        return min(min(self.per_event[(schema, t)]) for schema, t in self.per_event if t in types)


def measure_round_trips(connection_string: str, events_per_type: int = 5) -> RoundTrips:
    """Warm up (tables created, resources registered, connections open), then count each event."""
    _, log = install_app(connection_string, new_prefix())
    n = 0
    for schema in workload.SCHEMAS:
        for event_type in workload.ALL_TYPES:
            n += 1
            deliver(workload.event(event_type, n, schema))
    per_event: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    without: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    for schema in workload.SCHEMAS:
        for event_type in workload.ALL_TYPES:
            for _ in range(events_per_type):
                n += 1
                mark = len(log)
                deliver(workload.event(event_type, n, schema))
                requests = log.since(mark)
                per_event[(schema, event_type)].append(len(requests))
                without[(schema, event_type)].append(
                    sum(1 for r in requests if not r.table.endswith(APP_CONFIGURATION_CAPTURES)))
    return RoundTrips(dict(per_event), registrations(log.since(0)), dict(without))


def registrations(requests: list[Request]) -> dict[str, int]:
    """Successful AuditResources writes per resource: the store means to make one per process."""
    return dict(collections.Counter(f"{r.partition}/{r.row}" for r in requests
                                    if r.is_write and r.succeeded and r.table.endswith(AUDIT_RESOURCES)))
