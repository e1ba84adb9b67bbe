"""Dead-letter blobs, as `az storage blob download-batch` leaves them, replayed into a real Azurite.

samples/dead-letter/ has Event Grid's layout (<SUBSCRIPTION>/<y>/<m>/<d>/<h>/<uuid>.json) and format:
each blob a JSON array of records, the event plus delivery fields, camel case in the Event Grid schema
and lower case in CloudEvents (Event Grid docs, "Delivery event formats"). Real Azurite, real tables.
"""

from __future__ import annotations

import json
from pathlib import Path

from eventaudit.storage.tables import APP_CONFIGURATION_EVENTS, REDIS_CACHE_EVENTS, UNHANDLED_EVENTS
from tests.conftest import rows
from tools import replay

DEAD_LETTER = Path(__file__).resolve().parents[2] / "samples" / "dead-letter"


def blob_records() -> list[dict]:
    return [record for blob in sorted(DEAD_LETTER.rglob("*.json"))
            for record in json.loads(blob.read_text(encoding="utf-8"))]


def test_the_samples_are_dead_letter_blobs_of_both_schemas():
    """No az, no storage: the sample blobs have the documented shape."""
    records = blob_records()
    grid = [r for r in records if "specversion" not in r]
    assert grid and all({"deadLetterReason", "deliveryAttempts", "lastDeliveryOutcome", "publishTime"} <= set(r)
                        for r in grid)
    cloud = [r for r in records if "specversion" in r]
    assert cloud and all({"deadletterreason", "deliveryattempts", "lastdeliveryoutcome", "publishtime"} <= set(r)
                         for r in cloud)


def test_delivery_fields_of_both_spellings_are_stripped():
    """No storage: what replay delivers is the event alone, as Event Grid first sent it."""
    events = [event for _, event in replay.load_events([DEAD_LETTER])]
    assert len(events) == len(blob_records())
    assert not [key for event in events for key in event if key.lower() in replay.DEAD_LETTER_FIELDS]


def test_replaying_the_downloaded_folder_twice_records_every_event_exactly_once(store, capsys):
    """Real Azurite: python -m tools.replay <download folder>, twice; each event is one row, none unhandled."""
    records = blob_records()
    assert replay.main([str(DEAD_LETTER)]) == 0
    assert replay.main([str(DEAD_LETTER)]) == 0
    out = capsys.readouterr().out
    assert out.count(f"{len(records)} events: {len(records)} recorded, 0 kept in UnhandledEvents, 0 failed") == 2
    redis = rows(store, REDIS_CACHE_EVENTS)
    appconfig = rows(store, APP_CONFIGURATION_EVENTS)
    assert sorted(r["EventId"] for r in redis + appconfig) == sorted(r["id"] for r in records)
    assert rows(store, UNHANDLED_EVENTS) == []
    for row in redis + appconfig:
        assert "deadletter" not in row["Data"].lower() and "deliveryattempts" not in row["Data"].lower()
