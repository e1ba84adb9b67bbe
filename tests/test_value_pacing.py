"""The timer's capture passes are paced so that a store's daily budget lasts the whole UTC day.

Times of day are simulated (the `now` of each pass); the changes themselves are real, made through the
SDK in the App Configuration stand-in and delivered as the events it publishes.
"""

from __future__ import annotations

import datetime as dt
import io

from eventaudit.appconfig.pending import read_state
from eventaudit.cli import main
from tests.valuehelpers import Changes, by_etag, capture, pending
from tools.trigger import trigger_function

STEP = dt.timedelta(minutes=10)  # a change, then a timer pass, every 10 simulated minutes


def next_midnight() -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    return dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def test_steady_changes_spread_the_budget_over_the_whole_day(values_env, standin):
    budget = 24  # an hour a request: 86400 / 24 s
    changes = Changes(standin)
    midnight = next_midnight()
    made: dict[str, dt.datetime] = {}
    captured: dict[str, dt.datetime] = {}
    now = midnight
    while now < midnight + dt.timedelta(days=1):
        made[changes.set("Checkout:Timeout", now.strftime("%H:%M")).etag] = now
        changes.deliver()
        report = capture(values_env, now=now, paced=True, daily_requests=budget)
        waiting = {row["ETag"] for row in pending(values_env)}
        for etag in made.keys() - captured.keys() - waiting:
            captured[etag] = now
        if report.deferred and now < midnight + dt.timedelta(hours=23):  # (the last hour's request is spent)
            assert report.stores[0].problem.startswith("paced: next pass after"), report.summary()
        now += STEP
    state = read_state(values_env, "contoso")
    assert state.budget_day == midnight.strftime("%Y-%m-%d") and state.used <= budget
    # the budget lasted the day: every change was captured within about two of its hours (86400 /
    # budget a request, a pass of 1-2 requests), plus one step, and none waited for tomorrow
    late = {etag: captured.get(etag, midnight + dt.timedelta(days=1)) - at for etag, at in made.items()}
    worst = max(late.values())
    assert worst <= 2 * dt.timedelta(seconds=86_400 / budget) + STEP, worst
    assert len(captured) >= len(made) - 12  # the last two hours' changes may wait for the next pass
    assert all(captured[etag] < midnight + dt.timedelta(days=1) for etag in captured)
    # and each change's value was recorded, coalesced: a few changes a pass
    values = by_etag(values_env)
    assert all(values[etag]["Value"] == at.strftime("%H:%M") for etag, at in made.items() if etag in captured)
    assert state.used < len(captured) / 3


def test_a_large_backlog_is_read_at_once_and_an_isolated_change_waits_its_turn(values_env, standin):
    changes = Changes(standin)
    start = next_midnight() + dt.timedelta(hours=6)
    changes.set("Checkout:Timeout", "30")
    changes.deliver()
    first = capture(values_env, now=start, paced=True)
    assert first.finished == 1 and first.requests == 1
    # a bulk import a minute later: one page serves many changes, so it is not paced
    standin.import_key_values((f"bulk/{i:03d}", None, str(i)) for i in range(150))
    changes.deliver()
    bulk = capture(values_env, now=start + dt.timedelta(minutes=1), paced=True)
    assert bulk.finished == 150 and not pending(values_env)
    # an isolated change right after waits until the budget allows (about 432 s a request by default)
    isolated = changes.set("Checkout:Timeout", "45")
    changes.deliver()
    state = read_state(values_env, "contoso")
    seconds_left = (start.replace(hour=0) + dt.timedelta(days=1) - (start + dt.timedelta(minutes=2))).total_seconds()
    due = state.last_pass + dt.timedelta(seconds=bulk.requests * seconds_left / (200 - state.used))
    early = capture(values_env, now=due - dt.timedelta(seconds=30), paced=True)
    assert early.deferred == 1 and early.requests == 0 and "paced" in early.stores[0].problem
    on_time = capture(values_env, now=due + dt.timedelta(minutes=1), paced=True)
    assert on_time.finished == 1 and by_etag(values_env)[isolated.etag]["Value"] == "45"
    # asked for by hand, a pass is not paced (only budgeted): right after the last one, it captures
    by_hand = changes.set("Checkout:Timeout", "50")
    changes.deliver()
    out = io.StringIO()
    assert main(["appconfig", "capture"], out=out) == 0
    assert "1 captured" in out.getvalue() and by_etag(values_env)[by_hand.etag]["Value"] == "50"


def test_the_timer_function_is_paced(values_env, standin):
    changes = Changes(standin)
    first = changes.set("k", "1")
    changes.deliver()
    timer = trigger_function("capture_values")
    timer(None)
    assert by_etag(values_env)[first.etag]["Value"] == "1"
    second = changes.set("k", "2")
    changes.deliver()
    timer(None)  # a minute later at most: too soon for a store that spent a request (432 s by default)
    assert [row["ETag"] for row in pending(values_env)] == [second.etag]
