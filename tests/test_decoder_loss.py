"""An old decoder's remnant of a CloudEvent is never acknowledged: the trigger raises, replay keeps it.

azure-functions before 1.25 decodes a CloudEvents delivery as a func.EventGridEvent that keeps the
id, subject and data but loses type, source and time. The Python 3.11/3.12 worker may load such a
version (docs/runtime.md, PYTHON_ISOLATE_WORKER_DEPENDENCIES). Recording that remnant and answering 202
would lose the event's type, source and time for good; raising makes Event Grid redeliver, and
finally dead-letter, the original.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import azure.functions as func
import pytest

from eventaudit.errors import UnfaithfulDecoding
from eventaudit.storage.tables import REDIS_CACHE_EVENTS, UNHANDLED_EVENTS
from tests.conftest import load_sample, rows
from tools import replay
from tools.trigger import trigger_function

OLD_VERSION = "1.24.0"  # the last azure-functions that decodes a CloudEvent as an EventGridEvent
DECODE = """
import json, sys
import azure.functions
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
event = EventGridEventInConverter.decode(Datum(sys.stdin.read(), "json"), trigger_metadata={})
print(json.dumps({"version": azure.functions.__version__, "class": type(event).__name__,
                  "id": event.id, "topic": event.topic, "subject": event.subject,
                  "event_type": event.event_type, "event_time": event.event_time,
                  "data_version": event.data_version, "data": event.get_json()}))
"""


@pytest.fixture(scope="module")
def old_azure_functions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """azure-functions 1.24.0 from PyPI in a folder of its own (never on this process's path)."""
    target = tmp_path_factory.mktemp("azure-functions-old")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--no-deps", "--target", str(target), f"azure-functions=={OLD_VERSION}"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        if os.environ.get("CI") == "1":
            pytest.fail(f"pip could not fetch azure-functions {OLD_VERSION}: {done.stderr[-500:]}")
        pytest.skip(f"azure-functions {OLD_VERSION} is not available offline")
    return target


def old_decoder_remnant(raw: dict, old_path: Path) -> func.EventGridEvent:
    """What the old decoder hands the trigger for this event, rebuilt as the same func.EventGridEvent."""
    done = subprocess.run([sys.executable, "-c", DECODE], input=json.dumps(raw), capture_output=True,
                          text=True, check=True, env={**os.environ, "PYTHONPATH": str(old_path)})
    seen = json.loads(done.stdout)
    assert (seen["version"], seen["class"]) == (OLD_VERSION, "EventGridEvent")
    assert (seen["event_type"], seen["topic"], seen["event_time"]) == (None, None, None)
    return func.EventGridEvent(id=seen["id"], data=seen["data"], topic=seen["topic"], subject=seen["subject"],
                               event_type=seen["event_type"], event_time=seen["event_time"],
                               data_version=seen["data_version"])


def test_a_cloud_event_decoded_by_an_old_worker_raises_and_records_nothing(store, old_azure_functions, caplog):
    # Given a CloudEvents delivery that an azure-functions 1.24 worker decoded
    raw = load_sample("redis-cloudevents")[0]
    remnant = old_decoder_remnant(raw, old_azure_functions)
    # When the trigger runs on it, it raises: the host answers 500 and Event Grid redelivers the original
    with pytest.raises(UnfaithfulDecoding, match="older than 1.25"):
        trigger_function()(remnant)
    # Then nothing was acknowledged as recorded, and the error log names the likely cause
    assert rows(store, REDIS_CACHE_EVENTS) == [] and rows(store, UNHANDLED_EVENTS) == []
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert raw["id"] in record.getMessage() and "azure-functions" in record.getMessage()


def test_replay_keeps_such_an_event_from_a_file_in_unhandled_events(store, tmp_path):
    # Given a file holding an Event Grid event without type, topic and time (the remnant's shape)
    event = {"id": "remnant-1", "subject": "ScalingCompleted", "data": {"status": "Failed"}, "dataVersion": "1"}
    path = tmp_path / "remnant.json"
    path.write_text(json.dumps([event]))
    # When it is replayed, it is kept with the reason, not retried: the file keeps the original
    assert replay.main([str(path)]) == 0
    [row] = rows(store, UNHANDLED_EVENTS)
    assert "without type, source and time" in row["Reason"]
    assert json.loads(store.read_unhandled_event(row["PartitionKey"], row["RowKey"]))["data"] == event["data"]

