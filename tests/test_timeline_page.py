"""The timeline page in a real headless Chromium, served with the API from data in Azurite.

A small local HTTP server hands each request to the app's own HTTP functions (as func.HttpRequest),
so the page, its API calls and the query layer run as they do under the Functions host. In front of
them it plays what runs in front of the app in Azure:
- "key" mode: the Functions host's auth level FUNCTION (a function key in x-functions-key or ?code=,
  else 401 with no body); the page route is anonymous.
- "entra" mode: App Service Authentication as documented (eventaudit/auth.py): /.auth/login/aad sets
  a session cookie and redirects to post_login_redirect_uri; requests with the cookie get
  X-MS-CLIENT-PRINCIPAL-ID/-NAME; client-sent X-MS-CLIENT-PRINCIPAL* headers are stripped; /.auth/me
  names the user. The app runs with AUDIT_API_AUTH=entra and WEBSITE_AUTH_ENABLED=True.
Needs Debian's chromium and the playwright package (requirements-web-test.txt); without them the
test is skipped, except under CI, where it fails. A screenshot goes to artifacts/ (git-ignored).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from eventaudit import auth, http_api
from tests.test_http_api import call
from tests.test_queries import T0, kv_event, redis_event, snapshot_event
from tests.valuehelpers import Changes, capture
from tools.azurite import ROOT

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "artifacts"
FUNCTION_KEY = "local-test-key"
SESSION_COOKIE = "AppServiceAuthSession"
USER = "alice@contoso.com"
# The incident: 2026-11-20 14:00-14:30 UTC (T0 is 10:00Z), i.e. minutes 240..270.
WINDOW = "since=2026-11-20T14:00Z&until=2026-11-20T14:30Z"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_browser() -> None:
    problems = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is missing (pip install -r requirements-web-test.txt)")
    if not Path(CHROMIUM).exists():
        problems.append(f"{CHROMIUM} is missing (apt-get install chromium)")
    if problems:
        message = "browser test cannot run: " + "; ".join(problems)
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


def minutes_ago(hours: float) -> float:
    """The `minutes` argument of the event builders for a time `hours` before now."""
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours) - T0).total_seconds() / 60


class AppServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mode: str = "key") -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.mode = mode
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.hang = threading.Event()  # set: /api/events never answers (until released)
        self.release = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: AppServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        # What the platform passes on: never a client's own principal headers (Easy Auth strips them)
        headers = {k: v for k, v in self.headers.items() if not k.lower().startswith("x-ms-client-principal")}
        signed_in = f"{SESSION_COOKIE}=" in self.headers.get("Cookie", "")
        self.server.requests.append((parts.path, params, headers))
        if parts.path == "/.auth/login/aad":
            return self.send(302, b"", {"Location": params.get("post_login_redirect_uri", "/"),
                                        "Set-Cookie": f"{SESSION_COOKIE}=session-1; Path=/; HttpOnly"})
        if parts.path == "/.auth/me":
            if self.server.mode != "entra":
                return self.send(404, b"", {})
            me = [{"provider_name": "aad", "user_id": USER}] if signed_in else []
            return self.send(200 if signed_in else 401, json.dumps(me).encode(),
                             {"Content-Type": "application/json"})
        if not parts.path.startswith("/api/"):
            return self.send(404, b"not found", {"Content-Type": "text/plain"})
        if parts.path != "/api/timeline":
            if self.server.mode == "key" and FUNCTION_KEY not in (headers.get("x-functions-key"),
                                                                  params.get("code")):
                return self.send(401, b"", {})  # what auth level FUNCTION does under the host
            if self.server.mode == "entra" and signed_in:
                headers.update({"X-MS-CLIENT-PRINCIPAL-ID": "8f2f6b4e-0d1c-4c3b-9a7e-1f2e3d4c5b6a",
                                "X-MS-CLIENT-PRINCIPAL-NAME": USER, "X-MS-CLIENT-PRINCIPAL-IDP": "aad"})
        if parts.path == "/api/events" and self.server.hang.is_set():
            self.server.release.wait(60)
        response = call(parts.path, params, "GET", headers)
        answer_headers = dict(response.headers)
        if response.mimetype:
            answer_headers["Content-Type"] = f"{response.mimetype}; charset={response.charset or 'utf-8'}"
        self.send(response.status_code, response.get_body(), answer_headers)

    def send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page gave up on a hung request

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(mode: str) -> Iterator[AppServer]:
    app_server = AppServer(mode)
    thread = threading.Thread(target=app_server.serve_forever, daemon=True)
    thread.start()
    yield app_server
    app_server.release.set()
    app_server.shutdown()
    app_server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def server(store) -> Iterator[AppServer]:
    yield from serve("key")


@pytest.fixture
def entra_server(store, monkeypatch) -> Iterator[AppServer]:
    monkeypatch.setattr(http_api, "AUTH", auth.index_time_policy({"AUDIT_API_AUTH": "entra"}))
    monkeypatch.setenv(auth.AUTH_ENABLED_SETTING, "True")
    yield from serve("entra")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, store):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, timezone_id="Europe/Berlin",
                                  locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.foreign = []
    page.on("request", lambda request: None if request.url.startswith("http://127.0.0.1:") else
            page.foreign.append(request.url))
    yield page
    context.close()


@pytest.fixture
def incident(store, send):
    """Between 14:00 and 14:30: operations of two caches and changes in three stores; others around."""
    send(redis_event("contoso-sessions", 200, "PatchingCompleted", "Succeeded"))
    send(redis_event("contoso-sessions", 251, "ScalingCompleted", "FAILED"))
    send(redis_event("contoso-catalog", 252, "ExportRDBCompleted", "Succeeded"))
    send(redis_event("contoso-catalog", 258, "ImportRDBCompleted", "Failure"))
    send(kv_event("contoso", "Checkout:Timeout", 253, label="Production"))
    send(kv_event("fabrikam", "<img src=x onerror=alert(1)>", 254))
    send(kv_event("northwind", "Legacy:Conn", 255, deleted=True))
    send(snapshot_event("contoso", "release-1", 256))
    send(kv_event("contoso", "Later:Setting", 300))
    return store


def rows(page) -> list[list[str]]:
    return page.eval_on_selector_all(
        "#events tbody tr.item", "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))")


def wait_rows(page, count: int) -> list[list[str]]:
    page.wait_for_function("count => document.querySelectorAll('#events tbody tr.item').length === count",
                           arg=count)
    return rows(page)


def enter_key(page, key: str = FUNCTION_KEY) -> None:
    page.wait_for_selector("#key-form:not([hidden])")
    page.fill("#key-input", key)
    page.click("#key-use")


def api_calls(server: AppServer) -> list[tuple[dict[str, str], dict[str, str]]]:
    return [(params, headers) for path, params, headers in server.requests
            if path.startswith("/api/") and path != "/api/timeline"]


def test_one_view_answers_the_incident_window_across_caches_and_stores(incident, server, page):
    # Given the page opened on the window, with no key yet: it asks for one, and keeps it out of the URL
    page.goto(f"{server.base}/api/timeline?{WINDOW}")
    enter_key(page)
    page.wait_for_selector("body[data-ready='1']")
    # Then one list holds every cache's and store's events of the window, newest first
    shown = wait_rows(page, 7)
    assert [(r[0], r[2], r[3]) for r in shown] == [
        ("2026-11-20 14:18:00", "Redis operation", "contoso-catalog"),
        ("2026-11-20 14:16:00", "Snapshot", "contoso"),
        ("2026-11-20 14:15:00", "Key change", "northwind"),
        ("2026-11-20 14:14:00", "Key change", "fabrikam"),
        ("2026-11-20 14:13:00", "Key change", "contoso"),
        ("2026-11-20 14:12:00", "Redis operation", "contoso-catalog"),
        ("2026-11-20 14:11:00", "Redis operation", "contoso-sessions")]
    # And local time stands beside UTC (the browser is in Berlin: UTC+1 in November)
    assert shown[0][1].startswith("20/11/2026, 15:18:00")
    # And failures are red whatever the stored spelling (FAILED, Failure), a key that looks like HTML is text
    failed = [r[3] + " " + r[4] for r in shown if r[6] == "✕ Failed"]
    assert failed == ["contoso-catalog ImportRDB Failure", "contoso-sessions Scaling FAILED"]
    # And a scaling says whether anyone was found to have requested it (here no write was recorded)
    assert shown[6][5] == "no matching write recorded" and shown[0][5] == ""
    assert "failed" in page.locator("#events tbody tr.item").first.get_attribute("class")
    assert shown[3][4] == "Modified <img src=x onerror=alert(1)> [(no label)]"
    assert page.locator("#events img").count() == 0 and page.dialogs == []
    # And event id, etag and sync token show on demand
    assert page.locator("tr.details").count() == 0
    page.locator("#events tbody tr.item").nth(4).locator(".details-toggle").click()
    details = page.text_content("tr.details")
    assert "ETag" in details and "etag-253" in details and "Sync token" in details and "x=y;sn=1" in details
    assert "Event id" in details and "Production" in details

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "timeline.png"), full_page=True)

    # The key travelled in a header, never in an address; the page's own URL holds only filters
    calls = api_calls(server)
    assert calls and all(h.get("x-functions-key") == FUNCTION_KEY and "code" not in p for p, h in calls
                         if h.get("x-functions-key"))
    assert FUNCTION_KEY not in page.url and "since=2026-11-20T14%3A00Z" in page.url.replace(":", "%3A")
    assert page.evaluate("sessionStorage.getItem('audit-timeline-function-key')") == FUNCTION_KEY
    assert page.foreign == []


def test_filters_narrow_the_merged_view_and_stay_in_the_url(incident, server, page):
    page.goto(f"{server.base}/api/timeline?{WINDOW}")
    enter_key(page)
    wait_rows(page, 7)
    # Failed only finds what is shown as failed, whatever the stored spelling
    page.check("#failed")
    assert [r[4] for r in wait_rows(page, 2)] == ["ImportRDB Failure", "Scaling FAILED"]
    assert "Key change (has no status)" in page.text_content("#skipped")
    page.uncheck("#failed")
    wait_rows(page, 7)
    # One cache or store, across kinds
    page.select_option("#resource", "contoso")
    assert [r[4] for r in wait_rows(page, 2)] == ["SnapshotCreated snapshot release-1",
                                                  "Modified Checkout:Timeout [Production]"]
    page.select_option("#resource", "")
    page.select_option("#type", "Deleted")
    assert [r[3] for r in wait_rows(page, 1)] == ["northwind"]
    page.select_option("#type", "")
    page.check("#nolabel")
    assert [r[3] for r in wait_rows(page, 2)] == ["northwind", "fabrikam"]
    page.uncheck("#nolabel")
    page.fill("#key", "Checkout:Timeout")
    page.click("#apply")
    assert [r[3] for r in wait_rows(page, 1)] == ["contoso"]
    assert "key=Checkout%3ATimeout" in page.url
    # A malformed range says what is wrong
    page.fill("#key", "")
    page.fill("#since", "yesterday")
    page.click("#apply")
    page.wait_for_selector("#error:not([hidden])")
    assert "since 'yesterday' is not a time" in page.text_content("#error")


def test_all_time_can_be_bookmarked(store, send, server, page):
    send(redis_event("contoso-sessions", minutes_ago(1), "ScalingCompleted", "Succeeded"))
    send(redis_event("contoso-sessions", minutes_ago(24 * 40), "PatchingCompleted", "Succeeded"))
    page.goto(f"{server.base}/api/timeline")
    enter_key(page)
    assert len(wait_rows(page, 1)) == 1  # the default: the last 7 days
    page.fill("#since", "")
    page.click("#apply")
    wait_rows(page, 2)
    assert "since=&" in page.url or page.url.endswith("since=")
    # Reloading the bookmarked address keeps "all time", not the default week
    page.goto(page.url)
    page.wait_for_selector("body[data-ready='1']")
    assert page.input_value("#since") == ""
    wait_rows(page, 2)
    assert "since" not in api_calls(server)[-1][0]


def test_the_default_view_shows_every_store_with_sixteen_and_more(store, send, server, page):
    for i in range(18):
        send(kv_event(f"store-{i:02d}", "App:Setting", minutes_ago(1 + i / 60)))
    page.goto(f"{server.base}/api/timeline")
    enter_key(page)
    shown = wait_rows(page, 18)
    assert sorted(r[3] for r in shown) == [f"store-{i:02d}" for i in range(18)]
    assert page.is_hidden("#error")


def test_a_hung_api_ends_in_a_timeout_message(incident, server, page):
    page.goto(f"{server.base}/api/timeline?{WINDOW}&timeout=1")
    enter_key(page)
    wait_rows(page, 7)
    server.hang.set()
    page.click("#apply")
    page.wait_for_selector("#error:not([hidden])", timeout=10_000)
    assert "did not answer within 1 s" in page.text_content("#error")
    assert page.text_content("#count") == ""  # no "loading…" left behind
    server.release.set()


def test_load_more_pages_through_the_window(incident, server, page):
    page.goto(f"{server.base}/api/timeline?{WINDOW}&limit=3")
    enter_key(page)
    wait_rows(page, 3)
    page.click("#more")
    wait_rows(page, 6)
    page.click("#more")
    assert len(wait_rows(page, 7)) == 7
    assert page.is_hidden("#more-bar")


def test_an_old_bookmark_with_a_key_moves_it_out_of_the_address(incident, server, page):
    page.goto(f"{server.base}/api/timeline?code={FUNCTION_KEY}&{WINDOW}")
    wait_rows(page, 7)
    assert "code=" not in page.url
    assert page.evaluate("sessionStorage.getItem('audit-timeline-function-key')") == FUNCTION_KEY
    # A wrong key is asked for again
    page.evaluate("sessionStorage.setItem('audit-timeline-function-key', 'wrong')")
    page.reload()
    page.wait_for_selector("#key-form:not([hidden])")
    assert "not accepted" in page.text_content("#key-message")


def test_nothing_matches_says_so(store, server, page):
    page.goto(f"{server.base}/api/timeline")
    enter_key(page)
    page.wait_for_selector("#empty:not([hidden])")
    assert rows(page) == []


def test_sign_in_with_entra_id_and_come_back_to_the_same_view(incident, entra_server, page):
    # Given the app in entra mode, opened on the incident window by someone not signed in
    page.goto(f"{entra_server.base}/api/timeline?{WINDOW}&failed=1")
    page.wait_for_selector("#sign-in:not([hidden])")
    link = page.get_attribute("#sign-in-link", "href")
    assert link == "/.auth/login/aad?post_login_redirect_uri=" + quote(
        f"/api/timeline?{WINDOW}&failed=1", safe="")
    assert rows(page) == [] and page.is_hidden("#key-form")
    # When they sign in, Easy Auth brings them back to the same view
    page.click("#sign-in-link")
    page.wait_for_selector("body[data-ready='1']")
    assert [r[4] for r in wait_rows(page, 2)] == ["ImportRDB Failure", "Scaling FAILED"]
    assert f"Signed in as {USER}" in page.text_content("#who")
    assert "/.auth/logout" in page.get_attribute("#who a", "href")
    # No secret anywhere in the address, and every API call went with the session, not a key
    assert "code=" not in page.url and all("x-functions-key" not in h for _, h in api_calls(entra_server))


def test_entra_mode_refuses_forged_principal_headers(incident, entra_server):
    # A client's own X-MS-CLIENT-PRINCIPAL-ID is stripped in front of the app, as Easy Auth does
    request = urllib.request.Request(f"{entra_server.base}/api/events?{WINDOW}",
                                     headers={"X-MS-CLIENT-PRINCIPAL-ID": "forged", "X-MS-CLIENT-PRINCIPAL-NAME": "x"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["signIn"].startswith("/.auth/login/aad?")


# --- control-plane changes, who requested a scaling, and values ------------------------------------------

def details_of(page, index: int) -> dict[str, str]:
    """Open the details of the index-th row and return them by name."""
    page.locator("#events tbody tr.item").nth(index).locator(".details-toggle").click()
    page.wait_for_selector("tr.details")
    found = page.eval_on_selector_all("tr.details dt", "dts => dts.map(dt => [dt.textContent, "
                                      "dt.nextElementSibling.textContent])")
    page.locator("#events tbody tr.item").nth(index).locator(".details-toggle").click()
    return dict(found)


def test_the_merged_view_shows_who_changed_a_cache_and_who_requested_its_scaling(recorded, server, page):
    page.goto(f"{server.base}/api/timeline?since=2026-11-20T21:00Z&until=2026-11-20T22:10Z")
    enter_key(page)
    shown = wait_rows(page, 5)
    # Then control-plane changes stand among Redis operations, with who made them (a fact of their event)
    assert [(r[2], r[3], r[4], r[5]) for r in shown] == [
        ("Control-plane change", "contoso-sessions", "listKeys succeeded", "contoso-checkout (managed identity)"),
        ("Redis operation", "contoso-sessions", "Scaling Succeeded: P1 → P2", "jane.doe@contoso.com (user) (inferred)"),
        ("Control-plane change", "contoso-sessions", "updated: provisioningState Scaling → Succeeded", ""),
        ("Control-plane change", "contoso-sessions", "updated: sku P1 → P2, provisioningState Succeeded → Scaling",
         "jane.doe@contoso.com (user) (inferred)"),
        ("Control-plane change", "contoso-sessions", "write succeeded", "jane.doe@contoso.com (user)")]
    # And the write's details name the caller's identity and address
    write = details_of(page, 4)
    assert "upn: jane.doe@contoso.com" in write["Caller"] and "client_ip: 203.0.113.24" in write["Caller"]
    assert write["Operation"] == "Microsoft.Cache/redis/write"
    # And the scaling's say who requested it, from which write, how it was matched, and the sizes
    page.locator("#events tbody tr.item").nth(1).locator(".details-toggle").click()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "timeline-control-plane.png"), full_page=True)
    page.locator("#events tbody tr.item").nth(1).locator(".details-toggle").click()
    scaling = details_of(page, 1)
    assert scaling["Requested by"] == "jane.doe@contoso.com (user) (inferred)"
    assert "Microsoft.Cache/redis/write" in scaling["Request"] and "matched by time window" in scaling["Request"]
    assert scaling["Requested by, how matched"].startswith("inferred: the nearest successful write on the cache")
    assert (scaling["From"], scaling["To"], scaling["Sizes from"]) == ("P1", "P2", "Resource Notifications")
    # And an Azure Managed Redis cache's view (by name) holds its control-plane changes
    page.select_option("#resource", "contoso-amr")
    page.fill("#since", "")
    page.fill("#until", "")
    page.click("#apply")
    amr = wait_rows(page, 10)
    assert {r[3] for r in amr} == {"contoso-amr"}
    [scale] = [r for r in amr if r[4].startswith("updated: sku Balanced_B5 → Balanced_B10")]
    assert scale[5] == "6d1f8c3a-2b4e-4f5a-9c8d-7e6f5a4b3c2d (service principal) (inferred)"
    assert [r[4] for r in amr if r[6] == "✕ Failed"] == [
        "databases/default: delete failed", "databases/default: regenerateKey failed", "write failed"]
    assert page.dialogs == [] and page.foreign == []


@pytest.fixture
def key_changes(values_env, standin):
    """Checkout:Timeout set to 30, then 45 (both captured), then 60 (not captured yet)."""
    changes = Changes(standin)
    changes.set("Checkout:Timeout", "30", "Production")
    changes.set("Checkout:Timeout", "45", "Production")
    changes.deliver()
    capture(values_env)
    changes.set("Checkout:Timeout", "60", "Production")
    changes.deliver()
    return values_env


def value_calls(server: AppServer) -> list[dict[str, str]]:
    return [params for path, params, _ in server.requests if path == "/api/appconfig/stores/contoso/values"]


def test_a_key_change_shows_its_value_before_and_after_on_demand(key_changes, server, page):
    page.goto(f"{server.base}/api/timeline")
    enter_key(page)
    shown = wait_rows(page, 3)
    assert [r[4] for r in shown] == ["Modified Checkout:Timeout [Production]"] * 3
    assert value_calls(server) == []  # nothing fetched before it is asked for
    # When the details of the change to 45 are opened
    page.locator("#events tbody tr.item").nth(1).locator(".details-toggle").click()
    page.wait_for_selector("tr.details .value-diff")
    details = page.text_content("tr.details")
    # Then they show the captured value before and after, and what changed
    assert page.text_content("tr.details dd.value-status") == "captured"
    assert page.text_content("tr.details dd.value-before") == '"30"'
    assert page.text_content("tr.details dd.value-after") == '"45"'
    assert page.text_content("tr.details dd.value-diff") == '"30" -> "45"'
    assert "ETag" in details
    # And closing and opening again asks nothing more
    toggle = page.locator("#events tbody tr.item").nth(1).locator(".details-toggle")
    toggle.click()
    toggle.click()
    page.wait_for_selector("tr.details .value-diff")
    assert len(value_calls(server)) == 1 and value_calls(server)[0]["label"] == "Production"
    toggle.click()
    # And the change not captured yet says so
    page.locator("#events tbody tr.item").nth(0).locator(".details-toggle").click()
    page.wait_for_function("() => document.querySelector('tr.details dd.value-status').textContent "
                           "!== 'loading value…'")
    assert page.text_content("tr.details dd.value-status").startswith("value not captured yet")
    assert page.locator("tr.details dd.value-before").count() == 0


def test_the_key_view_shows_the_keys_values_before_and_after(key_changes, server, page):
    page.goto(f"{server.base}/api/timeline?resource=contoso&key=Checkout%3ATimeout")
    enter_key(page)
    wait_rows(page, 3)
    page.wait_for_function("() => document.querySelectorAll('#value-changes tbody tr').length === 3")
    values = page.eval_on_selector_all(
        "#value-changes tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))")
    assert [(v[2], v[3], v[4], v[5], v[6]) for v in values] == [
        ("Production", "Modified", "", "", "value not captured yet"),
        ("Production", "Modified", '"30"', '"45"', '"30" -> "45"'),
        ("Production", "Modified", "(none)", '"30"', 'created: "30"')]
    page.locator("#events tbody tr.item").nth(1).locator(".details-toggle").click()
    page.wait_for_selector("tr.details .value-diff")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "timeline-values.png"), full_page=True)
    # Without a store, the page says what the key view needs
    page.select_option("#resource", "")
    page.wait_for_selector("#key-hint:not([hidden])")
    assert page.is_hidden("#values")
