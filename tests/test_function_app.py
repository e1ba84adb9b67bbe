"""The trigger as the host indexes and calls it, for every sample event in both schemas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from azure.eventgrid import SystemEventNames

import handlers
from eventaudit.storage.tables import (
    APP_CONFIGURATION_EVENTS,
    CONTROL_PLANE_EVENTS,
    REDIS_CACHE_EVENTS,
    UNHANDLED_EVENTS,
)
from tests.conftest import load_sample, rows
from tools.trigger import indexed_functions

SAMPLE_FILES = ["redis-eventgrid", "redis-cloudevents", "appconfig-eventgrid", "appconfig-cloudevents",
                "control-plane-eventgrid", "control-plane-cloudevents"]
TABLES = {"redis": REDIS_CACHE_EVENTS, "appconfig": APP_CONFIGURATION_EVENTS, "control-plane": CONTROL_PLANE_EVENTS}
SUPPORTED = {
    SystemEventNames.RedisScalingCompletedEventName, SystemEventNames.RedisPatchingCompletedEventName,
    SystemEventNames.RedisImportRDBCompletedEventName, SystemEventNames.RedisExportRDBCompletedEventName,
    SystemEventNames.AppConfigurationKeyValueModifiedEventName,
    SystemEventNames.AppConfigurationKeyValueDeletedEventName,
    SystemEventNames.AppConfigurationSnapshotCreatedEventName,
    SystemEventNames.AppConfigurationSnapshotModifiedEventName,
    SystemEventNames.ResourceWriteSuccessEventName, SystemEventNames.ResourceWriteFailureEventName,
    SystemEventNames.ResourceWriteCancelEventName, SystemEventNames.ResourceDeleteSuccessEventName,
    SystemEventNames.ResourceDeleteFailureEventName, SystemEventNames.ResourceDeleteCancelEventName,
    SystemEventNames.ResourceActionSuccessEventName, SystemEventNames.ResourceActionFailureEventName,
    SystemEventNames.ResourceActionCancelEventName,
    SystemEventNames.ResourceNotificationsResourceManagementCreatedOrUpdatedEventName,
    SystemEventNames.ResourceNotificationsResourceManagementDeletedEventName,
}


def test_app_indexes_one_event_grid_trigger_named_record_event():
    # Given the app as the worker indexes it
    functions = indexed_functions()
    # Then the Event Grid trigger is there, with a binding name the host accepts (letters only)
    event_grid = [f for f in functions if f.get_trigger().get_binding_name() == "eventGridTrigger"]
    assert [f.get_function_name() for f in event_grid] == ["record_event"]
    assert event_grid[0].get_trigger().name == "event"


# 32 threads ask for the function at once in a process that has not indexed the app yet; a
# barrier lines them up so that they really race. Before the lock, two of them both indexed and
# FunctionApp.get_functions() failed with "does not have a unique function name".
_CONCURRENT_FIRST_LOOKUP = """
import threading
from tools.trigger import trigger_function
barrier = threading.Barrier(32)
found, errors = [], []
def look_up():
    barrier.wait()
    try:
        found.append(trigger_function())
    except Exception as error:
        errors.append(repr(error))
threads = [threading.Thread(target=look_up) for _ in range(32)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(found), len({id(f) for f in found}), errors)
"""


def test_concurrent_first_deliveries_index_the_app_once():
    # Given a fresh process (the index is per process), when 32 threads look the function up at once
    done = subprocess.run(
        [sys.executable, "-c", _CONCURRENT_FIRST_LOOKUP], cwd=Path(__file__).parent.parent,
        capture_output=True, text=True, timeout=120, check=True,
    )
    # Then every one gets the same function and none fails
    assert done.stdout.split() == ["32", "1", "[]"], done.stdout + done.stderr


def test_every_supported_type_has_a_handler_and_nothing_else_does():
    assert set(handlers.handled_event_types()) == SUPPORTED


def test_samples_cover_every_supported_type_in_both_schemas():
    seen = set()
    for name in SAMPLE_FILES:
        for event in load_sample(name):
            seen.add(("specversion" in event, event.get("type") or event.get("eventType")))
    assert seen == {(cloud, t) for cloud in (False, True) for t in SUPPORTED}


@pytest.mark.parametrize("sample", SAMPLE_FILES)
def test_each_sample_event_lands_in_its_table_once(store, send, sample):
    # Given the sample events of one file
    events = load_sample(sample)
    table = TABLES[sample.rsplit("-", 1)[0]]
    # When each is delivered through the trigger twice (at-least-once delivery)
    for event in events + events:
        send(event)
    # Then each event has exactly one row, under its own id and type, and nothing is unhandled
    recorded = sorted((r["EventId"], r["EventType"]) for r in rows(store, table))
    expected = sorted((e["id"], e.get("type") or e.get("eventType")) for e in events)
    assert recorded == expected
    assert rows(store, UNHANDLED_EVENTS) == []
