"""Sign-in with Microsoft Entra ID for the page and the API: App Service Authentication (Easy Auth v2).

BRIEF, "Sign-in for the page and the API": the Microsoft provider with issuer
https://login.microsoftonline.com/<tenant>/v2.0 and allowed audience api://<client id>, anonymous
requests let through (AllowAnonymous) so Event Grid's webhook keeps working with the host's system key
and the app itself answers 401 with the sign-in URL. No client secret: sign-in then uses the
OpenID Connect implicit flow, which needs ID tokens enabled on the app registration, and nothing secret
lands in the app settings. No token store: the app reads only the principal headers.

az 2.91 itself has only the classic (v1) `az webapp auth update`; the v2 commands live in the authV2
extension, which does exactly this: GET config/authsettingsV2/list, merge, PUT config/authsettingsV2
(azure-cli-extensions src/authV2/azext_authV2/custom.py, get_auth_settings_v2 and
update_auth_settings_v2_rest_call, api-version 2020-12-01). The scripts send the same requests with
`az rest`, so no extension is needed.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from deploy.az import Az, DeployError, get, lookup, placeholder

AUTH_API_VERSION = "2020-12-01"
# The Azure CLI's own client id (azure/cli/core/auth/constants.py AZURE_CLI_CLIENT_ID), which scripts
# use to get a token for the API (`az account get-access-token --resource api://<client id>`).
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
SCOPE = "user_impersonation"


def registration_name(app_name: str) -> str:
    return f"{app_name} audit log"


def desired(tenant: str, client_id: str) -> dict[str, Any]:
    return {
        "platform": {"enabled": True},
        "globalValidation": {"requireAuthentication": False, "unauthenticatedClientAction": "AllowAnonymous"},
        "identityProviders": {
            "azureActiveDirectory": {
                "enabled": True,
                "registration": {
                    "clientId": client_id,
                    "openIdIssuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
                },
                "validation": {"allowedAudiences": [f"api://{client_id}"]},
            }
        },
        "login": {"tokenStore": {"enabled": False}},
        "httpSettings": {"requireHttps": True},
    }


def merged(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The current settings with the wanted ones laid over (other providers and settings kept)."""
    result = copy.deepcopy(current)
    for key, value in wanted.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def registration(az: Az, app_name: str, host: str, client_id: str | None, report: list[str]) -> str:
    """The app registration's client id (made if missing), brought to what Easy Auth needs."""
    redirect = f"https://{host}/.auth/login/aad/callback"
    created = False
    if client_id:
        found = az.read("ad", "app", "show", "--id", client_id)
        if found is None and not az.dry_run:
            raise DeployError(f"--entra-client-id {client_id}: no such app registration (az ad app show)")
    else:
        display = registration_name(app_name)
        # --display-name matches by prefix (role custom.py list_applications: startswith(displayName,...)).
        listed = az.read("ad", "app", "list", "--display-name", display) or []
        exact = [item for item in listed if item.get("displayName") == display]
        if len(exact) > 1:
            raise DeployError(f"{len(exact)} app registrations are named {display!r}: pass --entra-client-id")
        found = exact[0] if exact else None
        if found is None:
            found = az.change(
                "ad",
                "app",
                "create",
                "--display-name",
                display,
                "--sign-in-audience",
                "AzureADMyOrg",
                "--web-redirect-uris",
                redirect,
                "--enable-id-token-issuance",
                "true",
                "--requested-access-token-version",
                "2",
            )
            report.append(f"created app registration {display!r} (single tenant)")
            created = True
    client = get(
        found, "appId", client_id or placeholder(f"client id of app registration {app_name} audit log")
    )
    identifier = f"api://{client}"
    uris = get_list(found, "identifierUris")
    update: list[str] = []
    # Lists are replaced, not merged, by `az ad app update`: send what is there plus what is missing.
    if identifier not in uris:
        update += ["--identifier-uris", *uris, identifier]
    if not created:  # create set the redirect and ID tokens; an existing registration may lack them
        redirects = get_list(found, "web.redirectUris")
        if redirect not in redirects:
            update += ["--web-redirect-uris", *redirects, redirect]
        if lookup(found, "web.implicitGrantSettings.enableIdTokenIssuance") is not True:
            update += ["--enable-id-token-issuance", "true"]
    if update:
        az.change("ad", "app", "update", "--id", client, *update)
        report.append(f"set {identifier} and the sign-in redirect on app registration {client}")
    # What create made, when a dry run cannot read it back.
    made = {"requestedAccessTokenVersion": 2} if created else {}
    expose_api(az, lookup(found, "api") or made, client, report)
    # Users sign in through the registration's service principal (enterprise application).
    principal = az.read("ad", "sp", "show", "--id", client)
    if principal is None:
        principal = az.change("ad", "sp", "create", "--id", client)
        report.append(f"created the service principal of app registration {client}")
    require_assignment(az, principal, client, report)
    return client


def require_assignment(az: Az, principal: Any, client: str, report: list[str]) -> None:
    """Only users and groups assigned to the app may sign in or get a token for it: without this, anyone
    in the tenant, guests included, could read the whole audit log. Graph servicePrincipal
    appRoleAssignmentRequired: "whether users or other service principals need to be granted an app role
    assignment for this service principal before users can sign in or apps can get tokens" (default false).
    `az ad sp update` is a generic update (role commands.py): update_service_principal starts from an empty
    body, --set adds the property (its value parsed as JSON: a boolean), patch_service_principal PATCHes."""
    if lookup(principal, "appRoleAssignmentRequired") is True:
        return
    az.change("ad", "sp", "update", "--id", client, "--set", "appRoleAssignmentRequired=true")
    report.append(f"required an assignment to app registration {client} to sign in (assign users or groups: "
                  "docs/deploy.md)")


def scope_id(client: str) -> str:
    """The id of the scope the scripts add: derived from the client id, so every run proposes the same."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"api://{client}/{SCOPE}"))


def expose_api(az: Az, api: dict[str, Any], client: str, report: list[str]) -> None:
    """A delegated scope (user_impersonation) for the API, and the Azure CLI pre-authorized for it, so
    `az account get-access-token --resource api://<client id>` needs no consent ("Users aren't required
    to consent to any preauthorized application (for the permissions specified)": Graph
    preAuthorizedApplication resource).

    Sent as the whole `api` object (az ad app update --set api=<JSON>: a generic update whose body starts
    empty, role custom.py update_application, PATCHed by patch_application), other scopes and settings as
    they are: Graph refuses to drop or change an enabled scope ("cannot be deleted or updated unless
    disabled first", msgraph-sdk-dotnet#1888). Two PATCHes: Graph does not recognise a scope id in
    preAuthorizedApplications that the same request defines (microsoft-graph-docs#20177)."""
    scopes = [dict(scope) for scope in api.get("oauth2PermissionScopes") or []]
    ours = next((scope for scope in scopes if scope.get("value") == SCOPE), None)
    if ours is None or ours.get("isEnabled") is not True:
        if ours is None:
            ours = {
                "id": scope_id(client), "value": SCOPE, "type": "User",
                "adminConsentDisplayName": "Read the audit log",
                "adminConsentDescription": "Read the audit log through its HTTP API as the signed-in user.",
                "userConsentDisplayName": "Read the audit log",
                "userConsentDescription": "Read the audit log through its HTTP API as you.",
            }
            scopes.append(ours)
        ours["isEnabled"] = True  # a disabled scope may be changed (#1888)
        api = {**api, "oauth2PermissionScopes": scopes}
        az.change("ad", "app", "update", "--id", client, "--set", "api=" + json.dumps(api))
        report.append(f"exposed the scope api://{client}/{SCOPE} on app registration {client}")
    clients = [dict(item) for item in api.get("preAuthorizedApplications") or []]
    cli = next((item for item in clients if item.get("appId") == AZURE_CLI_CLIENT_ID), None)
    if cli is not None and ours["id"] in (cli.get("delegatedPermissionIds") or []):
        return
    if cli is None:
        clients.append({"appId": AZURE_CLI_CLIENT_ID, "delegatedPermissionIds": [ours["id"]]})
    else:
        cli["delegatedPermissionIds"] = [*(cli.get("delegatedPermissionIds") or []), ours["id"]]
    api = {**api, "preAuthorizedApplications": clients}
    az.change("ad", "app", "update", "--id", client, "--set", "api=" + json.dumps(api))
    report.append(f"pre-authorized the Azure CLI for api://{client}/{SCOPE} (scripts need no consent)")


def get_list(value: Any, path: str) -> list[Any]:
    found = lookup(value, path)
    return list(found) if isinstance(found, list) else []


def configure(
    az: Az, *, site_id: str, app_name: str, host: str, client_id: str | None, report: list[str]
) -> str:
    """Easy Auth v2 with the Microsoft provider on the app; returns the client id."""
    tenant = get(az.read("account", "show"), "tenantId", placeholder("tenant id of the CLI's account"))
    client = registration(az, app_name, host, client_id, report)
    current = az.read(
        "rest",
        "--method",
        "get",
        "--url",
        f"{site_id}/config/authsettingsV2/list?api-version={AUTH_API_VERSION}",
    )
    properties = (current or {}).get("properties") or {}
    body = merged(properties, desired(tenant, client))
    if body != properties:
        az.change(
            "rest",
            "--method",
            "put",
            "--url",
            f"{site_id}/config/authsettingsV2?api-version={AUTH_API_VERSION}",
            "--body",
            json.dumps({"properties": body}),
        )
        report.append(f"enabled Microsoft Entra sign-in (App Service Authentication) on {app_name}")
    return client
