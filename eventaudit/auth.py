"""Who may read through the HTTP API: a function key (checked by the Functions host) or a Microsoft
Entra ID sign-in through App Service Authentication ("Easy Auth", checked here). Setting AUDIT_API_AUTH.

What App Service Authentication does, as documented (verified on paper, not against Azure):
- For a request it authenticated (the session cookie from /.auth/login/aad, or an
  `Authorization: Bearer` token for the app registration) it injects X-MS-CLIENT-PRINCIPAL (Base64
  JSON of the claims), X-MS-CLIENT-PRINCIPAL-ID, -NAME and -IDP; "external requests aren't allowed to
  set these headers, so they're present only if App Service sets them" (learn.microsoft.com,
  app-service/configure-authentication-user-identities).
- With unauthenticated requests allowed (unauthenticatedClientAction AllowAnonymous) the app decides;
  a link to /.auth/login/aad?post_login_redirect_uri=<path> signs the user in and returns to <path>
  (app-service/configure-authentication-customize-sign-in-out); /.auth/me answers the signed-in
  user's claims and tokens when the token store is on (app-service/configure-authentication-oauth-tokens).
- WEBSITE_AUTH_ENABLED is injected read-only when the feature is on (app-service/reference-app-settings).
  Without the feature nothing strips a client's own X-MS-CLIENT-PRINCIPAL-ID, so "entra" mode then
  refuses every request rather than trust such a header.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import azure.functions as func

from eventaudit.errors import ConfigurationError
from eventaudit.settings import API_AUTH_SETTING, api_auth_mode

logger = logging.getLogger(__name__)

ENTRA = "entra"
KEY = "key"
PRINCIPAL_ID_HEADER = "X-MS-CLIENT-PRINCIPAL-ID"
PRINCIPAL_NAME_HEADER = "X-MS-CLIENT-PRINCIPAL-NAME"
AUTH_ENABLED_SETTING = "WEBSITE_AUTH_ENABLED"
SIGN_IN_PATH = "/.auth/login/aad"
PAGE_PATH = "/api/timeline"


def sign_in_url(return_to: str = PAGE_PATH) -> str:
    """Where a browser signs in; Easy Auth sends it back to `return_to` (a path of this app)."""
    return f"{SIGN_IN_PATH}?post_login_redirect_uri={quote(return_to, safe='/')}"


@dataclass(frozen=True)
class AuthPolicy:
    mode: str
    level: func.AuthLevel  # of the API routes; the page is always anonymous (it holds no data)
    problem: str | None = None  # an unusable setting: every API request answers 500 with it

    def refusal(self, req: func.HttpRequest) -> tuple[int, dict[str, Any]] | None:
        """None if the request may be answered, else (status, JSON body)."""
        if self.problem:
            return 500, {"error": self.problem, "retryable": False}
        if self.mode == KEY:
            return None  # auth level FUNCTION: the host has checked the function key already
        seen = os.environ.get(AUTH_ENABLED_SETTING)
        if (seen or "").strip().lower() != "true":
            return 500, {"error": auth_disabled_problem(seen), "retryable": False}
        principal = (req.headers.get(PRINCIPAL_ID_HEADER) or "").strip()
        if not principal:
            return 401, {"error": "sign in with Microsoft Entra ID first (scripts: send an Entra token as "
                                  "Authorization: Bearer)", "signIn": sign_in_url()}
        logger.info("Audit API %s read by %s (%s)", req.url.split("?", 1)[0],
                    (req.headers.get(PRINCIPAL_NAME_HEADER) or "").strip()[:200], principal[:100])
        return None


def auth_disabled_problem(seen: str | None) -> str:
    """Why "entra" refuses everything without the platform's marker, and exactly what to check."""
    value = "not set" if seen is None else f"{seen.strip()[:20]!r}"
    return (f"{API_AUTH_SETTING} is entra, but App Service Authentication is not enabled for this app as "
            f"far as it can tell: {AUTH_ENABLED_SETTING} is {value} in its environment (App Service sets "
            "it to True when the feature is on), so X-MS-CLIENT-PRINCIPAL headers may come from the caller "
            "and no request is answered. Check: az rest --method get --url <function app resource id>"
            "/config/authsettingsV2/list?api-version=2020-12-01 --query properties.platform.enabled must "
            "print true (python -m deploy.provision --api-auth entra turns it on), then restart the app. "
            "If it prints true and this persists, the platform does not tell the app (docs/deploy.md, "
            f"'verified only on paper'): set {API_AUTH_SETTING}=key to use function keys instead.")


def index_time_policy(env: dict[str, str] | None = None) -> AuthPolicy:
    """The policy of AUDIT_API_AUTH as the app is indexed; a bad value keeps the stricter FUNCTION level."""
    try:
        mode = api_auth_mode(env)
    except ConfigurationError as exc:
        return AuthPolicy(KEY, func.AuthLevel.FUNCTION, str(exc))
    return AuthPolicy(mode, func.AuthLevel.ANONYMOUS if mode == ENTRA else func.AuthLevel.FUNCTION)
