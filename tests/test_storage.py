"""The storage layer: lossless large events, refused entities, tables on first use, storage outages."""

from __future__ import annotations

import json
import random
import string

import pytest

from errors import TransientStorageError
from events import from_trigger
from ingest import Outcome, ingest
from settings import StorageTarget
from storage import AuditStore, build_service_client
from storage.tables import ALL_TABLES, REDIS_CACHE_EVENTS, UNHANDLED_EVENTS
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
    import storage
    from tools.azurite import free_port
    from tools.trigger import deliver

    port = free_port()
    monkeypatch.setenv("AUDIT_STORAGE", Azurite(port=port).connection_string)
    monkeypatch.setenv("AUDIT_TABLE_PREFIX", table_prefix)
    storage.reset_store()
    monkeypatch.setattr("storage.client.RETRY_OPTIONS", {"retry_total": 0})
    try:
        with pytest.raises(TransientStorageError, match="unreachable"):
            deliver(load_sample("redis-eventgrid")[0])
    finally:
        storage.reset_store()


def test_table_names_are_the_contract():
    assert ALL_TABLES == ("RedisCacheEvents", "AppConfigurationEvents", "AppConfigurationKeys",
                          "UnhandledEvents", "AuditResources")
