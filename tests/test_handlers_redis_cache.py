"""Redis cache events: what a row holds, payload quirks, casing, and malformed events."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from eventaudit.storage.tables import AUDIT_RESOURCES, REDIS_CACHE_EVENTS, UNHANDLED_EVENTS
from tests.conftest import load_sample, rows

UTC = dt.UTC


def redis_event(**changes):
    event = copy.deepcopy(load_sample("redis-eventgrid")[0])  # ScalingCompleted, lower-case dataversion
    event.update(changes)
    return event


def test_scaling_event_row_holds_the_contract_properties(store, send):
    # Given the documented ScalingCompleted example (lower-case "dataversion", seven fractional digits)
    event = redis_event()
    # When it is delivered
    send(event)
    # Then one row holds every property of the contract, typed
    [row] = rows(store, REDIS_CACHE_EVENTS)
    assert row["EventId"] == event["id"]
    assert row["EventType"] == "Microsoft.Cache.ScalingCompleted"
    assert row["Operation"] == "Scaling"
    assert row["Status"] == "Succeeded"
    assert row["CacheName"] == "contoso-sessions"
    assert row["ResourceGroup"] == "platform-prod"
    assert row["SubscriptionId"] == "5b4b650e-28b9-4790-b3ab-ddbd88d727c4"
    assert row["Topic"] == event["topic"]
    assert row["Subject"] == "ScalingCompleted"
    assert row["EventTime"] == dt.datetime(2026, 11, 20, 21, 50, 19, 999566, tzinfo=UTC)
    assert row["OccurredAt"] == dt.datetime(2026, 11, 20, 21, 50, 19, 999566, tzinfo=UTC)
    assert json.loads(row["Data"]) == event["data"]
    assert row["PartitionKey"] == "contoso-sessions"


@pytest.mark.parametrize(("event_type", "operation"), [
    ("Microsoft.Cache.ScalingCompleted", "Scaling"),
    ("Microsoft.Cache.PatchingCompleted", "Patching"),
    ("Microsoft.Cache.ImportRDBCompleted", "ImportRDB"),
    ("Microsoft.Cache.ExportRDBCompleted", "ExportRDB"),
])
def test_each_redis_event_type_maps_to_its_operation(store, send, event_type, operation):
    send(redis_event(eventType=event_type, data={"name": "x", "timestamp": "2026-01-01T00:00:00Z",
                                                 "status": "Failed"}))
    [row] = rows(store, REDIS_CACHE_EVENTS)
    assert (row["Operation"], row["Status"]) == (operation, "Failed")


def test_cloud_event_source_gives_the_cache(store, send):
    event = load_sample("redis-cloudevents")[0]
    send(event)
    [row] = rows(store, REDIS_CACHE_EVENTS)
    assert (row["CacheName"], row["ResourceGroup"], row["Schema"]) == ("contoso-dev-cache", "platform-dev",
                                                                       "CloudEvent")
    assert row["Topic"] == event["source"]


def test_resource_id_casing_does_not_split_a_cache(store, send):
    # Given two events of one cache whose topics differ only in casing
    lower = redis_event(id="a", topic=redis_event()["topic"].lower())
    upper = redis_event(id="b", topic=redis_event()["topic"].upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"))
    send(lower)
    send(upper)
    # Then both rows are in one partition, and one cache is registered
    partitions = {r["PartitionKey"] for r in rows(store, REDIS_CACHE_EVENTS)}
    assert partitions == {"contoso-sessions"}
    assert [r["RowKey"] for r in rows(store, AUDIT_RESOURCES)] == ["contoso-sessions"]


def test_casing_of_the_topic_does_not_make_a_redelivery_a_new_event(store, send):
    event = redis_event()
    send(event)
    send({**event, "topic": event["topic"].lower()})
    assert len(rows(store, REDIS_CACHE_EVENTS)) == 1


def test_same_id_in_another_type_or_source_is_another_event(store, send):
    # The documented Redis examples reuse one id across event types.
    event = redis_event()
    send(event)
    send({**event, "eventType": "Microsoft.Cache.PatchingCompleted"})
    send({**event, "topic": event["topic"].replace("contoso-sessions", "other-cache")})
    assert len(rows(store, REDIS_CACHE_EVENTS)) == 3


@pytest.mark.parametrize(("change", "reason"), [
    ({"data": {"name": "ScalingCompleted", "status": "Succeeded"}}, "data.timestamp is missing"),
    ({"data": {"name": "x", "timestamp": "yesterday", "status": "Succeeded"}}, "not an ISO 8601 timestamp"),
    ({"data": {"name": "x", "timestamp": "2026-01-01T00:00:00Z", "status": 1}}, "data.status must be"),
    ({"data": "ScalingCompleted"}, "data is str, expected a JSON object"),
    ({"topic": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a"},
     "expected Microsoft.Cache/Redis"),
    ({"topic": "contoso-sessions"}, "not an Azure resource id"),
])
def test_malformed_redis_event_is_kept_with_its_reason_and_not_retried(store, send, change, reason):
    # Given a Redis event that can never be interpreted
    event = redis_event(**change)
    # When it is delivered, the invocation succeeds (no retry) ...
    send(event)
    # ... nothing reaches the audit table, and the whole event is kept with a clear reason
    assert rows(store, REDIS_CACHE_EVENTS) == []
    [row] = rows(store, UNHANDLED_EVENTS)
    assert reason in row["Reason"]
    assert row["EventId"] == event["id"] and row["EventType"] == event["eventType"]
    assert json.loads(row["Event"])["data"] == event["data"]
