"""The merged chronology against Azurite: one question for "what changed between 14:00 and 14:30"."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from eventaudit import queries as q
from eventaudit.queries import reader
from eventaudit.queries.models import TimelineItem
from eventaudit.queries.sources import Source
from eventaudit.queries.timeline import SOURCES
from eventaudit.storage import keys
from tests.test_cli import run as run_cli
from tests.test_http_api import get_json
from tests.test_queries import T0, all_pages, at, kv_event, redis_event, snapshot_event

# T0 is 2026-11-20 10:00Z; the incident is 14:00-14:30 that day: minutes 240..270.
SINCE, UNTIL = "2026-11-20T14:00Z", "2026-11-20T14:30Z"
INCIDENT = q.TimeRange(T0 + dt.timedelta(minutes=240), T0 + dt.timedelta(minutes=270))


def unhandled_event(minutes: float, size: int = 0) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "eventType": "Microsoft.Storage.BlobCreated",
            "topic": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/assets",
            "subject": "/blobServices/default/containers/uploads/blobs/report.csv",
            "data": {"api": "PutBlob", "padding": "x" * size}, "eventTime": at(minutes), "dataVersion": "1"}


@pytest.fixture
def incident(store, send):
    """A day of events over three caches and three stores; some of them between 14:00 and 14:30."""
    before, inside, after = 200, 250, 300
    for cache in ("contoso-sessions", "contoso-catalog", "fabrikam-cache"):
        send(redis_event(cache, before, "PatchingCompleted", "Succeeded"))
        send(redis_event(cache, after, "PatchingCompleted", "Succeeded"))
    for store_name in ("contoso", "fabrikam", "northwind"):
        send(kv_event(store_name, "Old:Setting", before))
        send(kv_event(store_name, "Later:Setting", after))
    send(redis_event("contoso-sessions", inside + 1, "ScalingCompleted", "Failed"))
    send(redis_event("contoso-catalog", inside + 2, "ExportRDBCompleted", "Succeeded"))
    send(kv_event("contoso", "Checkout:Timeout", inside + 3, label="Production"))
    send(kv_event("fabrikam", "Feature/NewCheckout", inside + 4))
    send(kv_event("northwind", "Legacy:Conn", inside + 5, deleted=True))
    send(snapshot_event("contoso", "release-1", inside + 6))
    send(unhandled_event(inside + 7))
    send(redis_event("fabrikam-cache", 240, "ScalingCompleted", "Failure"))  # at 14:00 exactly: inside
    send(redis_event("fabrikam-cache", 270, "ScalingCompleted", "Failed"))  # at 14:30 exactly: outside
    return store


def summary(item: TimelineItem) -> tuple[str, str | None, str]:
    return item.kind, item.resource, item.action


def test_one_question_answers_what_changed_in_the_window_across_everything(incident):
    page = q.timeline(incident, time_range=INCIDENT, limit=100)
    assert [summary(i) for i in page.items] == [
        ("unhandled-event", "assets", "Microsoft.Storage.BlobCreated"),
        ("snapshot", "contoso", "SnapshotCreated"),
        ("key-change", "northwind", "Deleted"),
        ("key-change", "fabrikam", "Modified"),
        ("key-change", "contoso", "Modified"),
        ("redis-operation", "contoso-catalog", "ExportRDB"),
        ("redis-operation", "contoso-sessions", "Scaling"),
        ("redis-operation", "fabrikam-cache", "Scaling"),
    ]
    assert [i.time for i in page.items] == sorted((i.time for i in page.items), reverse=True)
    assert page.continuation is None
    assert page.extra == {"sources": [s.kind for s in SOURCES], "skipped": {}}
    # Failed whatever the spelling, and the details a reader asks for on demand
    assert [(i.resource, i.failed) for i in page.items if i.kind == "redis-operation"] == [
        ("contoso-catalog", False), ("contoso-sessions", True), ("fabrikam-cache", True)]
    change = page.items[4]
    assert (change.subject, change.label, change.summary) == (
        "Checkout:Timeout", "Production", "Modified Checkout:Timeout [Production]")
    assert change.details["etag"] == "etag-253" and change.details["sync_token"] == "x=y;sn=1"
    assert change.details["event_id"]
    assert page.items[5].details["resource_id"].endswith("/Redis/contoso-catalog")


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_the_merged_pages_hold_every_item_once(incident, limit):
    everything = q.timeline(incident, time_range=INCIDENT, limit=100).items
    pages = all_pages(q.timeline, incident, time_range=INCIDENT, limit=limit)
    assert [item for page in pages for item in page] == everything
    assert all(len(page) <= limit for page in pages)


def test_filters_by_resource_type_label_key_and_status(incident):
    def ask(**filters: Any) -> list[tuple[str, str | None, str]]:
        return [summary(i) for i in q.timeline(incident, time_range=INCIDENT, limit=100, **filters).items]

    assert ask(resources=["CONTOSO-SESSIONS"]) == [("redis-operation", "contoso-sessions", "Scaling")]
    assert ask(resources=["contoso"]) == [("snapshot", "contoso", "SnapshotCreated"),
                                          ("key-change", "contoso", "Modified")]
    assert ask(resources=["contoso", "contoso-catalog"]) == [
        ("snapshot", "contoso", "SnapshotCreated"), ("key-change", "contoso", "Modified"),
        ("redis-operation", "contoso-catalog", "ExportRDB")]
    assert ask(actions=["deleted", "ExportRDB"]) == [("key-change", "northwind", "Deleted"),
                                                     ("redis-operation", "contoso-catalog", "ExportRDB")]
    assert ask(label="Production") == [("key-change", "contoso", "Modified")]
    assert ask(label="") == [("key-change", "northwind", "Deleted"), ("key-change", "fabrikam", "Modified")]
    assert ask(key="Feature/NewCheckout") == [("key-change", "fabrikam", "Modified")]
    assert ask(status="failed") == [("redis-operation", "contoso-sessions", "Scaling"),
                                    ("redis-operation", "fabrikam-cache", "Scaling")]
    # And the answer says which sources a filter left out, and why
    page = q.timeline(incident, time_range=INCIDENT, status="failed")
    assert page.extra["sources"] == ["redis-operation", "control-plane"]
    assert page.extra["skipped"] == {"key-change": "has no status", "snapshot": "has no status",
                                     "unhandled-event": "has no status"}


def test_without_a_window_unhandled_events_are_left_out_and_said_so(incident):
    page = q.timeline(incident, limit=100)
    assert "unhandled-event" not in {i.kind for i in page.items}
    assert "at most 7 days" in page.extra["skipped"]["unhandled-event"]
    assert len(page.items) == 6 * 2 + 6 + 2  # the day's events, all of them


def test_a_large_unhandled_event_is_one_item(store, send):
    send(unhandled_event(250, size=40_000))  # three rows in UnhandledEvents
    items = q.timeline(store, time_range=INCIDENT).items
    assert [(i.kind, i.action) for i in items] == [("unhandled-event", "Microsoft.Storage.BlobCreated")]


def test_unknown_names_and_types_are_refused_with_the_known_ones(incident):
    with pytest.raises(q.UnknownResource, match="unknown resource 'nope'; known resources: contoso, "):
        q.timeline(incident, resources=["nope"])
    with pytest.raises(q.InvalidQuery, match="type 'Rebooted' is not one of Scaling, Patching"):
        q.timeline(incident, actions=["Rebooted"])
    with pytest.raises(q.InvalidQuery, match="other filters"):
        token = q.timeline(incident, time_range=INCIDENT, limit=1).continuation
        q.timeline(incident, time_range=INCIDENT, status="failed", continuation=token)


def test_a_page_reads_about_as_many_rows_as_it_shows(incident, send, counted_store):
    for minute in range(60):  # a busier window: 60 more changes over the three stores
        send(kv_event(("contoso", "fabrikam", "northwind")[minute % 3], f"busy/{minute}", 240 + minute / 2))
    store, log = counted_store
    token, sizes = None, []
    while True:
        mark = len(log)
        page = q.timeline(store, time_range=INCIDENT, limit=10, continuation=token)
        requests = [r for r in log.since(mark) if r.table.endswith("Events") and r.method == "GET"]
        partitions = {(r.table, r.partition) for r in requests}
        sizes.append((len(page.items), sum(r.rows for r in requests), len(partitions)))
        token = page.continuation
        if token is None:
            break
    assert sum(shown for shown, _, _ in sizes) == 68
    for _, rows, partitions in sizes:
        assert rows <= 2 * (10 + 1) + partitions, sizes


@pytest.fixture
def counted_store(azurite, table_prefix):
    from benchmarks.counting import RequestLog, counting_store

    log = RequestLog()
    return counting_store(azurite.connection_string, table_prefix, log), log


def test_a_new_source_plugs_in_with_a_definition(store, send):
    # Given a table of another kind of event, keyed like every event table: RowKey = inverted ticks of
    # the event time + "-" + identity
    client = store.table("DeploymentEvents")
    client.create_table()
    client.upsert_entity({"PartitionKey": "contoso-sessions", "RowKey": keys.event_row_key(
        T0 + dt.timedelta(minutes=252.5), "id1"), "Caller": "alice@contoso.com", "Operation": "Write",
        "EventTime": T0 + dt.timedelta(minutes=252.5)})
    send(redis_event("contoso-sessions", 251, "ScalingCompleted", "Succeeded"))
    send(redis_event("contoso-sessions", 253, "PatchingCompleted", "Succeeded"))
    deployments = Source(
        kind="deployment", table="DeploymentEvents", resource_types=("RedisCache",),
        partitions=lambda resource, wanted: [resource.name.lower()],
        item=lambda e: TimelineItem(time=e["EventTime"], kind="deployment", resource=e["PartitionKey"],
                                    resource_type="RedisCache", action=e["Operation"], subject=None,
                                    label=None, status=None, failed=False,
                                    summary=f"{e['Operation']} by {e['Caller']}"),
        columns=("PartitionKey", "RowKey", "Caller", "Operation", "EventTime"), actions=("Write",),
        action_property="Operation")
    # When it is listed among the sources
    page = q.timeline(store, sources=(*SOURCES, deployments), time_range=INCIDENT)
    # Then its rows take their place in time, across tables
    assert [(i.kind, i.what) for i in page.items] == [
        ("redis-operation", "Patching Succeeded"), ("deployment", "Write by alice@contoso.com"),
        ("redis-operation", "Scaling Succeeded")]
    assert [i.action for i in q.timeline(store, sources=(*SOURCES, deployments), actions=["write"]).items] == [
        "Write"]
    client.delete_table()


def test_too_many_type_values_for_one_filter_are_refused_clearly(incident):
    source = SOURCES[0]
    many = Source(**{**source.__dict__, "actions": tuple(f"Op{n}" for n in range(20))})
    with pytest.raises(q.InvalidQuery, match="comparisons .* Table Storage allows 15"):
        q.timeline(incident, sources=(many,), actions=[f"Op{n}" for n in range(15)])
    assert reader.MAX_COMPARISONS == 15


# --- the same question through the API and the command ---------------------------------------------

def test_the_api_answers_the_window_in_one_call(incident):
    body = get_json("/api/events", {"since": SINCE, "until": UNTIL})
    assert [(i["kind"], i["resource"]) for i in body["items"]][:3] == [
        ("unhandled-event", "assets"), ("snapshot", "contoso"), ("key-change", "northwind")]
    assert len(body["items"]) == 8 and body["continuation"] is None
    item = body["items"][4]
    assert item["time"] == "2026-11-20T14:13:00Z" and item["details"]["etag"] == "etag-253"
    assert body["sources"] == [s.kind for s in SOURCES] and body["skipped"] == {}
    failed = get_json("/api/events", {"since": SINCE, "until": UNTIL, "status": "failed",
                                      "resource": "contoso-sessions,fabrikam-cache"})
    assert [(i["resource"], i["failed"]) for i in failed["items"]] == [
        ("contoso-sessions", True), ("fabrikam-cache", True)]
    no_label = get_json("/api/events", {"since": SINCE, "until": UNTIL, "label": ""})
    assert {i["label"] for i in no_label["items"]} == {""}
    assert "is not one of" in get_json("/api/events", {"type": "Rebooted"}, status=400)["error"]
    assert "unknown resource" in get_json("/api/events", {"resource": "nope"}, status=404)["error"]
    choices = get_json("/api/events/choices")
    assert {(r["name"], r["kind"]) for r in choices["resources"]} >= {
        ("contoso-sessions", "RedisCache"), ("contoso", "AppConfigurationStore")}
    assert "Scaling" in choices["types"] and "SnapshotCreated" in choices["types"]


def test_the_command_answers_the_window_in_one_call(incident):
    code, out, err = run_cli("timeline", "--since", SINCE, "--until", UNTIL)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    # WHO shows because the scalings were attributed: no control-plane write recorded before them
    assert lines[0].split() == ["TIME", "(UTC)", "KIND", "RESOURCE", "WHAT", "WHO"]
    assert len(lines) == 1 + 8
    assert "2026-11-20 14:11:00Z" in lines[-2] and "contoso-sessions" in lines[-2] and "FAILED" in lines[-2]
    assert "Scaling Failed" in lines[-2] and "no matching write recorded" in lines[-2]
    assert "Modified Checkout:Timeout [Production]" in out
    code, out, _ = run_cli("timeline", "--since", SINCE, "--until", UNTIL, "--details", "--resource", "contoso")
    assert "ETAG" in out.splitlines()[0] and "etag-253" in out and "x=y;sn=1" in out
    code, out, _ = run_cli("--json", "timeline", "--since", SINCE, "--until", UNTIL, "--type", "Deleted")
    assert [i["resource"] for i in json.loads(out)["items"]] == ["northwind"]
    code, out, _ = run_cli("timeline", "--since", SINCE, "--until", UNTIL, "--status", "failed")
    assert "not read: key-change (has no status)" in out
