"""Making changes in the App Configuration stand-in and delivering the events it publishes for them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from azure.appconfiguration import AzureAppConfigurationClient, ConfigurationSetting

from eventaudit.appconfig.capture import PassReport, run_pass
from eventaudit.appconfig.pending import PENDING
from eventaudit.appconfig.settings import load_capture_settings
from eventaudit.storage import AuditStore
from eventaudit.storage.tables import APP_CONFIGURATION_CAPTURES, APP_CONFIGURATION_REVISIONS
from tests.conftest import rows
from tools.appconfig_standin import AppConfigStandIn
from tools.trigger import deliver


class Changes:
    """Writes through the real SDK; `events()` is what App Configuration published since the last call."""

    def __init__(self, standin: AppConfigStandIn) -> None:
        self.standin = standin
        self.client = AzureAppConfigurationClient.from_connection_string(standin.connection_string())
        self._seen = len(standin.published_events)

    def set(self, key: str, value: str | None, label: str | None = None, **extra: Any) -> ConfigurationSetting:
        return self.client.set_configuration_setting(
            ConfigurationSetting(key=key, value=value, label=label, **extra))

    def delete(self, key: str, label: str | None = None) -> ConfigurationSetting:
        return self.client.delete_configuration_setting(key, label=label)

    def events(self) -> list[dict[str, Any]]:
        events = self.standin.published_events[self._seen:]
        self._seen = len(self.standin.published_events)
        return events

    def deliver(self) -> list[dict[str, Any]]:
        events = self.events()
        for event in events:
            deliver(event)
        return events


def capture(store: AuditStore, *, now: dt.datetime | None = None, paced: bool = False,
            **overrides: Any) -> PassReport:
    """One capture pass with the app's settings (from the environment), some overridden; not paced
    unless asked (most tests run passes back to back; tests/test_value_pacing.py tests the pacing)."""
    settings = dataclasses.replace(load_capture_settings(), **overrides)
    return run_pass(store, settings, now=now, paced=paced)


def revisions(store: AuditStore) -> list[dict[str, Any]]:
    return rows(store, APP_CONFIGURATION_REVISIONS)


def by_etag(store: AuditStore) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for row in revisions(store):
        assert row["ETag"] not in found, f"two rows for revision {row['ETag']}"
        found[row["ETag"]] = row
    return found


def pending(store: AuditStore) -> list[dict[str, Any]]:
    return [r for r in rows(store, APP_CONFIGURATION_CAPTURES) if r.get("Kind") == PENDING]
