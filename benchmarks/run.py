"""Run every measurement against an Azurite of its own and print the figures next to their baselines.

    .venv/bin/python -m benchmarks.run            # full run (about 4.5 minutes on 2 cores)
    .venv/bin/python -m benchmarks.run --quick    # small sizes, about a minute
    .venv/bin/python -m benchmarks.run --large    # also reads a year of 1,000,000 events (+15 minutes)

Exits 0 when every target holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks import workload
from benchmarks.async_floor import async_floor_runs
from benchmarks.burst import measure_burst
from benchmarks.coldstart import cold_starts, modules_not_needed
from benchmarks.cpu import measure_cpu, mixed_events
from benchmarks.harness import Run, install_app, new_prefix
from benchmarks.reading import LARGE, SMALL, azurite_for, describe, load_row, measure_reading
from benchmarks.roundtrips import RoundTrips, measure_round_trips, registrations
from benchmarks.throughput import (
    WORKERS,
    deliver_run,
    floor_entities,
    floor_run,
    floor_table,
    interleaved,
    total,
)
from benchmarks.values import measure_paced_day, measure_values
from tools.azurite import Azurite

# Added before each request in the latency rows: roughly a Function's round trip to Table Storage.
NETWORK_RTT = 0.005


@dataclass(frozen=True)
class Sizes:
    per_type: int  # events per type and schema in the round-trip count
    chunk: int  # events per interleaved chunk, sequential
    rounds: int  # interleaved chunks of app and floor
    cpu_events: int
    cold_runs: int
    burst_keys: int
    import_keys: int = 10_000  # keys of the bulk import whose values are captured
    backfill_revisions: int = 5_000
    pacing_step_minutes: int = 1  # a change, then a timer pass, this often over a simulated day
    year_events: tuple[int, ...] = (SMALL,)  # the data sets rows per page are measured on
    pages: int = 5  # pages walked per reader question


FULL = Sizes(per_type=5, chunk=100, rounds=10, cpu_events=450, cold_runs=7, burst_keys=10_000)
QUICK = Sizes(per_type=2, chunk=50, rounds=3, cpu_events=90, cold_runs=3, burst_keys=1_000, import_keys=1_000,
              backfill_revisions=1_000, pages=2, pacing_step_minutes=5)
TINY = Sizes(per_type=1, chunk=10, rounds=1, cpu_events=18, cold_runs=1, burst_keys=200, import_keys=200,
             backfill_revisions=300, year_events=(2_000,), pages=2, pacing_step_minutes=30)


@dataclass(frozen=True)
class Row:
    figure: str
    measured: str
    baseline: str
    ratio: str
    target: str
    holds: bool | None  # None: no target, reported for understanding



def round_trip_rows(trips: RoundTrips) -> list[Row]:
    rows = []
    for label, types, limit in (("Redis event (4 types)", workload.REDIS_TYPES, 1),
                                ("key change (Modified, Deleted)", workload.KEY_TYPES, 4),
                                ("snapshot event", workload.SNAPSHOT_TYPES, 1),
                                ("unhandled event (ordinary size)", (workload.UNHANDLED_TYPE,), 1)):
        worst, best = trips.worst(types), trips.best(types)
        shown = str(worst) if worst == best else f"{best}..{worst}"
        rows.append(Row(f"Round trips per {label}, both schemas", shown, "1 (one upsert)", f"{worst:.0f}x",
                        f"{'=' if limit == 1 else '<='} {limit}", worst <= limit))
    before = trips.worst(workload.KEY_TYPES, without_handoff=True)
    after = trips.worst(workload.KEY_TYPES)
    rows.append(Row("Table requests per key change: with the value-capture hand-off, vs the path without it",
                    str(after), f"{before} (same events, hand-off requests left out)", f"+{after - before}",
                    "<= +1", after - before <= 1))
    most = max(trips.registrations.values(), default=0)
    rows.append(Row("AuditResources writes per resource, whole round-trip run", str(most), "1", "",
                    "= 1", most == 1))
    return rows


def throughput_rows(connection_string: str, sizes: Sizes) -> tuple[list[Row], Run]:
    """Sequential and concurrent Redis events through the trigger, interleaved with plain upserts."""
    _, log = install_app(connection_string, new_prefix())
    floor_client = floor_table(connection_string)
    chunk, big = sizes.chunk, sizes.chunk * 4
    warm = workload.redis_events(WORKERS * 2, 10_000_000)
    deliver_run(warm, WORKERS)  # tables made, resource registered, pool filled: 32 first events at once
    first_burst = max(registrations(log.since(0)).values(), default=0)
    floor_run(floor_client, floor_entities(warm), WORKERS)

    def app(workers: int, size: int) -> Callable[[int], Run]:
        return lambda i: deliver_run(workload.redis_events(size, (workers * 1_000_000) + i * size), workers)

    def floor(workers: int, size: int) -> Callable[[int], Run]:
        return lambda i: floor_run(floor_client, floor_entities(workload.redis_events(size, i * size)),
                                   workers)

    seq_app, seq_floor = interleaved(app(1, chunk), floor(1, chunk), sizes.rounds)
    con_app, con_floor = interleaved(app(WORKERS, big), floor(WORKERS, big), max(2, sizes.rounds // 2))
    async_chunks = [floor_entities(workload.redis_events(big, 40_000_000 + i * big))
                    for i in range(max(2, sizes.rounds // 2))]
    async_runs = async_floor_runs(connection_string, floor_client.table_name, async_chunks, WORKERS)
    async_seq, async_con = (total(runs) for runs in async_runs)
    keys_seq = deliver_run(workload.key_changes(chunk * 2, 20_000_000))
    rows = [
        Row("Redis events/s, sequential, via tools.trigger.deliver", f"{seq_app.rate:.0f}",
            f"{seq_floor.rate:.0f} plain upserts/s", f"{seq_app.rate / seq_floor.rate:.2f}", ">= 0.8",
            seq_app.rate / seq_floor.rate >= 0.8),
        # Like with like: the app against plain upserts, both 32 in flight (issue 16 restated the target;
        # ">= 3x sequential" asked more of the app than the floor itself scales on 2 cores).
        Row(f"Redis events/s, {WORKERS} in flight", f"{con_app.rate:.0f}",
            f"{con_floor.rate:.0f} plain upserts/s, {WORKERS} in flight",
            f"{con_app.rate / con_floor.rate:.2f}", ">= 0.8", con_app.rate / con_floor.rate >= 0.8),
        Row(f"Redis events/s, {WORKERS} in flight, against sequential (the earlier, dropped target)",
            f"{con_app.rate:.0f}", f"{seq_app.rate:.0f} sequential", f"{con_app.rate / seq_app.rate:.2f}", "",
            None),
        Row(f"Plain upserts/s, {WORKERS} in flight (the floor's own scaling)", f"{con_floor.rate:.0f}",
            f"{seq_floor.rate:.0f} sequential", f"{con_floor.rate / seq_floor.rate:.2f}", "", None),
        Row("Plain async upserts/s, one at a time (azure.data.tables.aio + aiohttp)", f"{async_seq.rate:.0f}",
            f"{seq_floor.rate:.0f} sync upserts/s", f"{async_seq.rate / seq_floor.rate:.2f}", "", None),
        Row(f"Plain async upserts/s, {WORKERS} in flight on one event loop (async floor's scaling)",
            f"{async_con.rate:.0f}", f"{async_seq.rate:.0f} async, one at a time",
            f"{async_con.rate / async_seq.rate:.2f}", "", None),
        Row(f"Cores busy, plain async upserts {WORKERS} in flight", async_con.busy(), "", "", "", None),
        Row(f"Cores busy, Redis events {WORKERS} in flight", con_app.busy(), con_floor.busy() + " (floor)",
            "", "", None),
        Row(f"AuditResources writes per resource, {WORKERS} first events at once", str(first_burst), "1", "",
            "= 1", first_burst == 1),
        Row("Key changes/s, sequential (4 round trips each)", f"{keys_seq.rate:.0f}",
            f"{seq_floor.rate / 4:.0f} (upserts/s / 4)", f"{4 * keys_seq.rate / seq_floor.rate:.2f}", "",
            None),
    ]
    return rows + latency_rows(connection_string, sizes), con_floor


def latency_rows(connection_string: str, sizes: Sizes) -> list[Row]:
    """The same comparison with a network round trip added to each request, as in Azure."""
    install_app(connection_string, new_prefix(), latency=NETWORK_RTT)
    deliver_run(workload.redis_events(WORKERS, 30_000_000), WORKERS)  # warm up
    seq = deliver_run(workload.redis_events(sizes.chunk, 31_000_000))
    con = deliver_run(workload.redis_events(sizes.chunk * 4, 32_000_000), WORKERS)
    return [Row(f"Redis events/s, {WORKERS} in flight, {NETWORK_RTT * 1000:.0f} ms added per request",
                f"{con.rate:.0f}", f"{seq.rate:.0f} sequential, same latency", f"{con.rate / seq.rate:.2f}",
                "", None)]


def cpu_rows(sizes: Sizes) -> list[Row]:
    rows = []
    for schema, model in ((workload.EVENT_GRID, "EventGridEvent"), (workload.CLOUD_EVENTS, "CloudEvent")):
        for label, events in (("all types", mixed_events(sizes.cpu_events, schema)),
                              ("Redis", workload.redis_events(sizes.cpu_events, 0, schema))):
            cost = measure_cpu(events, repeat=3 if sizes is not FULL else 5)
            is_target = schema == workload.EVENT_GRID
            rows.append(Row(f"App CPU us/event, {schema} schema, {label} (storage excluded)",
                            f"{cost.app:.0f}",
                            f"{cost.from_dict:.0f} ({model}.from_dict)", f"{cost.ratio:.2f}",
                            "<= 2" if is_target else "", cost.ratio <= 2 if is_target else None))
        rows.append(Row(f"Worker decode us/event, {schema} schema (azure-functions, not the app)",
                        f"{cost.decode:.0f}", "", "", "", None))
    return rows


def cold_start_rows(connection_string: str, sizes: Sizes) -> list[Row]:
    app, baseline = cold_starts(sizes.cold_runs)
    extra = modules_not_needed(connection_string)
    return [
        Row(f"Cold start: python -c 'import function_app', s (median of {sizes.cold_runs})", f"{app:.3f}",
            f"{baseline:.3f} (import azure.functions)", f"{app / baseline:.2f}", "", None),
        Row("Packages imported at load that the first events never need", str(len(extra)) +
            (f" ({', '.join(extra)})" if extra else ""), "0", "", "= 0", not extra),
    ]


def burst_rows(connection_string: str, sizes: Sizes, con_floor: Run) -> list[Row]:
    burst = measure_burst(connection_string, sizes.burst_keys)
    floor_seconds = burst.requests / con_floor.rate  # the same requests as plain upserts, 32 in flight
    return [
        Row(f"{sizes.burst_keys:,}-key burst, {WORKERS} in flight: total s", f"{burst.run.wall:.1f}",
            f"{floor_seconds:.1f} ({burst.requests:,} requests at the plain-upsert rate)",
            f"{burst.run.wall / floor_seconds:.2f}", "", None),
        Row("Burst: largest share of writes in one partition", f"{burst.max_share:.3f} ({burst.hottest})",
            "0.031 (1/32: 16 shards x 2 tables)", "", "< 0.2", burst.max_share < 0.2),
    ]


def value_rows(connection_string: str, sizes: Sizes) -> list[Row]:
    """App Configuration requests per change, counted at the stand-in; capture delay; backfill rate."""
    v = measure_values(connection_string, sizes.import_keys, backfill_revisions=sizes.backfill_revisions)
    per_change = v.import_requests / v.import_keys
    resumed = v.resumed_requests / v.resumed_keys
    return [
        Row(f"App Configuration requests per isolated change (worst of {v.isolated_changes})",
            str(v.isolated_requests_worst), f"{v.isolated_requests_mean:.2f} mean", "", "<= 2",
            v.isolated_requests_worst <= 2),
        Row(f"App Configuration requests per change, {v.import_keys:,}-key import", f"{per_change:.4f}",
            f"{v.import_requests} requests in {v.import_passes} pass(es)", "", "<= 0.05", per_change <= 0.05),
        Row("Capture delay, event delivered -> value stored, pass run at once (ms)",
            f"{v.delay_median_ms:.0f} median", f"{v.delay_worst_ms:.0f} worst", "",
            "+ up to the timer interval (60 s)", None),
        Row(f"Backfill revisions/s ({v.backfill_revisions:,} revisions, recorded in Table Storage)",
            f"{v.backfill_rate:.0f}", f"{v.plain_rate:.0f} (plain list_revisions paging loop)",
            f"{v.backfill_rate / v.plain_rate:.2f}", "", None),
        Row(f"App Configuration requests per change, {v.resumed_keys:,}-key import interrupted by the "
            "budget, resumed the next day", f"{resumed:.4f}", f"{v.resumed_requests} requests in 2 passes",
            "", "<= 0.05", resumed <= 0.05),
        *paced_day_rows(connection_string, sizes),
    ]


def paced_day_rows(connection_string: str, sizes: Sizes) -> list[Row]:
    """A simulated day of steady changes to one key, the timer's passes paced and, as the baseline,
    not paced; the default budget of 200 requests."""
    step = dt.timedelta(minutes=sizes.pacing_step_minutes)
    paced = measure_paced_day(connection_string, step, paced=True)
    unpaced = measure_paced_day(connection_string, step, paced=False)
    day = f"a change every {sizes.pacing_step_minutes} min for a day, budget 200"
    return [
        Row(f"Paced capture, {day}: worst delay, event -> value stored (min)",
            f"{paced.worst_delay.total_seconds() / 60:.0f}",
            f"{unpaced.worst_delay.total_seconds() / 60:.0f} unpaced", "",
            "<= 2 x 86400/200 s + 1 step", paced.worst_delay <= 2 * dt.timedelta(seconds=432) + step),
        Row(f"Paced capture, {day}: requests spent / changes left for tomorrow",
            f"{paced.requests} / {paced.left_for_tomorrow}",
            f"{unpaced.requests} / {unpaced.left_for_tomorrow} unpaced", "", "<= 200 / 0",
            paced.requests <= 200 and paced.left_for_tomorrow == 0),
    ]


def reading_rows(sizes: Sizes) -> list[Row]:
    """Rows, requests and time per page of each reader question, on each data set (own Azurite each)."""
    rows = []
    for events in sizes.year_events:
        with azurite_for(events) as azurite:
            dataset, costs = measure_reading(azurite.connection_string, events, sizes.pages)
        rows.append(load_row(dataset))
        rows += [Row(f"Rows per page of 50, {cost.name}, {events:,} events", *describe(cost), cost.holds)
                 for cost in costs]
    return rows


def render(rows: list[Row]) -> str:
    header = ("Figure", "Measured", "Baseline (same run)", "Ratio", "Target", "Holds")
    cells = [header] + [(r.figure, r.measured, r.baseline, r.ratio, r.target,
                         "" if r.holds is None else ("yes" if r.holds else "NO")) for r in rows]
    lines = ["| " + " | ".join(row) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("---" for _ in header) + "|")
    return "\n".join(lines)


def per_type_table(trips: RoundTrips) -> str:
    lines = ["| Event type | " + " | ".join(workload.SCHEMAS) + " |", "|---|---|---|"]
    for event_type in workload.ALL_TYPES:
        counts = [",".join(map(str, trips.per_event[(schema, event_type)])) for schema in workload.SCHEMAS]
        lines.append(f"| {event_type} | " + " | ".join(counts) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a check, not a measurement")
    parser.add_argument("--large", action="store_true",
                        help=f"also measure reading a year of {LARGE:,} events (loading it takes minutes)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.large:
        sizes = dataclasses.replace(sizes, year_events=(*sizes.year_events, LARGE), pages=min(sizes.pages, 3))
    # The worker ships log records to the host; here they only need to be made, not printed.
    logging.getLogger().addHandler(logging.NullHandler())
    with Azurite() as azurite:
        cs = azurite.connection_string
        trips = measure_round_trips(cs, sizes.per_type)
        rows = round_trip_rows(trips)
        speed, con_floor = throughput_rows(cs, sizes)
        rows += speed + cpu_rows(sizes) + cold_start_rows(cs, sizes) + burst_rows(cs, sizes, con_floor)
        rows += value_rows(cs, sizes)
    rows += reading_rows(sizes)
    print(f"{os.cpu_count()} cores; Azurite in memory; sizes: {sizes}\n")
    print(render(rows))
    print("\nRequests per event, each measured event (steady state):\n")
    print(per_type_table(trips))
    return 0 if all(r.holds is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
