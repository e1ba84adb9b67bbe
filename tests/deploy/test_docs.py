"""The examples of docs/deploy.md, run with --dry-run: the plan they print has what issue 13 and the
agreed interfaces ask for (no Azure, no az: a dry run calls nothing)."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest

from deploy.az import run_main

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def examples() -> list[list[str]]:
    """Each `python -m deploy.<script> ...` of the doc's code blocks, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOC.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("python -m deploy.")]
    return [shlex.split(line)[2:] for line in lines if "[" not in line]


def plan(capsys, argv: list[str]) -> list[str]:
    module = importlib.import_module(argv[0])
    capsys.readouterr()
    assert run_main(module.main, [*argv[1:], "--dry-run"]) == 0
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("az ")]


def first(lines: list[str], start: str) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(start))


def test_the_doc_has_the_examples():
    scripts = [argv[0] for argv in examples()]
    assert scripts.count("deploy.provision") == 1 and scripts.count("deploy.subscribe") == 3


def test_the_provision_example_plans_identity_storage_logs_and_sign_in(fake_az, capsys):
    (argv,) = [argv for argv in examples() if argv[0] == "deploy.provision"]
    lines = plan(capsys, argv)
    assert first(lines, "az storage container-rm create") < first(lines, "az functionapp create")
    assert "--deployment-storage-container-name app-package" in lines[first(lines, "az functionapp create")]
    assert first(lines, "az resource create") < first(lines, "az functionapp create")
    assert "Microsoft.Insights/components" in lines[first(lines, "az resource create")]
    assert "--app-insights audit-log-4711" in lines[first(lines, "az functionapp create")]
    settings = lines[first(lines, "az functionapp config appsettings set")]
    assert "AzureWebJobsStorage__accountName=auditlog4711" in settings
    assert lines[first(lines, "az functionapp config appsettings delete")].endswith("--setting-names AzureWebJobsStorage")
    assert first(lines, "az functionapp config appsettings set") < first(lines, "az functionapp config appsettings delete")
    roles = [line for line in lines if line.startswith("az role assignment create")]
    assert [re.search(r"--role '([^']+)'", line).group(1) for line in roles] == [
        "Storage Blob Data Owner", "Storage Queue Data Contributor", "Storage Table Data Contributor"]
    assert first(lines, "az ad app create") < first(lines, "az rest --method put")
    assert '"unauthenticatedClientAction": "AllowAnonymous"' in lines[first(lines, "az rest --method put")]
    assert fake_az.calls == []


@pytest.mark.parametrize("index", [0, 1, 2])
def test_the_subscribe_examples_plan_identity_dead_lettering_grants_and_filters(fake_az, capsys, index):
    argv = [argv for argv in examples() if argv[0] == "deploy.subscribe"][index]
    lines = plan(capsys, argv)
    if "--remove" in argv:
        assert [line for line in lines if "event-subscription delete" in line]
        return
    creates = [line for line in lines if line.startswith("az eventgrid event-subscription create")]
    assert creates and all("--deadletter-identity systemassigned --deadletter-identity-endpoint" in c for c in creates)
    topics = [line for line in lines if line.startswith("az eventgrid system-topic create")]
    assert topics and all("--identity systemassigned" in line for line in topics)
    assert any("'Storage Blob Data Contributor'" in line and "/blobServices/default/containers/audit-deadletter" in line
               for line in lines if line.startswith("az role assignment create"))
    notifications = [line for line in lines if line.startswith("az rest --method put")]
    assert len(notifications) == 1 and '"key": "data.resourceInfo.id"' in notifications[0]
    assert '"deadLetterWithResourceIdentity"' in notifications[0]
    control = [c for c in creates if "Microsoft.Resources.ResourceWriteSuccess" in c]
    assert control and all("--advanced-filter data.resourceUri StringContains /providers/Microsoft.Cache/Redis/ "
                           "/providers/Microsoft.Cache/redisEnterprise/ /providers/Microsoft.AppConfiguration/"
                           "configurationStores/" in c for c in control)
    if "--appconfig" in argv:
        assert any("'App Configuration Data Reader'" in line for line in lines if "role assignment create" in line)
