"""App Configuration events: exact keys, key state ordering, concurrency, snapshots."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import random

import pytest

from eventaudit.storage import keys
from eventaudit.storage.tables import APP_CONFIGURATION_EVENTS, APP_CONFIGURATION_KEYS, UNHANDLED_EVENTS
from tests.conftest import load_sample, rows
from tests.harness import ingest_at_once

STORE_TOPIC = ("/subscriptions/5b4b650e-28b9-4790-b3ab-ddbd88d727c4/resourceGroups/platform-prod"
               "/providers/microsoft.appconfiguration/configurationstores/contoso")
_ids = itertools.count()


def kv_event(key="Checkout:Timeout", label="Production", *, change="Modified", time="2026-11-22T14:05:03Z",
             etag="etag-1", sync_token=None, cloud=False, **data_extra):
    data = {"key": key, "label": label, "etag": etag, **data_extra}
    if sync_token:
        data["syncToken"] = sync_token
    event_type = f"Microsoft.AppConfiguration.KeyValue{change}"
    event_id = f"kv-{next(_ids)}"
    if cloud:
        return {"specversion": "1.0", "id": event_id, "source": STORE_TOPIC, "type": event_type,
                "subject": f"https://contoso.azconfig.io/kv/{key}", "time": time, "data": data}
    return {"id": event_id, "topic": STORE_TOPIC, "subject": f"https://contoso.azconfig.io/kv/{key}",
            "eventType": event_type, "eventTime": time, "data": data, "dataVersion": "1", "metadataVersion": "1"}


def key_state(store, key="Checkout:Timeout", label="Production"):
    return store.table(APP_CONFIGURATION_KEYS).get_entity(keys.key_partition("contoso", key),
                                                         keys.key_row_key(key, label))


@pytest.mark.parametrize("cloud", [False, True], ids=["eventgrid", "cloudevents"])
def test_key_change_row_and_key_state(store, send, cloud):
    event = kv_event(sync_token="zAJw6V16=NDoyOSMxNjk2MDQ1;sn=1696045", cloud=cloud)
    send(event)
    [row] = rows(store, APP_CONFIGURATION_EVENTS)
    assert {k: row[k] for k in ("Change", "StoreName", "Key", "Label", "ETag", "SyncToken", "EventId")} == {
        "Change": "Modified", "StoreName": "contoso", "Key": "Checkout:Timeout", "Label": "Production",
        "ETag": "etag-1", "SyncToken": "zAJw6V16=NDoyOSMxNjk2MDQ1;sn=1696045", "EventId": event["id"]}
    state = key_state(store)
    assert (state["Deleted"], state["LastChange"], state["ETag"], state["LastEventId"]) == (
        False, "Modified", "etag-1", event["id"])
    assert state["LastEventTime"] == dt.datetime(2026, 11, 22, 14, 5, 3, tzinfo=dt.UTC)


@pytest.mark.parametrize("label_field", ["null", "absent", "empty"])
def test_missing_label_is_stored_as_empty_string_and_is_one_key(store, send, label_field):
    event = kv_event(label=None)
    if label_field == "absent":
        del event["data"]["label"]
    elif label_field == "empty":
        event["data"]["label"] = ""
    send(event)
    assert [r["Label"] for r in rows(store, APP_CONFIGURATION_EVENTS)] == [""]
    assert key_state(store, label="")["Label"] == ""


ODD_KEYS = [
    "a/b\\c#d?e",
    "tab\tnew\nline\x01\x1f\x7f",
    "Grüße 🚀 日本語 \u200b",
    "'; DROP TABLE x; -- eq 'x' or true",
    "%2F..%00",
    "k" * 10_000,
    "ü" * 5_000 + "/" * 100,
]


@pytest.mark.parametrize("key", ODD_KEYS, ids=lambda k: repr(k[:20]))
def test_any_key_and_label_is_stored_and_read_back_exactly(store, send, key):
    # Given keys and labels with characters Table keys refuse, and lengths far beyond 1 KiB
    label = key[::-1][:2000]
    send(kv_event(key=key, label=label))
    # Then they read back exactly, both in the event row and in the key state
    [row] = rows(store, APP_CONFIGURATION_EVENTS)
    assert (row["Key"], row["Label"]) == (key, label)
    state = key_state(store, key, label)
    assert (state["Key"], state["Label"]) == (key, label)


def test_keys_differing_only_by_label_or_case_are_different_keys(store, send):
    for key, label in [("K", "a"), ("K", "A"), ("k", "a"), ("K", "")]:
        send(kv_event(key=key, label=label))
    assert sorted((r["Key"], r["Label"]) for r in rows(store, APP_CONFIGURATION_KEYS)) == [
        ("K", ""), ("K", "A"), ("K", "a"), ("k", "a")]


def test_key_state_ends_in_the_latest_event_whatever_the_arrival_order(store, send):
    # Given a key's history: modified, modified, deleted, modified again
    history = [
        kv_event(time="2026-11-22T10:00:00.0000001Z", etag="e1"),
        kv_event(time="2026-11-22T10:00:01Z", etag="e2"),
        kv_event(change="Deleted", time="2026-11-22T10:00:02Z", etag="e2"),
        kv_event(time="2026-11-22T10:00:03.5Z", etag="e4"),
    ]
    # When it arrives in several shuffled orders, with redeliveries
    for seed in range(4):
        order = history + random.Random(seed).sample(history, 2)
        random.Random(seed).shuffle(order)
        for event in order:
            send(event)
        # Then the state is that of the latest event, and the history has one row per event
        state = key_state(store)
        assert (state["ETag"], state["Deleted"], state["LastEventId"]) == ("e4", False, history[-1]["id"])
    assert len(rows(store, APP_CONFIGURATION_EVENTS)) == 4


def test_delete_that_comes_last_in_time_wins_even_when_it_arrives_first(store, send):
    send(kv_event(change="Deleted", time="2026-11-22T10:00:05Z", etag="e1"))
    send(kv_event(time="2026-11-22T10:00:04Z", etag="e1"))
    state = key_state(store)
    assert (state["Deleted"], state["LastChange"]) == (True, "Deleted")


def test_equal_event_times_are_ordered_by_sync_token_sequence(store, send):
    # Event times reach us with microseconds; two changes in one microsecond are ordered by "sn".
    later = kv_event(time="2026-11-22T10:00:00.0000005Z", etag="second", sync_token="x=y;sn=101")
    earlier = kv_event(time="2026-11-22T10:00:00.0000001Z", etag="first", sync_token="x=y;sn=100")
    send(later)
    send(earlier)
    assert key_state(store)["ETag"] == "second"


def test_concurrent_instances_do_not_lose_the_latest_update(store, make_store):
    # Given 8 scaled-out instances (own clients) receiving 40 versions of one key at once
    instances = [make_store() for _ in range(8)]
    events = [kv_event(time=f"2026-11-22T10:00:{i:02d}Z", etag=f"e{i}") for i in range(40)]
    random.Random(7).shuffle(events)
    ingest_at_once(instances, events)
    # Then the latest version is the state, whatever the interleaving
    assert key_state(store)["ETag"] == "e39"


def test_a_lost_etag_race_is_decided_again_on_what_the_other_writer_wrote(store, send, monkeypatch):
    # Given a writer that reads the key state, and then another instance writes a newer state
    # before our conditional update: Table Storage answers 412 to our If-Match (single-entity
    # operations honour If-Match on Azure and on Azurite).
    send(kv_event(time="2026-11-22T10:00:00Z", etag="old"))
    newer = kv_event(time="2026-11-22T10:00:09Z", etag="newer")
    middle = kv_event(time="2026-11-22T10:00:05Z", etag="middle")
    original = type(store)._replace_if_unchanged
    calls = []

    def interleaved(self, table, entity, etag, *args):
        if not calls:
            calls.append(etag)
            send(newer)  # the other instance wins the race
        return original(self, table, entity, etag, *args)

    monkeypatch.setattr(type(store), "_replace_if_unchanged", interleaved)
    # When our (older) event is applied
    send(middle)
    # Then our stale write was refused, and the newer state stays
    assert calls, "the race was not provoked"
    assert key_state(store)["ETag"] == "newer"


def test_snapshot_events_keep_the_snapshot_name_and_leave_key_state_alone(store, send):
    for event in load_sample("appconfig-eventgrid")[4:] + load_sample("appconfig-cloudevents")[3:]:
        send(event)
    snapshot_rows = rows(store, APP_CONFIGURATION_EVENTS)
    assert sorted((r["StoreName"], r["Change"], r["Snapshot"]) for r in snapshot_rows) == [
        ("contoso", "SnapshotCreated", "release-2026-11-22"),
        ("contoso", "SnapshotModified", "release-2026-11-22"),
        ("contoso-dev", "SnapshotCreated", "nightly"),
        ("contoso-dev", "SnapshotModified", "nightly"),
    ]
    assert all("Key" not in r for r in snapshot_rows)
    assert {r["PartitionKey"] for r in snapshot_rows} == {"contoso-snapshots", "contoso-dev-snapshots"}
    assert rows(store, APP_CONFIGURATION_KEYS) == []


def test_a_bulk_import_is_spread_over_partitions(store):
    # 2,000 keys of one store: no partition may take them all (each takes ~2,000 entities/s).
    shares = {}
    for i in range(2000):
        partition = keys.key_partition("contoso", f"Import/Key{i}")
        shares[partition] = shares.get(partition, 0) + 1
    assert len(shares) == keys.SHARDS
    assert max(shares.values()) / 2000 < 0.1


def test_one_keys_history_stays_in_one_partition_across_labels(store, send):
    # Given changes of one key under three labels (and no label)
    for label in ("Production", "Staging", None):
        send(kv_event(label=label, etag=f"etag-{label}"))
    # Then its event rows and key states all sit in one partition, the key's own shard
    changes = rows(store, APP_CONFIGURATION_EVENTS)
    states = rows(store, APP_CONFIGURATION_KEYS)
    assert (len(changes), len(states)) == (3, 3)
    assert {r["PartitionKey"] for r in changes + states} == {"contoso-03"}


def test_sync_token_ties_compare_as_numbers_across_a_power_of_ten(store, send):
    # Given two changes in the same microsecond, sn=9 and then sn=10 (as text, "9" > "10")
    tenth = kv_event(time="2026-11-22T10:00:00.000001Z", etag="tenth", sync_token="x=y;sn=10")
    ninth = kv_event(time="2026-11-22T10:00:00.000001Z", etag="ninth", sync_token="x=y;sn=9")
    # When they arrive in either order
    send(tenth)
    send(ninth)
    # Then the state is the change with the higher sequence number
    assert key_state(store)["ETag"] == "tenth"


@pytest.mark.parametrize(("data", "reason"), [
    ({"label": "x", "etag": "e"}, "data.key is missing"),
    ({"key": "", "etag": "e"}, "data.key must be a non-empty string"),
    ({"key": ["k"], "etag": "e"}, "data.key must be a non-empty string"),
    ({"key": "k", "label": 5}, "data.label must be a string"),
    ({"key": "k", "syncToken": {"sn": 1}}, "data.syncToken must be a string"),
])
def test_malformed_key_change_is_kept_with_its_reason(store, send, data, reason):
    event = kv_event()
    event["data"] = data
    send(event)
    assert rows(store, APP_CONFIGURATION_EVENTS) == [] and rows(store, APP_CONFIGURATION_KEYS) == []
    [row] = rows(store, UNHANDLED_EVENTS)
    assert reason in row["Reason"]


def test_events_of_one_store_from_differently_cased_topics_share_partitions(store, send):
    first = kv_event()
    second = copy.deepcopy(first)
    second["id"] = "other"
    second["topic"] = STORE_TOPIC.replace("microsoft.appconfiguration/configurationstores/contoso",
                                          "Microsoft.AppConfiguration/configurationStores/Contoso")
    send(first)
    send(second)
    assert {r["PartitionKey"] for r in rows(store, APP_CONFIGURATION_EVENTS)} == {
        keys.key_partition("contoso", "Checkout:Timeout")}
    assert len(rows(store, APP_CONFIGURATION_KEYS)) == 1
