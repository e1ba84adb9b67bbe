"""The backfill keeps to the store's daily budget (shared with the live capture) and goes on where it
stopped; against the App Configuration stand-in and Azurite."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest

from eventaudit.appconfig.backfill import backfill
from eventaudit.appconfig.client import client_for
from eventaudit.appconfig.pending import change_state, read_state
from eventaudit.appconfig.settings import load_capture_settings
from eventaudit.cli import main
from tests.valuehelpers import Changes, capture, revisions

TODAY = dt.datetime.now(dt.UTC)


def run(store, settings, *, day: dt.datetime = TODAY, **options):
    return backfill(store, settings, "contoso", client_for(settings, "contoso"), now=lambda: day, **options)


def test_without_max_requests_a_backfill_sends_only_what_is_left_of_todays_budget(values_env, standin):
    standin.import_key_values((f"hist/{i:04d}", None, str(i)) for i in range(1_000))  # 10 pages
    changes = Changes(standin)
    changes.set("live", "1")
    changes.deliver()
    settings = dataclasses.replace(load_capture_settings(), daily_requests=4)
    assert capture(values_env, now=TODAY, daily_requests=4).requests == 1  # the live capture spent one
    first = run(values_env, settings)
    assert (first.cap, first.requests, first.pages, first.left) == (3, 3, 3, 0)
    assert "budget" in first.stopped and "after 00:00 UTC" in first.stopped and not first.finished
    assert read_state(values_env, "contoso").used_on(TODAY.strftime("%Y-%m-%d")) == 4
    again = run(values_env, settings)  # today's budget is spent: not one request
    assert (again.requests, again.pages) == (0, 0) and "is spent" in again.stopped
    tomorrow = run(values_env, settings, day=TODAY + dt.timedelta(days=1))
    assert tomorrow.resumed and (tomorrow.requests, tomorrow.written, tomorrow.existing) == (4, 400, 0)
    # --max-requests raises the cap explicitly: the rest today, beyond the budget
    rest = run(values_env, settings, day=TODAY + dt.timedelta(days=1), max_requests=10)
    assert rest.finished and rest.stopped is None and (rest.requests, rest.written) == (4, 301)
    assert rest.left == 4 - 8  # over today's budget by what --max-requests allowed
    assert len(revisions(values_env)) == 1_001  # every revision once, and no page read twice
    assert first.requests + again.requests + tomorrow.requests + rest.requests == 11  # 11 pages (1,001)


def test_the_command_says_what_it_used_what_is_left_and_how_to_go_on(values_env, standin, monkeypatch):
    standin.import_key_values((f"hist/{i:04d}", None, str(i)) for i in range(250))
    monkeypatch.setenv("AUDIT_APPCONFIG_DAILY_REQUESTS", "2")
    out = io.StringIO()
    assert main(["appconfig", "backfill", "contoso", "--pace", "0"], out=out, err=io.StringIO()) == 0
    text = out.getvalue()
    assert "200 revisions read in 2 pages" in text
    assert "2 requests used; 0 of today's 2 left" in text
    assert "stopped: today's request budget for contoso" in text and "--max-requests" in text
    out = io.StringIO()
    assert main(["appconfig", "backfill", "contoso", "--pace", "0", "--max-requests", "5"], out=out,
                err=io.StringIO()) == 0
    text = out.getvalue()
    assert "went on from where the last run stopped" in text and "50 revisions read in 1 pages" in text
    assert "1 requests used; today's 2 are spent, 1 over as --max-requests allowed" in text
    assert "stopped:" not in text and "budget for contoso" not in text


def test_a_position_the_store_refuses_starts_the_backfill_from_the_newest_again(values_env, standin):
    standin.import_key_values((f"hist/{i}", None, str(i)) for i in range(20))
    change_state(values_env, "contoso", lambda s: dataclasses.replace(
        s, backfill_next="/revisions?key=%2A&label=%2A&after=%21%21&api-version=2023-11-01"))
    report = run(values_env, load_capture_settings())
    assert report.finished and report.written == 20 and "refused" in report.note
    assert read_state(values_env, "contoso").backfill_next is None


@pytest.mark.parametrize("restart", [False, True])
def test_restart_ignores_where_the_last_run_stopped(values_env, standin, restart):
    standin.import_key_values((f"hist/{i:03d}", None, str(i)) for i in range(150))
    settings = load_capture_settings()
    run(values_env, settings, max_requests=1)
    report = run(values_env, settings, restart=restart)
    assert (report.resumed, report.revisions) == (not restart, 150 if restart else 50)
