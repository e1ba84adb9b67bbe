"""Test plumbing: printing figures, pointing the app at a storage endpoint, emptying the tables."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from eventaudit import settings, storage
from eventaudit.events import from_trigger
from eventaudit.ingest import Outcome, ingest
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


def ingest_at_once(instances: Sequence[AuditStore], events: Sequence[dict[str, Any]]) -> None:
    """Scaled-out instances (each its own store) ingest their share of `events` at the same moment, as
    the worker decodes them; every event must be recorded, and no thread's failure may vanish."""
    from tools.trigger import decode

    barrier, errors = threading.Barrier(len(instances)), []

    def run(index: int) -> None:
        try:
            barrier.wait()
            for event in events[index::len(instances)]:
                assert ingest(from_trigger(decode(event)), instances[index]) is Outcome.RECORDED
        except BaseException as error:  # a thread's exception would otherwise vanish
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(instances))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
