"""Shared fixtures: one real Azurite per test session, and a fresh table prefix per test."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from eventaudit import settings, storage
from eventaudit.storage import AuditStore, build_service_client
from eventaudit.storage.tables import ALL_TABLES
from tests.harness import point_app_at
from tools.appconfig_standin import AppConfigStandIn
from tools.azurite import Azurite
from tools.trigger import deliver

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "events"


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """A real Azurite Table service on a free loopback port, in memory."""
    with Azurite() as server:
        yield server


@pytest.fixture
def table_prefix() -> str:
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def app_env(azurite: Azurite, table_prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AuditStore]:
    """Point the app's settings at Azurite with this test's prefix; yields the app's own store."""
    point_app_at(monkeypatch, azurite.connection_string, table_prefix)
    store = storage.get_store()
    yield store
    storage.reset_store()
    for name in ALL_TABLES:
        store.service.delete_table(store.table_name(name))


@pytest.fixture
def store(app_env: AuditStore) -> AuditStore:
    return app_env


@pytest.fixture
def make_store(azurite: Azurite, table_prefix: str) -> Callable[..., AuditStore]:
    """A separate AuditStore on the test's tables (e.g. a second scaled-out instance)."""

    def make(**client_options: Any) -> AuditStore:
        target = settings.StorageTarget(setting="test", connection_string=azurite.connection_string)
        return AuditStore(build_service_client(target, **client_options), table_prefix)

    return make


def load_sample(name: str) -> list[dict[str, Any]]:
    """The events of samples/events/<name>.json."""
    content = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return content if isinstance(content, list) else [content]


def rows(store: AuditStore, table: str, query: str | None = None, **parameters: Any) -> list[dict[str, Any]]:
    """Every entity of a table (none if the table was never created), or those matching `query`."""
    client = store.table(table)
    try:
        if query is None:
            return [dict(e) for e in client.list_entities()]
        return [dict(e) for e in client.query_entities(query, parameters=parameters)]
    except ResourceNotFoundError:
        return []


@pytest.fixture
def send(app_env: AuditStore) -> Callable[[dict[str, Any]], None]:
    """Deliver one raw event through the trigger function, decoded as the worker decodes it."""
    return deliver


@pytest.fixture
def recorded(app_env: AuditStore, send: Callable[[dict[str, Any]], None]) -> AuditStore:
    """The samples delivered: Redis events, and control-plane changes of caches (both generations) and
    stores."""
    for name in ("redis-eventgrid", "control-plane-eventgrid", "control-plane-cloudevents"):
        for event in load_sample(name):
            send(event)
    return app_env


@pytest.fixture(autouse=True)
def no_entra_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests reach App Configuration only through the stand-in: DefaultAzureCredential would probe the
    instance metadata endpoint (a non-loopback address), so a store without a connection string fails."""
    from azure.core.exceptions import ClientAuthenticationError

    class NoToken:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            raise ClientAuthenticationError("tests have no Entra identity")

    monkeypatch.setattr("eventaudit.appconfig.client.default_credential", lambda settings: NoToken())


@pytest.fixture
def standin() -> Iterator[AppConfigStandIn]:
    """The App Configuration stand-in (tools/appconfig_standin.py) for store "contoso", on a free port."""
    with AppConfigStandIn() as server:
        yield server


@pytest.fixture
def values_env(app_env: AuditStore, standin: AppConfigStandIn,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[AuditStore]:
    """The app on Azurite (app_env) reading store "contoso" from the stand-in with its connection string."""
    from eventaudit.appconfig import client as appconfig_client
    from eventaudit.appconfig import settings as capture_settings

    monkeypatch.setenv(capture_settings.ENDPOINTS_SETTING, f"contoso={standin.endpoint}")
    monkeypatch.setenv(capture_settings.CONNECTION_STRINGS_SETTING, standin.connection_string())
    for name in (capture_settings.BUDGET_SETTING, capture_settings.KEEP_SETTING,
                 capture_settings.REDACT_SETTING, capture_settings.RETENTION_SETTING):
        monkeypatch.delenv(name, raising=False)
    appconfig_client.forget_clients()
    yield app_env
    appconfig_client.forget_clients()
