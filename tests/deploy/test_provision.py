"""deploy.provision against the stand-in az (tests/deploy/fake_az.py): a fake, because Azure's control
plane cannot run here, but one that refuses what az refuses. Whether the real az parses the commands is
test_real_az.py's job."""

from __future__ import annotations

import itertools
import json
import shlex
import subprocess
import zipfile

import pytest

from deploy import provision
from deploy.az import run_main
from tests.deploy.scenarios import ACCOUNT_ID, APP_ID, PROVISION, PROVISION_BASE


def run(argv: list[str]) -> int:
    return run_main(provision.main, argv)


def settings(fake_az) -> dict[str, str]:
    return fake_az.state["settings"][APP_ID.lower()]


def roles_of(fake_az, principal: str) -> set[tuple[str, str]]:
    return {(r["roleDefinitionName"], r["scope"]) for r in fake_az.state["roles"] if r["principalId"] == principal}


def verbs(calls: list[list[str]]) -> list[str]:
    """The command words of each call (up to its first option)."""
    return [" ".join(itertools.takewhile(lambda word: not word.startswith("-"), call)) for call in calls]


def test_a_first_run_in_an_empty_subscription_succeeds(fake_az_on_path, capsys):
    """Stand-in az on PATH, as a subprocess (issue 13, item 1): az only looks a named deployment
    container up, so it must exist before `functionapp create` names it."""
    fake_az = fake_az_on_path
    assert run(PROVISION_BASE) == 0, capsys.readouterr().err
    assert all(call[-3:] == ["--only-show-errors", "--output", "json"] for call in fake_az.raw_calls)
    order = verbs(fake_az.changes)
    assert order.index("storage container-rm create") < order.index("functionapp create")
    create = next(call for call in fake_az.changes if call[:2] == ["functionapp", "create"])
    assert create[create.index("--deployment-storage-container-name") + 1] == "app-package"
    assert fake_az.resource(f"{ACCOUNT_ID}/blobServices/default/containers/app-package")["publicAccess"] == "Off"


def existing_container() -> None:
    """The deployment container made beforehand (so the tests below also run the old script past item 1)."""
    for args in (["group", "create", "--name", "audit-rg", "--location", "westeurope"],
                 ["storage", "account", "create", "--name", "auditlog4711", "--resource-group", "audit-rg",
                  "--location", "westeurope", "--sku", "Standard_LRS", "--kind", "StorageV2", "--min-tls-version",
                  "TLS1_2", "--allow-blob-public-access", "false"],
                 ["storage", "container-rm", "create", "--storage-account", ACCOUNT_ID, "--name", "app-package"]):
        subprocess.run(["az", *args], check=True, capture_output=True)


def test_the_app_keeps_no_account_key_and_its_identity_has_the_host_storage_roles(fake_az):
    """Stand-in az (item 2): functionapp create writes AzureWebJobsStorage with the account key; provision
    sets identity-based host storage, grants the roles the Functions docs list, then deletes the key."""
    existing_container()
    assert run([*PROVISION_BASE, "--table-prefix", "Prod"]) == 0
    current = settings(fake_az)
    assert "AzureWebJobsStorage" not in current
    assert not [key for key, value in current.items() if "AccountKey=" in value]
    assert current["AzureWebJobsStorage__accountName"] == "auditlog4711"
    assert current["AUDIT_STORAGE__tableServiceUri"] == "https://auditlog4711.table.core.windows.net"
    assert (current["AUDIT_TABLE_PREFIX"], current["AUDIT_API_AUTH"], current["PYTHON_ISOLATE_WORKER_DEPENDENCIES"]) == \
        ("Prod", "entra", "1")
    principal = fake_az.resource(APP_ID)["identity"]["principalId"]
    assert {role for role, scope in roles_of(fake_az, principal) if scope == ACCOUNT_ID} >= {
        "Storage Blob Data Owner", "Storage Queue Data Contributor", "Storage Table Data Contributor"}
    order = verbs(fake_az.changes)
    # The host never runs without storage: identity settings first, the key deleted last.
    assert order.index("role assignment create") < order.index("functionapp config appsettings set") < \
        order.index("functionapp config appsettings delete")


def test_application_insights_is_made_in_the_apps_group_and_named_in_create(fake_az):
    """Stand-in az (item 4): without --app-insights and without subscription-level rights az's own attempt
    fails with a warning only; provision makes a workspace-based component and names it."""
    existing_container()
    assert run(PROVISION_BASE) == 0
    component = fake_az.resource(APP_ID.replace("Microsoft.Web/sites", "Microsoft.Insights/components"))
    workspace = fake_az.resource(APP_ID.replace("Microsoft.Web/sites/audit-log-4711",
                                                "Microsoft.OperationalInsights/workspaces/audit-log-4711-logs"))
    assert component["properties"]["WorkspaceResourceId"] == workspace["id"]
    assert settings(fake_az)["APPLICATIONINSIGHTS_CONNECTION_STRING"] == component["properties"]["ConnectionString"]
    create = next(call for call in fake_az.changes if call[:2] == ["functionapp", "create"])
    assert create[create.index("--app-insights") + 1] == "audit-log-4711"


def test_a_failure_to_make_application_insights_stops_the_run_loudly(fake_az, monkeypatch, capsys):
    """Stand-in az failing the component: exit 1 naming the command, and no app without logs."""
    monkeypatch.setenv("FAKE_AZ_FAIL", "resource create")
    assert run(PROVISION_BASE) == 1
    assert "az resource create --resource-group audit-rg --name audit-log-4711" in capsys.readouterr().err
    assert fake_az.resource(APP_ID) is None


def test_another_runtime_on_an_existing_app_is_warned_about(fake_az, capsys):
    """Stand-in az (item 3): `functionapp show` prints a Flex app in ARM's raw shape, with the runtime
    under properties.functionAppConfig."""
    existing_container()
    assert run([*PROVISION_BASE, "--skip-deploy"]) == 0
    capsys.readouterr()
    assert run([*PROVISION_BASE, "--skip-deploy", "--python-version", "3.12"]) == 0
    assert "already exists and runs python 3.11, not python 3.12" in capsys.readouterr().err


@pytest.mark.parametrize("argv", PROVISION, ids=lambda argv: " ".join(argv[8:]) or "defaults")
def test_a_second_run_changes_nothing(fake_az, capsys, argv):
    """Stand-in az: run twice; the second run only reads (idempotence)."""
    assert run(argv) == 0
    fake_az.forget_calls()
    assert run(argv) == 0
    assert fake_az.changes == []
    assert fake_az.calls, "the second run still checks what is there"
    assert "nothing: everything was already in place" in capsys.readouterr().out


def test_scale_settings_reach_create_and_later_changes_update_them(fake_az, capsys):
    """Stand-in az: memory, maximum and always-ready for record_event (scale group function:record_event)."""
    assert run([*PROVISION_BASE, "--skip-deploy", "--instance-memory", "4096", "--always-ready", "1"]) == 0
    scale = fake_az.resource(APP_ID)["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    assert (scale["instanceMemoryMB"], scale["maximumInstanceCount"], scale["alwaysReady"]) == \
        (4096, 100, [{"name": "function:record_event", "instanceCount": 1}])
    fake_az.forget_calls()
    assert run([*PROVISION_BASE, "--skip-deploy", "--maximum-instance-count", "40", "--always-ready", "0"]) == 0
    assert verbs(fake_az.changes) == ["functionapp scale config set", "functionapp scale config always-ready set"]
    scale = fake_az.resource(APP_ID)["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    assert (scale["instanceMemoryMB"], scale["maximumInstanceCount"], scale["alwaysReady"]) == \
        (2048, 40, [{"name": "function:record_event", "instanceCount": 0}])


def test_entra_sign_in_is_set_up_as_agreed(fake_az):
    """Stand-in az: a single-tenant registration with ID tokens, api://<client id>, its service principal,
    and Easy Auth v2 with the Microsoft provider letting anonymous requests through (BRIEF)."""
    assert run([*PROVISION_BASE, "--skip-deploy"]) == 0
    (registration,) = fake_az.state["apps"]
    client = registration["appId"]
    assert registration["displayName"] == "audit-log-4711 audit log"
    assert registration["identifierUris"] == [f"api://{client}"]
    assert registration["web"]["redirectUris"] == ["https://audit-log-4711.azurewebsites.net/.auth/login/aad/callback"]
    assert registration["web"]["implicitGrantSettings"]["enableIdTokenIssuance"] is True
    assert [sp["appId"] for sp in fake_az.state["sps"]] == [client]
    auth = fake_az.state["auth"][APP_ID.lower()]
    assert auth["globalValidation"]["unauthenticatedClientAction"] == "AllowAnonymous"
    aad = auth["identityProviders"]["azureActiveDirectory"]
    assert aad["registration"] == {"clientId": client,
                                   "openIdIssuer": "https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000aa/v2.0"}
    assert aad["validation"]["allowedAudiences"] == [f"api://{client}"]
    assert (auth["platform"]["enabled"], auth["login"]["tokenStore"]["enabled"]) == (True, False)
    assert not [key for key in settings(fake_az) if "SECRET" in key.upper()]


def test_an_existing_registration_is_used_and_completed(fake_az):
    """Stand-in az: --entra-client-id names a registration; provision adds what sign-in needs to it."""
    made = json.loads(subprocess.run(["az", "ad", "app", "create", "--display-name", "team sso", "--output", "json"],
                                     capture_output=True, text=True, check=True).stdout)
    assert run([*PROVISION_BASE, "--skip-deploy", "--entra-client-id", made["appId"]]) == 0
    (registration,) = fake_az.state["apps"]
    assert registration["identifierUris"] == [f"api://{made['appId']}"]
    assert registration["web"]["implicitGrantSettings"]["enableIdTokenIssuance"] is True
    assert fake_az.state["auth"][APP_ID.lower()]["identityProviders"]["azureActiveDirectory"]["registration"][
        "clientId"] == made["appId"]


def test_key_mode_sets_no_sign_in(fake_az):
    assert run([*PROVISION_BASE, "--skip-deploy", "--api-auth", "key"]) == 0
    assert settings(fake_az)["AUDIT_API_AUTH"] == "key"
    assert fake_az.state["apps"] == [] and fake_az.state["auth"] == {}
    assert not [call for call in fake_az.calls if call[0] in ("ad", "rest")]


def test_shared_key_access_is_disallowed_last_when_asked(fake_az):
    assert run([*PROVISION_BASE, "--skip-deploy", "--disable-shared-key"]) == 0
    assert fake_az.resource(ACCOUNT_ID)["allowSharedKeyAccess"] is False
    assert verbs(fake_az.changes)[-1] == "storage account update"


def test_an_app_made_by_the_old_script_is_brought_to_identity_storage(fake_az):
    """Stand-in az: an existing app with the key setting and no roles of its own gets them, and loses
    the key; nothing is re-created."""
    assert run([*PROVISION_BASE, "--skip-deploy"]) == 0
    state = fake_az.state
    state["settings"][APP_ID.lower()]["AzureWebJobsStorage"] = "DefaultEndpointsProtocol=https;AccountKey=abc"
    principal = state["resources"][APP_ID.lower()]["identity"]["principalId"]
    state["roles"] = [r for r in state["roles"] if r["roleDefinitionName"] != "Storage Blob Data Owner"]
    fake_az.save(state)
    fake_az.forget_calls()
    assert run([*PROVISION_BASE, "--skip-deploy"]) == 0
    assert verbs(fake_az.changes) == ["role assignment create", "functionapp config appsettings delete"]
    assert "AzureWebJobsStorage" not in settings(fake_az)
    assert ("Storage Blob Data Owner", ACCOUNT_ID) in roles_of(fake_az, principal)


def test_changed_code_is_deployed_again(fake_az, monkeypatch):
    """Stand-in az: the package hash tag decides; a different package is deployed, the same one not."""
    assert run(PROVISION_BASE) == 0
    monkeypatch.setattr(provision.package, "build", lambda destination: "another-hash")
    fake_az.forget_calls()
    assert run(PROVISION_BASE) == 0
    assert verbs(fake_az.changes) == ["functionapp deployment source config-zip", "tag update"]


def test_the_first_failing_command_stops_the_script_and_is_named(fake_az, monkeypatch, capsys):
    """Stand-in az failing one command: nothing after it runs, and stderr names it with az's message."""
    monkeypatch.setenv("FAKE_AZ_FAIL", "role assignment create")
    assert run(PROVISION_BASE) == 1
    err = capsys.readouterr().err
    assert "error: this command failed (exit 1):" in err
    assert "az role assignment create --assignee-object-id" in err and "AuthorizationFailed" in err
    assert fake_az.calls[-1][:3] == ["role", "assignment", "create"]


def test_dry_run_prints_the_whole_plan_and_runs_nothing(fake_az, capsys):
    """Stand-in az: in a dry run it is never called; the plan is the full first-run plan, in order."""
    assert run([*PROVISION_BASE, "--dry-run"]) == 0
    assert fake_az.calls == []
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("az ") and not line.endswith("# read")]
    order = verbs([shlex.split(line)[1:] for line in lines])
    assert order.index("storage container-rm create") < order.index("functionapp create")
    assert sum(line.startswith("az role assignment create") for line in lines) == 3
    assert order[-4:] == ["functionapp config appsettings set", "functionapp config appsettings delete",
                          "functionapp deployment source config-zip", "tag update"]
    assert "Planned (dry run, nothing was run)" in out


@pytest.mark.parametrize(("extra", "message"), [
    (["--storage-account", "Audit_Log"], "not a valid storage account name"),
    (["--table-prefix", "1bad"], "AUDIT_TABLE_PREFIX"),
    (["--allowed-sources", "contoso-sessions"], "AUDIT_ALLOWED_SOURCES"),
    (["--python-version", "3.10"], "invalid choice"),
    (["--instance-memory", "1024"], "invalid choice"),
    (["--maximum-instance-count", "0"], "0 is not between 1 and 1000"),
    (["--api-auth", "key", "--entra-client-id", "x"], "--entra-client-id needs --api-auth entra"),
])
def test_bad_arguments_are_refused_before_any_az_call(fake_az, capsys, extra, message):
    """Stand-in az: argument errors exit 2 and never reach az."""
    with pytest.raises(SystemExit) as exit_info:
        run([*PROVISION_BASE, *extra])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert fake_az.calls == []


def test_the_package_holds_the_app_and_leaves_out_tests_and_tools(tmp_path):
    """No az: the zip that config-zip uploads."""
    digest = provision.package.build(tmp_path / "app.zip")
    names = zipfile.ZipFile(tmp_path / "app.zip").namelist()
    assert {"function_app.py", "host.json", "requirements.txt", "eventaudit/ingest.py", "eventaudit/storage/store.py"} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "deploy/", "tools/", ".venv", "node_modules/"))]
    assert "local.settings.json" not in names
    assert provision.package.build(tmp_path / "again.zip") == digest


@pytest.mark.parametrize(("python", "isolated"), [("3.11", "1"), ("3.12", "1"), ("3.13", None)])
def test_dependency_isolation_is_set_only_for_the_classic_worker(fake_az, python, isolated):
    """Stand-in az: PYTHON_ISOLATE_WORKER_DEPENDENCIES matters only to the classic worker of Python
    3.11/3.12 (docs/runtime.md); 3.13+ isolates the app's packages itself, so it is not set there."""
    existing_container()
    assert run([*PROVISION_BASE, "--skip-deploy", "--python-version", python]) == 0
    assert settings(fake_az).get("PYTHON_ISOLATE_WORKER_DEPENDENCIES") == isolated


def test_only_users_assigned_to_the_app_may_sign_in(fake_az, capsys):
    """Stand-in az (security): the service principal requires an app role assignment, so a tenant member
    or guest who is not assigned can neither sign in nor get a token; the dry run shows the step."""
    assert run([*PROVISION_BASE, "--skip-deploy", "--dry-run"]) == 0
    assert "az ad sp update --id '<client id of app registration audit-log-4711 audit log>' --set " \
           "appRoleAssignmentRequired=true" in capsys.readouterr().out
    assert run([*PROVISION_BASE, "--skip-deploy"]) == 0
    (principal,) = fake_az.state["sps"]
    assert principal["appRoleAssignmentRequired"] is True
    assert "required an assignment to app registration" in capsys.readouterr().out


def test_an_existing_registrations_service_principal_is_brought_to_require_assignment(fake_az):
    """Stand-in az: --entra-client-id with an enterprise application that lets anyone in."""
    made = json.loads(subprocess.run(["az", "ad", "app", "create", "--display-name", "team sso", "--output", "json"],
                                     capture_output=True, text=True, check=True).stdout)
    subprocess.run(["az", "ad", "sp", "create", "--id", made["appId"]], capture_output=True, check=True)
    fake_az.forget_calls()
    assert run([*PROVISION_BASE, "--skip-deploy", "--entra-client-id", made["appId"]]) == 0
    assert [call for call in fake_az.changes if call[:3] == ["ad", "sp", "update"]] == [
        ["ad", "sp", "update", "--id", made["appId"], "--set", "appRoleAssignmentRequired=true"]]
    assert fake_az.state["sps"][0]["appRoleAssignmentRequired"] is True


AZURE_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


def api_updates(fake_az) -> list[dict]:
    """The `api` objects provision sent with `az ad app update --set api=...`, in order."""
    return [json.loads(call[call.index("--set") + 1].removeprefix("api="))
            for call in fake_az.changes if call[:3] == ["ad", "app", "update"] and "--set" in call]


def test_scripts_get_a_token_from_the_azure_cli_without_consent(fake_az):
    """Stand-in az (item 4): a user_impersonation scope, and the Azure CLI pre-authorized for it, in two
    PATCHes (Graph does not accept a pre-authorization of a scope the same request defines); the access
    token version (2) is kept."""
    assert run([*PROVISION_BASE, "--skip-deploy"]) == 0
    (registration,) = fake_az.state["apps"]
    api = registration["api"]
    (scope,) = api["oauth2PermissionScopes"]
    assert (scope["value"], scope["isEnabled"], scope["type"]) == ("user_impersonation", True, "User")
    assert api["preAuthorizedApplications"] == [{"appId": AZURE_CLI, "delegatedPermissionIds": [scope["id"]]}]
    assert api["requestedAccessTokenVersion"] == 2
    first, second = api_updates(fake_az)
    assert first["preAuthorizedApplications"] == [] and second["preAuthorizedApplications"]
    assert run([*PROVISION_BASE, "--skip-deploy"]) == 0 and len(api_updates(fake_az)) == 2  # nothing more


THEIR_IMPERSONATION = {"id": "11111111-1111-1111-1111-111111111111", "value": "user_impersonation", "type": "Admin",
                       "isEnabled": True, "adminConsentDisplayName": "Access", "adminConsentDescription": "Access"}
THEIR_REPORTS = {"id": "22222222-2222-2222-2222-222222222222", "value": "Reports.Read", "type": "User",
                 "isEnabled": True, "adminConsentDisplayName": "Reports", "adminConsentDescription": "Reports"}


@pytest.mark.parametrize("theirs", [[THEIR_IMPERSONATION, THEIR_REPORTS], [THEIR_REPORTS]],
                         ids=["with user_impersonation", "without"])
def test_an_existing_registrations_scopes_are_kept_and_its_own_user_impersonation_reused(fake_az, theirs):
    """Stand-in az: --entra-client-id with scopes of its own: none is dropped or changed (Graph refuses
    that for enabled scopes); its own user_impersonation keeps its id and is the one pre-authorized."""
    made = json.loads(subprocess.run(["az", "ad", "app", "create", "--display-name", "team sso", "--output", "json"],
                                     capture_output=True, text=True, check=True).stdout)
    other_client = {"appId": "33333333-3333-3333-3333-333333333333", "delegatedPermissionIds": [THEIR_REPORTS["id"]]}
    state = fake_az.state
    state["apps"][0]["api"].update(oauth2PermissionScopes=theirs, preAuthorizedApplications=[other_client],
                                   requestedAccessTokenVersion=2)
    fake_az.save(state)
    assert run([*PROVISION_BASE, "--skip-deploy", "--entra-client-id", made["appId"]]) == 0
    api = fake_az.state["apps"][0]["api"]
    assert api["oauth2PermissionScopes"][:len(theirs)] == theirs
    (impersonation,) = [scope for scope in api["oauth2PermissionScopes"] if scope["value"] == "user_impersonation"]
    assert (impersonation["id"] == THEIR_IMPERSONATION["id"]) == (THEIR_IMPERSONATION in theirs)
    assert api["preAuthorizedApplications"] == [
        other_client, {"appId": AZURE_CLI, "delegatedPermissionIds": [impersonation["id"]]}]
    # Only what was missing: a scope (if there was none) and the pre-authorization
    assert len(api_updates(fake_az)) == (1 if THEIR_IMPERSONATION in theirs else 2)
