"""The stand-in az itself, pinned to what az 2.91 does (each test names the az source it copies).

These guard the fake: a stand-in that accepts what the real az refuses, or answers another shape, lets
the deploy scripts' tests pass for the wrong reason (issue 13: the old stand-in created the function app
without the deployment container, and answered `functionapp show` in a shape az never prints).
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.deploy.fake_az import OTHER_SUBSCRIPTION, SUBSCRIPTION
from tests.deploy.scenarios import ACCOUNT_ID, APP_ID, FUNCTION_ID, REDIS_ID, owned_sources

FLEX = ["functionapp", "create", "--name", "audit-log-4711", "--resource-group", "audit-rg",
        "--storage-account", "auditlog4711", "--flexconsumption-location", "westeurope", "--runtime", "python",
        "--runtime-version", "3.11", "--deployment-storage-auth-type", "SystemAssignedIdentity"]


def az(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["az", *args, "--only-show-errors", "--output", "json"], capture_output=True, text=True,
                          check=False)


def ok(*args: str) -> object:
    result = az(*args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


@pytest.fixture
def account(fake_az):
    ok("group", "create", "--name", "audit-rg", "--location", "westeurope")
    ok("storage", "account", "create", "--name", "auditlog4711", "--resource-group", "audit-rg", "--sku", "Standard_LRS")
    return fake_az


def test_a_named_deployment_container_that_does_not_exist_is_refused(account):
    """appservice custom.py _get_or_create_deployment_storage_container: a named container is only looked
    up (blob_containers.get -> 404, exit 3); the app is not created."""
    result = az(*FLEX, "--deployment-storage-container-name", "app-package")
    assert (result.returncode, "ContainerNotFound" in result.stderr) == (3, True), result.stderr
    assert account.resource(APP_ID) is None
    ok("storage", "container-rm", "create", "--storage-account", ACCOUNT_ID, "--name", "app-package")
    ok(*FLEX, "--deployment-storage-container-name", "app-package")


def test_without_a_container_name_az_makes_one_with_a_random_name(account):
    """The same function: no name, then app-package-<app name>-<7 digits> is created."""
    app = ok(*FLEX)
    value = app["properties"]["functionAppConfig"]["deployment"]["storage"]["value"]
    container = value.rsplit("/", 1)[-1]
    assert value == f"https://auditlog4711.blob.core.windows.net/{container}"
    assert re.fullmatch(r"app-package-auditlog4711-\d{7}", container), container
    assert account.resource(f"{ACCOUNT_ID}/blobServices/default/containers/{container}")


def test_create_writes_the_account_key_and_gives_the_identity_blob_contributor(account):
    """create_functionapp: AzureWebJobsStorage is always the key connection string; with
    SystemAssignedIdentity, _prepare_flex_deployment_storage_identity assigns the identity and Storage
    Blob Data Contributor on the deployment account."""
    ok(*FLEX)
    settings = {s["name"]: s["value"] for s in ok("functionapp", "config", "appsettings", "list", "--name",
                                                  "audit-log-4711", "--resource-group", "audit-rg")}
    assert "AccountKey=" in settings["AzureWebJobsStorage"]
    principal = ok("functionapp", "identity", "show", "--name", "audit-log-4711", "--resource-group", "audit-rg")["principalId"]
    roles = ok("role", "assignment", "list", "--assignee-object-id", principal, "--scope", ACCOUNT_ID)
    assert [r["roleDefinitionName"] for r in roles] == ["Storage Blob Data Contributor"]


def test_show_prints_a_flex_app_in_arms_raw_shape_and_a_missing_app_exits_1(account):
    """show_functionapp -> get_raw_functionapp (send_raw_request): Flex settings under
    properties.functionAppConfig; a 404 is an HTTPError, exit 1 with ARM's code in the message."""
    ok(*FLEX, "--runtime-version", "3.12")
    app = ok("functionapp", "show", "--name", "audit-log-4711", "--resource-group", "audit-rg")
    assert "functionAppConfig" not in app
    assert app["properties"]["functionAppConfig"]["runtime"] == {"name": "python", "version": "3.12"}
    missing = az("functionapp", "show", "--name", "nope", "--resource-group", "audit-rg")
    assert missing.returncode == 1 and "ResourceNotFound" in missing.stderr


def test_without_app_insights_and_subscription_rights_the_app_has_none_and_no_error(account):
    """try_create_workspace_based_application_insights needs DefaultResourceGroup-<region>; its failure is
    a warning only (hidden by --only-show-errors): exit 0, no connection string."""
    ok(*FLEX)
    names = [s["name"] for s in ok("functionapp", "config", "appsettings", "list", "--name", "audit-log-4711",
                                   "--resource-group", "audit-rg")]
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" not in names


def test_a_named_app_insights_component_must_exist_in_the_apps_group(account):
    """get_app_insights_connection_string: ResourceNotFoundError (exit 3) before anything is made."""
    result = az(*FLEX, "--app-insights", "audit-ai")
    assert result.returncode == 3 and "App Insights audit-ai under resource group audit-rg was not found" in result.stderr
    assert account.resource(APP_ID) is None


@pytest.fixture
def source(fake_az):
    fake_az.add(*owned_sources())
    return fake_az


def test_mi_system_assigned_alone_makes_a_topic_without_identity(source):
    """eventgrid custom.py _get_identity_info_only_if_not_none: only --identity builds one."""
    base = ["eventgrid", "system-topic", "create", "--resource-group", "platform-prod", "--location", "westeurope",
            "--topic-type", "Microsoft.Cache.Redis", "--source", REDIS_ID]
    assert ok(*base, "--name", "t1", "--mi-system-assigned")["identity"] is None
    both = az(*base, "--name", "t1", "--identity", "systemassigned", "--mi-system-assigned")
    assert both.returncode == 1 and "cannot use --identity together with --mi-system-assigned" in both.stderr
    assert ok(*base, "--name", "t1", "--identity", "systemassigned")["identity"]["type"] == "SystemAssigned"
    second = az(*base, "--name", "t2", "--identity", "systemassigned")
    assert second.returncode == 1 and "one system topic" in second.stderr.lower()


def subscribe_redis(*extra: str) -> subprocess.CompletedProcess[str]:
    return az("eventgrid", "event-subscription", "create", "--name", "audit-log", "--source-resource-id", REDIS_ID,
              "--endpoint-type", "azurefunction", "--endpoint", FUNCTION_ID, *extra)


def deployed(fake_az) -> None:
    state = fake_az.state
    state["functions"].append(FUNCTION_ID.lower())
    fake_az.save(state)


def test_identity_dead_lettering_needs_the_topics_identity_and_both_flags(source):
    """_get_event_subscription_info: --deadletter-identity needs --deadletter-identity-endpoint; the
    service dead-letters with the parent topic's identity, so a topic without one is refused."""
    deployed(source)
    dead = ["--deadletter-identity", "systemassigned", "--deadletter-identity-endpoint",
            f"{ACCOUNT_ID}/blobServices/default/containers/dl"]
    half = subscribe_redis("--deadletter-identity", "systemassigned")
    assert half.returncode == 1 and "deadletter identity information is missing" in half.stderr
    ok(*["eventgrid", "event-subscription", "create", "--name", "plain", "--source-resource-id", REDIS_ID,
         "--endpoint-type", "azurefunction", "--endpoint", FUNCTION_ID])  # auto-creates the system topic
    refused = subscribe_redis(*dead)  # which has no identity
    assert refused.returncode == 1 and "no system-assigned identity" in refused.stderr
    topic = next(t for t in source.state["resources"].values() if t.get("type") == "Microsoft.EventGrid/systemTopics")
    ok("eventgrid", "system-topic", "update", "--name", topic["name"], "--resource-group", "platform-prod",
       "--identity", "systemassigned")
    made = ok(*["eventgrid", "event-subscription", "create", "--name", "audit-log", "--source-resource-id", REDIS_ID,
                "--endpoint-type", "azurefunction", "--endpoint", FUNCTION_ID, *dead])
    assert made["deadLetterWithResourceIdentity"]["deadLetterDestination"] == {
        "endpointType": "StorageBlob", "resourceId": ACCOUNT_ID, "blobContainerName": "dl"}


def test_the_service_refuses_another_schema_on_an_existing_subscription(source):
    """MicrosoftDocs/azure-docs#17010: "The new event delivery schema value ... cannot be different"."""
    deployed(source)
    ok(*["eventgrid", "event-subscription", "create", "--name", "audit-log", "--source-resource-id", REDIS_ID,
         "--endpoint-type", "azurefunction", "--endpoint", FUNCTION_ID])
    changed = subscribe_redis("--event-delivery-schema", "cloudeventschemav1_0")
    assert changed.returncode == 1 and "cannot be different from the already existing" in changed.stderr


def test_a_function_that_is_not_deployed_is_refused_as_destination(source):
    refused = subscribe_redis()
    assert refused.returncode == 1 and "does not exist" in refused.stderr


def test_role_assignment_list_and_delete_see_exactly_the_given_scope(account):
    """role custom.py _search_role_assignments: atScope() and scope == X; delete_role_assignments fails
    when nothing matches."""
    ok(*FLEX)
    principal = ok("functionapp", "identity", "show", "--name", "audit-log-4711", "--resource-group", "audit-rg")["principalId"]
    container = f"{ACCOUNT_ID}/blobServices/default/containers/dl"
    ok("storage", "container-rm", "create", "--storage-account", ACCOUNT_ID, "--name", "dl")
    assert ok("role", "assignment", "list", "--assignee-object-id", principal, "--scope", container) == []
    assert len(ok("role", "assignment", "list", "--assignee-object-id", principal, "--all")) == 1
    none = az("role", "assignment", "delete", "--assignee-object-id", principal, "--scope", container, "--yes")
    assert none.returncode == 1 and "No matched assignments" in none.stderr
    unknown = az("role", "assignment", "create", "--assignee-object-id", "nobody", "--role", "Reader", "--scope",
                 ACCOUNT_ID, "--assignee-principal-type", "ServicePrincipal")
    assert unknown.returncode == 1 and "PrincipalNotFound" in unknown.stderr


def test_settings_list_of_a_missing_app_prints_nothing_and_set_redacts(account):
    """commands.py: appsettings list has exception_handler=empty_on_404; update_app_settings redacts."""
    missing = az("functionapp", "config", "appsettings", "list", "--name", "nope", "--resource-group", "audit-rg")
    assert (missing.returncode, missing.stdout) == (0, "")
    ok(*FLEX)
    out = ok("functionapp", "config", "appsettings", "set", "--name", "audit-log-4711", "--resource-group", "audit-rg",
             "--settings", "A=1")
    assert {s["value"] for s in out} == {None}


def test_commands_with_confirmation_need_yes(account):
    """knack: confirmation=True commands cannot prompt without a tty."""
    refused = az("storage", "account", "delete", "--name", "auditlog4711", "--resource-group", "audit-rg")
    assert refused.returncode == 1 and "Use --yes" in refused.stderr


def test_container_rm_takes_the_subscription_from_the_cli_not_from_the_account_id(fake_az):
    """storage _validators.py parse_storage_account: group and name from the id, the subscription the CLI's."""
    for sub in (OTHER_SUBSCRIPTION,):
        ok("group", "create", "--name", "far", "--location", "westeurope", "--subscription", sub)
        ok("storage", "account", "create", "--name", "faraccount", "--resource-group", "far", "--subscription", sub)
    far = f"/subscriptions/{OTHER_SUBSCRIPTION}/resourceGroups/far/providers/Microsoft.Storage/storageAccounts/faraccount"
    wrong = az("storage", "container-rm", "show", "--storage-account", far, "--name", "c")
    assert wrong.returncode == 3 and "Resource group 'far' could not be found" in wrong.stderr
    assert SUBSCRIPTION not in far
    right = az("storage", "container-rm", "show", "--storage-account", far, "--name", "c", "--subscription",
               OTHER_SUBSCRIPTION)
    assert right.returncode == 3 and "ContainerNotFound" in right.stderr


def test_app_registrations_are_found_by_prefix_and_create_patches_a_namesake(fake_az):
    """role custom.py list_applications (startswith) and create_application (patch a same-named app)."""
    first = ok("ad", "app", "create", "--display-name", "audit log")
    ok("ad", "app", "create", "--display-name", "audit log two")
    assert len(ok("ad", "app", "list", "--display-name", "audit log")) == 2
    again = ok("ad", "app", "create", "--display-name", "audit log", "--enable-id-token-issuance", "true")
    assert again["appId"] == first["appId"] and len(fake_az.state["apps"]) == 2
    other_uri = az("ad", "app", "update", "--id", first["appId"], "--identifier-uris", "api://audit")
    assert other_uri.returncode == 1 and "verified domain" in other_uri.stderr
    missing = az("ad", "sp", "show", "--id", "00000000-0000-0000-0000-00000000beef")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


SCOPE = {"id": "0b5c4c39-5f0e-4f61-9d6a-6f2e7d1c8a41", "value": "user_impersonation", "type": "User", "isEnabled": True,
         "adminConsentDisplayName": "Access", "adminConsentDescription": "Access"}
CLI = {"appId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "delegatedPermissionIds": [SCOPE["id"]]}


def set_api(app_id: str, api: dict) -> subprocess.CompletedProcess[str]:
    return az("ad", "app", "update", "--id", app_id, "--set", "api=" + json.dumps(api))


def test_graph_takes_a_pre_authorization_only_for_a_scope_that_already_exists(fake_az):
    """microsoft-graph-docs#20177 (message as in msgraph-sdk-dotnet#2044): the scope first, then the
    pre-authorization, in two PATCHes; az's generic update parses the --set value as JSON."""
    app = ok("ad", "app", "create", "--display-name", "audit log")
    both = set_api(app["appId"], {"oauth2PermissionScopes": [SCOPE], "preAuthorizedApplications": [CLI]})
    assert both.returncode == 1 and "cannot be found in the AppPermissions sets" in both.stderr
    ok("ad", "app", "update", "--id", app["appId"], "--set", "api=" + json.dumps({"oauth2PermissionScopes": [SCOPE]}))
    ok("ad", "app", "update", "--id", app["appId"], "--set",
       "api=" + json.dumps({"oauth2PermissionScopes": [SCOPE], "preAuthorizedApplications": [CLI]}))
    assert ok("ad", "app", "show", "--id", app["appId"])["api"]["preAuthorizedApplications"] == [CLI]


def test_graph_refuses_to_drop_or_change_an_enabled_scope(fake_az):
    """msgraph-sdk-dotnet#1888: "cannot be deleted or updated unless disabled first"."""
    app = ok("ad", "app", "create", "--display-name", "audit log")
    ok("ad", "app", "update", "--id", app["appId"], "--set", "api=" + json.dumps({"oauth2PermissionScopes": [SCOPE]}))
    for api in ({"oauth2PermissionScopes": []}, {"oauth2PermissionScopes": [{**SCOPE, "type": "Admin"}]}):
        refused = set_api(app["appId"], api)
        assert refused.returncode == 1 and "unless disabled first" in refused.stderr
    ok("ad", "app", "update", "--id", app["appId"], "--set",
       "api=" + json.dumps({"oauth2PermissionScopes": [{**SCOPE, "isEnabled": False}]}))
    ok("ad", "app", "update", "--id", app["appId"], "--set", "api=" + json.dumps({"oauth2PermissionScopes": []}))


def test_a_service_principal_lets_anyone_in_until_assignment_is_required(fake_az):
    """Graph servicePrincipal appRoleAssignmentRequired: false by default, a Boolean; `--set` parses
    "true" as JSON (core commands/arm.py set_properties), another word stays a string and is refused."""
    app = ok("ad", "app", "create", "--display-name", "audit log")
    assert ok("ad", "sp", "create", "--id", app["appId"])["appRoleAssignmentRequired"] is False
    refused = az("ad", "sp", "update", "--id", app["appId"], "--set", "appRoleAssignmentRequired=yes")
    assert refused.returncode == 1 and "appRoleAssignmentRequired" in refused.stderr
    ok("ad", "sp", "update", "--id", app["appId"], "--set", "appRoleAssignmentRequired=true")
    assert ok("ad", "sp", "show", "--id", app["appId"])["appRoleAssignmentRequired"] is True
