"""The benchmark's measuring functions at a tiny size: structural facts only, never timings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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

    figures = measure_values(azurite.connection_string, import_keys=200, isolated=3, backfill_revisions=300)
    assert figures.isolated_requests_worst <= 2
    assert figures.import_requests <= 0.05 * 200
    assert figures.backfill_revisions == 300 and figures.backfill_rate > 0 and figures.plain_rate > 0
