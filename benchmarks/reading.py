"""Rows and requests per page of each reader question on a year of events, next to a plain query.

    .venv/bin/python -m benchmarks.reading                      # 10,000 events (under a minute)
    .venv/bin/python -m benchmarks.reading --events 1000000     # a million (loads in about 10 minutes)

A page costs what the service returns and how often it is asked: every request and the entities in
its answer are counted on the wire (benchmarks.counting). The target, from issue 16: rows fetched per
page at most about twice the page size plus one per partition read; here 2 x (page + 1) + partitions,
the +1 being the row that tells whether there is a next page. The baseline, in the same run, is one
plain TableClient.query_entities page of the same size on the question's busiest partition.

Azurite is not Table Storage in time: it answers a query by scanning every entity of the table and
sorting the matches (LokiTableMetadataStore.queryTableEntities), where Table Storage seeks by
PartitionKey and RowKey. So at a million events the milliseconds measure Azurite's scans; the rows
and requests are what carries over to Azure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.counting import RequestLog, counting_store
from benchmarks.harness import new_prefix
from benchmarks.year import INCIDENT, Dataset, load_year
from eventaudit import queries as q
from eventaudit.storage import AuditStore, keys
from eventaudit.storage.tables import APP_CONFIGURATION_EVENTS, APP_CONFIGURATION_KEYS, REDIS_CACHE_EVENTS
from tools.azurite import Azurite

LIMIT = 50
PAGES = 5
LARGE = 1_000_000
SMALL = 10_000
# Azurite keeps every entity in Node's heap; a million want more than Node's default limit.
AZURITE_HEAP_MB = 8192


@dataclass(frozen=True)
class PageCost:
    shown: int
    rows: int  # entities the service returned
    requests: int
    partitions: int  # distinct partitions queried
    seconds: float

    @property
    def bound(self) -> int:
        return 2 * (LIMIT + 1) + self.partitions


@dataclass(frozen=True)
class QuestionCost:
    name: str
    pages: list[PageCost]
    baseline: PageCost

    @property
    def worst(self) -> PageCost:
        return max(self.pages, key=lambda page: page.rows - page.bound)

    @property
    def holds(self) -> bool:
        return all(page.rows <= page.bound for page in self.pages)

    def mean(self, attribute: str) -> float:
        return statistics.fmean(getattr(page, attribute) for page in self.pages)


def walk(log: RequestLog, ask: Callable[[str | None], Any], pages: int) -> list[PageCost]:
    """The first `pages` pages of a question, each with what it cost."""
    costs, token = [], None
    for _ in range(pages):
        mark, started = len(log), time.perf_counter()
        page = ask(token)
        seconds = time.perf_counter() - started
        costs.append(_cost(log.since(mark), len(page.items), seconds))
        token = page.continuation
        if token is None:
            break
    return costs


def plain_page(store: AuditStore, log: RequestLog, table: str, partition: str) -> PageCost:
    """One plain query_entities page of LIMIT rows on a partition: the floor of any page."""
    mark, started = len(log), time.perf_counter()
    rows = list(next(store.table(table).query_entities(
        "PartitionKey eq @pk", parameters={"pk": partition}, results_per_page=LIMIT).by_page()))
    return _cost(log.since(mark), len(rows), time.perf_counter() - started)


def _cost(requests: list[Any], shown: int, seconds: float) -> PageCost:
    reads = [r for r in requests if r.method == "GET"]
    partitions = len({(r.table, r.partition) for r in reads})
    return PageCost(shown, sum(r.rows for r in reads), len(reads), partitions, seconds)


def measure_reading(connection_string: str, events: int,
                    pages: int = PAGES) -> tuple[Dataset, list[QuestionCost]]:
    log = RequestLog()
    store = counting_store(connection_string, new_prefix(), log)
    dataset = load_year(store, events)
    since, until = INCIDENT
    window = q.TimeRange(since, until)
    busy_cache, busy_store = dataset.caches[0], dataset.stores[0]
    busiest_shard = keys.store_partitions(busy_store)[0]
    questions: list[tuple[str, Callable[[str | None], Any], str, str]] = [
        ("one cache's operations (redis ops)", lambda t: q.cache_operations(
            store, busy_cache, limit=LIMIT, continuation=t), REDIS_CACHE_EVENTS,
         keys.cache_partition(busy_cache)),
        ("failures across 8 caches (redis failures)", lambda t: q.failed_operations(
            store, limit=LIMIT, continuation=t), REDIS_CACHE_EVENTS, keys.cache_partition(busy_cache)),
        ("one store's changes (appconfig changes)", lambda t: q.store_changes(
            store, busy_store, limit=LIMIT, continuation=t), APP_CONFIGURATION_EVENTS, busiest_shard),
        ("one store's keys (appconfig keys)", lambda t: q.current_keys(
            store, busy_store, limit=LIMIT, continuation=t), APP_CONFIGURATION_KEYS, busiest_shard),
        ("keys with a prefix (appconfig keys --prefix)", lambda t: q.current_keys(
            store, busy_store, prefix="app/section-07/", limit=LIMIT, continuation=t), APP_CONFIGURATION_KEYS,
         busiest_shard),
        ("timeline, 8 caches + 8 stores, all time", lambda t: q.timeline(
            store, limit=LIMIT, continuation=t), REDIS_CACHE_EVENTS, keys.cache_partition(busy_cache)),
        ("timeline, 8 caches + 8 stores, 14:00-14:30", lambda t: q.timeline(
            store, time_range=window, limit=LIMIT, continuation=t), REDIS_CACHE_EVENTS,
         keys.cache_partition(busy_cache)),
    ]
    results = []
    for name, ask, table, partition in questions:
        walk(log, ask, 1)  # warm: connections open, the query layer imported
        baseline = plain_page(store, log, table, partition)
        results.append(QuestionCost(name, walk(log, ask, pages), baseline))
    return dataset, results


def describe(cost: QuestionCost) -> tuple[str, str, str, str]:
    """(measured, baseline, ratio, target) as the benchmark table shows them."""
    worst = cost.worst
    measured = (f"{worst.rows} rows max ({cost.mean('rows'):.0f} mean), "
                f"{cost.mean('requests'):.0f} requests, {cost.mean('seconds') * 1000:.0f} ms; "
                f"{worst.partitions} partitions, {len(cost.pages)} pages")
    base = cost.baseline
    baseline = (f"{base.rows} rows, {base.requests} request, {base.seconds * 1000:.0f} ms "
                "(plain query_entities, same partition)")
    ratio = f"{cost.mean('seconds') / base.seconds:.1f}x time" if base.seconds else ""
    return measured, baseline, ratio, f"rows <= 2x{LIMIT + 1} + partitions = {worst.bound}"


def azurite_for(events: int) -> Azurite:
    """An Azurite of its own, with room in Node's heap for `events`."""
    if events > SMALL:
        options = os.environ.get("NODE_OPTIONS", "")
        if "max-old-space-size" not in options:
            os.environ["NODE_OPTIONS"] = f"{options} --max-old-space-size={AZURITE_HEAP_MB}".strip()
    return Azurite()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=SMALL, help=f"events in the year (default {SMALL:,})")
    parser.add_argument("--pages", type=int, default=PAGES, help="pages walked per question")
    args = parser.parse_args(argv)
    from benchmarks.run import Row, render

    with azurite_for(args.events) as azurite:
        dataset, costs = measure_reading(azurite.connection_string, args.events, args.pages)
    rows = [load_row(dataset)] + [Row(f"Rows per page of {LIMIT}, {cost.name}, {dataset.events:,} events",
                                      *describe(cost), cost.holds) for cost in costs]
    print(render(rows))
    return 0 if all(cost.holds for cost in costs) else 1


def load_row(dataset: Dataset) -> Any:
    from benchmarks.run import Row

    return Row(f"A year of {dataset.events:,} events: loaded by batch transactions (100 per partition)",
               f"{dataset.seconds:.0f} s, {dataset.rows / dataset.seconds:.0f} entities/s",
               f"{dataset.rows:,} entities (key states, resources included)", "", "", None)


if __name__ == "__main__":
    raise SystemExit(main())
