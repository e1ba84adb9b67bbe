"""Who made a control-plane change: a fixed allow-list of the caller's claims, and the client IP.

Azure Resource Manager events carry the caller's token claims (`data.claims`) and the HTTP request
(`data.httpRequest`). Only the claims named in CLAIMS are ever read or kept; everything else in the
claims (and the claims of a token never seen by this module) is dropped by eventaudit.redaction.

Claim names: ARM sends some claims by their short JWT names (`appid`, `name`) and others by the
long URIs .NET maps them to (`http://schemas.microsoft.com/identity/claims/objectidentifier`), see
the examples in MicrosoftDocs azure-docs articles/event-grid/event-schema-resource-groups.md; v2.0
tokens use `oid`, `azp`, `scp`. Both spellings are accepted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OBJECT_ID = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
# The ws-fed "name" claim is the user name (in the documented examples the same value as upn).
UPN = ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", "upn",
       "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name")
DISPLAY_NAME = ("name",)
APP_ID = ("appid", "azp")
# Read only to tell the kind of identity (not stored as columns; kept in the redacted data).
IDENTITY_TYPE_CLAIM = ("idtyp",)
SCOPE = ("http://schemas.microsoft.com/identity/claims/scope", "scp")
MANAGED_IDENTITY = ("xms_mirid",)

# Every claim this app keeps, in any form; the redaction drops all others.
CLAIMS: frozenset[str] = frozenset(
    name.lower()
    for group in (OBJECT_ID, UPN, DISPLAY_NAME, APP_ID, IDENTITY_TYPE_CLAIM, SCOPE, MANAGED_IDENTITY)
    for name in group
)
# What is kept of data.httpRequest and data.authorization (the rest may hold request details).
HTTP_REQUEST_FIELDS = ("clientIpAddress", "method")
AUTHORIZATION_FIELDS = ("action", "scope")
AUTHORIZATION_EVIDENCE_FIELDS = ("role",)

HTTP_METHODS = frozenset({"GET", "PUT", "PATCH", "POST", "DELETE", "HEAD", "OPTIONS"})
MAX_VALUE = 256

USER = "User"
SERVICE_PRINCIPAL = "ServicePrincipal"
MANAGED_IDENTITY_TYPE = "ManagedIdentity"
UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Caller:
    """The allow-listed facts about who made a request; None where the event did not say."""

    type: str
    object_id: str | None = None
    upn: str | None = None
    name: str | None = None
    app_id: str | None = None
    managed_identity: str | None = None  # the identity's resource id (claim xms_mirid)
    client_ip: str | None = None
    http_method: str | None = None

    def columns(self) -> dict[str, str]:
        """The caller as table properties (absent values left out)."""
        values = {
            "CallerType": self.type, "CallerObjectId": self.object_id, "CallerUpn": self.upn,
            "CallerName": self.name, "CallerAppId": self.app_id,
            "CallerManagedIdentity": self.managed_identity, "ClientIp": self.client_ip,
            "HttpMethod": self.http_method,
        }
        return {name: value for name, value in values.items() if value is not None}


def caller_from(claims: Any, http_request: Any) -> Caller:
    """The Caller of an ARM event's data.claims and data.httpRequest; never raises on their content."""
    found = _claims(claims)
    request = http_request if isinstance(http_request, Mapping) else {}
    return Caller(
        type=identity_type(found),
        object_id=_first(found, OBJECT_ID),
        upn=_first(found, UPN),
        name=_first(found, DISPLAY_NAME),
        app_id=_first(found, APP_ID),
        managed_identity=_first(found, MANAGED_IDENTITY),
        client_ip=_ip(request.get("clientIpAddress")),
        http_method=_method(request.get("method")),
    )


def identity_type(claims: Mapping[str, str]) -> str:
    """User, ServicePrincipal, ManagedIdentity or Unknown, from the allow-listed claims (lower-cased names).

    1. `xms_mirid` (the managed identity's resource id) is in tokens issued to managed identities: a
       managed identity. Not in Microsoft's claims reference; without it one reads as a service principal.
    2. `idtyp` ("user" or "app", an optional claim) says it outright when present.
    3. A scope claim (`scp`) "Only included for user tokens" (Entra access token claims reference), and a
       `upn` names a user: a user, signed in to some app.
    4. An application id with neither: an app-only token, a service principal acting as itself.
    """
    if _first(claims, MANAGED_IDENTITY):
        return MANAGED_IDENTITY_TYPE
    declared = (_first(claims, IDENTITY_TYPE_CLAIM) or "").lower()
    if declared in ("user", "app"):
        return USER if declared == "user" else SERVICE_PRINCIPAL
    if _first(claims, SCOPE) or _first(claims, UPN):
        return USER
    if _first(claims, APP_ID):
        return SERVICE_PRINCIPAL
    return UNKNOWN


def allowed_claims(claims: Any) -> dict[str, str]:
    """The allow-listed claims of `claims`, under the names they were sent with (for the redacted data)."""
    if not isinstance(claims, Mapping):
        return {}
    return {name: value for name, value in claims.items()
            if isinstance(name, str) and name.lower() in CLAIMS and isinstance(value, str)}


def _claims(claims: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in allowed_claims(claims).items()}


def _first(claims: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = claims.get(name.lower())
        if value and value.strip():
            return value.strip()[:MAX_VALUE]
    return None


def _ip(value: Any) -> str | None:
    """An IPv4/IPv6 address as sent, or None (only an address is ever stored from this field)."""
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _method(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) and value.upper() in HTTP_METHODS else None
