"""deploy.provision against the stand-in az (tests/deploy/fake_az.py): a fake, because Azure's control
plane cannot run here. Whether the real az accepts the commands is test_real_az.py's job."""

from __future__ import annotations

import zipfile

import pytest

from deploy import provision
from deploy.az import run_main
from tests.deploy.scenarios import PROVISION, PROVISION_BASE


def run(argv: list[str]) -> int:
    return run_main(provision.main, argv)


def test_first_run_creates_everything_in_order(fake_az, capsys):
    """Stand-in az: an empty subscription gets every resource, the role, the settings and the code."""
    assert run([*PROVISION_BASE, "--table-prefix", "Prod"]) == 0
    verbs = [" ".join(call[:3]) for call in fake_az.changes]
    assert verbs == ["group create --name", "storage account create", "functionapp create --name",
                     "role assignment create", "functionapp config appsettings",
                     "functionapp deployment source", "tag update --resource-id"]
    create = next(call for call in fake_az.changes if call[:2] == ["functionapp", "create"])
    for flag, value in [("--flexconsumption-location", "westeurope"), ("--runtime", "python"),
                        ("--runtime-version", "3.11"), ("--deployment-storage-auth-type", "SystemAssignedIdentity")]:
        assert create[create.index(flag) + 1] == value
    state = fake_az.state
    assert state["settings/audit-log-4711"] == {
        "AUDIT_STORAGE__tableServiceUri": "https://auditlog4711.table.core.windows.net",
        "PYTHON_ISOLATE_WORKER_DEPENDENCIES": "1", "AUDIT_TABLE_PREFIX": "Prod"}
    account_id = state["storage/auditlog4711"]["id"]
    assert f"role/principal-of-audit-log-4711/Storage Table Data Contributor/{account_id}" in state
    out = capsys.readouterr().out
    assert "created function app audit-log-4711 (Flex Consumption, Python 3.11)" in out
    assert "az storage entity query --account-name auditlog4711" in out and "ProdRedisCacheEvents" in out


@pytest.mark.parametrize("argv", PROVISION, ids=lambda argv: " ".join(argv[8:]) or "defaults")
def test_a_second_run_changes_nothing(fake_az, capsys, argv):
    """Stand-in az: run twice; the second run only reads (idempotence)."""
    assert run(argv) == 0
    fake_az.forget_calls()
    assert run(argv) == 0
    assert fake_az.changes == []
    assert fake_az.calls, "the second run still checks what is there"
    assert "nothing: everything was already in place" in capsys.readouterr().out


def test_an_existing_app_without_identity_gets_one_and_only_changed_settings_are_set(fake_az):
    """Stand-in az: a pre-existing app lacking the identity and one setting is completed, not recreated."""
    assert run(PROVISION_BASE) == 0
    state = fake_az.state
    del state["identity/audit-log-4711"]
    state["settings/audit-log-4711"]["PYTHON_ISOLATE_WORKER_DEPENDENCIES"] = "0"
    fake_az.state_path.write_text(__import__("json").dumps(state))
    fake_az.forget_calls()
    assert run(PROVISION_BASE) == 0
    assert [call[:3] for call in fake_az.changes] == [["functionapp", "identity", "assign"],
                                                      ["functionapp", "config", "appsettings"]]
    settings_call = fake_az.changes[1]
    assert settings_call[settings_call.index("--settings") + 1:] == ["PYTHON_ISOLATE_WORKER_DEPENDENCIES=1"]


def test_changed_code_is_deployed_again(fake_az, monkeypatch, tmp_path):
    """Stand-in az: the package hash tag decides; a different package is deployed, the same one not."""
    assert run(PROVISION_BASE) == 0
    monkeypatch.setattr(provision.package, "build", lambda destination: "another-hash")
    fake_az.forget_calls()
    assert run(PROVISION_BASE) == 0
    assert [call[:2] for call in fake_az.changes] == [["functionapp", "deployment"], ["tag", "update"]]


def test_the_first_failing_command_stops_the_script_and_is_named(fake_az, monkeypatch, capsys):
    """Stand-in az failing one command: nothing after it runs, and stderr names it with az's message."""
    monkeypatch.setenv("FAKE_AZ_FAIL", "role assignment create")
    assert run(PROVISION_BASE) == 1
    err = capsys.readouterr().err
    assert "error: this command failed (exit 1):" in err
    assert "az role assignment create --assignee-object-id principal-of-audit-log-4711" in err
    assert "AuthorizationFailed" in err
    assert fake_az.calls[-1][:3] == ["role", "assignment", "create"]


def test_dry_run_prints_every_command_and_runs_none(fake_az, capsys):
    """Stand-in az: in a dry run it is never called; the plan is the full first-run plan."""
    assert run([*PROVISION_BASE, "--dry-run"]) == 0
    assert fake_az.calls == []
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("az ")]
    assert len(lines) == 14  # 7 reads, 7 changes
    assert "az functionapp identity assign --name audit-log-4711 --resource-group audit-rg" in lines
    assert "Planned (dry run, nothing was run)" in out


@pytest.mark.parametrize(("extra", "message"), [
    (["--storage-account", "Audit_Log"], "not a valid storage account name"),
    (["--table-prefix", "1bad"], "AUDIT_TABLE_PREFIX"),
    (["--allowed-sources", "contoso-sessions"], "AUDIT_ALLOWED_SOURCES"),
    (["--python-version", "3.10"], "invalid choice"),
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
