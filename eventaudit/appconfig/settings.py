"""The value capture's settings, read from the app settings once; every one has a safe default."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from eventaudit.appconfig.secret_names import looks_secret
from eventaudit.errors import ConfigurationError

ENDPOINT_SUFFIX_SETTING = "AUDIT_APPCONFIG_ENDPOINT_SUFFIX"
ENDPOINTS_SETTING = "AUDIT_APPCONFIG_ENDPOINTS"
CONNECTION_STRINGS_SETTING = "AUDIT_APPCONFIG_CONNECTION_STRINGS"
CLIENT_ID_SETTING = "AUDIT_APPCONFIG_CLIENT_ID"
BUDGET_SETTING = "AUDIT_APPCONFIG_DAILY_REQUESTS"
RETENTION_SETTING = "AUDIT_APPCONFIG_RETENTION_DAYS"
KEEP_SETTING = "AUDIT_APPCONFIG_KEEP_VALUES"
REDACT_SETTING = "AUDIT_APPCONFIG_REDACT_VALUES"

# Global Azure; Azure China is azconfig.azure.cn, Azure US Government azconfig.azure.us.
DEFAULT_SUFFIX = "azconfig.io"
# A Free store serves 1,000 requests a day in all; the capture takes at most a fifth of that.
DEFAULT_DAILY_REQUESTS = 200
# Standard and Premium stores keep revisions 30 days (Free and Developer 7): a capture still pending
# after this long can no longer succeed, and is recorded as "value no longer retained".
DEFAULT_RETENTION_DAYS = 30
KEY_VAULT_REFERENCE = "application/vnd.microsoft.appconfig.keyvaultref+json"
FEATURE_FLAG = "application/vnd.microsoft.appconfig.ff+json"


@dataclass(frozen=True)
class Redaction:
    """Which keys keep their values: KEEP patterns win; then REDACT patterns (glob, case-insensitive)
    hash the value, or, when none are set, keys whose names look secret (eventaudit.appconfig.secret_names).

    Key Vault references (a URI, not a secret) and feature flags are always kept as they are.
    """

    keep: tuple[str, ...] = ()
    redact: tuple[str, ...] = ()  # none: the names that look secret

    def redacts(self, key: str, content_type: str | None) -> bool:
        media = (content_type or "").split(";")[0].strip().lower()
        if media in (KEY_VAULT_REFERENCE, FEATURE_FLAG):
            return False
        name = key.lower()
        if any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in self.keep):
            return False
        if not self.redact:
            return looks_secret(key)
        return any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in self.redact)


@dataclass(frozen=True)
class CaptureSettings:
    endpoint_suffix: str = DEFAULT_SUFFIX
    endpoints: Mapping[str, str] = field(default_factory=dict)  # lower-case store name -> URL
    connection_strings: Mapping[str, str] = field(default_factory=dict)  # endpoint URL -> connection string
    client_id: str | None = None
    daily_requests: int = DEFAULT_DAILY_REQUESTS
    retention_days: int = DEFAULT_RETENTION_DAYS
    redaction: Redaction = Redaction()

    def endpoint(self, store_name: str) -> str:
        """An explicit endpoint for the store, else https://<store>.<suffix>. Never taken from an event:
        the app's token would follow wherever an event pointed."""
        return (
            self.endpoints.get(store_name.lower()) or f"https://{store_name.lower()}.{self.endpoint_suffix}"
        )

    def connection_string(self, store_name: str) -> str | None:
        return self.connection_strings.get(self.endpoint(store_name).rstrip("/").lower())


def load_capture_settings(env: Mapping[str, str] | None = None) -> CaptureSettings:
    env = os.environ if env is None else env
    suffix = env.get(ENDPOINT_SUFFIX_SETTING, "").strip().strip(".") or DEFAULT_SUFFIX
    if not re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", suffix.lower()):
        raise ConfigurationError(
            f"{ENDPOINT_SUFFIX_SETTING} must be a DNS suffix such as azconfig.io, got {suffix!r}"
        )
    keep = _patterns(env.get(KEEP_SETTING))
    redact = _patterns(env.get(REDACT_SETTING))
    return CaptureSettings(
        endpoint_suffix=suffix.lower(),
        endpoints=_endpoints(env.get(ENDPOINTS_SETTING, "")),
        connection_strings=_connection_strings(env.get(CONNECTION_STRINGS_SETTING, "")),
        client_id=env.get(CLIENT_ID_SETTING, "").strip() or None,
        daily_requests=_positive(env, BUDGET_SETTING, DEFAULT_DAILY_REQUESTS),
        retention_days=_positive(env, RETENTION_SETTING, DEFAULT_RETENTION_DAYS),
        redaction=Redaction(keep=keep, redact=redact),
    )


def _patterns(text: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in re.split(r"[,;\n]", text or "") if p.strip())


def _endpoints(text: str) -> dict[str, str]:
    endpoints = {}
    for part in re.split(r"[,;\s]+", text.strip()):
        if not part:
            continue
        name, _, url = part.partition("=")
        parsed = urlparse(url)
        if not name or parsed.scheme not in ("https", "http") or not parsed.netloc:
            raise ConfigurationError(
                f"{ENDPOINTS_SETTING} holds <store>=<https URL> pairs, got {part!r:.200}"
            )
        endpoints[name.strip().lower()] = url.rstrip("/")
    return endpoints


def _connection_strings(text: str) -> dict[str, str]:
    """Whitespace-separated `Endpoint=...;Id=...;Secret=...` strings (secrets are base64: no spaces)."""
    found = {}
    for connection_string in text.split():
        parts = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
        if not {"Endpoint", "Id", "Secret"} <= parts.keys():
            raise ConfigurationError(
                f"{CONNECTION_STRINGS_SETTING} holds App Configuration connection "
                f"strings (Endpoint=...;Id=...;Secret=...), separated by spaces"
            )
        found[parts["Endpoint"].rstrip("/").lower()] = connection_string
    return found


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ConfigurationError(f"{name} must be a whole number of at least 1, got {text!r}")
    return int(text)
