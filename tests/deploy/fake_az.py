"""A stand-in for the Azure CLI 2.91 (a fake: Azure's control plane cannot run here). Installed on PATH
as `az` by the `fake_az` fixture.

It is faithful for the commands the deploy scripts run: each handler refuses what az's implementation
(or, where az only forwards a request, the service) refuses, and prints the shape az prints. Next to each
behaviour is the source it copies: a module and function of the installed azure-cli
(.venv-az/lib/python3.11/site-packages/azure/cli/command_modules/...), or the documentation of the
service. Error texts are az's where az writes them; where only the service does, the code and the
gist are the service's and the wording is marked "(stand-in wording)".

Exit codes as az's handle_exception (azure/cli/core/util.py): 3 for an SDK 404
(ResourceNotFoundError), 1 for other errors including 404s of raw requests (functionapp show on Flex,
az rest, Graph), 2 for argument errors.

State: the JSON file $FAKE_AZ_STATE (see `empty_state`); every call is appended as a JSON line to
$FAKE_AZ_LOG; a command whose text contains $FAKE_AZ_FAIL fails with exit 1 (AuthorizationFailed).
What a real tenant would do on its own (Graph, RBAC propagation, billing) is not modelled.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import uuid
from typing import Any
from urllib.parse import urlparse

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
OTHER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000002"
TENANT = "00000000-0000-0000-0000-0000000000aa"
GLOBAL_ARGS = ("--only-show-errors", "--output", "json")
FLAGS = {"--yes", "--wait", "--is-full-object", "--mi-system-assigned", "--all", "--no-wait"}
# Flex Consumption: instance sizes and the Python stacks the service offers (Functions docs,
# flex-consumption-plan; az reads the stacks from the service in _FlexFunctionAppStackRuntimeHelper).
FLEX_MEMORY = (512, 2048, 4096)
FLEX_PYTHON = ("3.10", "3.11", "3.12", "3.13")
ROLES = {
    "Storage Blob Data Owner", "Storage Blob Data Contributor", "Storage Queue Data Contributor",
    "Storage Table Data Contributor", "App Configuration Data Reader", "Contributor", "Reader",
}
AUTO_TOPIC_GROUP = "Default-EventGrid"


class AzFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def not_found(message: str) -> AzFailure:
    return AzFailure(3, message)


def usage(message: str) -> AzFailure:
    return AzFailure(1, message)


def empty_state() -> dict[str, Any]:
    return {
        "subscription": SUBSCRIPTION,
        "subscriptions": [SUBSCRIPTION, OTHER_SUBSCRIPTION],
        # Rights of the signed-in user at subscription scope: creating DefaultResourceGroup-<region> (what
        # functionapp create does without --app-insights) needs them.
        "subscription_rights": False,
        "resources": {},  # lower-case id -> resource as az prints it
        "settings": {},  # site id -> {name: value}
        "functions": [],  # "<site id>/functions/<name>", lower case
        "roles": [],
        "providers": {},  # subscription -> {namespace: state}
        "event_subscriptions": {},  # topic id -> {name: subscription}
        "auth": {},  # site id -> authsettingsV2 properties
        "apps": [],  # Graph applications
        "sps": [],  # Graph service principals
    }


# ----------------------------------------------------------------------------------------- parsing


def parse(argv: list[str]) -> tuple[tuple[str, ...], dict[str, list[list[str]]]]:
    """Command words, then options: each `--name` with the values up to the next option (repeats kept)."""
    words: list[str] = []
    options: dict[str, list[list[str]]] = {}
    current: list[str] | None = None
    for token in argv:
        if token.startswith("--") or (token.startswith("-") and len(token) == 2):
            current = []
            options.setdefault(token, []).append(current)
        elif current is None:
            words.append(token)
        else:
            current.append(token)
    return tuple(words), options


class Args:
    def __init__(self, options: dict[str, list[list[str]]]) -> None:
        self.options = options

    def has(self, name: str) -> bool:
        return name in self.options

    def one(self, name: str, default: str | None = None) -> str | None:
        values = self.options.get(name)
        return values[-1][0] if values and values[-1] else default

    def need(self, name: str) -> str:
        value = self.one(name)
        if value is None:
            raise AzFailure(2, f"the following arguments are required: {name}")
        return value

    def many(self, name: str) -> list[str]:
        values = self.options.get(name)
        return list(values[-1]) if values else []

    def each(self, name: str) -> list[list[str]]:
        return list(self.options.get(name, []))


# ------------------------------------------------------------------------------------------ model


class Azure:
    def __init__(self, state: dict[str, Any], args: Args, quiet: bool = False) -> None:
        self.state = state
        self.args = args
        self.quiet = quiet  # --only-show-errors: warnings are not printed
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        if not self.quiet:
            self.warnings.append(f"WARNING: {message}")

    # --- ids and lookups
    @property
    def sub(self) -> str:
        """The subscription of the command: --subscription, else the CLI's (azure/cli/core/_profile.py)."""
        chosen = self.args.one("--subscription")
        if chosen is None:
            return self.state["subscription"]
        if chosen.lower() not in [s.lower() for s in self.state["subscriptions"]]:
            # _profile.py Profile.get_subscription
            raise usage(f"Subscription '{chosen}' not found. Check the spelling and casing and try again.")
        return chosen

    def rid(self, group: str, provider: str, name: str, sub: str | None = None) -> str:
        return f"/subscriptions/{sub or self.sub}/resourceGroups/{group}/providers/{provider}/{name}"

    def get(self, resource_id: str) -> Any:
        return self.state["resources"].get(resource_id.lower())

    def put(self, resource: dict[str, Any]) -> dict[str, Any]:
        self.state["resources"][resource["id"].lower()] = resource
        return resource

    def must(self, resource_id: str, kind: str = "") -> dict[str, Any]:
        found = self.get(resource_id)
        if found is None:
            parts = resource_id.split("/")
            if len(parts) >= 5 and self.get("/".join(parts[:5])) is None:
                raise not_found(f"(ResourceGroupNotFound) Resource group '{parts[4]}' could not be found.")
            raise not_found(
                f"(ResourceNotFound) The Resource '{kind or '/'.join(parts[6:8])}/{parts[-1]}' under resource "
                f"group '{parts[4] if len(parts) > 4 else ''}' was not found."
            )
        return found

    def group_location(self, group: str) -> str:
        return self.must(f"/subscriptions/{self.sub}/resourceGroups/{group}")["location"]

    def new_principal(self, seed: str) -> str:
        return str(uuid.UUID(hashlib.sha256(seed.encode()).hexdigest()[:32]))

    def principals(self) -> set[str]:
        found = {sp["id"] for sp in self.state["sps"]}
        for resource in self.state["resources"].values():
            principal = (resource.get("identity") or {}).get("principalId")
            if principal:
                found.add(principal)
        return found


# ---------------------------------------------------------------------------------------- account


def account_show(az: Azure) -> Any:
    """_profile.py Profile.get_subscription: the signed-in subscriptions only (by id or name)."""
    return {"id": az.sub, "tenantId": TENANT, "name": f"subscription {az.sub[-4:]}", "isDefault": True,
            "state": "Enabled", "user": {"name": "someone@contoso.com", "type": "user"}}


# ------------------------------------------------------------------------------------------ groups


def group_show(az: Azure) -> Any:
    """resource custom.py get_resource_group: SDK 404 -> exit 3, ResourceGroupNotFound."""
    name = az.args.need("--name")
    found = az.get(f"/subscriptions/{az.sub}/resourceGroups/{name}")
    if found is None:
        raise not_found(f"(ResourceGroupNotFound) Resource group '{name}' could not be found.")
    return found


def group_create(az: Azure) -> Any:
    """resource custom.py create_resource_group (create_or_update)."""
    name, location = az.args.need("--name"), az.args.need("--location")
    return az.put({"id": f"/subscriptions/{az.sub}/resourceGroups/{name}", "name": name, "location": location,
                   "type": "Microsoft.Resources/resourceGroups", "properties": {"provisioningState": "Succeeded"},
                   "tags": None})


# ----------------------------------------------------------------------------------------- storage


def account_id(az: Azure, name_or_id: str, group: str | None) -> str:
    """storage _validators.py parse_storage_account: group and name from an id, the subscription always
    the command's (not the id's)."""
    if name_or_id.startswith("/subscriptions/"):
        parts = name_or_id.strip("/").split("/")
        group, name_or_id = parts[3], parts[-1]
    if group is None:
        raise usage(f"Storage account '{name_or_id}' not found.")
    return az.rid(group, "Microsoft.Storage/storageAccounts", name_or_id)


def storage_account_show(az: Azure) -> Any:
    """storage commands.py 'storage account show' -> get_properties (SDK 404 -> exit 3)."""
    return az.must(account_id(az, az.args.need("--name"), az.args.one("--resource-group")),
                   "Microsoft.Storage/storageAccounts")


def storage_account_create(az: Azure) -> Any:
    """storage operations/account.py create_storage_account; the shape get_properties returns."""
    name, group = az.args.need("--name"), az.args.need("--resource-group")
    az.group_location(group)
    endpoints = {kind: f"https://{name}.{kind}.core.windows.net/" for kind in ("blob", "queue", "table", "file")}
    return az.put({
        "id": az.rid(group, "Microsoft.Storage/storageAccounts", name), "name": name,
        "type": "Microsoft.Storage/storageAccounts", "location": az.args.one("--location") or az.group_location(group),
        "kind": az.args.one("--kind", "StorageV2"), "sku": {"name": az.args.one("--sku", "Standard_RAGRS")},
        "primaryEndpoints": endpoints, "allowSharedKeyAccess": None,
        "allowBlobPublicAccess": az.args.one("--allow-blob-public-access") == "true",
        "minimumTlsVersion": az.args.one("--min-tls-version", "TLS1_0"),
    })


def storage_account_update(az: Azure) -> Any:
    found = storage_account_show(az)
    if az.args.has("--allow-shared-key-access"):
        found["allowSharedKeyAccess"] = az.args.one("--allow-shared-key-access") == "true"
    return az.put(found)


def storage_account_delete(az: Azure) -> Any:
    """storage commands.py: `delete` has confirmation=True; without a tty az refuses unless --yes."""
    require_yes(az)
    found = storage_account_show(az)
    for key in [k for k in az.state["resources"] if k.startswith(found["id"].lower() + "/")]:
        del az.state["resources"][key]
    del az.state["resources"][found["id"].lower()]
    return None


def require_yes(az: Azure) -> None:
    # knack prompting: confirmation=True commands fail without a tty unless --yes is given.
    if not az.args.has("--yes"):
        raise usage("Unable to prompt for confirmation as no tty available. Use --yes.")


def container_rm_id(az: Azure) -> str:
    account = account_id(az, az.args.need("--storage-account"), az.args.one("--resource-group"))
    az.must(account, "Microsoft.Storage/storageAccounts")
    return f"{account}/blobServices/default/containers/{az.args.need('--name')}"


def container_rm_show(az: Azure) -> Any:
    """storage commands.py 'storage container-rm show' -> blob_containers.get: 404 ContainerNotFound."""
    cid = container_rm_id(az)
    found = az.get(cid)
    if found is None:
        raise not_found("(ContainerNotFound) The specified container does not exist.")
    return found


def container_rm_create(az: Azure) -> Any:
    """storage operations/blob.py create_container_rm: a PUT (create or update)."""
    cid = container_rm_id(az)
    return az.put({"id": cid, "name": cid.rsplit("/", 1)[-1], "publicAccess": (az.args.one("--public-access")
                   or "None").capitalize(), "type": "Microsoft.Storage/storageAccounts/blobServices/containers"})


def container_rm_delete(az: Azure) -> Any:
    require_yes(az)
    cid = container_rm_id(az)
    az.state["resources"].pop(cid.lower(), None)
    return None


# -------------------------------------------------------------------------------------- monitoring


def workspace_id(az: Azure) -> str:
    name = az.args.one("--workspace-name") or az.args.need("--name")
    return az.rid(az.args.need("--resource-group"), "Microsoft.OperationalInsights/workspaces", name)


def workspace_show(az: Azure) -> Any:
    """monitor aaz log_analytics workspace show (404 -> exit 3)."""
    return az.must(workspace_id(az), "Microsoft.OperationalInsights/workspaces")


def workspace_create(az: Azure) -> Any:
    """monitor aaz log_analytics workspace create: location defaults to the group's."""
    wid = workspace_id(az)
    location = az.args.one("--location") or az.group_location(az.args.need("--resource-group"))
    return az.put({"id": wid, "name": wid.rsplit("/", 1)[-1], "location": location,
                   "type": "Microsoft.OperationalInsights/workspaces", "customerId": az.new_principal(wid),
                   "sku": {"name": "PerGB2018"}, "retentionInDays": 30, "provisioningState": "Succeeded"})


def workspace_delete(az: Azure) -> Any:
    require_yes(az)
    workspace_show(az)
    del az.state["resources"][workspace_id(az).lower()]
    return None


# ------------------------------------------------------------------------------------ az resource


def generic_id(az: Azure) -> str:
    """resource custom.py _ResourceUtils: --ids, or group + name + --resource-type "namespace/type"."""
    if az.args.has("--ids"):
        return az.args.need("--ids")
    if az.args.has("--id"):
        return az.args.need("--id")
    kind = az.args.need("--resource-type")
    if "/" not in kind and not az.args.has("--namespace"):
        raise usage("--resource-type must be <namespace>/<type> without --namespace (stand-in wording)")
    return az.rid(az.args.need("--resource-group"), kind, az.args.need("--name"))


def resource_show(az: Azure) -> Any:
    """resource custom.py show_resource -> resources.get (404 -> exit 3)."""
    return az.must(generic_id(az))


def resource_create(az: Azure) -> Any:
    """resource custom.py create_resource -> _ResourceUtils.create_resource: the JSON must parse; with
    --is-full-object it must carry its location ("location of the resource is required")."""
    rid = generic_id(az)
    text = az.args.need("--properties")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise usage(f"Error parsing JSON.\n{text}\n{exc}") from None
    if az.args.has("--is-full-object"):
        if body.get("location") is None:
            raise usage("location of the resource is required")
    else:
        body = {"location": az.group_location(rid.split("/")[4]), "properties": body}
    parts = rid.split("/")
    az.must("/".join(parts[:5]))
    resource = {"id": rid, "name": parts[-1], "type": f"{parts[6]}/{parts[7]}", **body}
    if resource["type"].lower() == "microsoft.insights/components":
        # What the service adds to a component (Application Insights REST API, Components - Create Or Update).
        workspace = (body.get("properties") or {}).get("WorkspaceResourceId")
        if workspace and az.get(workspace) is None:
            raise usage(f"(BadRequest) Workspace {workspace} does not exist (stand-in wording)")
        key = az.new_principal(rid)
        resource["properties"] = {**body.get("properties", {}), "InstrumentationKey": key,
                                  "ConnectionString": f"InstrumentationKey={key};IngestionEndpoint="
                                                      f"https://{body['location']}.in.applicationinsights.azure.com/",
                                  "provisioningState": "Succeeded"}
    return az.put(resource)


def resource_delete(az: Azure) -> Any:
    rid = generic_id(az)
    az.must(rid)
    del az.state["resources"][rid.lower()]
    return None


# ---------------------------------------------------------------------------------- function apps


def site_id(az: Azure) -> str:
    return az.rid(az.args.need("--resource-group"), "Microsoft.Web/sites", az.args.need("--name"))


def raw_site_missing(az: Azure) -> AzFailure:
    """appservice utils.py get_raw_functionapp uses send_raw_request: a 404 is an HTTPError, which
    handle_exception turns into exit 1 with ARM's body in the message (not exit 3)."""
    name, group = az.args.one("--name"), az.args.one("--resource-group")
    body = {"error": {"code": "ResourceNotFound", "message": f"The Resource 'Microsoft.Web/sites/{name}' "
                      f"under resource group '{group}' was not found."}}
    return AzFailure(1, f"Not Found({json.dumps(body)})")


def functionapp_show(az: Azure) -> Any:
    """appservice custom.py show_functionapp: for Flex, is_flex_functionapp then get_raw_functionapp, i.e.
    ARM's raw shape with the Flex settings under properties.functionAppConfig."""
    found = az.get(site_id(az))
    if found is None:
        raise raw_site_missing(az)
    return found


def functionapp_create(az: Azure) -> Any:
    """appservice custom.py create_functionapp, the Flex Consumption path."""
    a = az.args
    name, group = a.need("--name"), a.need("--resource-group")
    flex = a.one("--flexconsumption-location")
    if sum(bool(x) for x in (a.one("--plan"), a.one("--consumption-plan-location"), flex)) != 1:
        raise usage("usage error: You must specify one of these parameter --plan NAME_OR_ID | "
                    "--consumption-plan-location LOCATION | --flexconsumption-location LOCATION")
    flex_only = ("--always-ready-instances", "--maximum-instance-count", "--instance-memory",
                 "--deployment-storage-name", "--deployment-storage-container-name",
                 "--deployment-storage-auth-type", "--deployment-storage-auth-value")
    if not flex:
        if any(a.has(option) for option in flex_only):
            raise usage("usage error: parameters --always-ready-instances, ... must be used with parameter "
                        "--flexconsumption-location")
        raise NotImplementedError("the stand-in knows only the Flex Consumption path of functionapp create")
    location = flex.lower().replace(" ", "")  # utils.py _normalize_flex_location
    runtime, version = (a.one("--runtime") or "").lower(), a.one("--runtime-version")
    if not runtime:
        raise usage("usage error: --runtime RUNTIME required for linux functions apps without custom image.")
    if runtime != "python" or version not in FLEX_PYTHON:
        # _FlexFunctionAppStackRuntimeHelper.resolve (stacks from the service; stand-in's snapshot).
        raise usage(f"Invalid version {version} for runtime {runtime} for function apps on the Flex Consumption "
                    "plan. (stand-in wording)")
    # _validate_and_get_connection_string: the host storage account must exist; its key goes into
    # AzureWebJobsStorage whatever the deployment storage auth type.
    host_account = az.must(account_id(az, a.need("--storage-account"), group), "Microsoft.Storage/storageAccounts")
    con_string = (f"DefaultEndpointsProtocol=https;EndpointSuffix=core.windows.net;AccountName={host_account['name']};"
                  f"AccountKey={az.new_principal('key' + host_account['id'])}")
    settings = {"AzureWebJobsStorage": con_string}
    ai_name = a.one("--app-insights")
    if ai_name is not None:
        # get_app_insights_connection_string: the component in the *app's* group, else ResourceNotFoundError.
        component = az.get(az.rid(group, "Microsoft.Insights/components", ai_name))
        if component is None or not component["properties"].get("ConnectionString"):
            raise not_found(f"App Insights {ai_name} under resource group {group} was not found.")
        settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] = component["properties"]["ConnectionString"]
    memory = int(a.one("--instance-memory") or 2048)
    if memory not in FLEX_MEMORY:
        raise usage(f"(BadRequest) InstanceMemoryMB {memory} is not supported (stand-in wording; sizes: "
                    f"{FLEX_MEMORY})")
    maximum = int(a.one("--maximum-instance-count") or 100)
    if not 1 <= maximum <= 1000:
        raise usage("(BadRequest) maximumInstanceCount must be between 1 and 1000 (stand-in wording)")
    always_ready = [{"name": k, "instanceCount": max(0, to_int(k, v))} for k, v in pairs(a.many("--always-ready-instances"))]
    # _prepare_flex_deployment_storage
    auth_type = a.one("--deployment-storage-auth-type") or "StorageAccountConnectionString"
    if a.one("--deployment-storage-auth-value") and auth_type == "SystemAssignedIdentity":
        raise usage("--deployment-storage-auth-value is only a valid input when --deployment-storage-auth-type "
                    "is set to UserAssignedIdentity or StorageAccountConnectionString.")
    deploy_account = az.must(account_id(az, a.one("--deployment-storage-name") or a.need("--storage-account"), group),
                             "Microsoft.Storage/storageAccounts")
    container = a.one("--deployment-storage-container-name")
    container_id = f"{deploy_account['id']}/blobServices/default/containers/"
    if container:
        # _get_or_create_deployment_storage_container: a named container is only looked up
        # (blob_containers.get); az then deletes the plan it made and re-raises (exit 3).
        if az.get(container_id + container) is None:
            raise not_found("(ContainerNotFound) The specified container does not exist.")
    else:
        container = f"app-package-{re.sub('[^a-zA-Z0-9]', '', name).lower()[:32]}-{int(az.new_principal(name)[:7], 16) % 10**7:07}"
        az.put({"id": container_id + container, "name": container, "publicAccess": "None",
                "type": "Microsoft.Storage/storageAccounts/blobServices/containers"})
    if auth_type == "StorageAccountConnectionString":
        settings["DEPLOYMENT_STORAGE_CONNECTION_STRING"] = con_string
    sid = az.rid(group, "Microsoft.Web/sites", name)
    plan_id = az.rid(group, "Microsoft.Web/serverfarms", f"ASP-{re.sub('[^a-zA-Z0-9]', '', group)[:31]}-{sid[-4:]}")
    az.put({"id": plan_id, "name": plan_id.rsplit("/", 1)[-1], "type": "Microsoft.Web/serverfarms",
            "location": location, "sku": {"name": "FC1", "tier": "FlexConsumption"}})
    site = {
        "id": sid, "name": name, "type": "Microsoft.Web/sites", "kind": "functionapp,linux", "location": location,
        "tags": {}, "identity": None,
        "properties": {
            "serverFarmId": plan_id, "sku": "FlexConsumption", "state": "Running",
            "defaultHostName": f"{name}.azurewebsites.net", "httpsOnly": a.one("--https-only") == "true",
            "functionAppConfig": {
                "deployment": {"storage": {"type": "blobContainer",
                                           "value": deploy_account["primaryEndpoints"]["blob"] + container,
                                           "authentication": {"type": auth_type}}},
                "runtime": {"name": "python", "version": version},
                "scaleAndConcurrency": {"maximumInstanceCount": maximum, "instanceMemoryMB": memory,
                                        "alwaysReady": always_ready, "triggers": None},
            },
        },
    }
    az.put(site)
    if ai_name is None and a.one("--disable-app-insights") != "true":
        # try_create_workspace_based_application_insights: no --workspace found, so it makes
        # DefaultResourceGroup-<region>; without subscription-level rights that fails, and the except
        # in create_functionapp only logs a warning (hidden by --only-show-errors). No connection string.
        if az.state["subscription_rights"]:
            key = az.new_principal(sid)
            settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] = f"InstrumentationKey={key}"
        else:
            az.warn("Error while trying to create and configure an Application Insights for the Function App. "
                    "Please use the Azure Portal to create and configure the Application Insights, if needed.")
    az.state["settings"][sid.lower()] = settings
    if auth_type == "SystemAssignedIdentity":
        # _prepare_flex_deployment_storage_identity: a system identity, and Storage Blob Data Contributor on
        # the deployment storage account (account scope) unless it is there.
        assign_identity(az, site)
        principal = site["identity"]["principalId"]
        if not [r for r in az.state["roles"] if r["principalId"] == principal and r["scope"].lower() ==
                deploy_account["id"].lower() and r["roleDefinitionName"] == "Storage Blob Data Contributor"]:
            add_role(az, principal, "Storage Blob Data Contributor", deploy_account["id"])
    return az.get(sid)  # get_raw_functionapp


def pairs(values: list[str]) -> list[tuple[str, str]]:
    """custom.py _parse_key_value_pairs: name=value."""
    return [tuple(v.split("=", 1)) for v in values]  # type: ignore[misc]


def to_int(flag: str, value: str) -> int:
    """_validators.py validate_and_convert_to_int."""
    try:
        return int(value)
    except ValueError:
        raise usage(f"{flag} is expected to have an int value.") from None


def assign_identity(az: Azure, site: dict[str, Any]) -> dict[str, Any]:
    if not site.get("identity"):
        site["identity"] = {"type": "SystemAssigned", "principalId": az.new_principal(site["id"] + "/identity"),
                            "tenantId": TENANT}
        az.put(site)
    return site["identity"]


def functionapp_identity_show(az: Azure) -> Any:
    """appservice custom.py show_identity: the site's identity, None (nothing printed) without one."""
    site = az.get(site_id(az))
    if site is None:
        raise not_found(f"(ResourceNotFound) The Resource 'Microsoft.Web/sites/{az.args.one('--name')}' was not found.")
    return site.get("identity")


def functionapp_identity_assign(az: Azure) -> Any:
    site = az.get(site_id(az))
    if site is None:
        raise not_found(f"(ResourceNotFound) The Resource 'Microsoft.Web/sites/{az.args.one('--name')}' was not found.")
    return assign_identity(az, site)


def flex_site(az: Azure) -> dict[str, Any]:
    """_validators.py validate_is_flex_functionapp, which the scale commands run first."""
    site = az.get(site_id(az))
    if site is None:
        raise raw_site_missing(az)
    if (site["properties"].get("sku") or "").lower() != "flexconsumption":
        raise usage("This command is only valid for Azure Functions on the FlexConsumption plan.")
    return site


def scale_config_set(az: Azure) -> Any:
    """appservice custom.py update_scale_config (PUT of the raw site)."""
    site = flex_site(az)
    scale = site["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    if az.args.one("--maximum-instance-count"):
        scale["maximumInstanceCount"] = int(az.args.need("--maximum-instance-count"))
    if az.args.one("--instance-memory"):
        memory = int(az.args.need("--instance-memory"))
        if memory not in FLEX_MEMORY:
            raise usage(f"(BadRequest) InstanceMemoryMB {memory} is not supported (stand-in wording)")
        scale["instanceMemoryMB"] = memory
    az.put(site)
    return scale


def always_ready_set(az: Azure) -> Any:
    """appservice custom.py update_always_ready_settings: given names replaced, others kept."""
    site = flex_site(az)
    scale = site["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    given = dict(pairs(az.args.many("--settings")))
    kept = [item for item in scale.get("alwaysReady") or [] if item["name"] not in given]
    scale["alwaysReady"] = [{"name": k, "instanceCount": max(0, to_int(k, v))} for k, v in given.items()] + kept
    az.put(site)
    return scale


def settings_of(az: Azure, missing_ok: bool = False) -> dict[str, str] | None:
    sid = site_id(az)
    if az.get(sid) is None:
        if missing_ok:
            return None
        raise not_found(f"(ResourceNotFound) The Resource 'Microsoft.Web/sites/{az.args.one('--name')}' was not found.")
    return az.state["settings"].setdefault(sid.lower(), {})


def appsettings_list(az: Azure) -> Any:
    """appservice custom.py get_app_settings; commands.py gives it exception_handler=empty_on_404, so a
    missing app prints nothing and exits 0."""
    settings = settings_of(az, missing_ok=True)
    if settings is None:
        return None
    return [{"name": k, "value": v, "slotSetting": False} for k, v in settings.items()]


def appsettings_set(az: Azure) -> Any:
    """appservice custom.py update_app_settings: key=value pairs; the output redacts values (None)."""
    entries = az.args.many("--settings")
    if not entries:
        raise usage("Please provide either --settings or --slot-settings parameter.")
    settings = settings_of(az)
    for entry in entries:
        if "=" not in entry:
            raise usage(f"Invalid setting format: '{entry}'. Expected 'key=value' format or valid JSON.")
        key, value = entry.split("=", 1)
        settings[key] = value
    return [{"name": k, "value": None, "slotSetting": False} for k in settings]


def appsettings_delete(az: Azure) -> Any:
    """appservice custom.py delete_app_settings: names not present are ignored (pop with a default)."""
    settings = settings_of(az)
    for name in az.args.many("--setting-names"):
        settings.pop(name, None)
    return [{"name": k, "value": None, "slotSetting": False} for k in settings]


def config_zip(az: Azure) -> Any:
    """appservice custom.py enable_zip_deploy_functionapp: the package must exist; Python on Flex is
    built remotely. What the code registers is what the package declares: here record_event."""
    src = az.args.need("--src")
    if not os.path.exists(src):
        raise usage(f"[Errno 2] No such file or directory: '{src}'")
    site = az.get(site_id(az))
    if site is None:
        raise raw_site_missing(az)
    function = f"{site['id']}/functions/record_event".lower()
    if function not in az.state["functions"]:
        az.state["functions"].append(function)
    return {"status": 4, "complete": True}


def function_show(az: Azure) -> Any:
    """appservice custom.py show_function -> web_apps.get_function: 404 ResourceNotFoundError, exit 3."""
    sid = site_id(az)
    name = az.args.need("--function-name")
    if az.get(sid) is None or f"{sid}/functions/{name}".lower() not in az.state["functions"]:
        raise not_found(f"(NotFound) Function '{name}' was not found (stand-in wording).")
    return {"id": f"{sid}/functions/{name}", "name": f"{az.args.one('--name')}/{name}", "isDisabled": False}


def functionapp_delete(az: Azure) -> Any:
    """appservice custom.py delete_function_app: the delete API removes an empty plan with it
    (deleteEmptyServerFarm defaults to true)."""
    sid = site_id(az)
    site = az.get(sid)
    if site is None:
        raise not_found(f"(ResourceNotFound) The Resource 'Microsoft.Web/sites/{az.args.one('--name')}' was not found.")
    del az.state["resources"][sid.lower()]
    az.state["settings"].pop(sid.lower(), None)
    az.state["auth"].pop(sid.lower(), None)
    az.state["functions"] = [f for f in az.state["functions"] if not f.startswith(sid.lower() + "/")]
    plan = site["properties"]["serverFarmId"]
    if not [s for s in az.state["resources"].values() if (s.get("properties") or {}).get("serverFarmId") == plan]:
        az.state["resources"].pop(plan.lower(), None)
    return None


def tag_update(az: Azure) -> Any:
    """resource custom.py update_tag_at_scope, Merge."""
    resource = az.must(az.args.need("--resource-id"))
    resource.setdefault("tags", {})
    if az.args.one("--operation") != "Merge":
        raise NotImplementedError("the stand-in knows only --operation Merge")
    resource["tags"] = {**(resource["tags"] or {}), **dict(pairs(az.args.many("--tags")))}
    az.put(resource)
    return {"properties": {"tags": resource["tags"]}}


# ------------------------------------------------------------------------------------------- roles


def add_role(az: Azure, principal: str, role: str, scope: str) -> dict[str, Any]:
    assignment = {"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                  "principalId": principal, "principalType": "ServicePrincipal", "roleDefinitionName": role,
                  "scope": scope}
    az.state["roles"].append(assignment)
    return assignment


def role_filter(az: Azure) -> list[dict[str, Any]]:
    """role custom.py _search_role_assignments: with a scope, exactly that scope (atScope() then
    scope == X, include_inherited off); with --all, the whole subscription; then role and principal."""
    a = az.args
    scope = a.one("--scope")
    role, principal = a.one("--role"), a.one("--assignee-object-id")
    if a.has("--all"):
        if scope:
            raise usage("group or scope are not required when --all is used")
        candidates = [r for r in az.state["roles"] if r["scope"].lower().startswith(f"/subscriptions/{az.sub}".lower())]
    else:
        scope = scope or f"/subscriptions/{az.sub}"
        candidates = [r for r in az.state["roles"] if r["scope"].lower() == scope.lower()]
    if role:
        known_role(role)
        candidates = [r for r in candidates if r["roleDefinitionName"] == role]
    if principal:
        candidates = [r for r in candidates if r["principalId"] == principal]
    return candidates


def known_role(role: str) -> None:
    if role not in ROLES:
        raise usage(f"Role '{role}' doesn't exist.")  # role custom.py _resolve_role_id


def role_list(az: Azure) -> Any:
    if az.args.has("--assignee") and az.args.has("--assignee-object-id"):
        raise usage("Usage error: Provide only one of --assignee or --assignee-object-id.")
    return role_filter(az)


def role_create(az: Azure) -> Any:
    """role custom.py create_role_assignment: one of --assignee / --assignee-object-id; an existing
    assignment is returned as is (_error_caused_by_role_assignment_exists). The service refuses a
    principal it does not know and a scope that does not exist (stand-in wording)."""
    a = az.args
    if bool(a.one("--assignee")) == bool(a.one("--assignee-object-id")):
        raise usage("usage error: --assignee STRING | --assignee-object-id GUID")
    principal, role, scope = a.need("--assignee-object-id"), a.need("--role"), a.need("--scope")
    known_role(role)
    if principal not in az.principals():
        raise usage(f"(PrincipalNotFound) Principal {principal} does not exist in the directory {TENANT}.")
    if az.get(scope) is None:
        raise not_found(f"(ResourceNotFound) The scope '{scope}' does not exist (stand-in wording).")
    existing = [r for r in az.state["roles"] if r["principalId"] == principal and r["roleDefinitionName"] == role
                and r["scope"].lower() == scope.lower()]
    return existing[0] if existing else add_role(az, principal, role, scope)


def role_delete(az: Azure) -> Any:
    """role custom.py delete_role_assignments: by --ids, else by the filters of list, failing when none."""
    a = az.args
    if a.has("--ids"):
        wanted = {i.lower() for i in a.many("--ids")}
        az.state["roles"] = [r for r in az.state["roles"] if r["id"].lower() not in wanted]
        return None
    if not any(a.has(x) for x in ("--assignee", "--assignee-object-id", "--role", "--resource-group", "--scope")):
        raise usage("Please provide at least one of these arguments: --ids, --assignee, --assignee-object-id, "
                    "--role, --resource-group, --scope")
    matched = role_filter(az)
    if not matched:
        raise usage("No matched assignments were found to delete")
    ids = {r["id"] for r in matched}
    az.state["roles"] = [r for r in az.state["roles"] if r["id"] not in ids]
    return None


# --------------------------------------------------------------------------------------- providers


def provider_show(az: Azure) -> Any:
    namespace = az.args.need("--namespace")
    state = az.state["providers"].get(az.sub, {}).get(namespace, "NotRegistered")
    return {"namespace": namespace, "registrationState": state}


def provider_register(az: Azure) -> Any:
    az.state["providers"].setdefault(az.sub, {})[az.args.need("--namespace")] = "Registered"
    return None


# ---------------------------------------------------------------------------------------- eventgrid

RESOURCE_TOPIC_TYPES = {
    "microsoft.cache/redis": "Microsoft.Cache.Redis",
    "microsoft.appconfiguration/configurationstores": "Microsoft.AppConfiguration.ConfigurationStores",
}
SCOPE_TOPIC_TYPES = ("Microsoft.Resources.Subscriptions", "Microsoft.Resources.ResourceGroups")
SCHEMAS = {"eventgridschema": "EventGridSchema", "cloudeventschemav1_0": "CloudEventSchemaV1_0",
           "custominputschema": "CustomInputSchema"}
MULTI_VALUE_OPERATORS = {"stringin", "stringnotin", "stringbeginswith", "stringnotbeginswith", "stringendswith",
                         "stringnotendswith", "stringcontains", "stringnotcontains", "numberin", "numbernotin"}


def topic_id(az: Azure) -> str:
    name = az.args.one("--system-topic-name") or az.args.need("--name")
    return az.rid(az.args.need("--resource-group"), "Microsoft.EventGrid/systemTopics", name)


def topics_of_source(az: Azure, source: str) -> list[dict[str, Any]]:
    return [t for t in az.state["resources"].values() if t.get("type") == "Microsoft.EventGrid/systemTopics"
            and t["source"].lower() == source.lower()]


def identity_info(az: Azure, seed: str) -> dict[str, Any] | None:
    """eventgrid custom.py _get_identity_info_only_if_not_none: an identity only when --identity is given
    (and not noidentity); --mi-system-assigned alone gives none; both together are refused."""
    identity = az.args.one("--identity")
    if identity is not None and az.args.has("--mi-system-assigned"):
        raise usage("usage error: cannot use --identity together with --mi-system-assigned or --mi-user-assigned")
    if identity is None or identity.lower() == "noidentity":
        return None
    if identity.lower() != "systemassigned":
        raise AzFailure(2, f"argument --identity: invalid choice: '{identity}'")
    return {"type": "SystemAssigned", "principalId": az.new_principal(seed + "/identity"), "tenantId": TENANT,
            "userAssignedIdentities": None}


def system_topic_create(az: Azure) -> Any:
    """eventgrid custom.py cli_system_topic_create_or_update. The service allows one system topic per
    source (Event Grid docs, "System topics"), needs the source to exist, and puts a topic of an Azure
    subscription or resource group in the "global" location, a resource's in its region."""
    a = az.args
    tid = topic_id(az)
    source, topic_type = a.need("--source"), a.need("--topic-type")
    location = (a.one("--location") or az.group_location(a.need("--resource-group"))).lower()
    for other in topics_of_source(az, source):
        if other["id"].lower() != tid.lower() and other["topicType"].lower() == topic_type.lower():
            raise usage(f"(InvalidRequest) Only one system topic is allowed per source; {other['name']} exists "
                        "(stand-in wording)")
    parts = source.strip("/").split("/")
    if topic_type in SCOPE_TOPIC_TYPES or topic_type.lower().startswith("microsoft.resourcenotifications."):
        if location != "global":
            raise usage(f"(InvalidRequest) {topic_type} topics live in location global (stand-in wording)")
        if len(parts) > 2:
            az.must(source)
    else:
        found = az.must(source)
        if found["location"].lower().replace(" ", "") != location:
            raise usage(f"(InvalidRequest) The system topic's location {location} differs from the source's "
                        f"{found['location']} (stand-in wording)")
    existing = az.get(tid) or {}
    identity = identity_info(az, tid)
    tags = dict(pairs(a.many("--tags"))) if a.has("--tags") else existing.get("tags")
    return az.put({"id": tid, "name": tid.rsplit("/", 1)[-1], "type": "Microsoft.EventGrid/systemTopics",
                   "location": location, "tags": tags, "identity": identity, "source": source,
                   "topicType": topic_type, "provisioningState": "Succeeded", "metricResourceId": str(uuid.uuid4())})


def system_topic_update(az: Azure) -> Any:
    """eventgrid custom.py cli_system_topic_update: a PATCH of tags and identity (same identity rule)."""
    tid = topic_id(az)
    topic = az.must(tid, "Microsoft.EventGrid/systemTopics")
    identity = identity_info(az, tid)
    if identity is not None:
        topic["identity"] = identity if not topic.get("identity") else topic["identity"]
    if az.args.has("--tags"):
        topic["tags"] = dict(pairs(az.args.many("--tags")))
    return az.put(topic)


def system_topic_show(az: Azure) -> Any:
    return az.must(topic_id(az), "Microsoft.EventGrid/systemTopics")


def system_topic_list(az: Azure) -> Any:
    """eventgrid custom.py cli_system_topic_list: by group, else the whole (command's) subscription."""
    prefix = f"/subscriptions/{az.sub}/".lower()
    group = az.args.one("--resource-group")
    if group:
        prefix += f"resourcegroups/{group.lower()}/"
    return [t for key, t in az.state["resources"].items()
            if key.startswith(prefix) and t.get("type") == "Microsoft.EventGrid/systemTopics"]


def system_topic_delete(az: Azure) -> Any:
    """commands.py: system-topic delete has confirmation=True."""
    require_yes(az)
    tid = topic_id(az)
    az.must(tid, "Microsoft.EventGrid/systemTopics")
    del az.state["resources"][tid.lower()]
    az.state["event_subscriptions"].pop(tid.lower(), None)
    return None


def subscriptions_of(az: Azure, tid: str) -> dict[str, Any]:
    return az.state["event_subscriptions"].setdefault(tid.lower(), {})


def topic_es_show(az: Azure) -> Any:
    """eventgrid custom.py cli_system_topic_event_subscription_get (SDK 404 -> exit 3)."""
    tid = topic_id_of_subscription(az)
    found = subscriptions_of(az, tid).get(az.args.need("--name").lower())
    if found is None:
        raise not_found(f"(ResourceNotFound) The requested resource {tid}/eventSubscriptions/"
                        f"{az.args.one('--name')} does not exist (stand-in wording).")
    return found


def topic_id_of_subscription(az: Azure) -> str:
    return az.rid(az.args.need("--resource-group"), "Microsoft.EventGrid/systemTopics",
                  az.args.need("--system-topic-name"))


def topic_es_list(az: Azure) -> Any:
    tid = topic_id_of_subscription(az)
    az.must(tid, "Microsoft.EventGrid/systemTopics")
    return list(subscriptions_of(az, tid).values())


def topic_es_delete(az: Azure) -> Any:
    """commands.py: system-topic event-subscription delete has confirmation=True."""
    require_yes(az)
    topic_es_show(az)
    del subscriptions_of(az, topic_id_of_subscription(az))[az.args.need("--name").lower()]
    return None


def scope_topic_type(az: Azure, source: str) -> str:
    """Which system topic an extension-resource subscription on `source` lands on."""
    parts = source.strip("/").split("/")
    if len(parts) == 2:
        return "Microsoft.Resources.Subscriptions"
    if len(parts) == 4:
        return "Microsoft.Resources.ResourceGroups"
    kind = f"{parts[5]}/{parts[6]}".lower()
    if kind not in RESOURCE_TOPIC_TYPES:
        raise NotImplementedError(f"the stand-in knows no system topic type for {kind}")
    return RESOURCE_TOPIC_TYPES[kind]


def event_subscription_create(az: Azure) -> Any:
    """eventgrid custom.py cli_eventgrid_event_subscription_create -> _get_event_subscription_info (az's
    checks), then what the service does with the PUT on <source>/providers/Microsoft.EventGrid/
    eventSubscriptions/<name>: it lands on the source's system topic, made (without an identity) if the
    source has none (Event Grid docs, "System topics")."""
    a = az.args
    source = a.need("--source-resource-id")
    endpoint_type = (a.one("--endpoint-type") or "webhook").lower()
    if a.one("--deadletter-endpoint") and a.one("--deadletter-identity-endpoint"):
        raise usage("usage error: either --deadletter_endpoint or --deadletter_identity_endpoint should be "
                    "specified at one time, not both")
    if bool(a.one("--deadletter-identity")) != bool(a.one("--deadletter-identity-endpoint")):
        raise usage("usage error: one or more deadletter identity information is missing. If deadletter_identity "
                    "is specified, deadletter_identity_endpoint should be specified.")
    attempts, ttl = int(a.one("--max-delivery-attempts") or 30), int(a.one("--event-ttl") or 1440)
    if not 1 <= attempts <= 30:  # _validate_retry_policy
        raise usage("--max-delivery-attempts should be a number between 1 and 30.")
    if not 1 <= ttl <= 1440:
        raise usage("--event-ttl should be a number between 1 and 1440.")
    batch, size = a.one("--max-events-per-batch"), a.one("--preferred-batch-size-in-kilobytes")
    if (batch or size) and endpoint_type not in ("webhook", "azurefunction"):
        raise usage("usage error: max-events-per-batch is applicable only for endpoint types WebHook and "
                    "AzureFunction.")
    if batch and int(batch) > 5000:
        raise usage("usage error: max-events-per-batch must be a number between 1 and 5000.")
    if size and int(size) > 1024:
        raise usage("usage error: preferred-batch-size-in-kilobytes must be a number between 1 and 1024.")
    if endpoint_type != "azurefunction":
        raise NotImplementedError("the stand-in knows only --endpoint-type azurefunction")
    dead = None
    dead_endpoint = a.one("--deadletter-identity-endpoint") or a.one("--deadletter-endpoint")
    if dead_endpoint:
        # _get_deadletter_destination
        blob = re.split("/blobServices/default/containers/", dead_endpoint, flags=re.IGNORECASE)
        if len(blob) != 2:
            raise usage("Argument Error: Expected format of --deadletter-endpoint is:/subscriptions/id/resourceGroups/"
                        "rg/providers/Microsoft.Storage/storageAccounts/sa1/blobServices/default/containers/"
                        "containerName")
        dead = {"endpointType": "StorageBlob", "resourceId": blob[0], "blobContainerName": blob[1]}
    wanted = {
        "destination": {"endpointType": "AzureFunction", "resourceId": a.need("--endpoint"),
                        "maxEventsPerBatch": int(batch) if batch else None,
                        "preferredBatchSizeInKilobytes": int(size) if size else None,
                        "deliveryAttributeMappings": None},
        "filter": {"includedEventTypes": a.many("--included-event-types") or None,
                   "advancedFilters": advanced_filters(a.each("--advanced-filter")),
                   "subjectBeginsWith": a.one("--subject-begins-with"), "subjectEndsWith": a.one("--subject-ends-with"),
                   "isSubjectCaseSensitive": False, "enableAdvancedFilteringOnArrays": None},
        "eventDeliverySchema": SCHEMAS.get((a.one("--event-delivery-schema") or "").lower()),
        "retryPolicy": {"maxDeliveryAttempts": attempts, "eventTimeToLiveInMinutes": ttl},
        "deadLetterDestination": dead if a.one("--deadletter-endpoint") else None,
        "deadLetterWithResourceIdentity": {"identity": {"type": "SystemAssigned", "userAssignedIdentity": None},
                                           "deadLetterDestination": dead}
        if a.one("--deadletter-identity-endpoint") else None,
    }
    topic = source_topic(az, source)
    if topic is None:
        topic_type = scope_topic_type(az, source)
        if len(source.strip("/").split("/")) > 2:
            az.must(source)
        parts = source.strip("/").split("/")
        group = parts[3] if len(parts) > 2 else AUTO_TOPIC_GROUP
        location = az.get(source)["location"] if len(parts) > 4 else "global"
        name = f"{parts[-1]}-{uuid.uuid4()}"
        topic = az.put({"id": f"/subscriptions/{parts[1]}/resourceGroups/{group}/providers/Microsoft.EventGrid/"
                              f"systemTopics/{name}", "name": name, "type": "Microsoft.EventGrid/systemTopics",
                        "location": location, "tags": None, "identity": None, "source": source,
                        "topicType": topic_type, "provisioningState": "Succeeded"})
    return store_subscription(az, topic, a.need("--name"), wanted)


def source_topic(az: Azure, source: str) -> dict[str, Any] | None:
    topic_type = scope_topic_type(az, source)
    found = [t for t in topics_of_source(az, source) if t["topicType"].lower() == topic_type.lower()]
    return found[0] if found else None


def event_subscription_show(az: Azure) -> Any:
    """eventgrid custom.py cli_eventgrid_event_subscription_get: by source (SDK 404 -> exit 3)."""
    source, name = az.args.need("--source-resource-id"), az.args.need("--name")
    topic = source_topic(az, source)
    found = subscriptions_of(az, topic["id"]).get(name.lower()) if topic else None
    if found is None:
        raise not_found(f"(ResourceNotFound) The requested resource {source}/providers/Microsoft.EventGrid/"
                        f"eventSubscriptions/{name} does not exist (stand-in wording).")
    return found


def event_subscription_delete(az: Azure) -> Any:
    """eventgrid custom.py cli_eventgrid_event_subscription_delete (no confirmation)."""
    event_subscription_show(az)
    topic = source_topic(az, az.args.need("--source-resource-id"))
    del subscriptions_of(az, topic["id"])[az.args.need("--name").lower()]
    return None


def advanced_filters(given: list[list[str]]) -> list[dict[str, Any]] | None:
    """advanced_filter.py EventSubscriptionAddFilter: KEY OPERATOR VALUE..., known operators only."""
    result = []
    for values in given:
        if len(values) < 2:
            raise usage("usage error: --advanced-filter KEY[.INNERKEY] FILTEROPERATOR VALUE [VALUE...]")
        key, operator = values[0], values[1]
        if operator.lower() not in MULTI_VALUE_OPERATORS:
            raise usage(f"--advanced-filter: The specified filter operator '{operator}' is not a valid operator "
                        "(the stand-in knows the multi-value string and number operators).")
        if len(values) < 3:
            raise usage(f"--advanced-filter: For '{operator}' operator at least one filter value must be specified.")
        canonical = next(o for o in ("StringIn", "StringNotIn", "StringBeginsWith", "StringNotBeginsWith",
                                      "StringEndsWith", "StringNotEndsWith", "StringContains", "StringNotContains",
                                      "NumberIn", "NumberNotIn") if o.lower() == operator.lower())
        result.append({"key": key, "operatorType": canonical, "values": values[2:]})
    return result or None


def store_subscription(az: Azure, topic: dict[str, Any], name: str, wanted: dict[str, Any]) -> Any:
    """What the service checks on a PUT, then the subscription as az's show prints it."""
    function = (wanted["destination"]["resourceId"] or "").lower()
    if function not in az.state["functions"]:
        # Event Grid validates an Azure Function destination (stand-in wording).
        raise usage(f"(InvalidRequest) Destination function {wanted['destination']['resourceId']} does not exist "
                    "or is not an Event Grid trigger (stand-in wording).")
    filters = wanted["filter"]["advancedFilters"] or []
    # Event Grid docs, event-filtering "Limitations": 25 advanced filters and 25 values over all of them
    # per subscription, string values of at most 512 characters.
    if len(filters) > 25 or sum(len(f["values"]) for f in filters) > 25:
        raise usage("(InvalidRequest) Too many advanced filters or values (at most 25) (stand-in wording)")
    if any(len(str(v)) > 512 for f in filters for v in f["values"]):
        raise usage("(InvalidRequest) An advanced filter value is longer than 512 characters (stand-in wording)")
    if wanted["deadLetterWithResourceIdentity"] and (topic.get("identity") or {}).get("type") != "SystemAssigned":
        # The dead-letter identity is the parent topic's (ARM model DeadLetterWithResourceIdentity: "Uses the
        # managed identity setup on the parent resource (namely, topic or domain)").
        raise usage(f"(InvalidRequest) Topic {topic['name']} has no system-assigned identity to dead-letter with "
                    "(stand-in wording)")
    existing = subscriptions_of(az, topic["id"]).get(name.lower())
    schema = wanted["eventDeliverySchema"] or "EventGridSchema"
    if existing and existing["eventDeliverySchema"] != schema:
        # MicrosoftDocs/azure-docs#17010, the service's answer to a changed schema.
        raise usage(f"(InvalidRequest) The new event delivery schema value {schema} cannot be different from the "
                    f"already existing event delivery schema value {existing['eventDeliverySchema']}.")
    destination = dict(wanted["destination"])
    destination["maxEventsPerBatch"] = destination["maxEventsPerBatch"] or 1
    destination["preferredBatchSizeInKilobytes"] = destination["preferredBatchSizeInKilobytes"] or 64
    stored = {
        "id": f"{topic['id']}/eventSubscriptions/{name}", "name": name,
        "type": "Microsoft.EventGrid/systemTopics/eventSubscriptions", "topic": topic["id"],
        "provisioningState": "Succeeded", **wanted, "destination": destination, "eventDeliverySchema": schema,
        "labels": None, "expirationTimeUtc": None, "deliveryWithResourceIdentity": None,
    }
    subscriptions_of(az, topic["id"])[name.lower()] = stored
    return stored


# --------------------------------------------------------------------------------------------- rest


def rest(az: Azure) -> Any:
    """util custom.py rest_call -> core util.py send_raw_request: a URL without "://" is ARM's; the body
    must be JSON to be sent as JSON; an error status is an HTTPError (exit 1, the body in the message)."""
    method = (az.args.one("--method") or "get").lower()
    url = az.args.need("--url")
    if "://" not in url:
        url = "https://management.azure.com/" + url.lstrip("/")
    parsed = urlparse(url)
    path = parsed.path
    body = None
    if az.args.has("--body"):
        try:
            body = json.loads(az.args.need("--body"))
        except json.JSONDecodeError:
            raise usage("(BadRequest) the request body is not JSON (stand-in wording)") from None
    if "api-version=" not in parsed.query:
        raise usage("Bad Request({\"error\":{\"code\":\"MissingApiVersionParameter\"}})")
    auth = re.fullmatch(r"(?i)(/subscriptions/.+/providers/Microsoft\.Web/sites/[^/]+)/config/authsettingsV2(/list)?", path)
    if auth:
        site = az.get(auth.group(1))
        if site is None:
            raise AzFailure(1, 'Not Found({"error":{"code":"ResourceNotFound"}})')
        if method == "get" and auth.group(2):
            # A new app answers empty properties (authV2 extension is_app_new_to_auth).
            return {"id": f"{site['id']}/config/authsettingsV2", "name": "authsettingsV2",
                    "properties": az.state["auth"].get(site["id"].lower(), {})}
        if method == "put" and not auth.group(2):
            if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
                raise usage("Bad Request (stand-in wording: the body needs \"properties\")")
            az.state["auth"][site["id"].lower()] = body["properties"]
            return {"id": f"{site['id']}/config/authsettingsV2", "name": "authsettingsV2", **body}
    es = re.fullmatch(r"(?i)(/subscriptions/.+/providers/Microsoft\.EventGrid/systemTopics/[^/]+)/eventSubscriptions/([^/]+)", path)
    if es and method == "put":
        topic = az.get(es.group(1))
        if topic is None:
            raise AzFailure(1, 'Not Found({"error":{"code":"ResourceNotFound"}})')
        props = (body or {}).get("properties") or {}
        destination, dead = props.get("destination") or {}, props.get("deadLetterWithResourceIdentity")
        wanted = {
            "destination": {"endpointType": destination.get("endpointType"),
                            **(destination.get("properties") or {}), "deliveryAttributeMappings": None},
            "filter": {**{"subjectBeginsWith": None, "subjectEndsWith": None, "isSubjectCaseSensitive": False,
                          "enableAdvancedFilteringOnArrays": None}, **(props.get("filter") or {})},
            "eventDeliverySchema": props.get("eventDeliverySchema"),
            "retryPolicy": props.get("retryPolicy") or {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440},
            "deadLetterDestination": None,
            "deadLetterWithResourceIdentity": None if not dead else {
                "identity": {"userAssignedIdentity": None, **dead.get("identity", {})},
                "deadLetterDestination": {"endpointType": dead["deadLetterDestination"]["endpointType"],
                                          **dead["deadLetterDestination"].get("properties", {})}},
        }
        wanted["destination"].setdefault("maxEventsPerBatch", None)
        wanted["destination"].setdefault("preferredBatchSizeInKilobytes", None)
        return store_subscription(az, topic, es.group(2), wanted)
    raise NotImplementedError(f"the stand-in does not know az rest --method {method} {path}")


# -------------------------------------------------------------------------------------------- graph

GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def graph_missing(identifier: str) -> AzFailure:
    # graph_err_handler turns a GraphError into a CLIError: exit 1 with Graph's message.
    return AzFailure(1, f"Resource '{identifier}' does not exist or one of its queried reference-property objects "
                        "are not present.")


def find_app(az: Azure, identifier: str) -> dict[str, Any]:
    """role custom.py _resolve_application: appId or object id (GUIDs), else an identifier URI."""
    for app in az.state["apps"]:
        if identifier in (app["appId"], app["id"]) or identifier in app["identifierUris"]:
            return app
    if not GUID.match(identifier):
        raise AzFailure(3, f"Application with identifier URI '{identifier}' doesn't exist")
    raise graph_missing(identifier)


def ad_app_list(az: Azure) -> Any:
    """role custom.py list_applications: --display-name filters with startswith(displayName, ...)."""
    name = az.args.one("--display-name")
    return [app for app in az.state["apps"] if name is None or app["displayName"].startswith(name)]


def ad_app_show(az: Azure) -> Any:
    return find_app(az, az.args.need("--id"))


def apply_app_options(az: Azure, app: dict[str, Any]) -> None:
    """_graph_objects.py _application_property_map: where each option lands in the application."""
    a = az.args
    if a.has("--identifier-uris"):
        uris = a.many("--identifier-uris")
        for uri in uris:
            # Entra's default app management policy: api://<appId> or a verified domain (Graph docs,
            # application identifierUris). The stand-in tenant has no verified domain.
            if uri != f"api://{app['appId']}":
                raise AzFailure(1, "Values of identifierUris property must use a verified domain of the organization "
                                   "or its subdomain: " + uri)
        app["identifierUris"] = uris
    if a.has("--web-redirect-uris"):
        app["web"]["redirectUris"] = a.many("--web-redirect-uris")
    if a.has("--enable-id-token-issuance"):
        app["web"]["implicitGrantSettings"]["enableIdTokenIssuance"] = a.one("--enable-id-token-issuance") == "true"
    if a.has("--sign-in-audience"):
        app["signInAudience"] = a.one("--sign-in-audience")
    if a.has("--requested-access-token-version"):
        app["api"]["requestedAccessTokenVersion"] = int(a.need("--requested-access-token-version"))


def ad_app_create(az: Azure) -> Any:
    """role custom.py create_application: an app with the same display name is patched, not duplicated;
    more than one is an error."""
    name = az.args.need("--display-name")
    same = [app for app in az.state["apps"] if app["displayName"] == name]
    if len(same) > 1:
        raise usage(f"More than one application have the same display name '{name}': (id) "
                    f"{', '.join(app['id'] for app in same)}, please remove them first.")
    if same:
        apply_app_options(az, same[0])
        return same[0]
    app = {"id": az.new_principal("app-object" + name), "appId": az.new_principal("app" + name),
           "displayName": name, "identifierUris": [], "signInAudience": "AzureADMyOrg",
           "web": {"redirectUris": [], "homePageUrl": None,
                   "implicitGrantSettings": {"enableIdTokenIssuance": False, "enableAccessTokenIssuance": False}},
           "api": {"acceptMappedClaims": None, "knownClientApplications": [], "oauth2PermissionScopes": [],
                   "preAuthorizedApplications": [], "requestedAccessTokenVersion": None}}
    apply_app_options(az, app)
    az.state["apps"].append(app)
    return app


def generic_set(az: Azure, known: tuple[str, ...]) -> dict[str, Any]:
    """What the --set expressions of a generic update add to the body (core commands/arm.py set_properties:
    KEY=VALUE split at the first "=", the value parsed as JSON when it parses, else kept as a string).
    The Graph update commands start from an empty body (role custom.py update_application,
    update_service_principal), so the body holds only what is set. The stand-in knows top-level keys only."""
    body: dict[str, Any] = {}
    for expressions in az.args.each("--set"):
        for expression in expressions:
            key, _, value = expression.partition("=")
            if not key.strip():
                raise usage("usage error: Empty key in --set. Correct syntax: --set KEY=VALUE [KEY=VALUE ...]")
            if key not in known:
                raise NotImplementedError(f"the stand-in does not know --set {key}")
            try:
                body[key] = json.loads(value)
            except json.JSONDecodeError:
                body[key] = value
    return body


def graph_bad_request(message: str) -> AzFailure:
    # graph_err_handler: a GraphError becomes a CLIError, exit 1 with Graph's message.
    return AzFailure(1, message)


def patch_api(app: dict[str, Any], api: Any) -> None:
    """Graph PATCH of an application's `api` (Graph application resource, apiApplication). The stand-in
    replaces the whole object: whether Graph merges a partial complex value is not documented, and the
    scripts send the whole object."""
    if not isinstance(api, dict):
        raise graph_bad_request("Invalid value specified for property 'api' of resource 'Application'.")
    before = {scope["id"]: scope for scope in app["api"].get("oauth2PermissionScopes") or []}
    after = {scope.get("id"): scope for scope in api.get("oauth2PermissionScopes") or []}
    for scope_id, scope in before.items():
        if scope.get("isEnabled") and after.get(scope_id) not in (scope, {**scope, "isEnabled": False}):
            # microsoftgraph/msgraph-sdk-dotnet#1888: dropping or changing an enabled scope is refused;
            # disabling it is the way to do either.
            raise graph_bad_request("Permission (scope or role) cannot be deleted or updated unless disabled first.")
    for scope in after.values():
        if not (isinstance(scope.get("id"), str) and GUID.match(scope["id"]) and scope.get("value")
                and scope.get("type") in ("User", "Admin") and isinstance(scope.get("isEnabled"), bool)):
            # Graph permissionScope: id (Guid), value, type User/Admin, isEnabled (stand-in wording).
            raise graph_bad_request(f"Invalid permission scope {scope!r} (stand-in wording)")
    for client in api.get("preAuthorizedApplications") or []:
        for permission in client.get("delegatedPermissionIds") or []:
            if permission not in before:
                # microsoftgraph/microsoft-graph-docs#20177: a scope defined in the same request is not
                # recognised here; the message as quoted in msgraph-sdk-dotnet#2044.
                raise graph_bad_request("Property api.preAuthorizedApplications.delegatedPermissionIds has a "
                                        "Permission Id that cannot be found in the AppPermissions sets.")
    app["api"] = api


def ad_app_update(az: Azure) -> Any:
    """role commands.py: a generic update (getter show_application, custom update_application, setter
    patch_application); prints nothing."""
    app = find_app(az, az.args.need("--id"))
    body = generic_set(az, ("api",))
    apply_app_options(az, app)
    if "api" in body:
        patch_api(app, body["api"])
    return None


def ad_app_delete(az: Azure) -> Any:
    """Deleting an application also deletes its service principal in the home tenant (Entra docs)."""
    app = find_app(az, az.args.need("--id"))
    az.state["apps"].remove(app)
    az.state["sps"] = [sp for sp in az.state["sps"] if sp["appId"] != app["appId"]]
    return None


def ad_sp_show(az: Azure) -> Any:
    """role custom.py show_service_principal -> _resolve_service_principal (by servicePrincipalNames)."""
    identifier = az.args.need("--id")
    for sp in az.state["sps"]:
        if identifier in (sp["id"], sp["appId"]):
            return sp
    if not GUID.match(identifier):
        raise AzFailure(3, f"Service principal '{identifier}' doesn't exist")
    raise graph_missing(identifier)


def ad_sp_update(az: Azure) -> Any:
    """role commands.py: a generic update (getter show_service_principal, custom update_service_principal
    -> an empty body, setter patch_service_principal); prints nothing. Graph servicePrincipal:
    appRoleAssignmentRequired is a Boolean, not nullable."""
    sp = ad_sp_show(az)
    body = generic_set(az, ("appRoleAssignmentRequired",))
    if "appRoleAssignmentRequired" in body:
        if not isinstance(body["appRoleAssignmentRequired"], bool):
            raise graph_bad_request("Invalid value specified for property 'appRoleAssignmentRequired' of resource "
                                    "'ServicePrincipal'.")
        sp["appRoleAssignmentRequired"] = body["appRoleAssignmentRequired"]
    return None


def ad_sp_create(az: Azure) -> Any:
    """role custom.py _create_service_principal: the application must exist."""
    app = find_app(az, az.args.need("--id"))
    if [sp for sp in az.state["sps"] if sp["appId"] == app["appId"]]:
        raise usage("Request_MultipleObjectsWithSameKeyValue: The service principal already exists (stand-in wording)")
    sp = {"id": az.new_principal("sp" + app["appId"]), "appId": app["appId"], "displayName": app["displayName"],
          "servicePrincipalNames": [app["appId"], *app["identifierUris"]], "appRoleAssignmentRequired": False}
    az.state["sps"].append(sp)
    return sp


COMMANDS = {
    ("account", "show"): account_show,
    ("group", "show"): group_show,
    ("group", "create"): group_create,
    ("storage", "account", "show"): storage_account_show,
    ("storage", "account", "create"): storage_account_create,
    ("storage", "account", "update"): storage_account_update,
    ("storage", "account", "delete"): storage_account_delete,
    ("storage", "container-rm", "show"): container_rm_show,
    ("storage", "container-rm", "create"): container_rm_create,
    ("storage", "container-rm", "delete"): container_rm_delete,
    ("monitor", "log-analytics", "workspace", "show"): workspace_show,
    ("monitor", "log-analytics", "workspace", "create"): workspace_create,
    ("monitor", "log-analytics", "workspace", "delete"): workspace_delete,
    ("resource", "show"): resource_show,
    ("resource", "create"): resource_create,
    ("resource", "delete"): resource_delete,
    ("functionapp", "show"): functionapp_show,
    ("functionapp", "create"): functionapp_create,
    ("functionapp", "delete"): functionapp_delete,
    ("functionapp", "identity", "show"): functionapp_identity_show,
    ("functionapp", "identity", "assign"): functionapp_identity_assign,
    ("functionapp", "scale", "config", "set"): scale_config_set,
    ("functionapp", "scale", "config", "always-ready", "set"): always_ready_set,
    ("functionapp", "config", "appsettings", "list"): appsettings_list,
    ("functionapp", "config", "appsettings", "set"): appsettings_set,
    ("functionapp", "config", "appsettings", "delete"): appsettings_delete,
    ("functionapp", "deployment", "source", "config-zip"): config_zip,
    ("functionapp", "function", "show"): function_show,
    ("tag", "update"): tag_update,
    ("role", "assignment", "list"): role_list,
    ("role", "assignment", "create"): role_create,
    ("role", "assignment", "delete"): role_delete,
    ("provider", "show"): provider_show,
    ("provider", "register"): provider_register,
    ("eventgrid", "system-topic", "create"): system_topic_create,
    ("eventgrid", "system-topic", "update"): system_topic_update,
    ("eventgrid", "system-topic", "show"): system_topic_show,
    ("eventgrid", "system-topic", "list"): system_topic_list,
    ("eventgrid", "system-topic", "delete"): system_topic_delete,
    ("eventgrid", "system-topic", "event-subscription", "show"): topic_es_show,
    ("eventgrid", "system-topic", "event-subscription", "list"): topic_es_list,
    ("eventgrid", "system-topic", "event-subscription", "delete"): topic_es_delete,
    ("eventgrid", "event-subscription", "create"): event_subscription_create,
    ("eventgrid", "event-subscription", "show"): event_subscription_show,
    ("eventgrid", "event-subscription", "delete"): event_subscription_delete,
    ("rest",): rest,
    ("ad", "app", "list"): ad_app_list,
    ("ad", "app", "show"): ad_app_show,
    ("ad", "app", "create"): ad_app_create,
    ("ad", "app", "update"): ad_app_update,
    ("ad", "app", "delete"): ad_app_delete,
    ("ad", "sp", "show"): ad_sp_show,
    ("ad", "sp", "create"): ad_sp_create,
    ("ad", "sp", "update"): ad_sp_update,
}


def run(argv: list[str], state: dict[str, Any]) -> tuple[Any, list[str]]:
    """The command's result and the warnings az would print."""
    words, options = parse([a for a in argv if a not in GLOBAL_ARGS])
    handler = COMMANDS.get(words)
    if handler is None:
        raise NotImplementedError(f"the stand-in az does not know: az {' '.join(argv)}")
    azure = Azure(state, Args(options), quiet="--only-show-errors" in argv)
    return handler(azure), azure.warnings


def invoke(argv: list[str], state_path: str, log_path: str, failing: str | None) -> tuple[int, str, str]:
    """One az call: (exit code, stdout, stderr); the state is saved only when the call succeeds."""
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(json.dumps(argv) + "\n")
    if failing and failing in " ".join(a for a in argv if a not in GLOBAL_ARGS):
        return 1, "", f"ERROR: (AuthorizationFailed) the stand-in was told to fail: {failing}\n"
    with open(state_path, encoding="utf-8") as file:
        state = json.load(file)
    try:
        result, warnings = run(argv, state)
    except AzFailure as failure:
        return failure.code, "", f"ERROR: {failure}\n"
    except NotImplementedError as missing:
        return 2, "", f"ERROR: {missing}\n"
    with open(state_path, "w", encoding="utf-8") as file:
        json.dump(state, file)
    return 0, "" if result is None else json.dumps(result) + "\n", "".join(w + "\n" for w in warnings)


def main() -> int:
    code, out, err = invoke(sys.argv[1:], os.environ["FAKE_AZ_STATE"], os.environ["FAKE_AZ_LOG"],
                            os.environ.get("FAKE_AZ_FAIL"))
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


if __name__ == "__main__":
    sys.exit(main())
