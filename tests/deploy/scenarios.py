"""Argument sets covering the option combinations of the deploy scripts, and the stand-in Azure they
run against (caches and stores the scripts subscribe, made as their owners would have)."""

from __future__ import annotations

from typing import Any

from tests.deploy.fake_az import OTHER_SUBSCRIPTION, SUBSCRIPTION

SUB = SUBSCRIPTION
GROUP_ID = f"/subscriptions/{SUB}/resourceGroups/platform-prod"
REDIS_ID = f"{GROUP_ID}/providers/Microsoft.Cache/Redis/contoso-sessions"
STORE_ID = f"{GROUP_ID}/providers/Microsoft.AppConfiguration/configurationStores/contoso-config"
AMR_ID = f"{GROUP_ID}/providers/Microsoft.Cache/redisEnterprise/contoso-amr"
OTHER_GROUP_ID = f"/subscriptions/{OTHER_SUBSCRIPTION}/resourceGroups/platform-other"
OTHER_REDIS_ID = f"{OTHER_GROUP_ID}/providers/Microsoft.Cache/Redis/contoso-far"
APP_ID = f"/subscriptions/{SUB}/resourceGroups/audit-rg/providers/Microsoft.Web/sites/audit-log-4711"
ACCOUNT_ID = f"/subscriptions/{SUB}/resourceGroups/audit-rg/providers/Microsoft.Storage/storageAccounts/auditlog4711"
FUNCTION_ID = f"{APP_ID}/functions/record_event"
DEADLETTER = f"{ACCOUNT_ID}/blobServices/default/containers/audit-deadletter"

PROVISION_BASE = ["--resource-group", "audit-rg", "--location", "westeurope", "--storage-account", "auditlog4711",
                  "--name", "audit-log-4711"]
PROVISION = [
    PROVISION_BASE,
    [*PROVISION_BASE, "--python-version", "3.12", "--table-prefix", "Prod", "--always-ready", "1"],
    [*PROVISION_BASE, "--python-version", "3.13", "--deployment-container", "pkg", "--instance-memory", "4096",
     "--maximum-instance-count", "40", "--allowed-sources", f"{REDIS_ID},/subscriptions/{SUB}/resourceGroups/platform-dev"],
    [*PROVISION_BASE, "--skip-deploy", "--api-auth", "key", "--app-insights", "audit-ai", "--workspace", "audit-ws",
     "--disable-shared-key"],
]

BY_NAME = ["--function-app", "audit-log-4711", "--resource-group", "audit-rg", "--deadletter-account", "auditlog4711",
           "--redis", "contoso-sessions", "--appconfig", "contoso-config", "--source-resource-group", "platform-prod"]
BY_ID = ["--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID, "--redis", REDIS_ID, "--appconfig", STORE_ID]
CONTROL_PLANE = ["--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID, "--managed-redis", "contoso-amr",
                 "--source-resource-group", "platform-prod"]
BATCHING = ["--max-events-per-batch", "50", "--preferred-batch-size-kb", "256"]
SUBSCRIBE = [
    BY_NAME,
    BY_ID,
    CONTROL_PLANE,
    [*BY_NAME, "--schema", "cloudevents", "--managed-redis", AMR_ID],
    [*BY_ID, "--schema", "cloudevents", *BATCHING],
    [*BY_NAME, *BATCHING, "--max-delivery-attempts", "10", "--event-ttl", "120", "--name", "audit-prod",
     "--deadletter-container", "dead-letters"],
    ["--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID, "--resource-group-events", GROUP_ID,
     "--subscription-events", SUB, "--resource-notifications", SUB],
    ["--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID, "--resource-group-events", "platform-prod",
     "--redis", OTHER_REDIS_ID],
]
UNSUBSCRIBE = [
    ["--remove", "--function-app", "audit-log-4711", "--resource-group", "audit-rg", "--redis", "contoso-sessions",
     "--appconfig", "contoso-config", "--source-resource-group", "platform-prod"],
    ["--remove", "--redis", REDIS_ID, "--appconfig", STORE_ID, "--name", "audit-prod"],
    ["--remove", "--function-app", APP_ID, "--managed-redis", AMR_ID],
]
TEARDOWN_BASE = ["--resource-group", "audit-rg", "--name", "audit-log-4711", "--storage-account", "auditlog4711"]
TEARDOWN = [
    TEARDOWN_BASE,
    [*TEARDOWN_BASE, "--delete-data", "--source-subscription", OTHER_SUBSCRIPTION],
]


def owned_sources() -> list[dict[str, Any]]:
    """The caches and stores that exist before the scripts run, as `az resource show` prints them."""
    def resource(rid: str, kind: str, location: str = "westeurope") -> dict[str, Any]:
        return {"id": rid, "name": rid.rsplit("/", 1)[-1], "type": kind, "location": location, "properties": {}}

    return [
        {"id": GROUP_ID, "name": "platform-prod", "location": "westeurope", "type": "Microsoft.Resources/resourceGroups"},
        {"id": OTHER_GROUP_ID, "name": "platform-other", "location": "northeurope",
         "type": "Microsoft.Resources/resourceGroups"},
        resource(REDIS_ID, "Microsoft.Cache/Redis"),
        resource(STORE_ID, "Microsoft.AppConfiguration/configurationStores"),
        resource(AMR_ID, "Microsoft.Cache/redisEnterprise"),
        resource(OTHER_REDIS_ID, "Microsoft.Cache/Redis", "northeurope"),
    ]
