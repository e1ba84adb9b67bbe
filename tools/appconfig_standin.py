"""A local STAND-IN for Azure App Configuration's data-plane REST API: only what this app uses.

It is not App Configuration and not Microsoft's emulator (a .NET container that cannot run here).
It serves `/kv`, `/kv/{key}`, `/locks/{key}` and `/revisions` over HTTP on a loopback port, so that
the real `azure-appconfiguration` SDK can be pointed at it with a connection string
(`Endpoint=http://127.0.0.1:<port>;Id=...;Secret=...`; the SDK accepts http endpoints there).

Each behaviour names its source. "REST" is the repository Azure/AppConfiguration, docs/REST/<file>;
"emulator" is Azure/AppConfiguration-Emulator, src/; "SDK" is azure-appconfiguration 1.10.
What it does not model is listed in docs/values.md.

It also plays the part of Event Grid's publisher: every change appends the KeyValueModified or
KeyValueDeleted event App Configuration would publish for it (`published_events`), with the etag
and sync token of the change, so tests and the demo can deliver events that match its revisions.

    python -m tools.appconfig_standin --port 8483      # run it alone (prints its connection string)
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import hashlib
import hmac
import itertools
import json
import secrets
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from tools.azurite import free_port

# REST versioning.md: api-version is required and must be one the service knows. The emulator's
# controllers list these (ApiVersion attributes); SDK 1.10 sends 2026-04-01 by default.
API_VERSIONS = frozenset(
    {
        "1.0",
        "2022-11-01-preview",
        "2023-05-01-preview",
        "2023-10-01",
        "2023-11-01",
        "2024-09-01",
        "2026-04-01",
    }
)
PAGE_SIZE = 100  # the service's page of items (docs/REST kv.md and revisions.md: paged; 100 per page)
HMAC_TTL = dt.timedelta(minutes=15)  # REST authentication/hmac.md: Date "can not be more than 15 min off"
KV_SIZE_LIMIT = 10_000  # learn.microsoft.com concept-key-value: key, value and attributes, 10,000 characters
MAX_FILTER_VALUES = 5  # REST kv.md / revisions.md: "limited to 5 CSV"
FIELDS = ("key", "label", "content_type", "value", "last_modified", "tags", "locked", "etag")
KV_MEDIA_TYPE = "application/vnd.microsoft.appconfig.kv+json; charset=utf-8"
KVSET_MEDIA_TYPE = "application/vnd.microsoft.appconfig.kvset+json; charset=utf-8"
PROBLEM = "application/problem+json; charset=utf-8"
NO_LABEL = "\0"  # REST kv.md: "\0" (url-encoded %00) names the key-value without label
READ_WRITE, READ_ONLY, NO_ACCESS = "read-write", "read-only", "none"
Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class Revision:
    """One revision of a key-value, as /revisions lists it (REST kv.md "Syntax")."""

    key: str
    label: str | None
    value: str | None
    content_type: str | None
    tags: dict[str, str]
    locked: bool
    last_modified: dt.datetime
    etag: str
    sn: int  # the store's sequence number when it was written (its sync token's sn)

    def to_json(self, fields: Iterable[str] = FIELDS) -> dict[str, Any]:
        full = {
            "etag": self.etag,
            "key": self.key,
            "label": self.label,
            "content_type": self.content_type,
            "value": self.value,
            "tags": self.tags,
            "locked": self.locked,
            "last_modified": self.last_modified.isoformat().replace("+00:00", "Z"),
        }
        return {name: full[name] for name in fields}


@dataclass(frozen=True)
class Deletion:
    key: str
    label: str | None
    at: dt.datetime
    sn: int


@dataclass
class AccessKey:
    """An access key of the store; `role` NO_ACCESS models an identity with no data-plane role (403)."""

    id: str
    secret: str  # base64, as the portal shows it (REST authentication/hmac.md: the secret is decoded)
    role: str = READ_WRITE


class Problem(Exception):
    """An error answer: problem+json body (REST kv.md "Filter Validation", throttling.md)."""

    def __init__(
        self,
        status: int,
        title: str,
        *,
        type_: str = "invalid-argument",
        name: str | None = None,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.body = {
            "type": f"https://azconfig.io/errors/{type_}",
            "title": title,
            "status": status,
            **({"name": name} if name else {}),
            **({"detail": detail} if detail else {}),
        }
        self.headers = headers or {}


@dataclass(frozen=True)
class Request:
    """A request the stand-in answered (what tests and the benchmark count)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int


@dataclass
class _State:
    revisions: list[Revision] = field(default_factory=list)  # oldest first
    deletions: list[Deletion] = field(default_factory=list)
    sn: int = 0


class AppConfigStandIn:
    """The stand-in store and its HTTP server (start/stop, or use as a context manager)."""

    def __init__(
        self,
        *,
        name: str = "contoso",
        port: int | None = None,
        retention: dt.timedelta = dt.timedelta(days=7),
        cache_seconds: float = 0.0,
        kv_size_limit: int = KV_SIZE_LIMIT,
        clock: Clock | None = None,
        resource_group: str = "platform-prod",
        subscription: str = "5b4b650e-28b9-4790-b3ab-ddbd88d727c4",
    ) -> None:
        self.name = name
        self.port = port or free_port()
        # Revisions are kept 7 days (Free, Developer) or 30 (Standard, Premium), configurable per store.
        self.retention = retention
        # REST consistency.md: without a Sync-Token the service may answer from a cache "up to a few
        # seconds" old. Changes younger than cache_seconds are invisible to a request whose tokens do
        # not cover them (0: always current).
        self.cache_seconds = cache_seconds
        self.kv_size_limit = kv_size_limit
        self.clock: Clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.resource_id = (
            f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
            f"microsoft.appconfiguration/configurationstores/{name}"
        )
        self.token_id = base64.b64encode(hashlib.sha256(name.encode()).digest()[:6]).decode()
        self.keys = [
            AccessKey("standin-rw", base64.b64encode(secrets.token_bytes(32)).decode()),
            AccessKey("standin-ro", base64.b64encode(secrets.token_bytes(32)).decode(), READ_ONLY),
        ]
        self.requests: list[Request] = []
        self.published_events: list[dict[str, Any]] = []
        self._state = _State()
        self._lock = threading.RLock()
        self._throttled: list[int] = []  # retry-after-ms of the next requests to throttle
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connection_string(self, key: AccessKey | None = None) -> str:
        key = key or self.keys[0]
        return f"Endpoint={self.endpoint};Id={key.id};Secret={key.secret}"

    def add_key(self, role: str) -> AccessKey:
        key = AccessKey(
            f"standin-{uuid.uuid4().hex[:8]}", base64.b64encode(secrets.token_bytes(32)).decode(), role
        )
        self.keys.append(key)
        return key

    def start(self) -> AppConfigStandIn:
        server = self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        server.daemon_threads = True
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="appconfig-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> AppConfigStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests use besides HTTP -------------------------------------------------------------

    def throttle(self, count: int = 1, retry_after_ms: int = 1000) -> None:
        """Answer the next `count` requests with 429 and this retry-after-ms (REST throttling.md)."""
        with self._lock:
            self._throttled.extend([retry_after_ms] * count)

    def import_key_values(self, items: Iterable[tuple[str, str | None, str]]) -> list[Revision]:
        """Write many (key, label, value) at once, as `az appconfig kv import` does through the API
        (one revision and one KeyValueModified event each), without an HTTP request per key."""
        with self._lock:
            return [self._write(key, label, value, None, {}, False) for key, label, value in items]

    def backdate(self, delta: dt.timedelta) -> None:
        """Make everything written so far `delta` older, as if that much time had passed."""
        with self._lock:
            state = self._state
            state.revisions = [replace(r, last_modified=r.last_modified - delta) for r in state.revisions]
            state.deletions = [replace(d, at=d.at - delta) for d in state.deletions]

    def count(self, path_prefix: str = "/", since: int = 0) -> int:
        """Requests answered (any status) whose path starts with `path_prefix`, after the first `since`."""
        with self._lock:
            return sum(1 for r in self.requests[since:] if r.path.startswith(path_prefix))

    def all_revisions(self) -> list[Revision]:
        with self._lock:
            return list(self._state.revisions)

    def sync_token(self, sn: int) -> str:
        """REST consistency.md: `<id>=<value>;sn=<sn>`; the value is opaque base64 (here it holds sn)."""
        return f"{self.token_id}={base64.b64encode(f'0:{sn}'.encode()).decode()};sn={sn}"

    # --- the store ---------------------------------------------------------------------------------

    def _retained(self, now: dt.datetime) -> list[Revision]:
        """Revisions not yet expired, newest first. The newest revision of each key-value is kept
        whatever its age (emulator ConfigurationSettings/KeyValueProvider.cs, QueryRevisions: only a
        revision behind a newer one of the same key-value is dropped once past its TTL)."""
        horizon = now - self.retention
        newest: set[tuple[str, str | None]] = set()
        kept = []
        for revision in reversed(self._state.revisions):
            kv = (revision.key, revision.label)
            if kv not in newest or revision.last_modified >= horizon:
                kept.append(revision)
            newest.add(kv)
        return kept

    def _visible(self, revisions: list[Revision], now: dt.datetime, tokens: dict[str, int]) -> list[Revision]:
        if not self.cache_seconds:
            return revisions
        covered = tokens.get(self.token_id, -1)
        fresh = now - dt.timedelta(seconds=self.cache_seconds)
        return [r for r in revisions if r.last_modified <= fresh or r.sn <= covered]

    def _state_at(self, at: dt.datetime | None, now: dt.datetime, tokens: dict[str, int]) -> list[Revision]:
        """Each key-value as it was at `at` (or now): its newest revision then, unless deleted after it."""
        revisions = self._visible(self._retained(now), now, tokens)
        when = at or now
        current: dict[tuple[str, str | None], Revision] = {}
        for revision in revisions:
            if revision.last_modified <= when:
                current.setdefault((revision.key, revision.label), revision)
        for deletion in self._state.deletions:
            kv = (deletion.key, deletion.label)
            found = current.get(kv)
            if found and found.last_modified <= deletion.at <= when and deletion.sn > found.sn:
                del current[kv]
        return sorted(current.values(), key=lambda r: (r.key, r.label or ""))

    def _current(self, key: str, label: str | None) -> Revision | None:
        return next(
            (
                r
                for r in self._state_at(None, self.clock(), {self.token_id: 1 << 62})
                if r.key == key and r.label == label
            ),
            None,
        )

    def _write(
        self,
        key: str,
        label: str | None,
        value: str | None,
        content_type: str | None,
        tags: dict[str, str],
        locked: bool,
    ) -> Revision:
        state = self._state
        state.sn += 1
        now = self.clock()
        if state.revisions and now <= state.revisions[-1].last_modified:
            now = state.revisions[-1].last_modified + dt.timedelta(microseconds=1)
        etag = base64.urlsafe_b64encode(secrets.token_bytes(20)).decode().rstrip("=")[:27]
        revision = Revision(key, label, value, content_type, dict(tags), locked, now, etag, state.sn)
        state.revisions.append(revision)
        self._publish("Microsoft.AppConfiguration.KeyValueModified", key, label, etag, state.sn, now)
        return revision

    def _delete(self, key: str, label: str | None) -> Revision | None:
        current = self._current(key, label)
        if current is None:
            return None
        state = self._state
        state.sn += 1
        now = max(self.clock(), current.last_modified + dt.timedelta(microseconds=1))
        # REST (sources-next.md): a delete adds no revision; KeyValueDeleted carries the deleted etag.
        state.deletions.append(Deletion(key, label, now, state.sn))
        self._publish("Microsoft.AppConfiguration.KeyValueDeleted", key, label, current.etag, state.sn, now)
        return current

    def _publish(
        self, event_type: str, key: str, label: str | None, etag: str, sn: int, at: dt.datetime
    ) -> None:
        """The event App Configuration publishes (event-grid source docs: data holds key, label, etag,
        syncToken; the subject is the key-value's URL)."""
        subject = f"https://{self.name}.azconfig.io/kv/{quote(key, safe='')}"
        if label is not None:
            subject += f"?label={quote(label, safe='')}"
        self.published_events.append(
            {
                "id": str(uuid.uuid4()),
                "topic": self.resource_id,
                "subject": subject,
                "eventType": event_type,
                "eventTime": at.isoformat().replace("+00:00", "Z"),
                "data": {"key": key, "label": label, "etag": etag, "syncToken": self.sync_token(sn)},
                "dataVersion": "1",
                "metadataVersion": "1",
            }
        )

    # --- HTTP --------------------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(target)
        path = unquote(split.path)
        query = _query(split.query)
        try:
            with self._lock:
                if self._throttled:
                    retry = self._throttled.pop(0)
                    raise Problem(
                        429,
                        "Resource utilization has surpassed the assigned quota",
                        type_="too-many-requests",
                        headers={"retry-after-ms": str(retry)},
                    )
            key = self._authenticate(method, target, headers, body)
            _check_api_version(query)
            status, out_headers, payload = self._route(method, path, query, headers, body, key)
        except Problem as problem:
            status, out_headers, payload = (
                problem.status,
                {"Content-Type": PROBLEM, **problem.headers},
                problem.body,
            )
            if status == 401:
                out_headers.setdefault("WWW-Authenticate", "HMAC-SHA256, Bearer")
        with self._lock:
            # REST consistency.md: "The service provides a Sync-Token header with each response."
            out_headers["Sync-Token"] = self.sync_token(self._state.sn)
            self.requests.append(Request(method, path, query, dict(headers), status))
        data = b"" if payload is None else json.dumps(payload).encode("utf-8")
        return status, out_headers, data

    def _authenticate(self, method: str, target: str, headers: dict[str, str], body: bytes) -> AccessKey:
        """REST authentication/hmac.md, checked in the emulator's order
        (Authentication.Hmac/HmacSha256CredentialValidator.cs): signed headers, date, credential,
        signature, content hash."""
        authorization = headers.get("authorization", "")
        scheme, _, credential = authorization.partition(" ")
        if scheme != "HMAC-SHA256":
            raise Problem(401, "Unauthorized", type_="unauthorized")
        token = _parse_hmac(credential)
        signed = [h for h in token.get("SignedHeaders", "").split(";")] if token.get("SignedHeaders") else []
        if not signed:
            raise _hmac_error("[Credential][SignedHeaders][Signature] is required")
        for name in signed:
            if not name or name.lower() not in headers:
                raise _hmac_error(f"Signed request header '{name}' is not provided")
        lowered = [h.lower() for h in signed]
        for required in ("host", "x-ms-content-sha256"):
            if required not in lowered:
                raise _hmac_error(f"{required} is required as a signed header")
        date_header = "x-ms-date" if "x-ms-date" in lowered else "date" if "date" in lowered else None
        if date_header is None:
            raise _hmac_error("Invalid access token date")
        sent = _parse_http_date(headers[date_header])
        if sent is None:
            raise _hmac_error("Invalid access token date")
        if abs(dt.datetime.now(dt.UTC) - sent) > HMAC_TTL:  # wall time: the client signs with its own clock
            raise _hmac_error("The access token has expired")
        key = next((k for k in self.keys if k.id == token.get("Credential")), None)
        if key is None:
            raise _hmac_error("Invalid Credential")
        string_to_sign = "\n".join([method.upper(), target, ";".join(headers[h.lower()] for h in signed)])
        expected = hmac.new(
            base64.b64decode(key.secret), string_to_sign.encode("ascii", "replace"), hashlib.sha256
        ).digest()
        try:
            given = base64.b64decode(token.get("Signature", ""), validate=True)
        except (binascii.Error, ValueError):
            given = b""
        if not hmac.compare_digest(expected, given):
            raise _hmac_error("Invalid Signature")
        if base64.b64encode(hashlib.sha256(body).digest()).decode() != headers.get("x-ms-content-sha256"):
            raise _hmac_error("Invalid content hash")
        return key

    def _route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes,
               key: AccessKey) -> tuple[int, dict[str, str], Any]:
        if key.role == NO_ACCESS:
            # An identity without App Configuration Data Reader/Owner gets 403 (stands in for Entra RBAC).
            raise Problem(
                403,
                "Forbidden",
                type_="forbidden",
                detail="The identity has no data-plane role on this store",
            )
        tokens = _sync_tokens(headers.get("sync-token", ""))
        now = self.clock()
        at = _accept_datetime(headers)
        if path == "/revisions" and method in ("GET", "HEAD"):
            return self._list(query, tokens, now, at, revisions=True)
        if path == "/kv" and method in ("GET", "HEAD"):
            return self._list(query, tokens, now, at, revisions=False)
        for prefix in ("/kv/", "/locks/"):
            if path.startswith(prefix) and len(path) > len(prefix):
                return self._key_value(method, prefix, path[len(prefix) :], query, headers, body, key)
        raise Problem(404, "Not Found", type_="not-found")

    def _list(
        self,
        query: dict[str, str],
        tokens: dict[str, int],
        now: dt.datetime,
        at: dt.datetime | None,
        *,
        revisions: bool,
    ) -> tuple[int, dict[str, str], Any]:
        key_filter = _filter("key", query.get("key"))
        label_filter = _filter("label", query.get("label"))
        if "tags" in query:
            raise Problem(
                400,
                "Invalid request parameter 'tags'",
                name="tags",
                detail="tag filters are not modelled by this stand-in",
            )
        fields = _select(query)
        after = _decode_after(query.get("after"))
        with self._lock:
            if revisions:
                # Newest first across keys: the order `az appconfig revision list` and
                # Get-AzAppConfigurationRevision show in their documented examples.
                items = self._visible(self._retained(now), now, tokens)
                if at is not None:
                    items = [r for r in items if r.last_modified <= at]
                items = [r for r in items if key_filter(r.key) and label_filter(r.label)]
                if after is not None:
                    if not after.isdigit():
                        raise Problem(
                            400, "Invalid request parameter 'After'", name="After", detail="invalid token"
                        )
                    items = [r for r in items if r.sn < int(after)]
                position = lambda r: str(r.sn)  # noqa: E731
            else:
                items = [
                    r for r in self._state_at(at, now, tokens) if key_filter(r.key) and label_filter(r.label)
                ]
                if after is not None:
                    items = [r for r in items if json.dumps([r.key, r.label or ""]) > after]
                position = lambda r: json.dumps([r.key, r.label or ""])  # noqa: E731
        page, more = items[:PAGE_SIZE], len(items) > PAGE_SIZE
        body: dict[str, Any] = {"items": [r.to_json(fields) for r in page]}
        headers = {"Content-Type": KVSET_MEDIA_TYPE}
        if more:
            # emulator Service/Filters/PaginationFilter.cs: the request's query with `after` replaced,
            # in a Link header and as @nextLink (SDK 1.10 follows @nextLink).
            next_query = {k: v for k, v in query.items() if k != "after"}
            next_query["after"] = base64.urlsafe_b64encode(position(page[-1]).encode()).decode()
            link = f"{'/revisions' if revisions else '/kv'}?{urlencode(next_query, quote_via=quote)}"
            body["@nextLink"] = link
            headers["Link"] = f'<{link}>; rel="next"'
        if at is not None:
            headers["Memento-Datetime"] = email.utils.format_datetime(at, usegmt=True)  # TimeGateFilter.cs
        return 200, headers, body

    def _key_value(self, method: str, prefix: str, key: str, query: dict[str, str], headers: dict[str, str],
                   body: bytes, access: AccessKey) -> tuple[int, dict[str, str], Any]:
        label = query.get("label")
        label = None if label in (None, NO_LABEL) else label
        write = method in ("PUT", "DELETE")
        if write and access.role != READ_WRITE:
            raise Problem(403, "Forbidden", type_="forbidden", detail="This access key is read-only")
        with self._lock:
            current = self._current(key, label)
            if method == "GET":
                if current is None:
                    raise Problem(404, "Not Found", type_="not-found")
                return 200, _kv_headers(current), current.to_json()
            if current is not None and not _matches(headers, current):
                raise Problem(412, "Precondition Failed", type_="precondition-failed")
            if current is None and headers.get("if-match"):
                raise Problem(412, "Precondition Failed", type_="precondition-failed")
            if prefix == "/locks/":
                if current is None:
                    raise Problem(404, "Not Found", type_="not-found")
                revision = self._write(
                    key, label, current.value, current.content_type, current.tags, method == "PUT"
                )
                return 200, _kv_headers(revision), revision.to_json()
            if current is not None and current.locked:
                raise Problem(
                    409,
                    f"Modifing key '{key}' is not allowed",
                    type_="key-locked",
                    name=key,
                    detail="The key is read-only. To allow modification unlock it first.",
                )
            if method == "DELETE":
                deleted = self._delete(key, label)
                return (200, _kv_headers(deleted), deleted.to_json()) if deleted else (204, {}, None)
            if method != "PUT":
                raise Problem(405, "Method Not Allowed", type_="method-not-allowed")
            document = _json_body(body)
            value, content_type = document.get("value"), document.get("content_type")
            tags = document.get("tags") or {}
            size = (
                len(key)
                + len(label or "")
                + len(value or "")
                + len(content_type or "")
                + sum(len(k) + len(v or "") for k, v in tags.items())
            )
            if size > self.kv_size_limit:
                raise Problem(
                    413,
                    "Request Entity Too Large",
                    type_="kv-too-large",
                    detail=f"key-value is {size} characters; the limit is {self.kv_size_limit}",
                )
            revision = self._write(key, label, value, content_type, tags, False)
            return 200, _kv_headers(revision), revision.to_json()


# --- parsing ----------------------------------------------------------------------------------------


def _query(text: str) -> dict[str, str]:
    pairs = parse_qsl(text, keep_blank_values=True)
    names = [name.lower() for name, _ in pairs]
    if names.count("api-version") > 1:
        raise Problem(400, "Ambiguous API version", name="api-version")
    # SDK QueryParamPolicy lower-cases names ($Select -> $select, After -> after); the service accepts both.
    return {name.lower(): value for name, value in pairs}


def _check_api_version(query: dict[str, str]) -> None:
    version = query.get("api-version")
    if version is None:
        raise Problem(
            400,
            "API version is not specified",
            name="api-version",
            detail="An API version is required, but was not specified.",
        )
    if version not in API_VERSIONS:
        raise Problem(
            400,
            "Unsupported API version",
            name="api-version",
            detail=f"The HTTP resource does not support the API version '{version}'.",
        )


def _filter(name: str, text: str | None) -> Callable[[str | None], bool]:
    """REST kv.md / revisions.md "Supported filters" as the current service takes them: omitted or `*`
    (any), exact names (up to 5, comma-separated), one `prefix*`, `\\0` (no label). `\\` escapes `*`,
    `,` and `\\`. The service dropped the older `*abc` and `*abc*` forms (SDK ListRevisionsOptions
    docs list only exact and prefix; the emulator's StringFilter has EqualsTo, Prefix, AnyOf, IsNull)."""
    if text is None or text == "*":
        return lambda value: True
    parts: list[tuple[str, bool]] = []  # (unescaped text, ends with a wildcard)
    current, escaped, wildcard = [], False, False
    for position, char in enumerate(text):
        if wildcard:
            raise Problem(
                400,
                f"Invalid request parameter '{name}'",
                name=name,
                detail=f"{name}({position}): Invalid character",
            )
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append(("".join(current), False))
            current = []
        elif char == "*":  # a wildcard ends the filter: any character after it is refused above
            wildcard = True
        else:
            current.append(char)
    if escaped:
        raise Problem(
            400,
            f"Invalid request parameter '{name}'",
            name=name,
            detail=f"{name}({len(text)}): Invalid escape sequence",
        )
    parts.append(("".join(current), wildcard))
    if wildcard and len(parts) > 1:
        raise Problem(
            400,
            f"Invalid request parameter '{name}'",
            name=name,
            detail=f"{name}: a wildcard cannot be combined with a list",
        )
    if len(parts) > MAX_FILTER_VALUES:
        raise Problem(
            400,
            f"Invalid request parameter '{name}'",
            name=name,
            detail=f"{name}: at most {MAX_FILTER_VALUES} comma-separated values",
        )
    if wildcard:
        prefix = parts[0][0]
        return lambda value: value is not None and value.startswith(prefix)
    wanted = {None if part == NO_LABEL else part for part, _ in parts}
    return lambda value: value in wanted


def _select(query: dict[str, str]) -> tuple[str, ...]:
    text = query.get("$select")
    if not text:
        return FIELDS
    fields = tuple(part.strip() for part in text.split(","))
    unknown = [f for f in fields if f not in FIELDS]
    if unknown:
        raise Problem(
            400,
            "Invalid request parameter '$select'",
            name="$select",
            detail=f"unknown field {unknown[0]!r}; known: {', '.join(FIELDS)}",
        )
    return fields


def _decode_after(token: str | None) -> str | None:
    if token is None:
        return None
    try:  # only a position this stand-in handed out: anything else is refused, not read as empty
        return base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Problem(
            400, "Invalid request parameter 'After'", name="After", detail="invalid token"
        ) from None


def _parse_http_date(text: str) -> dt.datetime | None:
    """RFC 1123 (REST hmac.md), ISO 8601, or what SDK 1.10 sends ("Dec, 04 2026 20:42:42.123456 GMT",
    _utils.get_current_utc_time; the service parses dates leniently, DateTimeOffset.TryParse)."""
    text = text.strip()
    for parse in (
        lambda t: email.utils.parsedate_to_datetime(t),
        lambda t: dt.datetime.strptime(t, "%b, %d %Y %H:%M:%S.%f GMT").replace(tzinfo=dt.UTC),
        lambda t: dt.datetime.fromisoformat(t.replace("Z", "+00:00")),
    ):
        try:
            value = parse(text)
        except (TypeError, ValueError, IndexError):
            continue
        if value is not None:
            return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None


def _accept_datetime(headers: dict[str, str]) -> dt.datetime | None:
    """REST kv.md / revisions.md "Time-Based Access" (RFC 7089 Accept-Datetime)."""
    text = headers.get("accept-datetime")
    if text is None:
        return None
    value = _parse_http_date(text)
    if value is None:
        raise Problem(400, "Invalid request header 'Accept-Datetime'", name="Accept-Datetime")
    return value.astimezone(dt.UTC)


def _sync_tokens(text: str) -> dict[str, int]:
    """REST consistency.md: `<id>=<value>[;sn=<sn>]`, comma-separated; the value identifies the version."""
    tokens: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        token_id, _, rest = part.partition("=")
        value = rest.split(";")[0]
        try:
            sn = int(base64.b64decode(value).decode().rpartition(":")[2])
        except (binascii.Error, ValueError, UnicodeDecodeError):
            continue
        tokens[token_id] = max(tokens.get(token_id, -1), sn)
    return tokens


def _parse_hmac(credential: str) -> dict[str, str]:
    """emulator Authentication.Hmac/HmacTokenParser.cs: name=value pairs split on '&' (or ',')."""
    token: dict[str, str] = {}
    for part in credential.replace(",", "&").split("&"):
        name, _, value = part.strip().partition("=")
        if name and name not in token:
            token[name] = value
    return token


def _hmac_error(description: str) -> Problem:
    """REST authentication/hmac.md "Errors": 401 with the reason in WWW-Authenticate."""
    return Problem(
        401,
        "Unauthorized",
        type_="unauthorized",
        detail=description,
        headers={
            "WWW-Authenticate": f'HMAC-SHA256 error="invalid_token" error_description="{description}", Bearer'
        },
    )


def _matches(headers: dict[str, str], current: Revision) -> bool:
    """REST kv.md "Set Key (Conditionally)": If-Match / If-None-Match with the etag or *."""
    if_match, if_none_match = headers.get("if-match"), headers.get("if-none-match")
    etag = f'"{current.etag}"'
    if if_match and if_match not in ("*", etag):
        return False
    return not (if_none_match and if_none_match in ("*", etag))


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        raise Problem(400, "Invalid request body", name="body") from None
    if not isinstance(document, dict):
        raise Problem(400, "Invalid request body", name="body")
    return document


def _kv_headers(revision: Revision) -> dict[str, str]:
    return {
        "Content-Type": KV_MEDIA_TYPE,
        "ETag": f'"{revision.etag}"',
        "Last-Modified": email.utils.format_datetime(revision.last_modified, usegmt=True),
    }


def _handler_for(standin: AppConfigStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate writes: without this, Nagle's algorithm and the
            # client's delayed ACK hold every answer back by 40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, out_headers, data = standin.handle(self.command, self.path, headers, body)
            self.send_response(status)
            for name, value in out_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    import argparse
    import time

    parser = argparse.ArgumentParser(
        prog="python -m tools.appconfig_standin", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--name", default="contoso", help="store name (default contoso)")
    args = parser.parse_args(argv)
    with AppConfigStandIn(name=args.name, port=args.port) as standin:
        print(f"App Configuration stand-in for store {standin.name!r} on {standin.endpoint}")
        print(f"AUDIT_APPCONFIG_ENDPOINTS={standin.name}={standin.endpoint}")
        print(f"AUDIT_APPCONFIG_CONNECTION_STRINGS={standin.connection_string()}")
        try:
            for _ in itertools.count():
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
