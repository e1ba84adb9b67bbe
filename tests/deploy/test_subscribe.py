"""deploy.subscribe against the stand-in az (tests/deploy/fake_az.py): a fake, because Azure's control
plane cannot run here. Whether the real az accepts the commands is test_real_az.py's job."""

from __future__ import annotations

import json

import pytest

from deploy import subscribe
from deploy.az import run_main
from tests.deploy.scenarios import (
    ACCOUNT_ID,
    APP_ID,
    BATCHING,
    BY_ID,
    BY_NAME,
    REDIS_ID,
    STORE_ID,
    SUBSCRIBE,
    existing_sources,
    provisioned_app,
)

DEADLETTER = f"{ACCOUNT_ID}/blobServices/default/containers/audit-deadletter"


def run(argv: list[str]) -> int:
    return run_main(subscribe.main, argv)


@pytest.fixture
def azure(fake_az):
    """The stand-in Azure after provisioning: the app with record_event, a cache and a store."""
    fake_az.seed(**existing_sources(), **provisioned_app())
    return fake_az


def creates(fake_az) -> dict[str, list[str]]:
    return {call[call.index("--source-resource-id") + 1]: call for call in fake_az.changes
            if call[:3] == ["eventgrid", "event-subscription", "create"]}


def value(call: list[str], flag: str) -> str | None:
    return call[call.index(flag) + 1] if flag in call else None


@pytest.mark.parametrize("argv", [BY_NAME, BY_ID], ids=["by name", "by resource id"])
def test_subscribes_each_source_to_record_event_with_its_event_types(azure, capsys, argv):
    """Stand-in az: one subscription a source, Azure Function endpoint, retry policy and dead-lettering."""
    assert run(argv) == 0
    made = creates(azure)
    assert set(made) == {REDIS_ID, STORE_ID}
    redis, store = made[REDIS_ID], made[STORE_ID]
    for call in (redis, store):
        assert value(call, "--endpoint-type") == "azurefunction"
        assert value(call, "--endpoint") == f"{APP_ID}/functions/record_event"
        assert value(call, "--deadletter-endpoint") == DEADLETTER
        assert value(call, "--event-delivery-schema") == "eventgridschema"
        assert (value(call, "--max-delivery-attempts"), value(call, "--event-ttl")) == ("30", "1440")
        assert "--max-events-per-batch" not in call
    assert redis[redis.index("--included-event-types") + 1:][:4] == [
        "Microsoft.Cache.ScalingCompleted", "Microsoft.Cache.PatchingCompleted",
        "Microsoft.Cache.ImportRDBCompleted", "Microsoft.Cache.ExportRDBCompleted"]
    assert store[store.index("--included-event-types") + 1:][:4] == [
        "Microsoft.AppConfiguration.KeyValueModified", "Microsoft.AppConfiguration.KeyValueDeleted",
        "Microsoft.AppConfiguration.SnapshotCreated", "Microsoft.AppConfiguration.SnapshotModified"]
    state = azure.state
    assert f"container/{ACCOUNT_ID}/audit-deadletter" in state
    assert state["provider/Microsoft.EventGrid"] == "Registered"
    out = capsys.readouterr().out
    assert "az storage blob download-batch --account-name auditlog4711" in out
    assert "python -m tools.replay ./deadletter" in out


def test_cloudevents_and_batching(azure):
    """Stand-in az: the schema and batch options reach the create command."""
    assert run([*BY_ID, "--schema", "cloudevents", *BATCHING]) == 0
    for call in creates(azure).values():
        assert value(call, "--event-delivery-schema") == "cloudeventschemav1_0"
        assert (value(call, "--max-events-per-batch"), value(call, "--preferred-batch-size-in-kilobytes")) == \
            ("50", "256")


@pytest.mark.parametrize("argv", SUBSCRIBE, ids=lambda argv: " ".join(a for a in argv if not a.startswith("/")))
def test_a_second_run_changes_nothing(azure, capsys, argv):
    """Stand-in az: run twice; the second run only reads (idempotence)."""
    assert run(argv) == 0
    azure.forget_calls()
    assert run(argv) == 0
    assert azure.changes == []
    assert "nothing: everything was already in place" in capsys.readouterr().out


def test_a_subscription_with_other_settings_is_updated_and_says_what_changed(azure, capsys):
    """Stand-in az: changing the retry policy and batching re-issues create (a PUT) for each source."""
    assert run(BY_ID) == 0
    azure.forget_calls()
    assert run([*BY_ID, "--max-delivery-attempts", "10", "--max-events-per-batch", "20"]) == 0
    assert len(creates(azure)) == 2
    out = capsys.readouterr().out
    assert "max delivery attempts: 30 -> 10" in out and "batching: (1, 64) -> (20, 64)" in out


def test_remove_deletes_the_subscriptions_and_keeps_the_dead_letters(azure, capsys):
    """Stand-in az: --remove deletes what exists; a second --remove changes nothing."""
    assert run(BY_NAME) == 0
    remove = ["--remove", "--redis", "contoso-sessions", "--appconfig", STORE_ID,
              "--source-resource-group", "platform-prod"]
    assert run(remove) == 0
    assert not [key for key in azure.state if key.startswith("eventsub/")]
    assert f"container/{ACCOUNT_ID}/audit-deadletter" in azure.state
    azure.forget_calls()
    assert run(remove) == 0
    assert azure.changes == []


def test_a_missing_source_stops_the_script_and_says_which(azure, capsys):
    """Stand-in az: a cache name that does not exist ends the run with exit 1 before any subscription."""
    assert run([*BY_NAME[:-4], "--redis", "no-such-cache", "--source-resource-group", "platform-prod"]) == 1
    assert "error: Redis cache no-such-cache was not found (az redis show --name no-such-cache" in \
        capsys.readouterr().err
    assert creates(azure) == {}


def test_a_function_not_yet_deployed_is_refused_with_the_fix(fake_az, capsys):
    """Stand-in az: the app exists but record_event does not: deploy first, says the error."""
    fake_az.seed(**existing_sources(), **{k: v for k, v in provisioned_app().items() if "function" not in k})
    assert run(BY_NAME) == 1
    assert "has no function record_event: deploy the code first" in capsys.readouterr().err


def test_the_first_failing_command_stops_the_script_and_is_named(azure, monkeypatch, capsys):
    """Stand-in az failing the first create: the second source is never tried; stderr names the command."""
    monkeypatch.setenv("FAKE_AZ_FAIL", "event-subscription create")
    assert run(BY_ID) == 1
    err = capsys.readouterr().err
    assert f"az eventgrid event-subscription create --name audit-log --source-resource-id {REDIS_ID}" in err
    assert [call[:3] for call in azure.calls].count(["eventgrid", "event-subscription", "create"]) == 1
    assert azure.calls[-1][:3] == ["eventgrid", "event-subscription", "create"]


def test_dry_run_prints_every_command_and_runs_none(fake_az, capsys):
    """Stand-in az: in a dry run az is never called, and nothing needs to exist."""
    assert run([*BY_NAME, "--dry-run"]) == 0
    assert run(["--remove", *BY_ID[-4:], "--dry-run"]) == 0
    assert fake_az.calls == []
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("az ")]
    assert sum(line.startswith("az eventgrid event-subscription create") for line in lines) == 2
    assert sum(line.startswith("az eventgrid event-subscription delete") for line in lines) == 2
    assert "az storage container-rm create --storage-account '<id of storage account auditlog4711>' " \
           "--name audit-deadletter --public-access off" in lines


@pytest.mark.parametrize(("argv", "message"), [
    (["--function-app", "a", "--deadletter-account", "b"], "at least one --redis or --appconfig"),
    (["--redis", "c"], "required to subscribe: --function-app, --deadletter-account"),
    ([*BY_ID, "--max-delivery-attempts", "31"], "31 is not between 1 and 30"),
    ([*BY_ID, "--event-ttl", "0"], "0 is not between 1 and 1440"),
    ([*BY_ID, "--max-events-per-batch", "5001"], "5001 is not between 1 and 5000"),
    ([*BY_ID, "--schema", "custom"], "invalid choice"),
    ([*BY_ID, "--redis", "/subscriptions/x"], "is not a resource id"),
])
def test_bad_arguments_are_refused_before_any_az_call(fake_az, capsys, argv, message):
    """Stand-in az: argument errors exit 2 and never reach az."""
    with pytest.raises(SystemExit) as exit_info:
        run(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert fake_az.calls == []


def test_a_resource_id_of_another_type_is_refused(azure, capsys):
    """Stand-in az: a store id given as --redis is refused, naming the expected type."""
    assert run(["--redis", STORE_ID, "--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID]) == 1
    assert "is not a Redis cache (Microsoft.Cache/Redis) resource id" in capsys.readouterr().err


def test_the_stand_in_answers_like_arm(azure):
    """Stand-in az: the stored subscription has the ARM shape differences() reads (guards the fake itself)."""
    assert run(BY_ID) == 0
    stored = azure.state[f"eventsub/{REDIS_ID}/audit-log"]
    assert json.loads(json.dumps(stored))["deadLetterDestination"] == {
        "endpointType": "StorageBlob", "resourceId": ACCOUNT_ID, "blobContainerName": "audit-deadletter"}
