"""deploy.teardown against the stand-in az: what provision and subscribe made goes, in a safe order,
and the audit data stays unless --delete-data."""

from __future__ import annotations

import itertools
import json
import subprocess

import pytest

from deploy import subscribe, teardown
from deploy.az import run_main
from tests.deploy.fake_az import OTHER_SUBSCRIPTION
from tests.deploy.scenarios import (
    ACCOUNT_ID,
    AMR_ID,
    APP_ID,
    BY_ID,
    DEADLETTER,
    OTHER_REDIS_ID,
    REDIS_ID,
    TEARDOWN,
    TEARDOWN_BASE,
)

COMPONENT_ID = APP_ID.replace("Microsoft.Web/sites", "Microsoft.Insights/components")


def verbs(calls: list[list[str]]) -> list[str]:
    return [" ".join(itertools.takewhile(lambda word: not word.startswith("-"), call)) for call in calls]


@pytest.fixture
def subscribed(azure):
    """Provisioned, and subscribed: a cache and a store, a Managed Redis, a cache in another subscription."""
    argv = [*BY_ID, "--managed-redis", AMR_ID]
    assert run_main(subscribe.main, argv) == 0
    assert run_main(subscribe.main, ["--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID,
                                     "--redis", OTHER_REDIS_ID]) == 0
    azure.forget_calls()
    return azure


def topics(fake_az) -> list[dict]:
    return [t for t in fake_az.state["resources"].values() if t.get("type") == "Microsoft.EventGrid/systemTopics"]


def test_teardown_removes_the_app_and_its_subscriptions_and_keeps_the_data(subscribed, capsys):
    """Event subscriptions first (Event Grid stops before its endpoint goes), then roles, the app
    registration, the app; the account (tables, dead letters) and the logs stay."""
    assert run_main(teardown.main, [*TEARDOWN_BASE, "--source-subscription", OTHER_SUBSCRIPTION]) == 0, \
        capsys.readouterr().err
    order = verbs(subscribed.changes)
    last_subscription = max(i for i, verb in enumerate(order) if verb == "eventgrid system-topic event-subscription delete")
    assert last_subscription < order.index("functionapp delete")
    assert order.count("eventgrid system-topic event-subscription delete") == 5
    state = subscribed.state
    assert topics(subscribed) == [] and not any(state["event_subscriptions"].values())
    assert subscribed.resource(APP_ID) is None and state["apps"] == [] and state["sps"] == []
    assert [r["roleDefinitionName"] for r in state["roles"]] == []
    assert subscribed.resource(ACCOUNT_ID) and subscribed.resource(DEADLETTER) and subscribed.resource(COMPONENT_ID)
    assert subscribed.resource(f"{ACCOUNT_ID}/blobServices/default/containers/app-package") is None
    assert not [r for r in state["resources"].values() if r.get("type") == "Microsoft.Web/serverfarms"]
    assert "Kept: storage account auditlog4711" in capsys.readouterr().out
    subscribed.forget_calls()
    assert run_main(teardown.main, TEARDOWN_BASE) == 0
    assert subscribed.changes == []


def test_delete_data_removes_the_account_and_the_logs(subscribed):
    assert run_main(teardown.main, [*TEARDOWN_BASE, "--delete-data"]) == 0
    assert subscribed.resource(ACCOUNT_ID) is None and subscribed.resource(COMPONENT_ID) is None
    assert not [r for r in subscribed.state["resources"].values()
                if r.get("type") == "Microsoft.OperationalInsights/workspaces"]


def test_topics_the_scripts_did_not_make_or_that_others_use_are_kept(subscribed):
    """A topic made by someone else keeps existing; so does one of ours another subscription still uses."""
    (redis_topic,) = [t for t in topics(subscribed) if t["source"] == REDIS_ID]
    state = subscribed.state
    redis_topic["tags"] = None
    state["resources"][redis_topic["id"].lower()] = redis_topic
    amr_topic = next(t for t in topics(subscribed) if t["topicType"] == "Microsoft.Resources.ResourceGroups")
    other = dict(state["event_subscriptions"][amr_topic["id"].lower()]["audit-log"], name="ops-alerts")
    other["destination"] = {**other["destination"], "resourceId": "/subscriptions/x/resourceGroups/ops/providers/"
                            "Microsoft.Web/sites/ops/functions/alert"}
    state["event_subscriptions"][amr_topic["id"].lower()]["ops-alerts"] = other
    subscribed.save(state)
    assert run_main(teardown.main, TEARDOWN_BASE) == 0
    left = {t["id"] for t in topics(subscribed)}
    assert {redis_topic["id"], amr_topic["id"]} <= left
    assert list(subscribed.state["event_subscriptions"][amr_topic["id"].lower()]) == ["ops-alerts"]


def test_a_registration_not_made_by_provision_is_kept(azure, capsys):
    made = subprocess.run(["az", "ad", "app", "create", "--display-name", "team sso", "--output", "json"],
                          capture_output=True, text=True, check=True)
    client = json.loads(made.stdout)["appId"]
    state = azure.state
    state["auth"][APP_ID.lower()]["identityProviders"]["azureActiveDirectory"]["registration"]["clientId"] = client
    azure.save(state)
    assert run_main(teardown.main, TEARDOWN_BASE) == 0
    assert [app["appId"] for app in azure.state["apps"] if app["displayName"] == "team sso"] == [client]
    assert "not made by provision" in capsys.readouterr().out


@pytest.mark.parametrize("argv", TEARDOWN, ids=["keep data", "delete data"])
def test_dry_run_prints_the_plan_and_runs_nothing(fake_az, capsys, argv):
    assert run_main(teardown.main, [*argv, "--dry-run"]) == 0
    assert fake_az.calls == []
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("az ") and "# read" not in line]
    order = verbs([line.split()[1:] for line in lines])
    assert order.index("eventgrid system-topic event-subscription delete") < order.index("functionapp delete")
    assert ("storage account delete" in order) == ("--delete-data" in argv)
