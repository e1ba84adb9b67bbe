"""App settings, read once into frozen objects; a bad setting fails with its name."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from eventaudit.errors import ConfigurationError
from eventaudit.resource_ids import fold_case

STORAGE_SETTING = "AUDIT_STORAGE"
FALLBACK_STORAGE_SETTING = "AzureWebJobsStorage"
PREFIX_SETTING = "AUDIT_TABLE_PREFIX"
ALLOWED_SOURCES_SETTING = "AUDIT_ALLOWED_SOURCES"
# When the value capture runs (eventaudit/appconfig): NCRONTAB with seconds, as Functions timers take it.
CAPTURE_SCHEDULE_SETTING = "AUDIT_APPCONFIG_CAPTURE_SCHEDULE"
DEFAULT_CAPTURE_SCHEDULE = "0 */1 * * * *"  # every minute
# How the page and the HTTP API are signed in to: "entra" (App Service Authentication) or "key".
API_AUTH_SETTING = "AUDIT_API_AUTH"
API_AUTH_MODES = ("entra", "key")
DEFAULT_API_AUTH = "key"

# Table names are 3-63 letters and digits starting with a letter; the longest base name is 22.
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,40}$")


@dataclass(frozen=True)
class StorageTarget:
    """Where the tables live: a connection string, or an endpoint reached with an Entra identity."""

    setting: str
    connection_string: str | None = None
    endpoint: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class Settings:
    storage: StorageTarget
    table_prefix: str = ""
    # Lower-cased resource ids or prefixes; empty accepts every source.
    allowed_sources: tuple[str, ...] = ()


_current: Settings | None = None


def current_settings() -> Settings:
    """The settings of this process, read from the environment once."""
    global _current
    if _current is None:
        _current = load_settings()
    return _current


def forget_settings() -> None:
    """Read the environment again on next use (tools and tests that change it)."""
    global _current
    _current = None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    return Settings(
        storage=load_storage_target(env),
        table_prefix=_table_prefix(env),
        allowed_sources=_allowed_sources(env),
    )


def load_storage_target(env: Mapping[str, str]) -> StorageTarget:
    """AUDIT_STORAGE, else AzureWebJobsStorage; each a connection string or the identity form."""
    for name in (STORAGE_SETTING, FALLBACK_STORAGE_SETTING):
        target = _storage_target(env, name)
        if target is not None:
            return target
    raise ConfigurationError(
        f"No storage is configured: set {STORAGE_SETTING} to a connection string "
        f"(UseDevelopmentStorage=true for Azurite) or {STORAGE_SETTING}__tableServiceUri to "
        f"https://<account>.table.core.windows.net for a managed identity; "
        f"{FALLBACK_STORAGE_SETTING} is used when {STORAGE_SETTING} is absent."
    )


def _storage_target(env: Mapping[str, str], name: str) -> StorageTarget | None:
    connection_string = env.get(name, "").strip()
    if connection_string:
        if connection_string.lower() != "usedevelopmentstorage=true" and not _is_connection_string(
            connection_string
        ):
            raise ConfigurationError(
                f"{name} is not a storage connection string (expected key=value pairs such as "
                f"AccountName=...;AccountKey=... or UseDevelopmentStorage=true)"
            )
        return StorageTarget(setting=name, connection_string=connection_string)
    client_id = env.get(f"{name}__clientId", "").strip() or None
    endpoint = env.get(f"{name}__tableServiceUri", "").strip()
    if endpoint:
        parsed = urlparse(endpoint)
        if parsed.scheme != "https" or not parsed.netloc:
            # azure-data-tables refuses to send an Entra ID token over plain http ("Token credential is
            # only supported with HTTPS"); Azurite is reached with a connection string instead.
            raise ConfigurationError(
                f"{name}__tableServiceUri must be an https:// URL like "
                f"https://<account>.table.core.windows.net (tokens are only sent over HTTPS; for Azurite "
                f"set {STORAGE_SETTING}=UseDevelopmentStorage=true), got {endpoint!r}"
            )
        return StorageTarget(setting=f"{name}__tableServiceUri", endpoint=endpoint.rstrip("/"),
                             client_id=client_id)
    account = env.get(f"{name}__accountName", "").strip()
    if account:
        if not re.fullmatch(r"[a-z0-9]{3,24}", account):
            raise ConfigurationError(f"{name}__accountName is not a storage account name: {account!r}")
        return StorageTarget(setting=f"{name}__accountName",
                             endpoint=f"https://{account}.table.core.windows.net", client_id=client_id)
    return None


def api_auth_mode(env: Mapping[str, str] | None = None) -> str:
    """AUDIT_API_AUTH: "entra" or "key" (default); ConfigurationError naming the setting otherwise."""
    env = os.environ if env is None else env
    mode = env.get(API_AUTH_SETTING, "").strip().lower() or DEFAULT_API_AUTH
    if mode not in API_AUTH_MODES:
        given = env[API_AUTH_SETTING][:50]
        raise ConfigurationError(f"{API_AUTH_SETTING} must be entra or key, got {given!r}")
    return mode


def _is_connection_string(value: str) -> bool:
    pairs = [part for part in value.split(";") if part.strip()]
    return bool(pairs) and all("=" in part for part in pairs)


def _table_prefix(env: Mapping[str, str]) -> str:
    prefix = env.get(PREFIX_SETTING, "").strip()
    if prefix and not _PREFIX.match(prefix):
        raise ConfigurationError(
            f"{PREFIX_SETTING} must be letters and digits starting with a letter (at most 41), "
            f"got {prefix!r}"
        )
    return prefix


def _allowed_sources(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get(ALLOWED_SOURCES_SETTING, "")
    sources = tuple(fold_case(part.strip().rstrip("/")) for part in re.split(r"[,;\s]+", raw) if part.strip())
    for source in sources:
        if not source.startswith("/subscriptions/"):
            raise ConfigurationError(
                f"{ALLOWED_SOURCES_SETTING} holds resource ids or prefixes starting with "
                f"/subscriptions/, got {source!r}"
            )
    return sources


def capture_schedule(env: Mapping[str, str] | None = None) -> str:
    """The value capture timer's schedule; read when the app is indexed."""
    env = os.environ if env is None else env
    return env.get(CAPTURE_SCHEDULE_SETTING, "").strip() or DEFAULT_CAPTURE_SCHEDULE
