"""The replay tool: files, folders, single events, dead-letter blobs; idempotent."""

from __future__ import annotations

import json

from eventaudit.storage.tables import (
    APP_CONFIGURATION_EVENTS,
    CONTROL_PLANE_EVENTS,
    REDIS_CACHE_EVENTS,
    UNHANDLED_EVENTS,
)
from tests.conftest import SAMPLES, load_sample, rows
from tools import replay


def dead_letter_blob(events):
    """What Event Grid writes to the dead-letter container: the event plus delivery fields."""
    return [{**event, "deadLetterReason": "MaxDeliveryAttemptsExceeded", "deliveryAttempts": 30,
             "lastDeliveryOutcome": "GenericError", "lastHttpStatusCode": 500,
             "publishTime": "2026-11-22T14:05:04.0000000Z",
             "lastDeliveryAttemptTime": "2026-11-23T14:05:04.0000000Z"} for event in events]


def test_replays_the_samples_folder_twice_without_duplicates(store, capsys):
    assert replay.main([str(SAMPLES)]) == 0
    assert replay.main([str(SAMPLES)]) == 0
    out = capsys.readouterr().out
    assert out.count("51 events: 49 recorded, 2 kept in UnhandledEvents, 0 failed") == 2
    assert len(rows(store, REDIS_CACHE_EVENTS)) == 8
    assert len(rows(store, APP_CONFIGURATION_EVENTS)) == 11
    assert len(rows(store, CONTROL_PLANE_EVENTS)) == 30
    assert len(rows(store, UNHANDLED_EVENTS)) == 2


def test_replays_a_single_event_object(store, tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(load_sample("redis-eventgrid")[0]))
    assert replay.main([str(path)]) == 0
    assert len(rows(store, REDIS_CACHE_EVENTS)) == 1


def test_replays_dead_letter_blobs_of_both_schemas(store, tmp_path):
    # Given dead-letter blobs downloaded from the container, Event Grid and CloudEvents schema
    events = load_sample("appconfig-eventgrid") + load_sample("appconfig-cloudevents")
    (tmp_path / "eg.json").write_text(json.dumps(dead_letter_blob(events[:6])))
    (tmp_path / "ce.json").write_text(json.dumps(dead_letter_blob(events[6:])))
    # When they are replayed
    assert replay.main([str(tmp_path)]) == 0
    # Then every event is recorded as if delivered normally, none as unhandled
    assert sorted(r["EventId"] for r in rows(store, APP_CONFIGURATION_EVENTS)) == sorted(e["id"] for e in events)
    assert rows(store, UNHANDLED_EVENTS) == []


def test_a_file_that_is_not_json_is_refused_before_anything_is_sent(store, tmp_path, capsys):
    (tmp_path / "bad.json").write_text("[{")
    assert replay.main([str(tmp_path / "bad.json")]) == 2
    assert "not a JSON file" in capsys.readouterr().err


def test_failures_are_reported_and_exit_non_zero(tmp_path, monkeypatch, capsys):
    from eventaudit import storage
    from tools.azurite import Azurite, free_port

    monkeypatch.setenv("AUDIT_STORAGE", Azurite(port=free_port()).connection_string)  # nothing listens
    monkeypatch.setattr("eventaudit.storage.client.RETRY_OPTIONS", {"retry_total": 0})
    monkeypatch.setattr("tools.replay.time.sleep", lambda _: None)
    path = tmp_path / "one.json"
    path.write_text(json.dumps(load_sample("redis-eventgrid")[0]))
    try:
        assert replay.main([str(path)]) == 1
    finally:
        storage.reset_store()
    out = capsys.readouterr().out
    assert "1 events: 0 recorded, 0 kept in UnhandledEvents, 1 failed" in out
    assert "TransientStorageError" in out
