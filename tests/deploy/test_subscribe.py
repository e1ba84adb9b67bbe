"""deploy.subscribe against the stand-in az (tests/deploy/fake_az.py), starting from the Azure that
deploy.provision leaves (the `azure` fixture). Whether the real az parses the commands is
test_real_az.py's job."""

from __future__ import annotations

import itertools
import subprocess

import pytest

from deploy import subscribe
from deploy.az import run_main
from tests.deploy.fake_az import OTHER_SUBSCRIPTION
from tests.deploy.scenarios import (
    ACCOUNT_ID,
    AMR_ID,
    APP_ID,
    BATCHING,
    BY_ID,
    BY_NAME,
    CONTROL_PLANE,
    DEADLETTER,
    FUNCTION_ID,
    GROUP_ID,
    OTHER_REDIS_ID,
    REDIS_ID,
    STORE_ID,
    SUB,
    SUBSCRIBE,
)

ARM_TYPES = [f"Microsoft.Resources.Resource{op}{outcome}" for op in ("Write", "Delete", "Action")
             for outcome in ("Success", "Failure", "Cancel")]


def run(argv: list[str]) -> int:
    return run_main(subscribe.main, argv)


def topics_of(fake_az) -> dict[tuple[str, str], dict]:
    """System topics by (source, type)."""
    return {(t["source"].lower(), t["topicType"]): t for t in fake_az.state["resources"].values()
            if t.get("type") == "Microsoft.EventGrid/systemTopics"}


def subscription(fake_az, source: str, topic_type: str, name: str = "audit-log") -> dict:
    topic = topics_of(fake_az)[(source.lower(), topic_type)]
    return fake_az.state["event_subscriptions"][topic["id"].lower()][name]


def grants(fake_az, role: str) -> list[tuple[str, str]]:
    return [(r["principalId"], r["scope"]) for r in fake_az.state["roles"] if r["roleDefinitionName"] == role]


def verbs(calls: list[list[str]]) -> list[str]:
    return [" ".join(itertools.takewhile(lambda word: not word.startswith("-"), call)) for call in calls]


@pytest.mark.parametrize("argv", [BY_NAME, BY_ID], ids=["by name", "by resource id"])
def test_each_source_gets_a_system_topic_with_identity_and_identity_dead_lettering(azure, capsys, argv):
    """Stand-in az (item 7): explicit system topics with a system identity, which alone may write the
    dead-letter container; subscriptions dead-letter with --deadletter-identity."""
    assert run(argv) == 0, capsys.readouterr().err
    for source, kind, events in [
        (REDIS_ID, "Microsoft.Cache.Redis", ["Microsoft.Cache.ScalingCompleted", "Microsoft.Cache.PatchingCompleted",
                                              "Microsoft.Cache.ImportRDBCompleted", "Microsoft.Cache.ExportRDBCompleted"]),
        (STORE_ID, "Microsoft.AppConfiguration.ConfigurationStores",
         ["Microsoft.AppConfiguration.KeyValueModified", "Microsoft.AppConfiguration.KeyValueDeleted",
          "Microsoft.AppConfiguration.SnapshotCreated", "Microsoft.AppConfiguration.SnapshotModified"]),
    ]:
        topic = topics_of(azure)[(source.lower(), kind)]
        assert topic["identity"]["type"] == "SystemAssigned" and topic["tags"] == {"created-by": "eventaudit"}
        made = subscription(azure, source, kind)
        assert made["destination"]["resourceId"] == FUNCTION_ID
        assert made["filter"]["includedEventTypes"] == events
        assert (made["eventDeliverySchema"], made["retryPolicy"]) == \
            ("EventGridSchema", {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440})
        assert made["deadLetterDestination"] is None
        assert made["deadLetterWithResourceIdentity"] == {
            "identity": {"type": "SystemAssigned", "userAssignedIdentity": None},
            "deadLetterDestination": {"endpointType": "StorageBlob", "resourceId": ACCOUNT_ID,
                                      "blobContainerName": "audit-deadletter"}}
        # The least scope that works: the dead-letter container, not the account.
        assert (topic["identity"]["principalId"], DEADLETTER) in grants(azure, "Storage Blob Data Contributor")
    assert azure.resource(DEADLETTER) is not None
    creates = [call for call in azure.changes if call[:3] == ["eventgrid", "event-subscription", "create"]]
    assert all(call[call.index("--deadletter-identity") + 1] == "systemassigned" for call in creates)


def test_the_app_may_read_every_store_it_subscribes(azure):
    """Stand-in az (lane 14): App Configuration Data Reader on the store, to the app's identity."""
    assert run(BY_ID) == 0
    principal = azure.resource(APP_ID)["identity"]["principalId"]
    assert grants(azure, "App Configuration Data Reader") == [(principal, STORE_ID)]


def test_azure_managed_redis_is_covered_through_the_control_plane_with_filters(azure, capsys):
    """Stand-in az (lane 15): the cache's resource group ARM events and its subscription's Resource
    Notifications, each filtered to the audited resource types."""
    assert run(CONTROL_PLANE) == 0, capsys.readouterr().err
    arm = subscription(azure, GROUP_ID, "Microsoft.Resources.ResourceGroups")
    assert arm["filter"]["includedEventTypes"] == ARM_TYPES
    parts = ["/providers/Microsoft.Cache/Redis/", "/providers/Microsoft.Cache/redisEnterprise/",
             "/providers/Microsoft.AppConfiguration/configurationStores/"]
    assert arm["filter"]["advancedFilters"] == [{"key": "data.resourceUri", "operatorType": "StringContains",
                                                 "values": parts}]
    notifications = subscription(azure, f"/subscriptions/{SUB}", "Microsoft.ResourceNotifications.Resources")
    assert notifications["filter"]["includedEventTypes"] == [
        "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated", "Microsoft.ResourceNotifications.Resources.Deleted"]
    assert notifications["filter"]["advancedFilters"] == [{"key": "data.resourceInfo.id",
                                                           "operatorType": "StringContains", "values": parts}]
    assert notifications["deadLetterWithResourceIdentity"]["identity"]["type"] == "SystemAssigned"
    topic = topics_of(azure)[(f"/subscriptions/{SUB}".lower(), "Microsoft.ResourceNotifications.Resources")]
    assert topic["location"] == "global" and "/resourceGroups/audit-rg/" in topic["id"]


def test_the_subscription_topic_and_a_group_by_id(azure):
    argv = ["--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID, "--resource-group-events", GROUP_ID,
            "--subscription-events", SUB]
    assert run(argv) == 0
    made = subscription(azure, f"/subscriptions/{SUB}", "Microsoft.Resources.Subscriptions")
    assert made["filter"]["advancedFilters"][0]["key"] == "data.resourceUri"
    assert subscription(azure, GROUP_ID, "Microsoft.Resources.ResourceGroups")


@pytest.mark.parametrize("argv", SUBSCRIBE, ids=lambda argv: " ".join(a for a in argv if not a.startswith("/")))
def test_a_second_run_changes_nothing(azure, capsys, argv):
    """Stand-in az: run twice; the second run only reads (idempotence)."""
    assert run(argv) == 0, capsys.readouterr().err
    azure.forget_calls()
    assert run(argv) == 0
    assert azure.changes == []
    assert "nothing: everything was already in place" in capsys.readouterr().out


def test_changing_the_schema_deletes_and_recreates_the_subscription(azure, capsys):
    """Stand-in az (item 5): Event Grid refuses another delivery schema on an existing subscription."""
    assert run(BY_ID) == 0
    azure.forget_calls()
    assert run([*BY_ID, "--schema", "cloudevents"]) == 0, capsys.readouterr().err
    assert verbs(azure.changes) == ["eventgrid system-topic event-subscription delete", "eventgrid event-subscription create"] * 2
    assert subscription(azure, REDIS_ID, "Microsoft.Cache.Redis")["eventDeliverySchema"] == "CloudEventSchemaV1_0"
    assert "to change its schema" in capsys.readouterr().out


def test_other_settings_are_updated_in_place_and_the_report_says_what_changed(azure, capsys):
    """Stand-in az: create is a PUT; no delete is needed for retry and batching."""
    assert run(BY_ID) == 0
    azure.forget_calls()
    assert run([*BY_ID, "--max-delivery-attempts", "10", *BATCHING]) == 0
    assert verbs(azure.changes) == ["eventgrid event-subscription create"] * 2
    out = capsys.readouterr().out
    assert "retryPolicy.maxDeliveryAttempts: 30 -> 10" in out and "destination.maxEventsPerBatch: 1 -> 50" in out
    made = subscription(azure, REDIS_ID, "Microsoft.Cache.Redis")
    assert (made["destination"]["maxEventsPerBatch"], made["destination"]["preferredBatchSizeInKilobytes"]) == (50, 256)


def test_the_earlier_operation_name_filters_are_replaced_by_the_resource_filters(azure, capsys):
    """Stand-in az: subscriptions made with the earlier filters (data.operationName, which dropped role
    assignments, locks and diagnostic settings; data.resourceInfo.type StringIn, which dropped children)
    are brought to the current ones in place, and the summary names the change."""
    argv = ["--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID, "--resource-group-events", GROUP_ID,
            "--resource-notifications", SUB]
    assert run(argv) == 0
    state = azure.state
    earlier = {"microsoft.resources.resourcegroups": {"key": "data.operationName", "operatorType": "StringBeginsWith",
                                                      "values": ["Microsoft.Cache/Redis/"]},
               "microsoft.resourcenotifications.resources": {"key": "data.resourceInfo.type",
                                                             "operatorType": "StringIn",
                                                             "values": ["Microsoft.Cache/Redis"]}}
    for topic in state["resources"].values():
        if topic.get("type") == "Microsoft.EventGrid/systemTopics":
            made = state["event_subscriptions"][topic["id"].lower()]["audit-log"]
            made["filter"]["advancedFilters"] = [earlier[topic["topicType"].lower()]]
    azure.save(state)
    capsys.readouterr()
    azure.forget_calls()
    assert run(argv) == 0
    assert verbs(azure.changes) == ["eventgrid event-subscription create", "rest"]
    assert capsys.readouterr().out.count("filter.advancedFilters: ") == 2
    assert subscription(azure, GROUP_ID, "Microsoft.Resources.ResourceGroups")["filter"]["advancedFilters"][0][
        "key"] == "data.resourceUri"
    assert subscription(azure, f"/subscriptions/{SUB}", "Microsoft.ResourceNotifications.Resources")["filter"][
        "advancedFilters"][0]["key"] == "data.resourceInfo.id"


def test_a_subscription_made_by_the_old_script_moves_to_identity_dead_lettering(azure, capsys):
    """Stand-in az: the old script's subscription (key-based dead-lettering, auto-created topic without
    identity) is found by its source, the topic gets an identity, the subscription is replaced."""
    state = azure.state
    state["providers"][SUB] = {"Microsoft.EventGrid": "Registered"}
    azure.save(state)
    old = subprocess.run(["az", "eventgrid", "event-subscription", "create", "--name", "audit-log", "--source-resource-id",
                          REDIS_ID, "--endpoint-type", "azurefunction", "--endpoint", FUNCTION_ID, "--deadletter-endpoint",
                          f"{ACCOUNT_ID}/blobServices/default/containers/audit-deadletter"], capture_output=True,
                         text=True, check=False)
    assert old.returncode == 0, old.stderr
    azure.forget_calls()
    assert run(["--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID, "--redis", REDIS_ID]) == 0, \
        capsys.readouterr().err
    assert verbs(azure.changes) == ["storage container-rm create", "eventgrid system-topic update",
                                    "role assignment create", "eventgrid event-subscription create"]
    (topic,) = [t for t in topics_of(azure).values() if t["source"] == REDIS_ID]
    assert topic["identity"]["type"] == "SystemAssigned" and not topic["tags"]
    made = subscription(azure, REDIS_ID, "Microsoft.Cache.Redis")
    assert made["deadLetterDestination"] is None and made["deadLetterWithResourceIdentity"]


def test_sources_in_another_subscription_register_event_grid_there(azure, capsys):
    """Stand-in az (item 6): the provider is registered in each source's subscription."""
    assert run(["--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID, "--redis", OTHER_REDIS_ID]) == 0, \
        capsys.readouterr().err
    assert azure.state["providers"][OTHER_SUBSCRIPTION] == {"Microsoft.EventGrid": "Registered"}
    assert subscription(azure, OTHER_REDIS_ID, "Microsoft.Cache.Redis")["destination"]["resourceId"] == FUNCTION_ID


def test_the_function_is_looked_up_in_the_apps_own_subscription(azure, capsys):
    """Stand-in az (item 6): an app elsewhere is found there; one that is missing is named as missing,
    not mistaken for "deploy the code first"."""
    elsewhere = APP_ID.replace(SUB, OTHER_SUBSCRIPTION)
    assert run(["--function-app", elsewhere, "--deadletter-account", ACCOUNT_ID, "--redis", REDIS_ID]) == 1
    err = capsys.readouterr().err
    assert f"function app audit-log-4711 (subscription {OTHER_SUBSCRIPTION}, group audit-rg) was not found" in err
    assert "deploy the code first" not in err
    checks = [call for call in azure.calls if call[:2] == ["functionapp", "show"]]
    assert checks[0][checks[0].index("--subscription") + 1] == OTHER_SUBSCRIPTION


def test_a_subscription_scope_topic_for_another_subscription_needs_its_resource_group(azure, capsys):
    assert run(["--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID, "--subscription-events",
                OTHER_SUBSCRIPTION]) == 1
    assert "--topic-resource-group" in capsys.readouterr().err
    assert azure.changes == []


def test_remove_deletes_what_subscribe_made_and_keeps_the_dead_letters(azure, capsys):
    """Stand-in az: --remove deletes the subscriptions, the topics' dead-letter roles, the topics made by
    the scripts, the store grant; the container stays; a second --remove changes nothing."""
    assert run([*BY_NAME, "--managed-redis", AMR_ID]) == 0
    remove = ["--remove", "--function-app", APP_ID, "--redis", "contoso-sessions", "--appconfig", STORE_ID,
              "--managed-redis", AMR_ID, "--source-resource-group", "platform-prod"]
    assert run(remove) == 0, capsys.readouterr().err
    assert topics_of(azure) == {} and not any(azure.state["event_subscriptions"].values())
    assert grants(azure, "App Configuration Data Reader") == []
    assert [scope for _, scope in grants(azure, "Storage Blob Data Contributor")] == [ACCOUNT_ID]  # az's own
    assert azure.resource(DEADLETTER) is not None
    azure.forget_calls()
    assert run(remove) == 0
    assert azure.changes == []


def test_a_missing_source_stops_the_script_before_any_change(azure, capsys):
    assert run([*BY_NAME[:-4], "--redis", "no-such-cache", "--source-resource-group", "platform-prod"]) == 1
    assert "error: Redis cache no-such-cache was not found (az resource show --name no-such-cache" in \
        capsys.readouterr().err
    assert azure.changes == []


def test_a_function_not_yet_deployed_is_refused_with_the_fix(azure, capsys):
    state = azure.state
    state["functions"] = []
    azure.save(state)
    assert run(BY_NAME) == 1
    assert "has no function record_event: deploy the code first" in capsys.readouterr().err


def test_the_replay_hint_uses_the_apps_tables_and_prefix(fake_az, capsys, provisioned_state):
    """Stand-in az (item 8): the hint names the app's table endpoint and AUDIT_TABLE_PREFIX."""
    provisioned_state = {**provisioned_state, "settings": {k: {**v, "AUDIT_TABLE_PREFIX": "Prod"}
                                                           for k, v in provisioned_state["settings"].items()}}
    fake_az.save(provisioned_state)
    assert run(BY_ID) == 0
    out = capsys.readouterr().out
    assert "AUDIT_STORAGE__tableServiceUri=https://auditlog4711.table.core.windows.net AUDIT_TABLE_PREFIX=Prod" in out


def test_the_first_failing_command_stops_the_script_and_is_named(azure, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_AZ_FAIL", "event-subscription create")
    assert run(BY_ID) == 1
    err = capsys.readouterr().err
    assert f"az eventgrid event-subscription create --name audit-log --source-resource-id {REDIS_ID}" in err
    assert verbs(azure.calls).count("eventgrid event-subscription create") == 1


def test_dry_run_prints_every_command_and_runs_none(fake_az, capsys):
    """Stand-in az: in a dry run az is never called, and nothing needs to exist."""
    assert run([*BY_NAME, "--managed-redis", "contoso-amr", "--dry-run"]) == 0
    assert run(["--remove", "--redis", REDIS_ID, "--dry-run"]) == 0
    assert fake_az.calls == []
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("az ")]
    assert sum(line.startswith("az eventgrid event-subscription create") for line in lines) == 3
    assert sum(line.startswith("az rest --method put") for line in lines) == 1
    assert sum("--identity systemassigned" in line for line in lines) == 4
    assert sum(line.startswith("az eventgrid system-topic event-subscription delete") for line in lines) == 1
    assert any("'App Configuration Data Reader'" in line and line.startswith("az role assignment create") for line in lines)


@pytest.mark.parametrize(("argv", "message"), [
    (["--function-app", "a", "--deadletter-account", "b"], "give at least one source"),
    (["--redis", "c"], "required to subscribe: --function-app, --deadletter-account"),
    ([*BY_ID, "--max-delivery-attempts", "31"], "31 is not between 1 and 30"),
    ([*BY_ID, "--event-ttl", "0"], "0 is not between 1 and 1440"),
    ([*BY_ID, "--max-events-per-batch", "5001"], "5001 is not between 1 and 5000"),
    ([*BY_ID, "--schema", "custom"], "invalid choice"),
    ([*BY_ID, "--redis", "/subscriptions/x"], "is not a resource id"),
    ([*BY_ID, "--resource-group-events", "/subscriptions/x/resourceGroups/y/providers/z"], "is not a resource group id"),
])
def test_bad_arguments_are_refused_before_any_az_call(fake_az, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        run(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert fake_az.calls == []


def test_a_resource_id_of_another_type_is_refused(azure, capsys):
    assert run(["--redis", STORE_ID, "--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID]) == 1
    assert "is not a Redis cache (Microsoft.Cache/Redis) resource id" in capsys.readouterr().err
