"""The storage layer: lossless large events, refused entities, tables on first use, storage outages."""

from __future__ import annotations

import json
import random
import string

import pytest
from azure.core.exceptions import ServiceRequestError

from eventaudit.errors import TransientStorageError
from eventaudit.events import from_trigger
from eventaudit.ingest import Outcome, ingest
from eventaudit.settings import StorageTarget
from eventaudit.storage import AuditStore, build_service_client
from eventaudit.storage.tables import ALL_TABLES, AUDIT_RESOURCES, REDIS_CACHE_EVENTS, UNHANDLED_EVENTS
from tests.conftest import load_sample, rows
from tools.azurite import Azurite
from tools.trigger import decode


def unknown_event(size: int) -> dict:
    rng = random.Random(size)
    blob = "".join(rng.choice(string.ascii_letters + "€😀\u0000\"\\") for _ in range(size))
    return {"id": f"big-{size}", "topic": "/subscriptions/s/resourceGroups/g/providers/Contoso.Custom/things/t",
            "subject": "s", "eventType": "Contoso.Custom.Happened", "eventTime": "2026-11-22T10:00:00Z",
            "data": {"blob": blob}, "dataVersion": "1"}


@pytest.mark.parametrize("size", [10, 40_000, 1_000_000])
def test_unhandled_events_are_kept_losslessly_whatever_their_size(store, send, size):
    # Given an event of an unknown type, up to Event Grid's 1 MB (a property holds 64 KiB)
    event = unknown_event(size)
    # When it is delivered, twice
    send(event)
    send(event)
    # Then the whole event reads back exactly, from one logical record
    main = [r for r in rows(store, UNHANDLED_EVENTS) if "PartOf" not in r]
    assert len(main) == 1
    assert main[0]["Reason"] == "no handler for event type 'Contoso.Custom.Happened'"
    text = store.read_unhandled_event(main[0]["PartitionKey"], main[0]["RowKey"])
    assert json.loads(text)["data"] == event["data"]
    assert json.loads(text)["id"] == event["id"]


def test_tables_are_created_on_first_use_with_the_prefix(store, send, table_prefix):
    send(load_sample("redis-eventgrid")[0])
    names = {t.name for t in store.service.list_tables()}
    assert f"{table_prefix}{REDIS_CACHE_EVENTS}" in names
    # Only what was needed: no UnhandledEvents table for a run without unhandled events
    assert f"{table_prefix}{UNHANDLED_EVENTS}" not in names


def test_a_deleted_table_is_created_again(store, send):
    send(load_sample("redis-eventgrid")[0])
    store.service.delete_table(store.table_name(REDIS_CACHE_EVENTS))
    send(load_sample("redis-eventgrid")[1])
    assert len(rows(store, REDIS_CACHE_EVENTS)) == 1


def test_an_entity_storage_refuses_is_kept_as_unhandled_not_retried(store, send):
    # Given a Redis event whose data is larger than one property may hold
    event = load_sample("redis-eventgrid")[0]
    event["data"]["details"] = "x" * 40_000
    # When it is delivered, the invocation succeeds and the event is kept whole
    send(event)
    assert rows(store, REDIS_CACHE_EVENTS) == []
    [row] = [r for r in rows(store, UNHANDLED_EVENTS) if "PartOf" not in r]
    assert "property Data is" in row["Reason"]
    assert json.loads(store.read_unhandled_event(row["PartitionKey"], row["RowKey"]))["data"] == event["data"]


def test_storage_going_away_mid_run_raises_and_a_retry_adds_no_duplicate(tmp_path, table_prefix):
    # Given a disk-backed Azurite and a store with a short retry policy
    server = Azurite(location=tmp_path / "azurite").start()
    target = StorageTarget(setting="test", connection_string=server.connection_string)
    store = AuditStore(build_service_client(target, retry_total=1, retry_backoff_factor=0.01,
                                            connection_timeout=2), table_prefix)
    events = load_sample("redis-eventgrid") + load_sample("appconfig-eventgrid")
    try:
        for event in events[:3]:
            assert ingest(from_trigger(decode(event)), store) is Outcome.RECORDED
        # When storage goes away mid-run
        server.stop(kill=True)
        # Then an event raises (Event Grid will redeliver it) instead of being dropped
        with pytest.raises(TransientStorageError):
            ingest(from_trigger(decode(events[3])), store)
        # And when storage is back, redelivering everything records each event exactly once
        server.start()
        for event in events:
            ingest(from_trigger(decode(event)), store)
        redis = rows(store, REDIS_CACHE_EVENTS)
        assert sorted(r["EventId"] for r in redis) == sorted(e["id"] for e in events[:4])
        assert rows(store, UNHANDLED_EVENTS) == []
    finally:
        server.stop()


def test_unreachable_storage_raises_through_the_trigger(monkeypatch, table_prefix):
    # The trigger itself must fail (the host answers 500 and Event Grid retries).
    from eventaudit import storage
    from tools.azurite import free_port
    from tools.trigger import deliver

    port = free_port()
    monkeypatch.setenv("AUDIT_STORAGE", Azurite(port=port).connection_string)
    monkeypatch.setenv("AUDIT_TABLE_PREFIX", table_prefix)
    storage.reset_store()
    monkeypatch.setattr("eventaudit.storage.client.RETRY_OPTIONS", {"retry_total": 0})
    try:
        with pytest.raises(TransientStorageError, match="unreachable"):
            deliver(load_sample("redis-eventgrid")[0])
    finally:
        storage.reset_store()


def test_table_names_are_the_contract():
    assert ALL_TABLES == ("RedisCacheEvents", "AppConfigurationEvents", "AppConfigurationKeys",
                          "UnhandledEvents", "AuditResources", "ControlPlaneEvents", "ControlPlaneState",
                          "AppConfigurationRevisions", "AppConfigurationCaptures", "ControlPlaneChain")


def test_an_event_without_a_time_is_kept_in_the_undated_partition(store, send):
    # Given a Redis event whose eventTime is missing (the worker hands it on as None)
    event = load_sample("redis-eventgrid")[0]
    del event["eventTime"]
    # When it is delivered, twice
    send(event)
    send(event)
    # Then it is kept once, with the reason, in an "undated" partition, sorting after every dated row
    assert rows(store, REDIS_CACHE_EVENTS) == []
    [row] = rows(store, UNHANDLED_EVENTS)
    assert row["Reason"] == "event time is missing"
    assert row["PartitionKey"].startswith("undated-")
    assert row["RowKey"].startswith("9" * 19 + "-")
    assert "EventTime" not in row


def _fail_once(monkeypatch, client, method):
    """Make one method of a shared table client fail once, as a dropped connection would."""
    real = getattr(client, method)
    calls = []

    def failing(*args, **kwargs):
        calls.append(method)
        if len(calls) == 1:
            raise ServiceRequestError("connection reset (test)")
        return real(*args, **kwargs)

    monkeypatch.setattr(client, method, failing)
    return calls


def test_a_failing_write_of_an_unhandled_event_raises_and_the_retry_keeps_it(store, send, monkeypatch):
    # Given UnhandledEvents whose first write fails (after the client's own retries)
    _fail_once(monkeypatch, store.table(UNHANDLED_EVENTS), "upsert_entity")
    event = unknown_event(10)
    # When an event of an unknown type arrives, the invocation raises: Event Grid will redeliver it
    with pytest.raises(TransientStorageError):
        send(event)
    assert rows(store, UNHANDLED_EVENTS) == []
    # And the redelivery keeps it, once
    send(event)
    [row] = rows(store, UNHANDLED_EVENTS)
    assert row["EventId"] == event["id"]


def test_a_failed_first_resource_registration_is_tried_again_on_the_next_event(store, send, monkeypatch):
    # Given an AuditResources write that fails the first time
    calls = _fail_once(monkeypatch, store.table(AUDIT_RESOURCES), "upsert_entity")
    first, second = load_sample("redis-eventgrid")[:2]
    # When the cache's first event arrives, it raises (and records nothing of it)
    with pytest.raises(TransientStorageError):
        send(first)
    assert rows(store, AUDIT_RESOURCES) == [] and rows(store, REDIS_CACHE_EVENTS) == []
    # Then the next event of the same cache registers it: the failure was not remembered as done
    send(second)
    [resource] = rows(store, AUDIT_RESOURCES)
    assert (resource["PartitionKey"], resource["RowKey"]) == ("RedisCache", "contoso-sessions")
    written = len(calls)  # the failed try, then the upsert (and its retry once the table exists)
    # And once registered, later events of the cache do not write it again
    send(first)
    assert len(calls) == written
