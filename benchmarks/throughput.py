"""Events per second through the trigger function, next to plain upserts of similar entities.

The floor uses the same SDK, the same client settings (transport, pool, retries) and the same
Azurite: the only difference left is the app's own work per event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.data.tables import TableClient, UpdateMode

from benchmarks import workload
from benchmarks.harness import Run, new_prefix, timed
from eventaudit.settings import StorageTarget
from eventaudit.storage import build_service_client
from tools.trigger import deliver

# The worker runs the events of one delivered batch on a pool of this many threads.
WORKERS = 32


def run_all(items: Iterable[Any], call: Callable[[Any], Any], workers: int = 1) -> None:
    """Call `call` on every item, one at a time or with `workers` in flight; raises the first error."""
    if workers == 1:
        for item in items:
            call(item)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(call, item) for item in items]:
            future.result()


def deliver_run(events: list[dict[str, Any]], workers: int = 1) -> Run:
    """Deliver raw events through the trigger function (the app must be installed first)."""
    return timed(len(events), lambda: run_all(events, deliver, workers))


def floor_table(connection_string: str) -> TableClient:
    """A plain TableClient with the app's client settings, on a table of its own (created here)."""
    target = StorageTarget(setting="benchmark", connection_string=connection_string)
    client = build_service_client(target).get_table_client(new_prefix() + "Floor")
    client.create_table()
    return client


def floor_entities(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entities like the app's Redis rows: same properties and sizes, one per event."""
    now = dt.datetime.now(dt.UTC)
    return [{
        "PartitionKey": "bench-cache", "RowKey": f"{n:019d}-{'0' * 32}", "EventId": event["id"],
        "EventType": "Microsoft.Cache.ScalingCompleted", "EventTime": now, "Topic": workload.CACHE,
        "Subject": "ScalingCompleted", "Schema": "EventGridEvent", "Data": "x" * 110, "Operation": "Scaling",
        "Status": "Succeeded", "OccurredAt": now, "CacheName": "bench-cache", "ResourceGroup": "bench",
        "SubscriptionId": "5b4b650e-28b9-4790-b3ab-ddbd88d727c4",
    } for n, event in enumerate(events)]


def floor_run(client: TableClient, entities: list[dict[str, Any]], workers: int = 1) -> Run:
    """One plain upsert per entity: the physical floor of one event that needs one write."""
    return timed(len(entities), lambda: run_all(
        entities, lambda e: client.upsert_entity(e, mode=UpdateMode.REPLACE), workers))


def interleaved(app: Callable[[int], Run], floor: Callable[[int], Run], rounds: int) -> tuple[Run, Run]:
    """Alternate app and floor chunks and add them up: drift and neighbours' load hit both alike."""
    app_runs, floor_runs = [], []
    for index in range(rounds):
        app_runs.append(app(index))
        floor_runs.append(floor(index))
    return total(app_runs), total(floor_runs)


def total(runs: list[Run]) -> Run:
    return Run(sum(r.count for r in runs), sum(r.wall for r in runs), sum(r.python_cpu for r in runs),
               sum(r.azurite_cpu for r in runs), sum(r.machine_cpu for r in runs))
