"""Value capture: App Configuration requests per change, capture delay, pacing over a day, and the
backfill's rate.

Requests are counted at the App Configuration stand-in (tools/appconfig_standin.py), every answer
included. The app writes to Azurite through the request-counting store of benchmarks.harness.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
import time
from dataclasses import dataclass

from azure.appconfiguration import AzureAppConfigurationClient

from benchmarks.harness import install_app, new_prefix
from benchmarks.throughput import WORKERS, deliver_run
from eventaudit.appconfig import client as appconfig_client
from eventaudit.appconfig.backfill import backfill
from eventaudit.appconfig.capture import run_pass
from eventaudit.appconfig.pending import read_pending, read_state
from eventaudit.appconfig.settings import CaptureSettings
from tools.appconfig_standin import AppConfigStandIn
from tools.trigger import deliver


@dataclass(frozen=True)
class ValueFigures:
    isolated_changes: int
    isolated_requests_worst: int  # App Configuration requests for one isolated change, worst of them
    isolated_requests_mean: float
    import_keys: int
    import_requests: int  # App Configuration requests to capture the whole import
    import_passes: int
    delay_median_ms: float  # event delivered -> value stored, a pass started at once
    delay_worst_ms: float
    backfill_revisions: int
    backfill_rate: float  # revisions/s recorded by `backfill`
    plain_rate: float  # revisions/s of a plain list_revisions paging loop, same stand-in
    resumed_keys: int
    resumed_requests: int  # both passes of an import whose first pass ran out of budget


@dataclass(frozen=True)
class PacedDay:
    """A simulated UTC day of one change a step to one key, a timer pass after each change."""

    paced: bool
    changes: int
    requests: int  # spent that day
    worst_delay: dt.timedelta  # event -> value stored (or the day's end, for those left waiting)
    left_for_tomorrow: int


def settings_for(standin: AppConfigStandIn) -> CaptureSettings:
    return CaptureSettings(endpoints={standin.name: standin.endpoint},
                           connection_strings={standin.endpoint.lower(): standin.connection_string()},
                           daily_requests=1_000_000)


def measure_values(connection_string: str, import_keys: int, isolated: int = 20,
                   backfill_revisions: int = 2_000) -> ValueFigures:
    appconfig_client.forget_clients()
    with AppConfigStandIn() as standin:
        settings = settings_for(standin)
        store, _ = install_app(connection_string, new_prefix())
        costs, delays = [], []
        for i in range(isolated):
            [revision] = standin.import_key_values([(f"iso/{i}", None, f"v{i}")])
            event = standin.published_events[-1]
            mark = len(standin.requests)
            started = time.perf_counter()
            deliver(event)
            run_pass(store, settings, paced=False)
            delays.append((time.perf_counter() - started) * 1000)  # (pacing is measured apart)
            costs.append(len(standin.requests) - mark)
            assert revision.etag == event["data"]["etag"]

        store, _ = install_app(connection_string, new_prefix())
        for i in range(0, import_keys, 1000):  # values before the import for a tenth of the keys
            old = range(i, min(i + 100, import_keys))
            standin.import_key_values((f"imp/{k:05d}", None, "old") for k in old)
        first = len(standin.published_events)
        standin.import_key_values((f"imp/{k:05d}", None, f"new {k}") for k in range(import_keys))
        deliver_run(standin.published_events[first:], WORKERS)
        mark = len(standin.requests)
        passes = 0
        while passes < 10:
            passes += 1
            if not run_pass(store, settings, paced=False).deferred:
                break
        import_requests = len(standin.requests) - mark

    resumed_keys = import_keys // 2
    with AppConfigStandIn() as standin:  # an import whose first pass runs out of budget, resumed next day
        settings = settings_for(standin)
        store, _ = install_app(connection_string, new_prefix())
        standin.import_key_values((f"res/{k:05d}", None, "old") for k in range(0, resumed_keys, 10))
        first = len(standin.published_events)  # the app subscribed after those
        standin.import_key_values((f"res/{k:05d}", None, f"new {k}") for k in range(resumed_keys))
        deliver_run(standin.published_events[first:], WORKERS)
        mark = len(standin.requests)
        today = dt.datetime.now(dt.UTC)
        # the budget ends after the pages that find the revisions: every value before waits
        first_budget = -(-resumed_keys // 100)
        run_pass(store, dataclasses.replace(settings, daily_requests=first_budget), now=today, paced=False)
        waited = len(read_pending(store, resumed_keys))
        run_pass(store, settings, now=today + dt.timedelta(days=1), paced=False)
        assert waited and not read_pending(store, 1)
        resumed_requests = len(standin.requests) - mark

    with AppConfigStandIn() as standin:
        settings = settings_for(standin)
        standin.import_key_values((f"hist/{k % 500}", None, str(k)) for k in range(backfill_revisions))
        client = AzureAppConfigurationClient.from_connection_string(standin.connection_string())
        started = time.perf_counter()
        plain = sum(1 for _ in client.list_revisions())
        plain_rate = plain / (time.perf_counter() - started)
        store, _ = install_app(connection_string, new_prefix())
        report = backfill(store, settings, standin.name, appconfig_client.client_for(settings, standin.name))
        assert report.revisions == plain == backfill_revisions
    appconfig_client.forget_clients()
    return ValueFigures(
        isolated_changes=isolated, isolated_requests_worst=max(costs),
        isolated_requests_mean=statistics.mean(costs), import_keys=import_keys,
        import_requests=import_requests,
        import_passes=passes, delay_median_ms=statistics.median(delays), delay_worst_ms=max(delays),
        backfill_revisions=report.revisions, backfill_rate=report.rate, plain_rate=plain_rate,
        resumed_keys=resumed_keys, resumed_requests=resumed_requests)


def measure_paced_day(connection_string: str, step: dt.timedelta, paced: bool,
                      budget: int = 200) -> PacedDay:
    """A change to one key every `step` for a simulated day, a timer pass after each (times of day are
    the passes' `now`; the changes are real); the store's default budget."""
    appconfig_client.forget_clients()
    with AppConfigStandIn() as standin:
        settings = dataclasses.replace(settings_for(standin), daily_requests=budget)
        store, _ = install_app(connection_string, new_prefix())
        today = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
        midnight = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
        made: dict[str, dt.datetime] = {}
        stored: dict[str, dt.datetime] = {}
        now = midnight
        while now < midnight + dt.timedelta(days=1):
            [revision] = standin.import_key_values([("Checkout:Timeout", None, now.isoformat())])
            deliver(standin.published_events[-1])
            made[revision.etag] = now
            run_pass(store, settings, now=now, paced=paced)
            waiting = {item.etag for item in read_pending(store, 10_000)}
            stored.update((etag, now) for etag in made.keys() - stored.keys() - waiting)
            now += step
        end = midnight + dt.timedelta(days=1)
        requests = read_state(store, standin.name).used_on(today.isoformat())
    appconfig_client.forget_clients()
    return PacedDay(paced=paced, changes=len(made), requests=requests,
                    worst_delay=max(stored.get(etag, end) - at for etag, at in made.items()),
                    left_for_tomorrow=len(made) - len(stored))


def as_dict(figures: ValueFigures) -> dict[str, float]:
    return dataclasses.asdict(figures)
