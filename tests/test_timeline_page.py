"""The timeline page in a real headless Chromium, served with the API from data in Azurite.

A small local HTTP server hands each request to the app's own HTTP functions (as func.HttpRequest),
so the page, its API calls and the query layer run as they do under the Functions host.
Needs Debian's chromium and the playwright package (requirements-web-test.txt); without them the
test is skipped, except under CI, where it fails. A screenshot goes to artifacts/ (git-ignored).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.test_http_api import call
from tests.test_queries import kv_event, redis_event, snapshot_event
from tools.azurite import ROOT

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "artifacts"
FUNCTION_KEY = "local-test-key"
T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


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

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, dict[str, str]]] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: AppServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.answer("GET")

    def do_POST(self) -> None:  # noqa: N802
        self.answer("POST")

    def answer(self, method: str) -> None:
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.server.requests.append((parts.path, params))
        if not parts.path.startswith("/api/"):
            response_status, body, headers = 404, b"not found", {"Content-Type": "text/plain"}
        elif params.get("code") != FUNCTION_KEY:  # what auth level FUNCTION does under the host
            response_status, body, headers = 401, b"", {}
        else:
            response = call(parts.path, params, method)
            response_status, body = response.status_code, response.get_body()
            headers = dict(response.headers)
            if response.mimetype:
                headers["Content-Type"] = f"{response.mimetype}; charset={response.charset or 'utf-8'}"
        self.send_response(response_status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(store) -> Iterator[AppServer]:
    app_server = AppServer()
    thread = threading.Thread(target=app_server.serve_forever, daemon=True)
    thread.start()
    yield app_server
    app_server.shutdown()
    app_server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.foreign = []
    page.on("request", lambda request: None if request.url.startswith(server.base) else page.foreign.append(
        request.url))
    yield page
    context.close()


@pytest.fixture
def recorded(store, send):
    send(redis_event("contoso-sessions", minutes_ago(2), "ScalingCompleted", "Succeeded"))
    send(redis_event("contoso-sessions", minutes_ago(1), "PatchingCompleted", "Failed"))
    send(redis_event("contoso-catalog", minutes_ago(30), "ExportRDBCompleted", "Succeeded"))
    send(kv_event("contoso", "Checkout:Timeout", minutes_ago(3), label="Production"))
    send(kv_event("contoso", "<img src=x onerror=alert(1)>", minutes_ago(2)))
    send(snapshot_event("contoso", "release-1", minutes_ago(1.5)))
    send(kv_event("fabrikam", "Other:Setting", minutes_ago(1)))
    return store


def rows(page, table: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"#{table} tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))")


def wait_rows(page, table: str, count: int) -> list[list[str]]:
    page.wait_for_function("([table, count]) => document.querySelectorAll(`#${table} tbody tr`).length === count",
                           arg=[table, count])
    return rows(page, table)


def test_timeline_loads_shows_failures_and_filters_work(recorded, server, page):
    # Given the page, opened with the function key as the host expects
    page.goto(f"{server.base}/api/timeline?code={FUNCTION_KEY}")
    page.wait_for_selector("body[data-ready='1']")
    # Then the last week of Redis operations shows newest first, the failed one marked as failed
    redis_rows = wait_rows(page, "redis-table", 3)
    assert [(r[1], r[2], r[3]) for r in redis_rows] == [
        ("contoso-sessions", "Patching", "✕ Failed"), ("contoso-sessions", "Scaling", "Succeeded"),
        ("contoso-catalog", "ExportRDB", "Succeeded")]
    failed_row = page.locator("#redis-table tbody tr").first
    assert "failed" in failed_row.get_attribute("class")
    failed_color = failed_row.locator("td").first.evaluate("td => getComputedStyle(td).backgroundColor")
    ok_color = page.locator("#redis-table tbody tr").nth(1).locator("td").first.evaluate(
        "td => getComputedStyle(td).backgroundColor")
    assert failed_color != ok_color
    assert page.locator("#redis-table .badge.failed").count() == 1
    # And configuration changes of every store, with the snapshot, a key that looks like HTML as text
    config_rows = wait_rows(page, "config-table", 4)
    assert [(r[1], r[2], r[3]) for r in config_rows] == [
        ("fabrikam", "Modified", "Other:Setting"), ("contoso", "SnapshotCreated", "snapshot release-1"),
        ("contoso", "Modified", "<img src=x onerror=alert(1)>"), ("contoso", "Modified", "Checkout:Timeout")]
    assert config_rows[2][4] == "(no label)"
    assert page.locator("#config-table img").count() == 0 and page.dialogs == []

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "timeline.png"), full_page=True)

    # When one cache is chosen, only its operations remain; failed-only narrows to the failure
    page.select_option("#cache", "contoso-catalog")
    assert [r[1] for r in wait_rows(page, "redis-table", 1)] == ["contoso-catalog"]
    page.select_option("#cache", "")
    page.check("#failed")
    assert [r[3] for r in wait_rows(page, "redis-table", 1)] == ["✕ Failed"]
    page.uncheck("#failed")
    wait_rows(page, "redis-table", 3)
    # And a time range drops what is older
    page.fill("#since", "24h")
    page.click("#apply")
    assert [r[1] for r in wait_rows(page, "redis-table", 2)] == ["contoso-sessions", "contoso-sessions"]
    assert "since=24h" in page.url
    # And a store plus a key shows that key's history only
    page.select_option("#store", "contoso")
    wait_rows(page, "config-table", 3)
    page.fill("#key", "Checkout:Timeout")
    page.click("#apply")
    assert [(r[3], r[4]) for r in wait_rows(page, "config-table", 1)] == [("Checkout:Timeout", "Production")]
    # And a key without a store, or a malformed range, says what is wrong
    page.select_option("#store", "")
    page.wait_for_selector("#config-error:not([hidden])")
    assert "Choose a store" in page.text_content("#config-error")
    page.fill("#key", "")
    page.fill("#since", "yesterday")
    page.click("#apply")
    page.wait_for_selector("#redis-error:not([hidden])")
    assert "since 'yesterday' is not a time" in page.text_content("#redis-error")
    # Every API call carried the function key, and nothing was loaded from anywhere else
    api_calls = [params for path, params in server.requests if path.startswith("/api/")]
    assert api_calls and all(params.get("code") == FUNCTION_KEY for params in api_calls)
    assert page.foreign == []


def test_timeline_pages_with_load_more(recorded, server, page):
    page.goto(f"{server.base}/api/timeline?code={FUNCTION_KEY}&limit=2&since=7d")
    wait_rows(page, "redis-table", 2)
    assert page.is_visible("#redis-more")
    page.click("#redis-more")
    assert [r[2] for r in wait_rows(page, "redis-table", 3)] == ["Patching", "Scaling", "ExportRDB"]
    assert page.is_hidden("#redis-more-bar")


def test_timeline_says_when_nothing_matches(store, server, page):
    page.goto(f"{server.base}/api/timeline?code={FUNCTION_KEY}")
    page.wait_for_selector("#redis-empty:not([hidden])")
    page.wait_for_selector("#config-empty:not([hidden])")
    assert rows(page, "redis-table") == [] and rows(page, "config-table") == []
