"""Test plumbing: printing figures, pointing the app at a storage endpoint, emptying the tables."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from eventaudit import settings, storage
from eventaudit.storage import AuditStore
from eventaudit.storage.tables import ALL_TABLES


def report(request: pytest.FixtureRequest, text: str) -> None:
    """Print a figure even under -q and output capture, so CI logs keep it."""
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(text)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"[{request.node.name}] {text}")


def empty_tables(store: AuditStore) -> None:
    """Delete every row of the app's tables (cheaper than new tables for every example)."""
    for name in ALL_TABLES:
        client = store.table(name)
        try:
            for row in client.list_entities(select=["PartitionKey", "RowKey"]):
                client.delete_entity(row["PartitionKey"], row["RowKey"])
        except ResourceNotFoundError:
            pass


def point_app_at(monkeypatch: pytest.MonkeyPatch, connection_string: str, table_prefix: str,
                 retry_options: dict[str, Any] | None = None, timeouts: dict[str, Any] | None = None) -> None:
    """Make the app's own store (storage.get_store) use this storage, and these client settings."""
    monkeypatch.setenv(settings.STORAGE_SETTING, connection_string)
    monkeypatch.setenv(settings.PREFIX_SETTING, table_prefix)
    monkeypatch.delenv(settings.ALLOWED_SOURCES_SETTING, raising=False)
    if retry_options is not None:
        monkeypatch.setattr("eventaudit.storage.client.RETRY_OPTIONS", retry_options)
    if timeouts is not None:
        monkeypatch.setattr("eventaudit.storage.client.TIMEOUTS", timeouts)
    storage.reset_store()
