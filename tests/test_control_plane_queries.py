"""A cache's history: Redis events and control-plane changes merged, paged, and who requested a scaling."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json

import pytest

from eventaudit import queries as q
from eventaudit.cli import main
from eventaudit.queries import control_plane as cp
from eventaudit.resource_ids import fold_case
from eventaudit.storage import keys
from eventaudit.storage.tables import CONTROL_PLANE_EVENTS
from tests.conftest import load_sample, rows
from tests.test_http_api import get_json
from tools.show import show_scalings

UTC = dt.UTC
SUB = "5b4b650e-28b9-4790-b3ab-ddbd88d727c4"
RG = f"/subscriptions/{SUB}/resourceGroups/platform-prod"
SESSIONS = f"{RG}/providers/Microsoft.Cache/Redis/contoso-sessions"
SESSIONS_PARTITION = keys.control_plane_partition("contoso-sessions", fold_case(SESSIONS))
OUTCOME = dt.datetime(2026, 11, 20, 21, 50, 19, 999566, tzinfo=UTC)  # the sample ScalingCompleted
JANE_WRITE = "7c2a9e41-5b3d-4c8f-a1e6-2d9b8c7a6f50"


def write(minutes_before: float, *, event_id: str, outcome: str = "Success", below: str = "",
          correlation: str = "c-1", upn: str = "someone@contoso.com") -> dict:
    """A ResourceWriteSuccess/Failure on contoso-sessions (or a child) some minutes before the outcome."""
    [event] = [copy.deepcopy(e) for e in load_sample("control-plane-eventgrid") if e["id"] == JANE_WRITE]
    time = OUTCOME - dt.timedelta(minutes=minutes_before)
    resource = f"{SESSIONS}/{below}" if below else SESSIONS
    event.update(id=event_id, eventTime=time.isoformat().replace("+00:00", "Z"), subject=resource,
                 eventType=f"Microsoft.Resources.ResourceWrite{outcome}")
    event["data"].update(resourceUri=resource, correlationId=correlation)
    event["data"]["claims"]["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] = upn
    return event


def migrate(send) -> None:
    """A migration: the Azure Cache for Redis contoso-sessions scaled (its ScalingCompleted), and an Azure
    Managed Redis cache created under the same name 5 minutes before (a write on it)."""
    send(load_sample("redis-eventgrid")[0])
    amr = write(5, event_id="amr-create")
    amr_id = SESSIONS.replace("Microsoft.Cache/Redis", "Microsoft.Cache/redisEnterprise")
    amr.update(subject=amr_id)
    amr["data"]["resourceUri"] = amr_id
    send(amr)


def scaling_outcome(store, send) -> q.TimelineItem:
    send(load_sample("redis-eventgrid")[0])  # ScalingCompleted of contoso-sessions
    [item] = [i for i in q.history(store, q.REDIS_CACHE, "contoso-sessions").items if i.action == "Scaling"]
    return item


def test_a_cache_history_merges_redis_events_and_control_plane_changes_newest_first(recorded):
    page = q.history(recorded, q.REDIS_CACHE, "Contoso-Sessions")
    assert [(i.time.isoformat(), i.kind, i.action, i.subject) for i in page.items] == [
        ("2026-11-21T07:58:02.661441+00:00", "control-plane", "Delete", "firewallrules/office"),
        ("2026-11-21T03:12:45.123456+00:00", "redis-operation", "Patching", None),
        ("2026-11-20T22:05:33.209110+00:00", "control-plane", "Action", None),
        ("2026-11-20T21:50:19.999566+00:00", "redis-operation", "Scaling", None),
        ("2026-11-20T21:50:18.773156+00:00", "control-plane", "CreatedOrUpdated", None),
        ("2026-11-20T21:31:09.012000+00:00", "control-plane", "CreatedOrUpdated", None),
        ("2026-11-20T21:31:07.445927+00:00", "control-plane", "Write", None),
        ("2026-11-18T09:12:40.123456+00:00", "control-plane", "CreatedOrUpdated", None),
    ]
    assert {i.resource for i in page.items} == {"contoso-sessions"}
    assert page.items[0].what == "firewallrules/office: delete failed"
    assert page.continuation is None
    assert [i.failed for i in page.items] == [True] + [False] * 7


def test_the_scaling_names_its_sizes_and_who_requested_it_and_says_it_is_inferred(recorded):
    [scaling] = [i for i in q.history(recorded, q.REDIS_CACHE, "contoso-sessions").items
                 if i.action == "Scaling"]
    assert scaling.what == "Scaling Succeeded: P1 → P2"
    assert scaling.who == "jane.doe@contoso.com (user) (inferred)"
    assert scaling.summary == (
        "Scaling Succeeded: P1 → P2; requested by jane.doe@contoso.com (user) from 203.0.113.24 (inferred: "
        "the nearest successful write on the cache, 19 min before; window 6 h)")
    requester = scaling.requested_by
    assert (requester.matched_by, requester.event_id, requester.operation, requester.caller.object_id) == (
        "time window", JANE_WRITE, "Microsoft.Cache/redis/write", "9a4c3b1e-6f2d-4e8a-9b7c-1d2e3f4a5b6c")
    assert (scaling.details["from_sku"], scaling.details["to_sku"]) == ("P1", "P2")
    assert scaling.details["attribution"] == requester.note
    body = scaling.to_dict()
    assert body["requested_by"]["caller"]["upn"] == "jane.doe@contoso.com"
    assert body["time"] == "2026-11-20T21:50:19.999566Z"


def test_an_azure_managed_redis_scale_names_its_sizes_and_who_requested_it(recorded):
    items = q.history(recorded, q.REDIS_CACHE, "contoso-amr").items
    [scale] = [i for i in items if i.requested_by is not None]
    assert (scale.kind, scale.action) == ("control-plane", "CreatedOrUpdated")
    assert scale.what.startswith("updated: sku Balanced_B5 → Balanced_B10")
    assert scale.who == "6d1f8c3a-2b4e-4f5a-9c8d-7e6f5a4b3c2d (service principal) (inferred)"
    assert not any(i.kind == "redis-operation" for i in items)  # Azure Managed Redis publishes none


@pytest.mark.parametrize(("writes", "expected"), [
    ([write(30, event_id="w1")], "w1"),
    ([write(30, event_id="older"), write(10, event_id="nearest")], "nearest"),
    ([write(10, event_id="failed", outcome="Failure"), write(40, event_id="succeeded")], "succeeded"),
    ([write(10, event_id="child", below="firewallRules/office"), write(40, event_id="cache")], "cache"),
    ([write(-1, event_id="after")], None),
    ([write(6 * 60 + 1, event_id="too-old")], None),
    ([write(6 * 60 - 1, event_id="within")], "within"),
    ([write(0, event_id="same-time")], "same-time"),
], ids=["one", "nearest", "not-failed", "not-child", "not-after", "not-beyond-window", "window", "same-time"])
def test_who_requested_a_scaling_is_the_nearest_successful_write_on_the_cache_before_it(store, send, writes,
                                                                                         expected):
    for event in writes:
        send(event)
    item = scaling_outcome(store, send)
    assert (item.requested_by.event_id if item.requested_by else None) == expected
    if expected is None:
        assert item.summary == "Scaling Succeeded; requested by: no matching write recorded"
        assert item.who is None


def test_a_correlation_id_matches_before_the_time_window(store, send):
    send(write(10, event_id="nearest", correlation="other"))
    send(write(50, event_id="same-operation", correlation="op-7"))
    by_id = cp.requested_by(store, SESSIONS_PARTITION, OUTCOME, correlation_id="op-7")
    assert (by_id.event_id, by_id.matched_by) == ("same-operation", "correlation id")
    assert by_id.note == "inferred: a write with the same correlation id"
    by_time = cp.requested_by(store, SESSIONS_PARTITION, OUTCOME, correlation_id="unknown")
    assert (by_time.event_id, by_time.matched_by) == ("nearest", "time window")


def test_history_pages_cover_every_item_once_in_order(recorded):
    whole = q.history(recorded, q.REDIS_CACHE, "contoso-sessions").items
    pages, token = [], None
    while True:
        page = q.history(recorded, q.REDIS_CACHE, "contoso-sessions", limit=3, continuation=token)
        pages.append(page.items)
        token = page.continuation
        if token is None:
            break
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [i.time for p in pages for i in p] == [i.time for i in whole]
    with pytest.raises(q.InvalidQuery, match="another question|other filters"):
        q.history(recorded, q.REDIS_CACHE, "contoso-amr", continuation=q.history(
            recorded, q.REDIS_CACHE, "contoso-sessions", limit=1).continuation)


def test_history_within_a_time_range(recorded):
    page = q.history(recorded, q.REDIS_CACHE, "contoso-sessions", time_range=q.time_range(
        "2026-11-20T21:31:08Z", "2026-11-20T21:50:19Z"))
    assert [i.time.isoformat() for i in page.items] == [
        "2026-11-20T21:50:18.773156+00:00", "2026-11-20T21:31:09.012000+00:00"]


def test_a_store_history_holds_its_control_plane_changes(recorded):
    items = q.history(recorded, q.APP_CONFIGURATION_STORE, "contoso").items
    assert [(i.action, i.resource, i.subject, i.what) for i in items][:4] == [
        ("Deleted", "contoso", "replicas/westus", "replicas/westus: deleted"),
        ("Delete", "contoso", "replicas/westus", "replicas/westus: delete succeeded"),
        ("Action", "contoso", None, "RegenerateKey failed"),
        ("CreatedOrUpdated", "contoso", None, "updated: disableLocalAuth false → true"),
    ]


def test_caches_of_both_generations_are_listed_and_accepted_by_name(recorded):
    caches = q.list_resources(recorded, q.REDIS_CACHE)
    assert [(c.name, c.product, c.resource_type) for c in caches] == [
        ("contoso-amr", "Azure Managed Redis", "Microsoft.Cache/redisEnterprise"),
        ("contoso-catalog", "Azure Cache for Redis", "Microsoft.Cache/Redis"),
        ("contoso-sessions", "Azure Cache for Redis", "Microsoft.Cache/Redis")]
    assert q.resolve(recorded, q.REDIS_CACHE, "CONTOSO-AMR").product == "Azure Managed Redis"
    assert q.cache_operations(recorded, "contoso-amr").items == []  # accepted; no Redis events exist
    [amr] = [s for s in q.last_scaling(recorded).items if s.cache == "contoso-amr"]
    assert (amr.last_scaling, amr.product) == (None, "Azure Managed Redis")
    with pytest.raises(q.UnknownResource, match="known caches: contoso-amr, contoso-catalog"):
        q.history(recorded, q.REDIS_CACHE, "nope")


def test_two_generations_sharing_a_name_have_one_history_naming_each(store, send):
    # Given a migration: an Azure Managed Redis cache created under the old cache's name
    migrate(send)
    items = q.history(store, q.REDIS_CACHE, "contoso-sessions").items
    assert [(i.kind, i.action, i.details.get("product")) for i in items] == [
        ("redis-operation", "Scaling", None), ("control-plane", "Write", "Azure Managed Redis")]
    # A write on the other generation's cache is never taken for the request of this one's scaling
    assert items[0].requested_by is None
    assert q.resolve(store, q.REDIS_CACHE, "contoso-sessions").product == "Azure Cache for Redis"
    # And the old cache's last scaling is not the new one's
    assert [(s.product, s.last_scaling is not None) for s in q.last_scaling(store).items] == [
        ("Azure Cache for Redis", True), ("Azure Managed Redis", False)]


def test_a_change_item_needs_only_the_row(recorded):
    [row] = [r for r in rows(recorded, CONTROL_PLANE_EVENTS) if r["EventId"] == JANE_WRITE]
    item = cp.change_item(row).to_dict()
    assert {k: item[k] for k in ("time", "kind", "resource", "resource_type", "action", "status", "summary",
                                 "what", "who", "failed")} == {
        "time": "2026-11-20T21:31:07.445927Z", "kind": "control-plane", "resource": "contoso-sessions",
        "resource_type": "RedisCache", "action": "Write", "status": "Success",
        "summary": "write succeeded by jane.doe@contoso.com (user) from 203.0.113.24",
        "what": "write succeeded", "who": "jane.doe@contoso.com (user)", "failed": False}
    assert item["details"]["caller"]["object_id"] == "9a4c3b1e-6f2d-4e8a-9b7c-1d2e3f4a5b6c"
    assert item["details"]["operation"] == "Microsoft.Cache/redis/write"


# --- in the merged timeline -------------------------------------------------------------------------

EVENING = q.time_range("2026-11-20T21:00Z", "2026-11-20T22:10Z")


def test_the_timeline_shows_control_plane_changes_with_redis_operations_in_one_chronology(recorded):
    page = q.timeline(recorded, time_range=EVENING)
    assert [(i.kind, i.resource, i.action, i.what, i.who) for i in page.items] == [
        ("control-plane", "contoso-sessions", "Action", "listKeys succeeded", "contoso-checkout (managed identity)"),
        ("redis-operation", "contoso-sessions", "Scaling", "Scaling Succeeded: P1 → P2",
         "jane.doe@contoso.com (user) (inferred)"),
        ("control-plane", "contoso-sessions", "CreatedOrUpdated", "updated: provisioningState Scaling → Succeeded",
         None),
        ("control-plane", "contoso-sessions", "CreatedOrUpdated", "updated: sku P1 → P2, provisioningState "
         "Succeeded → Scaling", "jane.doe@contoso.com (user) (inferred)"),
        ("control-plane", "contoso-sessions", "Write", "write succeeded", "jane.doe@contoso.com (user)"),
    ]
    assert "control-plane" in page.extra["sources"]
    # The caller of a change is a fact of its event; the requester of a scaling, an inference that says how
    write, scaling = page.items[4], page.items[1]
    assert write.summary == "write succeeded by jane.doe@contoso.com (user) from 203.0.113.24"
    assert write.details["caller"]["upn"] == "jane.doe@contoso.com" and write.client_ip == "203.0.113.24"
    assert scaling.requested_by.event_id == JANE_WRITE and scaling.requested_by.matched_by == "time window"
    assert scaling.details["attribution"].startswith("inferred: the nearest successful write on the cache")


def test_the_timeline_filters_control_plane_changes_by_resource_type_and_status(recorded):
    def ask(**filters) -> list[tuple[str, str, str | None, str]]:
        return [(i.resource, i.action, i.subject, i.status) for i in q.timeline(recorded, limit=100, **filters).items
                if i.kind == "control-plane"]

    # An Azure Managed Redis cache, and a store, by name (any casing)
    amr = ask(resources=["CONTOSO-AMR"])
    assert {r for r, *_ in amr} == {"contoso-amr"} and len(amr) == 10
    assert {r for r, *_ in ask(resources=["contoso"])} == {"contoso"}
    # By type: Resource Manager's Write/Delete/Action, Resource Notifications' CreatedOrUpdated/Deleted
    assert ask(resources=["contoso"], actions=["write"]) == [
        ("contoso", "Write", None, "Success"), ("contoso", "Write", "replicas/westus", "Cancel"),
        ("contoso", "Write", None, "Failure")]
    assert ask(resources=["contoso"], actions=["Deleted"]) == [("contoso", "Deleted", "replicas/westus", "Success")]
    # Failed is Outcome Failure, by the one status rule: never a Cancel
    failed = q.timeline(recorded, status="failed", limit=100)
    assert [(i.kind, i.resource, i.action, i.status) for i in failed.items] == [
        ("control-plane", "contoso-amr", "Delete", "Failure"), ("control-plane", "contoso-amr", "Action", "Failure"),
        ("control-plane", "contoso-amr", "Write", "Failure"), ("control-plane", "contoso", "Action", "Failure"),
        ("redis-operation", "contoso-catalog", "ExportRDB", "Failed"),
        ("control-plane", "contoso", "Write", "Failure"), ("control-plane", "contoso-sessions", "Delete", "Failure")]
    assert all(i.failed for i in failed.items)
    # A label or key leaves control-plane changes out, and says so
    assert q.timeline(recorded, label="x").extra["skipped"]["control-plane"] == "has no labels"


def test_caches_of_both_generations_sharing_a_name_are_both_in_the_timeline(store, send):
    migrate(send)
    items = q.timeline(store, resources=["contoso-sessions"]).items
    assert [(i.kind, i.action, i.details.get("product")) for i in items] == [
        ("redis-operation", "Scaling", None), ("control-plane", "Write", "Azure Managed Redis")]
    assert items[0].who is None and items[0].details["attribution"] == "no matching write recorded"


def test_the_api_and_the_command_show_control_plane_changes_in_the_timeline(recorded):
    body = get_json("/api/events", {"since": "2026-11-20T21:00Z", "until": "2026-11-20T22:10Z",
                                    "resource": "contoso-sessions", "type": "Write,Scaling"})
    assert [(i["kind"], i["action"], i["who"]) for i in body["items"]] == [
        ("redis-operation", "Scaling", "jane.doe@contoso.com (user) (inferred)"),
        ("control-plane", "Write", "jane.doe@contoso.com (user)")]
    assert body["items"][0]["requested_by"]["matched_by"] == "time window"
    assert body["items"][0]["what"] == "Scaling Succeeded: P1 → P2"
    assert body["items"][1]["details"]["caller"]["client_ip"] == "203.0.113.24"
    choices = get_json("/api/events/choices")
    assert {"Write", "Delete", "Action", "CreatedOrUpdated", "Deleted"} <= set(choices["types"])
    assert "contoso-amr" in {r["name"] for r in choices["resources"]}
    code, out, _ = run_cli("timeline", "--resource", "contoso-amr", "--type", "Write")
    assert code == 0
    assert out.splitlines()[0].split() == ["TIME", "(UTC)", "KIND", "RESOURCE", "WHAT", "WHO", "FROM"]
    assert "write failed" in out and "ravi.patel@contoso.com (user)" in out and "FAILED" in out


def test_last_scaling_pages_reach_every_cache_of_a_shared_name(store, send):
    # Given an Azure Cache for Redis and an Azure Managed Redis cache both called contoso-sessions,
    # and a cache whose name sorts before theirs
    migrate(send)
    send(load_sample("redis-eventgrid")[2])  # contoso-catalog
    everything = [(s.cache, s.product) for s in q.last_scaling(store).items]
    assert everything == [("contoso-catalog", "Azure Cache for Redis"),
                          ("contoso-sessions", "Azure Cache for Redis"), ("contoso-sessions", "Azure Managed Redis")]
    # When paged so that a page boundary falls between the two of one name, at every page size
    for limit in (1, 2):
        pages, token = [], None
        while True:
            page = q.last_scaling(store, limit=limit, continuation=token)
            pages += [(s.cache, s.product) for s in page.items]
            token = page.continuation
            if token is None:
                break
        # Then every cache is listed exactly once
        assert pages == everything, limit


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_cli_history_caches_and_store_changes(recorded):
    code, out, _ = run_cli("redis", "history", "contoso-sessions")
    assert code == 0
    [line] = [line for line in out.splitlines() if "Scaling Succeeded" in line]
    assert "Scaling Succeeded: P1 → P2" in line and "jane.doe@contoso.com (user) (inferred)" in line
    assert "203.0.113.24" in line
    _, out, _ = run_cli("redis", "caches")
    assert "contoso-amr       Azure Managed Redis" in out and "contoso-sessions  Azure Cache for Redis" in out
    _, out, _ = run_cli("redis", "last-scaling")
    assert "not published: see redis history" in out
    _, out, _ = run_cli("--json", "appconfig", "store-changes", "contoso", "--limit", "2")
    body = json.loads(out)
    assert [(i["kind"], i["action"]) for i in body["items"]] == [("control-plane", "Deleted"),
                                                                 ("control-plane", "Delete")]
    assert body["continuation"]
    code, _, err = run_cli("redis", "history", "nope")
    assert code == 3 and "unknown cache 'nope'" in err


def test_api_history_routes(recorded):
    body = get_json("/api/redis/caches/contoso-sessions/history", {"limit": "4"})
    assert [i["action"] for i in body["items"]] == ["Delete", "Patching", "Action", "Scaling"]
    assert body["items"][3]["requested_by"]["caller"]["upn"] == "jane.doe@contoso.com"
    more = get_json("/api/redis/caches/contoso-sessions/history", {"limit": "4", "continuation": body["continuation"]})
    assert len(more["items"]) == 4 and more["continuation"] is None
    store = get_json("/api/appconfig/stores/contoso/control-plane", {"since": "2026-11-21T09:00Z"})
    assert (store["items"][0]["resource"], store["items"][0]["subject"]) == ("contoso", "replicas/westus")
    assert get_json("/api/redis/caches/nope/history", status=404)["error"].startswith("unknown cache")
    assert "unknown parameter" in get_json("/api/redis/caches/contoso-amr/history", {"cache": "x"},
                                           status=400)["error"]


def test_the_demo_says_who_scaled_each_cache_from_which_size_to_which(recorded):
    out = io.StringIO()
    show_scalings(out)
    lines = out.getvalue().splitlines()
    assert lines[1] == (
        "Who scaled which cache, from which size to which (audit-log redis history <cache>)")
    assert lines[2].startswith("  contoso-amr (Azure Managed Redis), 2026-11-22 07:45:14.009Z: updated: sku "
                               "Balanced_B5 → Balanced_B10")
    assert "requested by 6d1f8c3a-2b4e-4f5a-9c8d-7e6f5a4b3c2d (service principal) from 4.208.26.199" in lines[2]
    assert lines[3].startswith("  contoso-sessions (Azure Cache for Redis), 2026-11-20 21:50:19.999Z: Scaling "
                               "Succeeded: P1 → P2; requested by jane.doe@contoso.com (user) from 203.0.113.24")
    assert len(lines) == 4
