"""From what the worker hands the trigger to azure-eventgrid models, and event identity."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridEvent, SystemEventNames

import handlers
from eventaudit.events import from_trigger
from eventaudit.ingest import refusal
from handlers.registry import handles
from tests.conftest import load_sample
from tools.trigger import decode


def test_event_grid_schema_becomes_an_event_grid_event():
    raw = load_sample("redis-eventgrid")[1]
    envelope = from_trigger(decode(raw))
    assert isinstance(envelope.model, EventGridEvent)
    assert (envelope.id, envelope.event_type, envelope.source) == (raw["id"], raw["eventType"], raw["topic"])
    assert envelope.time == dt.datetime(2026, 11, 21, 3, 12, 45, 123456, tzinfo=dt.UTC)
    assert envelope.model.data_version == "1.0"


def test_cloud_events_schema_becomes_a_cloud_event():
    raw = load_sample("appconfig-cloudevents")[0]
    envelope = from_trigger(decode(raw))
    assert isinstance(envelope.model, CloudEvent)
    assert (envelope.id, envelope.event_type, envelope.source) == (raw["id"], raw["type"], raw["source"])
    assert envelope.data == raw["data"]


def test_to_json_keeps_what_the_trigger_received():
    raw = load_sample("appconfig-cloudevents")[0]
    body = json.loads(from_trigger(decode({**raw, "traceparent": "00-abc-01"})).to_json())
    assert body["traceparent"] == "00-abc-01" and body["data"] == raw["data"] and body["source"] == raw["source"]


def test_cloud_event_with_extension_names_azure_core_refuses_is_not_applied_but_kept():
    raw = {**load_sample("redis-cloudevents")[0], "Bad-Name": 1}
    envelope = from_trigger(decode(raw))
    assert "extension attribute names" in refusal(envelope)
    assert json.loads(envelope.to_json())["Bad-Name"] == 1


@pytest.mark.parametrize("schema", ["redis-eventgrid", "redis-cloudevents"])
def test_event_without_id_is_refused_and_gets_no_invented_id(schema):
    raw = dict(load_sample(schema)[0])
    del raw["id"]
    envelope = from_trigger(decode(raw))
    assert envelope.id is None
    assert "id is missing" in refusal(envelope) or "no id" in refusal(envelope)
    # Its identity is its content, so a redelivery lands on the same UnhandledEvents row
    assert envelope.identity == from_trigger(decode(raw)).identity


def test_identity_is_source_type_and_id_with_case_insensitive_source():
    raw = load_sample("redis-eventgrid")[0]
    same = from_trigger(decode({**raw, "topic": raw["topic"].upper()})).identity
    assert from_trigger(decode(raw)).identity == same
    assert from_trigger(decode({**raw, "eventType": "Microsoft.Cache.PatchingCompleted"})).identity != same


def test_registering_an_event_type_twice_fails_at_import_time():
    with pytest.raises(RuntimeError, match="already registered"):
        handles(SystemEventNames.RedisScalingCompletedEventName)(lambda event, store: None)


def test_shared_system_event_name_value_dispatches_to_app_configuration():
    # SystemEventNames.ContainerRegistryArtifactEventName has the same value as KeyValueModified.
    value = SystemEventNames.AppConfigurationKeyValueModifiedEventName
    assert SystemEventNames.ContainerRegistryArtifactEventName == value
    assert handlers.handler_for(value).func.__module__ == "handlers.app_configuration"
