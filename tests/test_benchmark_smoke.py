"""The benchmark's measuring functions at a tiny size: structural facts only, never timings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.core.exceptions import ResourceNotFoundError

from benchmarks import workload
from benchmarks.async_floor import async_floor_runs
from benchmarks.burst import measure_burst
from benchmarks.coldstart import modules_not_needed
from benchmarks.cpu import NoNetworkStore, measure_cpu
from benchmarks.harness import install_app, new_prefix
from benchmarks.roundtrips import measure_round_trips, registrations
from benchmarks.throughput import WORKERS, deliver_run, floor_entities, floor_table
from eventaudit import settings, storage
from tools.azurite import Azurite
from tools.trigger import deliver


@pytest.fixture(autouse=True)
def restored_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """install_app points the process at the benchmark's tables; put the settings back afterwards."""
    monkeypatch.setenv(settings.STORAGE_SETTING, "UseDevelopmentStorage=true")
    monkeypatch.setenv(settings.PREFIX_SETTING, "unused")
    yield
    storage.reset_store()


def test_round_trips_per_event_are_at_the_floor(azurite: Azurite) -> None:
    trips = measure_round_trips(azurite.connection_string, events_per_type=1)
    assert len(trips.per_event) == len(workload.ALL_TYPES) * len(workload.SCHEMAS)
    assert trips.best(workload.REDIS_TYPES) == trips.worst(workload.REDIS_TYPES) == 1
    # event row, key state read and write, and the one hand-off to the value capture (issue 14)
    assert trips.worst(workload.KEY_TYPES) <= 4
    assert trips.worst(workload.KEY_TYPES, without_handoff=True) <= 3
    assert trips.worst(workload.SNAPSHOT_TYPES) == 1
    assert trips.worst((workload.UNHANDLED_TYPE,)) == 1
    assert sorted(trips.registrations.values()) == [1, 1]  # one cache, one store


def test_a_batch_of_first_events_registers_its_resource_once(azurite: Azurite) -> None:
    _, log = install_app(azurite.connection_string, new_prefix())
    deliver_run(workload.redis_events(WORKERS), WORKERS)
    assert list(registrations(log.since(0)).values()) == [1]


def test_a_bulk_import_spreads_over_partitions(azurite: Azurite) -> None:
    burst = measure_burst(azurite.connection_string, keys=160)
    assert burst.max_share < 0.2, burst.hottest
    assert burst.requests >= 4 * 160  # every key: event row, key state read and write, pending capture


def test_the_cpu_measure_builds_every_entity_without_storage() -> None:
    events = workload.key_changes(3)
    cost = measure_cpu(events, repeat=1)
    assert cost.app > 0 and cost.from_dict > 0 and cost.decode > 0
    store = NoNetworkStore()
    storage.use_store(store)
    deliver(events[0])
    assert store.calls == 5  # register, event row, key state read, key state insert, pending capture


def test_loading_the_app_imports_nothing_the_first_events_do_not_need(azurite: Azurite) -> None:
    assert modules_not_needed(azurite.connection_string) == []


def test_the_async_floor_writes_every_entity_through_the_async_client(azurite: Azurite) -> None:
    client = floor_table(azurite.connection_string)
    chunks = [floor_entities(workload.redis_events(40, start)) for start in (0, 40)]
    sequential, concurrent = async_floor_runs(azurite.connection_string, client.table_name, chunks, 8)
    assert [run.count for run in sequential] == [run.count for run in concurrent] == [40, 40]
    # floor_entities numbers RowKeys per chunk, so the second chunk replaced the first row by row
    assert {row["EventId"] for row in client.list_entities()} == {e["EventId"] for e in chunks[1]}


def test_the_value_capture_figures_hold_at_a_small_size(azurite: Azurite) -> None:
    from benchmarks.values import measure_values

    figures = measure_values(azurite.connection_string, import_keys=400, isolated=3, backfill_revisions=300)
    assert figures.isolated_requests_worst <= 2
    assert figures.import_requests <= 0.05 * 400
    assert figures.backfill_revisions == 300 and figures.backfill_rate > 0 and figures.plain_rate > 0
    assert figures.resumed_requests <= 0.05 * figures.resumed_keys


def test_the_paced_day_keeps_to_the_budget(azurite: Azurite) -> None:
    import datetime as dt

    from benchmarks.values import measure_paced_day

    day = measure_paced_day(azurite.connection_string, dt.timedelta(hours=1), paced=True, budget=12)
    assert day.changes == 24 and day.requests <= 12 and day.worst_delay <= dt.timedelta(hours=5)


def _shapes(store, tables) -> dict[str, set[frozenset[str]]]:
    """Per table, the sets of property names its rows have."""
    found: dict[str, set[frozenset[str]]] = {}
    for table in tables:
        try:
            for row in store.table(table).list_entities():
                found.setdefault(table, set()).add(frozenset(row))
        except ResourceNotFoundError:  # a table neither writes (control plane, values)
            pass
    return found


def test_the_year_is_written_in_the_shape_the_app_writes(azurite: Azurite) -> None:
    from benchmarks.counting import RequestLog, counting_store
    from benchmarks.year import load_year
    from eventaudit.storage.tables import ALL_TABLES, APP_CONFIGURATION_CAPTURES

    # The app's own rows: one event of every recorded kind through the trigger
    app_store, _ = install_app(azurite.connection_string, new_prefix())
    for event_type in workload.ALL_TYPES:
        deliver(workload.event(event_type, 1))
    deliver(workload.event(workload.KEY_TYPES[0], 2, key="bench/no-label") | {"data": {
        "key": "bench/no-label", "label": None, "etag": "e", "syncToken": "x=y;sn=2"}})
    # And the year's rows
    year_store = counting_store(azurite.connection_string, new_prefix(), RequestLog())
    dataset = load_year(year_store, 2_000)
    assert dataset.rows > 2_000
    app, year = _shapes(app_store, ALL_TABLES), _shapes(year_store, ALL_TABLES)
    # The capture pass removes pending captures, so a year at rest holds none.
    assert set(app) - {APP_CONFIGURATION_CAPTURES} == set(year)
    for table in year:
        assert year[table] <= app[table], table  # every row the year writes is one the app writes


def test_rows_per_page_stay_within_the_target_on_a_small_year(azurite: Azurite) -> None:
    from benchmarks.reading import LIMIT, measure_reading

    dataset, costs = measure_reading(azurite.connection_string, 2_000, pages=2)
    assert len(costs) == 7
    for cost in costs:
        assert cost.holds, (cost.name, cost.pages)
        assert all(page.rows <= 2 * (LIMIT + 1) + page.partitions for page in cost.pages)
        assert cost.baseline.requests == 1
    timeline_window = costs[-1]
    assert timeline_window.pages[0].shown == LIMIT  # the planted incident fills a first page
