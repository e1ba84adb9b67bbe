"""Argument sets covering every option combination of the deploy scripts, shared by the tests."""

from __future__ import annotations

SUB = "00000000-0000-0000-0000-000000000001"
REDIS_ID = f"/subscriptions/{SUB}/resourceGroups/platform-prod/providers/Microsoft.Cache/Redis/contoso-sessions"
STORE_ID = (f"/subscriptions/{SUB}/resourceGroups/platform-prod/providers/Microsoft.AppConfiguration"
            "/configurationStores/contoso-config")
APP_ID = f"/subscriptions/{SUB}/resourceGroups/audit-rg/providers/Microsoft.Web/sites/audit-log-4711"
ACCOUNT_ID = f"/subscriptions/{SUB}/resourceGroups/audit-rg/providers/Microsoft.Storage/storageAccounts/auditlog4711"

PROVISION_BASE = ["--resource-group", "audit-rg", "--location", "westeurope", "--storage-account", "auditlog4711",
                  "--name", "audit-log-4711"]
PROVISION = [
    PROVISION_BASE,
    [*PROVISION_BASE, "--python-version", "3.12", "--table-prefix", "Prod"],
    [*PROVISION_BASE, "--python-version", "3.13", "--deployment-container", "pkg",
     "--allowed-sources", f"{REDIS_ID},/subscriptions/{SUB}/resourceGroups/platform-dev"],
    [*PROVISION_BASE, "--skip-deploy"],
]

BY_NAME = ["--function-app", "audit-log-4711", "--resource-group", "audit-rg", "--deadletter-account", "auditlog4711",
           "--redis", "contoso-sessions", "--appconfig", "contoso-config", "--source-resource-group", "platform-prod"]
BY_ID = ["--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID, "--redis", REDIS_ID, "--appconfig", STORE_ID]
BATCHING = ["--max-events-per-batch", "50", "--preferred-batch-size-kb", "256"]
SUBSCRIBE = [
    BY_NAME,
    BY_ID,
    [*BY_NAME, "--schema", "cloudevents"],
    [*BY_ID, "--schema", "cloudevents", *BATCHING],
    [*BY_NAME, *BATCHING, "--max-delivery-attempts", "10", "--event-ttl", "120", "--name", "audit-prod",
     "--deadletter-container", "dead-letters"],
    [*BY_ID, "--max-events-per-batch", "10"],
    ["--redis", REDIS_ID, "--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID],
]
UNSUBSCRIBE = [
    ["--remove", "--redis", "contoso-sessions", "--appconfig", "contoso-config", "--source-resource-group",
     "platform-prod"],
    ["--remove", "--redis", REDIS_ID, "--appconfig", STORE_ID, "--name", "audit-prod"],
]


def existing_sources() -> dict[str, object]:
    """The caches and stores the stand-in Azure holds before the scripts run (seed() keywords)."""
    return {"redis__contoso-sessions": {"id": REDIS_ID, "name": "contoso-sessions"},
            "appconfig__contoso-config": {"id": STORE_ID, "name": "contoso-config"}}


def provisioned_app() -> dict[str, object]:
    """A function app with record_event deployed and its storage account, as provision leaves them."""
    return {"site__audit-log-4711": {"id": APP_ID, "name": "audit-log-4711", "tags": {}},
            "function__audit-log-4711__record_event": {"name": "audit-log-4711/record_event"},
            "storage__auditlog4711": {"id": ACCOUNT_ID, "name": "auditlog4711"}}
