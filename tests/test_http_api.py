"""The HTTP functions as the host indexes them, called with func.HttpRequest against Azurite data."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlencode

import azure.functions as func
import pytest

from eventaudit import http_api, settings
from eventaudit.storage import AuditStore, build_service_client
from tests.test_queries import kv_event, redis_event, snapshot_event
from tools.azurite import free_port
from tools.trigger import indexed_functions

API_PREFIX = "/api/"


def http_routes() -> list[tuple[re.Pattern[str], Any]]:
    """(path pattern, indexed function) of every HTTP trigger, as the host routes them."""
    routes = []
    for function in indexed_functions():
        trigger = function.get_trigger()
        if trigger.get_binding_name() == "httpTrigger":
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(trigger.route))
            routes.append((re.compile(f"^{pattern}$"), function))
    return routes


def call(path: str, params: Mapping[str, str] | None = None, method: str = "GET",
         headers: Mapping[str, str] | None = None) -> func.HttpResponse:
    """Route `path` (under /api/) to its function and call it as the worker would."""
    relative = path.removeprefix(API_PREFIX).strip("/")
    for pattern, function in http_routes():
        match = pattern.match(relative)
        if match:
            methods = [m.value if hasattr(m, "value") else m for m in function.get_trigger().methods]
            if method not in methods:
                return func.HttpResponse(status_code=405)
            request = func.HttpRequest(
                method, f"http://localhost{API_PREFIX}{relative}?{urlencode(params or {})}",
                params=dict(params or {}), headers=dict(headers or {}),
                route_params={k: unquote(v) for k, v in match.groupdict().items()}, body=b"")
            return function.get_user_function()(request)
    return func.HttpResponse(status_code=404)


def get_json(path: str, params: Mapping[str, str] | None = None, status: int = 200) -> Any:
    response = call(path, params)
    assert response.status_code == status, response.get_body()
    assert response.mimetype == "application/json"
    return json.loads(response.get_body())


def every_page(path: str, params: Mapping[str, str]) -> list[list[dict[str, Any]]]:
    pages, token = [], None
    while len(pages) < 50:
        body = get_json(path, {**params, **({"continuation": token} if token else {})})
        pages.append(body["items"])
        token = body["continuation"]
        if not token:
            return pages
    raise AssertionError("paging did not end")


@pytest.fixture
def recorded(store, send):
    for minute, (cache, status) in enumerate([("contoso-sessions", "Succeeded"), ("contoso-sessions", "Failed"),
                                              ("contoso-catalog", "Failed"), ("contoso-sessions", "Failed"),
                                              ("contoso-catalog", "Succeeded")]):
        send(redis_event(cache, minute, "ScalingCompleted" if minute % 2 else "ImportRDBCompleted", status))
    send(kv_event("contoso", "FeatureManagement/NewCheckout", 1))
    send(kv_event("contoso", "FeatureManagement/NewCheckout", 2, label="canary"))
    send(kv_event("contoso", "Checkout:Timeout", 3, label="Production"))
    send(kv_event("contoso", "Legacy:Conn", 4, deleted=True))
    send(snapshot_event("contoso", "release-1", 5))
    return store


def auth_level(trigger: Any) -> str:
    return str(getattr(trigger.auth_level, "value", trigger.auth_level)).lower()


def test_every_api_route_is_get_with_a_function_key_and_the_page_is_anonymous():
    routes = {f.get_function_name(): f.get_trigger() for _, f in http_routes()}
    assert {name for name in routes} >= {
        "audit_redis_cache_operations", "audit_redis_failures", "audit_redis_last_scaling",
        "audit_appconfig_key_history", "audit_appconfig_store_changes", "audit_appconfig_keys",
        "audit_appconfig_snapshots", "audit_events", "audit_event_choices", "audit_timeline"}
    for name, trigger in routes.items():
        # The page holds no data, and its URL must never need a key: anonymous in every mode
        assert auth_level(trigger) == ("anonymous" if name == "audit_timeline" else "function")
        assert [getattr(m, "value", m) for m in trigger.methods] == ["GET"]


def test_cache_operations_newest_first_with_filters(recorded):
    body = get_json("/api/redis/caches/Contoso-Sessions/operations")
    assert [(i["operation"], i["status"], i["event_time"]) for i in body["items"]] == [
        ("Scaling", "Failed", "2026-11-20T10:03:00Z"), ("Scaling", "Failed", "2026-11-20T10:01:00Z"),
        ("ImportRDB", "Succeeded", "2026-11-20T10:00:00Z")]
    assert body["continuation"] is None
    body = get_json("/api/redis/caches/contoso-sessions/operations",
                    {"operation": "ImportRDB", "since": "2026-11-20T10:00:00Z", "until": "2026-11-20T10:02Z"})
    assert [i["event_time"] for i in body["items"]] == ["2026-11-20T10:00:00Z"]


def test_paging_with_a_continuation_token(recorded):
    pages = every_page("/api/redis/operations", {"limit": "2"})
    assert [len(p) for p in pages] == [2, 2, 1]
    times = [i["event_time"] for p in pages for i in p]
    assert times == sorted(times, reverse=True) and len(set(times)) == 5
    pages = every_page("/api/appconfig/stores/contoso/changes", {"limit": "2"})
    assert [i["change"] for p in pages for i in p] == [
        "SnapshotCreated", "Deleted", "Modified", "Modified", "Modified"]


def test_failures_and_last_scaling(recorded):
    body = get_json("/api/redis/failures", {"since": "2026-11-20", "until": "2026-11-21"})
    assert [(i["cache"], i["failed"]) for i in body["items"]] == [
        ("contoso-sessions", True), ("contoso-catalog", True), ("contoso-sessions", True)]
    assert [i["cache"] for i in get_json("/api/redis/failures", {"cache": "contoso-catalog"})["items"]] == [
        "contoso-catalog"]
    body = get_json("/api/redis/last-scaling")
    assert [(i["cache"], i["last_scaling"] and i["last_scaling"]["event_time"]) for i in body["items"]] == [
        ("contoso-catalog", None), ("contoso-sessions", "2026-11-20T10:03:00Z")]


def test_appconfig_routes(recorded):
    history = get_json("/api/appconfig/stores/contoso/history", {"key": "FeatureManagement/NewCheckout"})
    assert [i["label"] for i in history["items"]] == ["canary", ""]
    no_label = get_json("/api/appconfig/stores/contoso/history",
                        {"key": "FeatureManagement/NewCheckout", "label": ""})
    assert [i["label"] for i in no_label["items"]] == [""]
    keys = get_json("/api/appconfig/stores/contoso/keys")
    assert [(i["key"], i["label"]) for i in keys["items"]] == [
        ("Checkout:Timeout", "Production"), ("FeatureManagement/NewCheckout", ""),
        ("FeatureManagement/NewCheckout", "canary")]
    keys = get_json("/api/appconfig/stores/contoso/keys", {"deleted": "true", "prefix": "Legacy"})
    assert [(i["key"], i["deleted"], i["last_change"]) for i in keys["items"]] == [("Legacy:Conn", True, "Deleted")]
    snapshots = get_json("/api/appconfig/stores/contoso/snapshots")
    assert [(i["snapshot"], i["change"]) for i in snapshots["items"]] == [("release-1", "SnapshotCreated")]
    assert get_json("/api/appconfig/stores/contoso/changes", {"snapshots": "false"})["items"][0]["change"] == "Deleted"
    assert [i["name"] for i in get_json("/api/appconfig/stores")["items"]] == ["contoso"]
    assert [i["name"] for i in get_json("/api/redis/caches")["items"]] == ["contoso-catalog", "contoso-sessions"]


@pytest.mark.parametrize(("path", "params", "message"), [
    ("/api/redis/failures", {"since": "yesterday"}, "since 'yesterday' is not a time"),
    ("/api/redis/failures", {"since": "2026-11-02", "until": "2026-11-01"}, "must be before until"),
    ("/api/redis/failures", {"limit": "5000"}, "limit must be a whole number from 1 to 1000"),
    ("/api/redis/failures", {"limit": "abc"}, "limit must be"),
    ("/api/redis/failures", {"continuation": "%%%"}, "continuation token is malformed"),
    ("/api/redis/failures", {"sinse": "24h"}, "unknown parameter 'sinse'"),
    ("/api/redis/caches/contoso-sessions/operations", {"operation": "Reboot"}, "operation 'Reboot' is not one of"),
    ("/api/appconfig/stores/contoso/history", {}, "key is required"),
    ("/api/appconfig/stores/contoso/history", {"key": ""}, "key is empty"),
    ("/api/appconfig/stores/contoso/keys", {"deleted": "maybe"}, "deleted must be true or false"),
    ("/api/appconfig/stores/contoso/changes", {"change": "Renamed"}, "change 'Renamed' is not one of"),
])
def test_bad_input_is_a_clear_400(recorded, path, params, message):
    body = get_json(path, params, status=400)
    assert message in body["error"]


def test_a_token_of_one_route_is_refused_by_another(recorded):
    token = get_json("/api/redis/operations", {"limit": "1"})["continuation"]
    body = get_json("/api/redis/failures", {"continuation": token}, status=400)
    assert "continuation token" in body["error"]


@pytest.mark.parametrize("name", ["nope", "contoso' or PartitionKey ne '", "' or 1 eq 1 or '", "@pk"])
def test_unknown_or_injected_names_are_404(recorded, name):
    body = get_json(f"/api/redis/caches/{name}/operations", status=404)
    assert "unknown cache" in body["error"] and body["known"] == ["contoso-catalog", "contoso-sessions"]
    body = get_json(f"/api/appconfig/stores/{name}/changes", status=404)
    assert body["known"] == ["contoso"]


@pytest.mark.parametrize("key", ["x' or Key ne 'x", "' or true or '", "FeatureManagement/NewCheckout' or '1' eq '1"])
def test_injected_keys_and_labels_are_data(recorded, key):
    assert get_json("/api/appconfig/stores/contoso/history", {"key": key})["items"] == []
    assert get_json("/api/appconfig/stores/contoso/history",
                    {"key": "FeatureManagement/NewCheckout", "label": key})["items"] == []
    assert get_json("/api/appconfig/stores/contoso/keys", {"prefix": key})["items"] == []


def test_empty_results_are_200_with_no_items(recorded):
    assert get_json("/api/redis/failures", {"since": "2030-01-01"}) == {"items": [], "continuation": None}
    assert get_json("/api/appconfig/stores/contoso/history", {"key": "never-set"})["items"] == []


def test_empty_tables_answer_empty_lists(store):
    assert get_json("/api/redis/caches") == {"items": [], "continuation": None}
    assert get_json("/api/redis/failures")["items"] == []
    assert get_json("/api/appconfig/changes")["items"] == []


def test_unreachable_storage_is_503(recorded, monkeypatch):
    dead = settings.StorageTarget(setting="test", connection_string=(
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"TableEndpoint=http://127.0.0.1:{free_port()}/devstoreaccount1;"))
    unreachable = AuditStore(build_service_client(dead, retry_total=0), "x")
    monkeypatch.setattr(http_api, "get_store", lambda: unreachable)
    response = call("/api/redis/failures")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "unavailable" in json.loads(response.get_body())["error"]


def test_timeline_page_is_served_self_contained():
    response = call("/api/timeline")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_body().decode("utf-8")
    assert "<title>" in page
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the page must not load anything from elsewhere"


def test_only_get_is_routed():
    assert call("/api/redis/failures", method="POST").status_code == 405

