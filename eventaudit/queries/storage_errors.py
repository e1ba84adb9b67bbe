"""What a reader does with a storage failure: retry later (transient), or fix something first.

A wrong account key, a missing role or a missing credential never heal by waiting, so they leave as
StorageAccessError with what to fix; throttling, server errors and an unreachable endpoint leave as
TransientStorageError (the HTTP API answers 503 with Retry-After). Status codes and error codes are
those documented for Azure Storage ("Common REST API error codes", "SAS error codes").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError

from eventaudit.errors import (
    ConfigurationError,
    PermanentStorageError,
    StorageAccessError,
    TransientStorageError,
)
from eventaudit.settings import STORAGE_SETTING, current_settings

ROLE = "Storage Table Data Reader"
# What to fix, by the error code Table Storage sends with 401/403. {setting} names the storage setting.
FIXES = {
    "AuthenticationFailed": "the account key in {setting} is wrong or was rotated (copy the current "
                            "connection string), or this machine's clock is more than 15 minutes off",
    "AuthorizationPermissionMismatch": f"the identity has no data role on the tables: grant it '{ROLE}' "
                                       "on the storage account (a new assignment takes a few minutes)",
    "AuthorizationFailure": "the account refused this caller: check its network rules (firewall, virtual "
                            "networks, private endpoints) and the credential (the account key in {setting}, "
                            f"or the identity's '{ROLE}' role)",
    "KeyBasedAuthenticationNotPermitted": "the account does not allow account keys: use the identity form "
                                          f"({STORAGE_SETTING}__tableServiceUri) and grant '{ROLE}'",
    "AccountIsDisabled": "the storage account is disabled",
    "InsufficientAccountPermissions": "the credential in {setting} lacks the permission to read tables",
    "NoAuthenticationInformation": "the request carried no credential: check {setting}",
    "InvalidAuthenticationInfo": "the credential in {setting} is malformed: check it",
}
RETRY_STATUSES = frozenset({408, 429})


@contextmanager
def translated() -> Iterator[None]:
    """Azure SDK errors out as the app's own: StorageAccessError, TransientStorageError or, for a
    query the service refuses (a bug here), PermanentStorageError."""
    try:
        yield
    except AzureError as exc:
        raise storage_error(exc) from exc


def storage_error(exc: AzureError) -> Exception:
    if isinstance(exc, ClientAuthenticationError) and exc.status_code is None:
        # azure-identity found no credential, or Entra ID refused to issue a token: no HTTP status.
        reason = (str(exc.message or exc).strip().splitlines() or [""])[0][:300]
        return StorageAccessError(
            f"no Entra ID credential could get a token for Table Storage ({reason}): sign in with "
            f"`az login`, run where a managed identity is assigned, or set {STORAGE_SETTING} to a "
            "connection string; retrying will not help")
    if not isinstance(exc, HttpResponseError):
        unreachable = f"Table Storage is unreachable ({type(exc).__name__}); try again shortly"
        return TransientStorageError(unreachable)
    status, code = exc.status_code or 0, error_code(exc)
    answered = " ".join(part for part in (str(status), code) if part)
    if status in (401, 403):
        fix = FIXES.get(code, "the credential or its access is refused: check {setting}")
        return StorageAccessError(f"Table Storage refused access ({answered}): "
                                  f"{fix.format(setting=_setting())}; retrying will not help")
    if status in RETRY_STATUSES or status >= 500:
        return TransientStorageError(f"Table Storage answered {answered}; try again shortly")
    return PermanentStorageError(f"Table Storage refused the query ({answered})")


def error_code(exc: HttpResponseError) -> str:
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code) or "")


def _setting() -> str:
    """The name of the storage setting in use, for messages."""
    try:
        return current_settings().storage.setting
    except ConfigurationError:
        return STORAGE_SETTING
