"""HTTP API of the audit log, and the timeline page: a Blueprint registered by function_app.

Every route is GET and answers JSON: {"items": [...], "continuation": "<token>" | null}. Pass
?continuation=<token> for the next page. Bad input answers 400, an unknown cache or store 404, storage
that is down or throttling 503 with Retry-After, and what waiting never heals (a wrong key, a missing
role, an unusable setting) 500 saying what to fix; errors are {"error": "...", "retryable": ...}.
The questions are those of the shared query layer (eventaudit.queries).

Who may ask (AUDIT_API_AUTH, read when the app is indexed; see auth.py): "key" (default) puts the
API routes at auth level FUNCTION, so the host wants a function key (x-functions-key header);
"entra" puts them at ANONYMOUS and the app itself refuses a request that App Service Authentication
did not sign in. The page itself holds no data and is always served anonymously: it asks for the key
(kept in sessionStorage) or shows a sign-in link, so its URL never carries a secret.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import azure.functions as func

from eventaudit import auth
from eventaudit.errors import ConfigurationError, StorageError, TransientStorageError
from eventaudit.storage import get_store

logger = logging.getLogger(__name__)


class _LazyModule:
    """A module imported on first attribute use: the Event Grid trigger's cold start never pays for it."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


if TYPE_CHECKING:
    from eventaudit import queries as q
else:
    q = _LazyModule("eventaudit.queries")  # the query layer, loaded by the first HTTP request

AUTH = auth.index_time_policy()
# The app's own http_auth_level applies to routes that name none (azure-functions' FunctionApp.get_functions
# builds with it, not with a blueprint's), so every route here names its level: api_route, or the page's.
bp = func.Blueprint()


def api_route(route: str) -> Callable[..., Any]:
    """A GET route of the API, at the auth level AUDIT_API_AUTH asks for. Its function must answer()."""
    return bp.route(route=route, methods=["GET"], auth_level=AUTH.level)

TIMELINE_PAGE = Path(__file__).resolve().parent / "web" / "timeline.html"
# A script may still send the function key as ?code= (the host accepts it); never needed by the page.
ALWAYS_ALLOWED = frozenset({"code"})
RETRY_AFTER_SECONDS = "5"
PAGED = ("limit", "continuation")
RANGED = ("since", "until")
JSON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# The page loads nothing from elsewhere: its script and style are inline, its data from this app.
PAGE_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
               "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
               "frame-ancestors 'none'")

PAGE_HEADERS = {"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

Question = Callable[[Any, dict[str, str], Mapping[str, str]], Any]


def json_response(status: int, body: Any) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, ensure_ascii=False), status_code=status,
                             mimetype="application/json", charset="utf-8", headers=dict(JSON_HEADERS))


def answer(req: func.HttpRequest, allowed: tuple[str, ...], question: Question) -> func.HttpResponse:
    """Check the caller and the parameters, ask the question, and turn the answer or error into JSON."""
    refusal = AUTH.refusal(req)
    if refusal is not None:
        status, body = refusal
        response = json_response(status, body)
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response
    try:
        params = {name: value for name, value in req.params.items() if name not in ALWAYS_ALLOWED}
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise q.InvalidQuery(f"unknown parameter {unknown[0]!r}; this route accepts: "
                                 f"{', '.join(allowed) or 'no parameters'}")
        result = question(get_store(), params, req.route_params)
        return json_response(200, result.to_dict())
    except q.InvalidQuery as exc:
        return json_response(400, {"error": str(exc)})
    except q.UnknownResource as exc:
        return json_response(404, {"error": str(exc), "known": exc.known})
    except TransientStorageError as exc:
        logger.warning("Audit query failed on storage, for now: %s", exc)
        response = json_response(503, {"error": f"audit storage is unavailable: {exc}", "retryable": True})
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    except (StorageError, ConfigurationError) as exc:
        # Waiting never heals these: the message says what to fix (a key, a role, a setting).
        logger.error("Audit query cannot read storage: %s", exc)
        return json_response(500, {"error": str(exc), "retryable": False})


def paging(params: Mapping[str, str], *, ranged: bool = True) -> dict[str, Any]:
    options: dict[str, Any] = {"limit": q.check_limit(params.get("limit", q.DEFAULT_LIMIT)),
                               "continuation": params.get("continuation") or None}
    if ranged:
        options["time_range"] = q.time_range(params.get("since"), params.get("until"))
    return options


def flag(params: Mapping[str, str], name: str, default: bool) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise q.InvalidQuery(f"{name} must be true or false, got {value[:20]!r}")


def names(params: Mapping[str, str], name: str) -> list[str] | None:
    """A comma-separated list of cache or store names, or None for all."""
    value = params.get(name)
    if not value:
        return None
    return [part.strip() for part in value.split(",") if part.strip()] or None


class Listing:
    def __init__(self, items: list[q.Resource]) -> None:
        self.items = items

    def to_dict(self) -> dict[str, Any]:
        return {"items": [item.to_dict() for item in self.items], "continuation": None}


# --- Redis ------------------------------------------------------------------------------------------

@bp.function_name("audit_redis_caches")
@api_route("redis/caches")
def redis_caches(req: func.HttpRequest) -> func.HttpResponse:
    return answer(req, (), lambda store, p, r: Listing(q.list_resources(store, q.REDIS_CACHE)))


@bp.function_name("audit_redis_cache_operations")
@api_route("redis/caches/{cache}/operations")
def redis_cache_operations(req: func.HttpRequest) -> func.HttpResponse:
    return answer(req, ("operation", "status", *RANGED, *PAGED), lambda store, p, r: q.cache_operations(
        store, r["cache"], operation=p.get("operation"), status=p.get("status"), **paging(p)))


@bp.function_name("audit_redis_operations")
@api_route("redis/operations")
def redis_operations(req: func.HttpRequest) -> func.HttpResponse:
    allowed = ("cache", "operation", "status", *RANGED, *PAGED)
    return answer(req, allowed, lambda store, p, r: q.recent_operations(
        store, caches=names(p, "cache"), operation=p.get("operation"), status=p.get("status"), **paging(p)))


@bp.function_name("audit_redis_failures")
@api_route("redis/failures")
def redis_failures(req: func.HttpRequest) -> func.HttpResponse:
    return answer(req, ("cache", *RANGED, *PAGED), lambda store, p, r: q.failed_operations(
        store, caches=names(p, "cache"), **paging(p)))


@bp.function_name("audit_redis_last_scaling")
@api_route("redis/last-scaling")
def redis_last_scaling(req: func.HttpRequest) -> func.HttpResponse:
    return answer(req, PAGED, lambda store, p, r: q.last_scaling(store, **paging(p, ranged=False)))


@bp.function_name("audit_redis_cache_history")
@api_route("redis/caches/{cache}/history")
def redis_cache_history(req: func.HttpRequest) -> func.HttpResponse:
    """Redis events and control-plane changes of a cache (both generations), newest first."""
    return answer(req, (*RANGED, *PAGED), lambda store, p, r: q.history(
        store, q.REDIS_CACHE, r["cache"], **paging(p)))


# --- App Configuration ------------------------------------------------------------------------------

@bp.function_name("audit_appconfig_stores")
@api_route("appconfig/stores")
def appconfig_stores(req: func.HttpRequest) -> func.HttpResponse:
    return answer(req, (), lambda store, p, r: Listing(q.list_resources(store, q.APP_CONFIGURATION_STORE)))


@bp.function_name("audit_appconfig_key_history")
@api_route("appconfig/stores/{store}/history")
def appconfig_key_history(req: func.HttpRequest) -> func.HttpResponse:
    """?key=<key> (keys may hold '/', so not a path segment); &label= for no label, absent for all."""

    def question(store: Any, p: Mapping[str, str], r: Mapping[str, str]) -> Any:
        if "key" not in p:
            raise q.InvalidQuery("key is required: ?key=<key>")
        return q.key_history(store, r["store"], p["key"], label=p.get("label"), **paging(p))

    return answer(req, ("key", "label", *RANGED, *PAGED), question)


@bp.function_name("audit_appconfig_store_changes")
@api_route("appconfig/stores/{store}/changes")
def appconfig_store_changes(req: func.HttpRequest) -> func.HttpResponse:
    return answer(req, ("change", "snapshots", *RANGED, *PAGED), lambda store, p, r: q.store_changes(
        store, r["store"], change=p.get("change"), include_snapshots=flag(p, "snapshots", True), **paging(p)))


@bp.function_name("audit_appconfig_changes")
@api_route("appconfig/changes")
def appconfig_changes(req: func.HttpRequest) -> func.HttpResponse:
    allowed = ("store", "change", "snapshots", *RANGED, *PAGED)
    return answer(req, allowed, lambda store, p, r: q.recent_changes(
        store, stores=names(p, "store"), change=p.get("change"), include_snapshots=flag(p, "snapshots", True),
        **paging(p)))


@bp.function_name("audit_appconfig_keys")
@api_route("appconfig/stores/{store}/keys")
def appconfig_keys(req: func.HttpRequest) -> func.HttpResponse:
    return answer(req, ("deleted", "prefix", *PAGED), lambda store, p, r: q.current_keys(
        store, r["store"], include_deleted=flag(p, "deleted", False), prefix=p.get("prefix") or None,
        **paging(p, ranged=False)))


@bp.function_name("audit_appconfig_snapshots")
@api_route("appconfig/stores/{store}/snapshots")
def appconfig_snapshots(req: func.HttpRequest) -> func.HttpResponse:
    return answer(req, ("snapshot", *RANGED, *PAGED), lambda store, p, r: q.snapshot_events(
        store, r["store"], snapshot=p.get("snapshot") or None, **paging(p)))


@bp.function_name("audit_appconfig_store_control_plane")
@api_route("appconfig/stores/{store}/control-plane")
def appconfig_store_control_plane(req: func.HttpRequest) -> func.HttpResponse:
    """Control-plane changes of a store (SKU, local auth, purge protection, replicas, keys), newest first."""
    return answer(req, (*RANGED, *PAGED), lambda store, p, r: q.control_plane_history(
        store, q.APP_CONFIGURATION_STORE, r["store"], **paging(p)))


@bp.function_name("audit_appconfig_values")
@api_route("appconfig/stores/{store}/values")
def appconfig_values(req: func.HttpRequest) -> func.HttpResponse:
    """?key=<key>[&label=]: each change's value before -> after (and diff), newest first, with the
    store's capture state; &at=<time>: the key as it was then (one item per label)."""

    def question(store: Any, p: Mapping[str, str], r: Mapping[str, str]) -> Any:
        if "key" not in p:
            raise q.InvalidQuery("key is required: ?key=<key>")
        if p.get("at"):
            at = q.parse_time(p["at"], name="at")
            return q.value_at(store, r["store"], p["key"], at, label=p.get("label"))
        return q.value_history(store, r["store"], p["key"], label=p.get("label"), **paging(p))

    return answer(req, ("key", "label", "at", *RANGED, *PAGED), question)


# --- everything, merged ---------------------------------------------------------------------------------

@bp.function_name("audit_events")
@api_route("events")
def events(req: func.HttpRequest) -> func.HttpResponse:
    """The merged chronology: ?since=&until= and resource=a,b type=Scaling,Deleted label= key= status=."""
    allowed = ("resource", "type", "label", "key", "status", *RANGED, *PAGED)
    return answer(req, allowed, lambda store, p, r: q.timeline(
        store, resources=names(p, "resource"), actions=names(p, "type"), label=p.get("label"),
        key=p.get("key") or None, status=p.get("status") or None, **paging(p)))


@bp.function_name("audit_event_choices")
@api_route("events/choices")
def event_choices(req: func.HttpRequest) -> func.HttpResponse:
    """What the timeline's filters accept: the recorded caches and stores, and the types."""
    return answer(req, (), lambda store, p, r: Choices(q.known_resources(store), q.all_actions()))


class Choices:
    def __init__(self, resources: list[q.Resource], types: list[str]) -> None:
        self.resources = resources
        self.types = types

    def to_dict(self) -> dict[str, Any]:
        return {"resources": [resource.to_dict() for resource in self.resources], "types": self.types,
                "kinds": [source.kind for source in q.SOURCES]}


# --- the page -----------------------------------------------------------------------------------------

@bp.function_name("audit_timeline")
@bp.route(route="timeline", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def timeline(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(TIMELINE_PAGE.read_bytes(), status_code=200, mimetype="text/html",
                             charset="utf-8", headers=PAGE_HEADERS)
