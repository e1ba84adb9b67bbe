"""CPU per event with storage calls excluded, next to azure-eventgrid's own from_dict.

The store is the real AuditStore (every entity is built and checked as in production) whose one
storage call site, `_call`, answers locally: table missing never, entity absent always.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridEvent

from benchmarks import workload
from eventaudit import settings, storage
from eventaudit.settings import StorageTarget
from eventaudit.storage import AuditStore, build_service_client
from tools.trigger import decode, trigger_function


class NoNetworkStore(AuditStore):
    """An AuditStore that builds every entity but sends nothing: reads find nothing, writes succeed."""

    def __init__(self) -> None:
        target = StorageTarget(setting="benchmark", connection_string="UseDevelopmentStorage=true")
        super().__init__(build_service_client(target))
        self.calls = 0

    def _call(self, table: str, operation: Callable[[Any], Any]) -> Any:
        self.calls += 1
        return None


@dataclass(frozen=True)
class CpuCost:
    """Microseconds per event of each step, on the same events."""

    decode: float  # the worker's EventGridEventInConverter (not the app's code)
    app: float  # the trigger function: from_trigger, checks, dispatch, entities
    from_dict: float  # azure-eventgrid's EventGridEvent/CloudEvent.from_dict alone

    @property
    def ratio(self) -> float:
        return self.app / self.from_dict


def per_event_us(items: list[Any], call: Callable[[Any], Any], repeat: int) -> float:
    """Best of `repeat` passes over `items`, in microseconds per item (best: least disturbed)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            call(item)
        best = min(best, time.perf_counter() - start)
    return best / len(items) * 1e6


def measure_cpu(events: list[dict[str, Any]], repeat: int = 5) -> CpuCost:
    """Costs on `events` (one schema): the app runs against a NoNetworkStore installed for it."""
    os.environ.setdefault(settings.STORAGE_SETTING, "UseDevelopmentStorage=true")  # never reached
    storage.use_store(NoNetworkStore())
    function = trigger_function()
    bodies = [json.dumps(event) for event in events]
    decoded = [decode(body) for body in bodies]
    model = CloudEvent if "specversion" in events[0] else EventGridEvent
    try:
        return CpuCost(decode=per_event_us(bodies, decode, repeat),
                       app=per_event_us(decoded, function, repeat),
                       from_dict=per_event_us(events, model.from_dict, repeat))
    finally:
        storage.reset_store()


def mixed_events(count: int, schema: str) -> list[dict[str, Any]]:
    """Every recorded type in turn: the average event."""
    return [workload.event(workload.ALL_TYPES[n % len(workload.ALL_TYPES)], n, schema) for n in range(count)]
