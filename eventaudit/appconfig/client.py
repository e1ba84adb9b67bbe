"""Reading a store's revisions and key-values through the azure-appconfiguration SDK, within a budget.

Pages are requested with the SDK client's `send_request`, so every request goes through the SDK's
own pipeline: HMAC signing (connection string) or Entra tokens (DefaultAzureCredential), the sync
tokens given with `update_sync_token`, request ids. Two things `list_revisions` would not give:
values exactly as stored (the SDK re-encodes Key Vault references into its own model), and the
`Accept-Datetime` header on every page (the SDK sends it on the first page only).

The capture pass makes the SDK retry nothing itself (retry_total=0): a 429 stops the pass for that
store until `retry-after-ms` has passed, and every request counts against the store's budget.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.core.rest import HttpRequest

from eventaudit.appconfig.records import Revision
from eventaudit.appconfig.settings import CaptureSettings
from eventaudit.errors import AuditError

API_VERSION = "2023-11-01"  # GA; has /revisions, $select, Accept-Datetime (the SDK's own default is newer)
MAX_KEYS_PER_FILTER = 5  # REST kv.md: "limited to 5 CSV"
DATA_READER_ROLE = "App Configuration Data Reader"


class CaptureProblem(AuditError):
    """A store cannot be read now; `retry_after` says when to ask again."""

    def __init__(self, message: str, retry_after: dt.timedelta) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Throttled(CaptureProblem):
    """429: the store asked us to wait (retry-after-ms)."""


class NotAllowed(CaptureProblem):
    """401/403: the app's identity may not read the store; someone must grant a role."""


class Unavailable(CaptureProblem):
    """The store could not be reached, or failed (5xx)."""


class BadRequest(Unavailable):
    """400: the store refused the request itself (e.g. a continuation token it no longer accepts)."""


class BudgetSpent(AuditError):
    """The store's request budget for today is spent: the rest waits for tomorrow's."""


@dataclass
class Meter:
    """Counts the requests sent to one store (every answer, 429s included) and stops at `allowed`."""

    allowed: int
    sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve(self) -> None:
        with self._lock:
            if self.sent >= self.allowed:
                raise BudgetSpent(f"request budget spent ({self.sent} of {self.allowed})")
            self.sent += 1


_clients: dict[tuple[str, str | None], Any] = {}
_clients_lock = threading.Lock()


def client_for(settings: CaptureSettings, store_name: str, *, retries: int = 0) -> Any:
    """The SDK client of one store: its connection string if one is configured, else the app's Entra
    identity (DefaultAzureCredential; role App Configuration Data Reader on the store)."""
    from azure.appconfiguration import AzureAppConfigurationClient

    endpoint = settings.endpoint(store_name)
    connection_string = settings.connection_string(store_name)
    cache_key = (f"{endpoint}|{retries}", connection_string)
    with _clients_lock:
        client = _clients.get(cache_key)
        if client is None:
            options: dict[str, Any] = {"retry_total": retries, "connection_timeout": 10, "read_timeout": 30}
            if connection_string:
                client = AzureAppConfigurationClient.from_connection_string(connection_string, **options)
            else:
                client = AzureAppConfigurationClient(endpoint, default_credential(settings), **options)
            _clients[cache_key] = client
    return client


def default_credential(settings: CaptureSettings) -> Any:
    """The app's Entra identity: its managed identity in Azure, your az login locally."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=settings.client_id)


def forget_clients() -> None:
    with _clients_lock:
        _clients.clear()


class Listing:
    """The pages of /revisions (newest first) or /kv, until the last or the budget. Iterating again
    after an error resumes at the page that failed."""

    def __init__(
        self,
        client: Any,
        path: str,
        meter: Meter,
        *,
        key: str = "*",
        label: str = "*",
        at: dt.datetime | None = None,
        store_name: str = "",
        resume: str | None = None,
    ) -> None:
        self.client, self.meter, self.store_name = client, meter, store_name
        params = {"key": key, "label": label, "api-version": API_VERSION}
        # `resume`: the next page's link (`url`) that an earlier listing stopped at
        self.url: str | None = resume or f"{path}?{urlencode(params, quote_via=quote)}"
        self.headers = {"Accept": "application/vnd.microsoft.appconfig.kvset+json, application/problem+json"}
        if at is not None:
            # RFC 7089 Accept-Datetime, on every page; microseconds kept, as the SDK sends them.
            self.headers["Accept-Datetime"] = str(at.astimezone(dt.UTC))

    def __iter__(self) -> Iterator[list[Revision]]:
        while self.url:
            self.meter.reserve()
            try:
                response = self.client.send_request(HttpRequest("GET", self.url, headers=self.headers))
            except ClientAuthenticationError as exc:  # no Entra token (DefaultAzureCredential)
                raise NotAllowed(f"no Entra token to read store {self.store_name}: {_first_line(exc)}; "
                                 f"give the function app a managed identity, or locally set "
                                 f"AUDIT_APPCONFIG_CONNECTION_STRINGS", dt.timedelta(minutes=30)) from exc
            except AzureError as exc:
                raise Unavailable(f"store {self.store_name} is unreachable: {type(exc).__name__}: "
                                  f"{_first_line(exc)}", dt.timedelta(minutes=5)) from exc
            check(response, self.store_name)
            body = response.json()
            self.url = _with_api_version(body.get("@nextLink"))
            yield [Revision.from_json(item) for item in body.get("items", [])]


def pages(client: Any, path: str, meter: Meter, **options: Any) -> Listing:
    return Listing(client, path, meter, **options)


def check(response: Any, store_name: str) -> None:
    """Turn an error answer into the CaptureProblem that says what to do about it."""
    status = response.status_code
    if status < 400:
        return
    if status == 429:
        raise Throttled(f"store {store_name} throttled the capture (429)", retry_after(response.headers))
    if status in (401, 403):
        raise NotAllowed(
            f"store {store_name} refused to let the app read it ({status}): grant the function app's "
            f"managed identity the role '{DATA_READER_ROLE}' on the store (deploy.subscribe does), e.g. "
            f'az role assignment create --role "{DATA_READER_ROLE}" --assignee <principal id> '
            f"--scope <store resource id>; or fix its connection string",
            dt.timedelta(minutes=30),
        )
    problem = BadRequest if status == 400 else Unavailable
    raise problem(
        f"store {store_name} answered {status}: {response.text()[:300]}",
        retry_after(response.headers, dt.timedelta(minutes=5)),
    )


def retry_after(headers: Mapping[str, str], default: dt.timedelta = dt.timedelta(seconds=30)) -> dt.timedelta:
    """REST throttling.md: `retry-after-ms` (milliseconds); Retry-After (seconds) as a fallback."""
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001), ("Retry-After", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return dt.timedelta(seconds=max(float(value) * scale, 0.001))
            except ValueError:
                continue
    return default


def key_filter(keys: list[str]) -> str:
    """A filter naming these keys exactly (REST: `*`, `,` and `\\` are escaped with `\\`)."""
    return ",".join(_escape(k) for k in keys)


def _escape(text: str) -> str:
    return "".join("\\" + c if c in "*,\\" else c for c in text)


def _with_api_version(link: str | None) -> str | None:
    if not link:
        return None
    parts = urlsplit(link)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() != "api-version"]
    query.append(("api-version", API_VERSION))
    return f"{parts.path}?{urlencode(query, quote_via=quote)}"


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]
