"""The value capture stage against the App Configuration stand-in and Azurite: one rule per test."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading

import pytest
from azure.data.tables import UpdateMode

from eventaudit.appconfig import capture as capture_module
from eventaudit.appconfig.backfill import backfill
from eventaudit.appconfig.client import client_for
from eventaudit.appconfig.pending import read_state
from eventaudit.appconfig.settings import load_capture_settings
from eventaudit.settings import StorageTarget
from eventaudit.storage import AuditStore, build_service_client
from eventaudit.storage.tables import APP_CONFIGURATION_EVENTS, APP_CONFIGURATION_KEYS
from tests.conftest import rows
from tests.faultproxy import DROP, FORWARD, LOST_ANSWER, FaultProxy
from tests.valuehelpers import Changes, by_etag, capture, pending, revisions
from tools.appconfig_standin import NO_ACCESS
from tools.trigger import deliver, trigger_function

NOW = lambda: dt.datetime.now(dt.UTC)  # noqa: E731


def test_an_isolated_change_costs_one_request_and_records_the_value_and_the_one_before(values_env, standin):
    changes = Changes(standin)
    before = changes.set("Checkout:Timeout", "30", "Production", content_type="text/plain", tags={"team": "pay"})
    changes.events()  # the app subscribed after this one
    after = changes.set("Checkout:Timeout", "45", "Production", content_type="text/plain", tags={"team": "pay"})
    changes.deliver()
    # a busy store: 250 changes of keys whose events went elsewhere, all newer than this one
    standin.import_key_values((f"busy/{i}", None, str(i)) for i in range(250))
    mark = len(standin.requests)
    report = capture(values_env)
    assert len(standin.requests) - mark <= 2  # the limit for an isolated change
    assert report.finished == 1 and not pending(values_env)
    found = by_etag(values_env)
    row = found[after.etag]
    assert (row["Value"], row["Source"], row["Status"], row["PreviousETag"]) == ("45", "event", "Captured",
                                                                                   before.etag)
    assert (row["ContentType"], json.loads(row["Tags"]), row["Locked"]) == ("text/plain", {"team": "pay"}, False)
    assert row["LastModified"] == after.last_modified
    assert (found[before.etag]["Value"], found[before.etag]["Source"]) == ("30", "backfill")
    # in the key's shard partition, like its events
    [event_row] = rows(values_env, APP_CONFIGURATION_EVENTS)
    assert row["PartitionKey"] == event_row["PartitionKey"]


def test_recording_an_event_never_asks_app_configuration(values_env, standin):
    changes = Changes(standin)
    changes.set("k", "v")
    events = changes.events()
    standin.stop()  # the store is unreachable: the event is still recorded, nothing raises
    mark = len(standin.requests)
    deliver(events[0])
    deliver(events[0])  # a redelivery rewrites the same rows
    assert len(standin.requests) == mark
    assert len(rows(values_env, APP_CONFIGURATION_EVENTS)) == 1
    assert len(rows(values_env, APP_CONFIGURATION_KEYS)) == 1
    [handed_on] = pending(values_env)
    assert (handed_on["Key"], handed_on["ETag"], handed_on["SyncToken"]) == (
        "k", events[0]["data"]["etag"], events[0]["data"]["syncToken"])
    report = capture(values_env)  # unreachable: deferred, not dropped
    assert report.deferred == 1 and len(pending(values_env)) == 1
    assert "unreachable" in (read_state(values_env, "contoso").problem or "")


def test_a_bulk_import_costs_at_most_005_requests_per_change(values_env, standin):
    changes = Changes(standin)
    for i in range(120):  # keys that exist before the import: their old values are the "before"
        changes.set(f"app/{i:04d}", f"old {i}")
    changes.events()
    imported = {f"app/{i:04d}": changes.set(f"app/{i:04d}", f"new {i}").etag for i in range(400)}
    events = changes.deliver()
    assert len(events) == 400
    mark = len(standin.requests)
    report = capture(values_env)
    spent = len(standin.requests) - mark
    assert spent <= 0.05 * 400, spent
    assert report.finished == 400 and not pending(values_env)
    found = by_etag(values_env)
    for i, etag in enumerate(imported.values()):
        row = found[etag]
        assert row["Value"] == f"new {i}"
        if i < 120:
            assert found[row["PreviousETag"]]["Value"] == f"old {i}"
        else:
            assert row["PreviousETag"] == ""  # created by the import


def test_throttling_is_honoured_and_defers_until_retry_after_ms(values_env, standin):
    changes = Changes(standin)
    changes.set("k", "v")
    changes.deliver()
    standin.throttle(1, retry_after_ms=30_000)
    now = NOW()
    first = capture(values_env, now=now)
    assert first.requests == 1 and first.deferred == 1 and "429" in first.stores[0].problem
    state = read_state(values_env, "contoso")
    assert state.not_before == now + dt.timedelta(seconds=30)
    mark = len(standin.requests)
    waiting = capture(values_env, now=now + dt.timedelta(seconds=29))
    assert len(standin.requests) == mark and waiting.deferred == 1  # not asked again before it said
    later = capture(values_env, now=now + dt.timedelta(seconds=31))
    assert later.finished == 1 and not pending(values_env)
    assert read_state(values_env, "contoso").problem is None


def test_a_spent_budget_defers_and_drops_nothing(values_env, standin, caplog):
    changes = Changes(standin)
    etags = [changes.set(f"bulk/{i:03d}", str(i)).etag for i in range(150)]
    changes.deliver()
    today = NOW()
    with caplog.at_level(logging.WARNING):
        first = capture(values_env, now=today, daily_requests=1)
    assert first.requests == 1 and first.deferred == 150 - first.finished
    assert "budget" in caplog.text
    assert len(pending(values_env)) == 150  # nothing dropped, nothing final yet
    mark = len(standin.requests)
    spent = capture(values_env, now=today, daily_requests=1)
    assert spent.deferred == 150 and spent.stores[0].problem == "today's request budget is spent"
    assert len(standin.requests) == mark  # today's budget is spent: not a single request
    capture(values_env, now=today + dt.timedelta(days=1))  # tomorrow, with the default budget
    assert not pending(values_env)
    found = by_etag(values_env)
    assert all(found[etag]["Value"] == str(i) and found[etag]["PreviousETag"] == "" for i, etag in enumerate(etags))
    state = read_state(values_env, "contoso")
    assert state.budget_day == (today + dt.timedelta(days=1)).strftime("%Y-%m-%d") and state.used >= 1


def test_a_delete_records_the_value_deleted(values_env, standin):
    changes = Changes(standin)
    created = changes.set("Legacy:Endpoint", "https://old.example")
    changes.events()  # set before the app was subscribed: only the delete is delivered
    deleted = changes.delete("Legacy:Endpoint")
    events = changes.deliver()
    assert [e["eventType"].rsplit(".", 1)[1] for e in events] == ["KeyValueDeleted"]
    assert deleted.etag == created.etag
    capture(values_env)
    [row] = revisions(values_env)  # one revision: a delete adds none
    assert (row["ETag"], row["Value"], row["Source"]) == (created.etag, "https://old.example", "event")
    assert not pending(values_env)


def test_a_revision_past_retention_is_recorded_as_not_retained_and_not_retried(values_env, standin):
    changes = Changes(standin)
    changes.set("k", "old")
    old_event = changes.events()[0]
    standin.backdate(dt.timedelta(days=8))  # the store keeps 7 days; the newer revision below stays
    changes.set("k", "new")
    changes.events()
    old_event["eventTime"] = (NOW() - dt.timedelta(days=8)).isoformat()
    deliver(old_event)
    report = capture(values_env)
    assert report.finished == 1 and not pending(values_env)
    [row] = revisions(values_env)
    assert row["Status"] == "NotRetained" and "no longer retained" in row["Reason"] and "Value" not in row
    mark = len(standin.requests)
    capture(values_env)
    assert len(standin.requests) == mark


def test_a_capture_pending_past_the_retention_is_finally_reported(values_env, standin):
    changes = Changes(standin)
    changes.set("k", "v")
    [event] = changes.events()
    event["eventTime"] = (NOW() - dt.timedelta(days=31)).isoformat()
    deliver(event)
    mark = len(standin.requests)
    capture(values_env)
    assert len(standin.requests) == mark and not pending(values_env)
    [row] = revisions(values_env)
    assert row["Status"] == "NotRetained" and "30 days" in row["Reason"]


def test_a_revision_the_store_never_lists_is_retried_then_reported(values_env, standin):
    changes = Changes(standin)
    changes.set("k", "v")
    [event] = changes.events()
    event["data"]["etag"] = "NotAnEtagTheStoreGave"
    deliver(event)
    for attempt in range(1, capture_module.MAX_ATTEMPTS):
        mark = len(standin.requests)
        capture(values_env)
        assert len(standin.requests) - mark == 1
        assert pending(values_env)[0]["Attempts"] == attempt
    capture(values_env)
    assert not pending(values_env)
    [row] = revisions(values_env)
    assert row["Status"] == "NotFound" and row["ETag"] == "NotAnEtagTheStoreGave"


def test_secret_looking_keys_keep_only_a_sha256(values_env, standin, monkeypatch):
    changes = Changes(standin)
    secret = changes.set("Db:Password", "hunter2")
    plain = changes.set("Checkout:Timeout", "45")
    changes.deliver()
    capture(values_env)
    found = by_etag(values_env)
    hidden = found[secret.etag]
    assert hidden["Redacted"] is True and "Value" not in hidden
    assert hidden["ValueSha256"] == "f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7"
    assert found[plain.etag]["Value"] == "45" and "Redacted" not in found[plain.etag]
    # the settings choose: keep this one's values after all (the default patterns still apply) ...
    monkeypatch.setenv("AUDIT_APPCONFIG_KEEP_VALUES", "Db:*")
    kept = changes.set("Db:Password", "hunter3")
    other = changes.set("Api:Token", "abc")
    changes.deliver()
    capture(values_env)
    found = by_etag(values_env)
    assert found[kept.etag]["Value"] == "hunter3" and found[other.etag]["Redacted"] is True
    # ... and hash others instead of the default patterns
    monkeypatch.setenv("AUDIT_APPCONFIG_REDACT_VALUES", "Checkout:*")
    hashed = changes.set("Checkout:Timeout", "50")
    changes.deliver()
    capture(values_env)
    assert by_etag(values_env)[hashed.etag]["Redacted"] is True and "Value" not in by_etag(values_env)[hashed.etag]


def test_key_vault_references_are_stored_as_they_are(values_env, standin):
    changes = Changes(standin)
    raw = '{"uri":"https://contoso-vault.vault.azure.net/secrets/DbPassword","note":"kept verbatim"}'
    reference = changes.set("Db:Password", raw,
                            content_type="application/vnd.microsoft.appconfig.keyvaultref+json;charset=utf-8")
    changes.deliver()
    capture(values_env)
    row = by_etag(values_env)[reference.etag]
    assert row["Value"] == raw and "Redacted" not in row  # a URI, not a secret: never hashed
    assert row["ContentType"] == "application/vnd.microsoft.appconfig.keyvaultref+json;charset=utf-8"


def test_values_up_to_the_limit_and_beyond_a_property_are_stored_losslessly(values_env, standin):
    from eventaudit.appconfig.records import value_of

    standin.kv_size_limit = 200_000  # beyond the service's 10,000 characters: the split is what is tested
    changes = Changes(standin)
    key = "K/" + "k" * 9_998  # (a 10,000-character non-ASCII key makes a subject too long for the event row)
    value = ("line 🚀 naïve\n" * 4_000)[:50_000]
    at_limit = changes.set("limit", "v" * (10_000 - len("limit")))
    large = changes.set(key, value)
    changes.deliver()
    capture(values_env)
    found = by_etag(values_env)
    assert value_of(found[large.etag]) == value and found[large.etag]["Key"] == key
    assert found[large.etag]["ValueParts"] == 4
    assert value_of(found[at_limit.etag]) == "v" * 9_995


def test_the_event_sync_token_is_passed_to_the_client(values_env, standin, monkeypatch):
    standin.cache_seconds = 120  # a read without the token is served from a cache that lacks the change
    changes = Changes(standin)
    changed = changes.set("k", "v")
    changes.deliver()
    capture(values_env)
    assert by_etag(values_env)[changed.etag]["Value"] == "v"
    token = standin.published_events[-1]["data"]["syncToken"].split(";")[0]
    assert any(r.path == "/revisions" and r.headers.get("sync-token") == token for r in standin.requests)


def test_redeliveries_racing_passes_and_backfill_end_with_one_row_per_revision(values_env, standin):
    changes = Changes(standin)
    etags = [changes.set(f"race/{i}", str(i)).etag for i in range(30)]
    etags.append(changes.set("race/0", "again").etag)
    events = changes.deliver()
    for event in reversed(events):  # redelivered, in another order
        deliver(event)
    settings = load_capture_settings()
    other_store = capture_module.AuditStore(values_env.service, values_env.table_name(""))
    threads = [threading.Thread(target=lambda s=s: capture_module.run_pass(s, settings))
               for s in (values_env, other_store)]
    threads.append(threading.Thread(target=lambda: backfill(
        values_env, settings, "contoso", client_for(settings, "contoso", retries=3))))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    capture(values_env)
    found = by_etag(values_env)  # fails on two rows for one revision
    assert set(found) == set(etags) and not pending(values_env)
    for event in events:  # a redelivery after the capture: the rows stay as they are
        deliver(event)
    capture(values_env)
    assert set(by_etag(values_env)) == set(etags) and not pending(values_env)


def test_backfill_overlapping_live_capture_keeps_the_first_row_and_reruns_add_nothing(values_env, standin):
    changes = Changes(standin)
    old = changes.set("k", "1")
    changes.events()
    live = changes.set("k", "2")
    changes.deliver()
    capture(values_env)
    settings = load_capture_settings()
    first = backfill(values_env, settings, "contoso", client_for(settings, "contoso"))
    assert (first.revisions, first.written, first.existing) == (2, 0, 2)
    found = by_etag(values_env)
    assert (found[live.etag]["Source"], found[old.etag]["Source"]) == ("event", "backfill")
    changes.set("k", "3")
    changes.events()
    second = backfill(values_env, settings, "contoso", client_for(settings, "contoso"))
    assert (second.written, second.existing) == (1, 2)
    assert len(revisions(values_env)) == 3


def test_backfill_waits_out_throttling(values_env, standin):
    changes = Changes(standin)
    for i in range(3):
        changes.set(f"k{i}", str(i))
    standin.throttle(2, retry_after_ms=250)
    waits = []
    settings = load_capture_settings()
    report = backfill(values_env, settings, "contoso", client_for(settings, "contoso"), sleep=waits.append)
    assert waits == [0.25, 0.25] and report.throttled == 2 and report.written == 3


def test_a_store_the_app_may_not_read_is_reported_once_with_the_role(values_env, standin, monkeypatch, caplog):
    nobody = standin.add_key(NO_ACCESS)
    monkeypatch.setenv("AUDIT_APPCONFIG_CONNECTION_STRINGS", standin.connection_string(nobody))
    changes = Changes(standin)
    changes.set("k", "v")
    changes.deliver()
    now = NOW()
    with caplog.at_level(logging.INFO):
        first = capture(values_env, now=now)
        capture(values_env, now=now + dt.timedelta(minutes=31))  # asked again after the wait: still 403
    assert first.deferred == 1 and len(pending(values_env)) == 1
    reports = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(reports) == 1 and "App Configuration Data Reader" in reports[0].getMessage()
    state = read_state(values_env, "contoso")
    assert "403" in state.problem and "App Configuration Data Reader" in state.problem
    mark = len(standin.requests)
    capture(values_env, now=now + dt.timedelta(minutes=32))  # inside the wait: no request
    assert len(standin.requests) == mark


def test_the_timer_function_runs_a_capture_pass(values_env, standin):
    changes = Changes(standin)
    changed = changes.set("k", "v")
    changes.deliver()
    trigger_function("capture_values")(None)
    assert by_etag(values_env)[changed.etag]["Value"] == "v"



def test_without_a_connection_string_the_app_reads_with_its_entra_identity(values_env, standin, monkeypatch,
                                                                         caplog):
    # The default endpoint (https://contoso.azconfig.io) and no connection string: DefaultAzureCredential,
    # here the conftest's identity that has no token, so the request fails before it is sent.
    monkeypatch.delenv("AUDIT_APPCONFIG_CONNECTION_STRINGS")
    monkeypatch.delenv("AUDIT_APPCONFIG_ENDPOINTS")
    asked = []
    monkeypatch.setattr("eventaudit.appconfig.client.default_credential",
                        lambda settings, real=capture_module.client_for.__globals__["default_credential"]:
                        asked.append(settings.endpoint("contoso")) or real(settings))
    changes = Changes(standin)
    changes.set("k", "v")
    changes.deliver()
    with caplog.at_level(logging.ERROR):
        report = capture(values_env)
    assert asked == ["https://contoso.azconfig.io"] and report.deferred == 1 and len(pending(values_env)) == 1
    problem = read_state(values_env, "contoso").problem
    assert "no Entra token" in problem and "AUDIT_APPCONFIG_CONNECTION_STRINGS" in problem
    assert "no Entra token" in caplog.text


def test_finishing_captures_another_pass_finished_already_is_harmless(values_env, standin):
    from eventaudit.appconfig import pending as pending_rows

    changes = Changes(standin)
    for i in range(5):
        changes.set("same-shard", str(i))  # one key: every pending row in one partition
    changes.deliver()
    items = pending_rows.read_pending(values_env, 100)
    pending_rows.finish(values_env, items[:2])  # a racing pass was first for two of them
    pending_rows.finish(values_env, items)
    assert len(items) == 5 and not pending(values_env)


@pytest.mark.parametrize("action", [DROP, LOST_ANSWER])
def test_a_transaction_whose_connection_broke_is_decided_row_by_row(values_env, standin, azurite, table_prefix,
                                                                action):
    # azure-core retries no POST whose connection broke: the rows are then inserted one by one
    changes = Changes(standin)
    etags = {changes.set("one-partition", str(i)).etag for i in range(3)}
    changes.deliver()
    broken = []

    def fault(request):
        if request.method == "POST" and request.path.endswith("$batch") and not broken:
            broken.append(request.path)
            return action
        return FORWARD

    with FaultProxy(azurite.port, fault) as proxy:
        target = StorageTarget(setting="test", connection_string=proxy.via(azurite.connection_string))
        report = capture_module.run_pass(AuditStore(build_service_client(target), table_prefix),
                                         load_capture_settings())
    assert broken and report.finished == 3
    assert set(by_etag(values_env)) == etags and not pending(values_env)


def test_a_backfill_stopped_by_its_request_limit_keeps_what_it_read_and_goes_on_when_rerun(values_env, standin):
    standin.import_key_values((f"k{i}", None, str(i)) for i in range(150))
    settings = load_capture_settings()
    first = backfill(values_env, settings, "contoso", client_for(settings, "contoso"), max_requests=1)
    assert (first.revisions, first.written, first.requests) == (100, 100, 1) and "max-requests" in first.stopped
    second = backfill(values_env, settings, "contoso", client_for(settings, "contoso"))
    # it goes on from the page the first run stopped at, and reads nothing twice
    assert (second.written, second.existing, second.requests, second.stopped) == (50, 0, 1, None)
    assert second.resumed and second.finished
    assert read_state(values_env, "contoso").used == 2  # the backfill's requests count against the budget
    third = backfill(values_env, settings, "contoso", client_for(settings, "contoso"))
    assert (third.resumed, third.written, third.existing) == (False, 0, 150)  # finished: from the top again


def test_a_missing_revision_younger_than_any_default_retention_is_retried_then_not_found(values_env, standin):
    # Every tier keeps revisions at least 7 days by default (Free, Developer; 30 on Standard, Premium).
    # Here the store was configured to keep 1 day, so a 2-day-old revision is gone: the app cannot know
    # that, so it looks again and finally reports NotFound, not "no longer retained".
    standin.retention = dt.timedelta(days=1)
    changes = Changes(standin)
    changes.set("k", "old")
    [old_event] = changes.events()
    standin.backdate(dt.timedelta(days=2))
    changes.set("k", "new")
    changes.events()
    old_event["eventTime"] = (NOW() - dt.timedelta(days=2)).isoformat()
    deliver(old_event)
    for attempt in range(1, capture_module.MAX_ATTEMPTS):
        capture(values_env)
        assert pending(values_env)[0]["Attempts"] == attempt and not revisions(values_env)
    capture(values_env)
    [row] = revisions(values_env)
    assert row["Status"] == "NotFound" and not pending(values_env)


def _interrupted_import(values_env, standin, today):
    """300 keys imported, 150 of which had a value: the first pass finds the 300 revisions (3 pages)
    and has budget for one page of the values before; the 300 changes wait for those."""
    old = standin.import_key_values((f"app/{i:04d}", None, f"old {i}") for i in range(150))
    changes = Changes(standin)  # the app subscribed after those
    new = standin.import_key_values((f"app/{i:04d}", None, f"new {i}") for i in range(300))
    assert len(changes.deliver()) == 300
    first = capture(values_env, now=today, daily_requests=4)
    assert first.requests == 4 and first.finished == 0
    waiting = pending(values_env)
    assert len(waiting) == 300 and {r["Stage"] for r in waiting} == {"before"}
    return old, new


def test_a_bulk_import_interrupted_by_the_budget_costs_at_most_005_requests_per_change_on_resume(values_env,
                                                                                             standin):
    today = NOW()
    mark = len(standin.requests)
    old, new = _interrupted_import(values_env, standin, today)
    resumed = capture(values_env, now=today + dt.timedelta(days=1))
    spent = len(standin.requests) - mark
    assert spent <= 0.05 * 300, spent  # the bound, over both passes
    assert resumed.requests == 2  # the 150 values before: the store at one instant, 2 pages
    assert resumed.finished == 300 and not pending(values_env)
    found = by_etag(values_env)
    for i, revision in enumerate(new):
        row = found[revision.etag]
        assert row["Value"] == f"new {i}"
        assert row["PreviousETag"] == (old[i].etag if i < 150 else "")  # "": created by the import
        if i < 150:
            assert found[old[i].etag]["Value"] == f"old {i}"


def test_changes_waiting_for_their_value_before_without_scan_times_still_finish(values_env, standin):
    # Pending rows written before they remembered their scan: each gets an instant of its own.
    from eventaudit.storage.tables import APP_CONFIGURATION_CAPTURES

    today = NOW()
    old, new = _interrupted_import(values_env, standin, today)
    for row in pending(values_env)[:5]:
        del row["ScannedFrom"], row["RevisionTime"]
        values_env.call(APP_CONFIGURATION_CAPTURES, lambda c, r=row: c.upsert_entity(r, mode=UpdateMode.REPLACE))
    resumed = capture(values_env, now=today + dt.timedelta(days=1))
    assert resumed.finished == 300 and not pending(values_env)
    found = by_etag(values_env)
    assert all(found[r.etag]["PreviousETag"] == (old[i].etag if i < 150 else "") for i, r in enumerate(new))
