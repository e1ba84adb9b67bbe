"""The control-plane subscriptions deliver exactly what the handler records: their filters, as
`deploy.subscribe` leaves them in the stand-in Azure, applied to events by the documented filter rules
(tests/deploy/event_filter.py), then the delivered events recorded by the real handler on Azurite."""

from __future__ import annotations

import copy

import pytest

from deploy import subscribe
from deploy.az import run_main
from deploy.topics import AUDITED_ID_PARTS
from eventaudit.storage.tables import CONTROL_PLANE_EVENTS, UNHANDLED_EVENTS
from tests.conftest import load_sample, rows
from tests.deploy.event_filter import delivers, matches
from tests.deploy.scenarios import ACCOUNT_ID, APP_ID, GROUP_ID, SUB

# The samples' subscription and resources (samples/events/control-plane-*.json).
SAMPLE_SUB = "5b4b650e-28b9-4790-b3ab-ddbd88d727c4"
RG = f"/subscriptions/{SAMPLE_SUB}/resourceGroups/platform-prod"
SESSIONS = f"{RG}/providers/Microsoft.Cache/Redis/contoso-sessions"
STORE = f"{RG}/providers/Microsoft.AppConfiguration/configurationStores/contoso"
AMR = f"{RG}/providers/Microsoft.Cache/redisEnterprise/contoso-amr"
ARM = "Microsoft.Resources.ResourceGroups", "Microsoft.Resources.Subscriptions"
NOTIFICATIONS = "Microsoft.ResourceNotifications.Resources"


def arm_event(event_id: str, resource_uri: str, operation: str, event_type: str = "ResourceWriteSuccess") -> dict:
    """A Resource Manager event in the documented shape (the Jane Doe sample), about another resource:
    an extension resource's id is the resource's id + /providers/<namespace>/<type>/<name>, its operation
    that type's own (Activity Log and event-schema-resource-groups, e.g. the listKeys action example)."""
    [base] = [e for e in load_sample("control-plane-eventgrid") if e["id"] == "7c2a9e41-5b3d-4c8f-a1e6-2d9b8c7a6f50"]
    event = copy.deepcopy(base)
    event.update(id=event_id, subject=resource_uri, eventType=f"Microsoft.Resources.{event_type}")
    event["data"].update(resourceUri=resource_uri, operationName=operation,
                         resourceProvider=operation.split("/", 1)[0])
    event["data"]["authorization"].update(scope=resource_uri, action=operation)
    event["data"]["httpRequest"]["url"] = f"https://management.azure.com{resource_uri}?api-version=2022-04-01"
    return event


def cloud(event: dict) -> dict:
    return {"specversion": "1.0", "id": event["id"], "source": event["topic"], "subject": event["subject"],
            "type": event["eventType"], "time": event["eventTime"], "data": event["data"]}


ROLE_ASSIGNMENT = f"{SESSIONS}/providers/Microsoft.Authorization/roleAssignments/0f7a3c2e-5b1d-4e8f-9a6c-2d4b8e1f7a30"
# Changes below an audited resource that docs/control-plane.md says are recorded.
EXTENSIONS = [
    arm_event("ext-role-assignment", ROLE_ASSIGNMENT, "Microsoft.Authorization/roleAssignments/write"),
    # Resource ids may come in any casing; Event Grid compares without case.
    arm_event("ext-role-assignment-lower", ROLE_ASSIGNMENT.lower(), "Microsoft.Authorization/roleAssignments/delete",
              "ResourceDeleteSuccess"),
    arm_event("ext-lock", f"{STORE}/providers/Microsoft.Authorization/locks/do-not-delete",
              "Microsoft.Authorization/locks/write"),
    cloud(arm_event("ext-diagnostics", f"{AMR}/providers/Microsoft.Insights/diagnosticSettings/to-logs",
                    "microsoft.insights/diagnosticSettings/delete", "ResourceDeleteSuccess")),
]
# Changes the app does not record (the handler keeps them in UnhandledEvents if they ever arrive).
UNWANTED = [
    *load_sample("control-plane-other-type"),
    arm_event("storage-role-assignment", f"{RG}/providers/Microsoft.Storage/storageAccounts/contosoassets/providers/"
              "Microsoft.Authorization/roleAssignments/6a1d", "Microsoft.Authorization/roleAssignments/write"),
    arm_event("endpoint-named-redis", f"{RG}/providers/Microsoft.Network/privateEndpoints/pe-Redis-sessions",
              "Microsoft.Network/privateEndpoints/write"),
    arm_event("group-write", RG, "Microsoft.Resources/subscriptions/resourceGroups/write"),
    {"id": "arn-storage", "topic": f"/subscriptions/{SAMPLE_SUB}", "subject": f"{RG}/providers/Microsoft.Storage/"
     "storageAccounts/contosoassets", "eventType": "Microsoft.ResourceNotifications.Resources.Deleted",
     "eventTime": "2026-11-22T08:00:00Z", "dataVersion": "1", "metadataVersion": "1",
     "data": {"resourceInfo": {"id": f"{RG}/providers/Microsoft.Storage/storageAccounts/contosoassets",
                               "name": "contosoassets", "type": "Microsoft.Storage/storageAccounts"},
              "operationalInfo": {"resourceEventTime": "2026-11-22T08:00:00Z"}}},
]
SAMPLES = load_sample("control-plane-eventgrid") + load_sample("control-plane-cloudevents")


def event_type(event: dict) -> str:
    return event.get("type") or event["eventType"]


def topic_kind(event: dict) -> tuple[str, ...]:
    """The system topic types that publish the event (event-schema-resource-groups, -subscriptions,
    -resources)."""
    return (NOTIFICATIONS,) if event_type(event).startswith("Microsoft.ResourceNotifications.") else ARM


@pytest.fixture
def filters(azure, capsys) -> dict[str, dict]:
    """The filter of each control-plane subscription `deploy.subscribe` made, as Event Grid holds it."""
    argv = ["--function-app", APP_ID, "--deadletter-account", ACCOUNT_ID, "--resource-group-events", GROUP_ID,
            "--subscription-events", SUB, "--resource-notifications", SUB]
    assert run_main(subscribe.main, argv) == 0, capsys.readouterr().err
    state = azure.state
    found = {}
    for topic in state["resources"].values():
        if topic.get("type") == "Microsoft.EventGrid/systemTopics":
            found[topic["topicType"]] = state["event_subscriptions"][topic["id"].lower()]["audit-log"]["filter"]
    assert sorted(found) == sorted([*ARM, NOTIFICATIONS])
    return found


def delivered(filters: dict[str, dict], event: dict) -> bool:
    answers = {delivers(filters[kind], event) for kind in topic_kind(event)}
    assert len(answers) == 1, "the resource group's and the subscription's topics must agree"
    return answers.pop()


def test_every_change_below_an_audited_resource_is_delivered_and_recorded(filters, store, send):
    """Stand-in Event Grid filters (items 1 and 2): role assignments, locks and diagnostic settings on a
    cache or store, and Resource Notifications of children (replicas, databases), reach the handler,
    which records each in the resource's history."""
    wanted = SAMPLES + EXTENSIONS
    missed = [(e["id"], event_type(e)) for e in wanted if not delivered(filters, e)]
    assert missed == []
    for event in wanted:
        send(event)
    assert rows(store, UNHANDLED_EVENTS) == []
    recorded = {r["EventId"]: r for r in rows(store, CONTROL_PLANE_EVENTS)}
    assert set(recorded) == {e["id"] for e in wanted}
    role = recorded["ext-role-assignment"]
    assert (role["ResourceId"], role["SubResource"], role["Operation"], role["CallerUpn"]) == (
        SESSIONS, "providers/microsoft.authorization/roleassignments/0f7a3c2e-5b1d-4e8f-9a6c-2d4b8e1f7a30",
        "Microsoft.Authorization/roleAssignments/write", "jane.doe@contoso.com")
    assert recorded["ext-diagnostics"]["ResourceId"] == AMR
    replica = next(e for e in SAMPLES if event_type(e).endswith("Resources.Deleted")
                   and e["data"]["resourceInfo"]["type"].endswith("/replicas"))
    assert recorded[replica["id"]]["SubResource"] == "replicas/westus"


def test_nothing_else_is_delivered_and_the_handler_would_not_record_it_either(filters, store, send):
    """Stand-in Event Grid filters: other resource types stay out, even when named like a cache; had
    they arrived, the handler would have kept them in UnhandledEvents."""
    assert [e["id"] for e in UNWANTED if delivered(filters, e)] == []
    for event in UNWANTED:
        send(event)
    assert rows(store, CONTROL_PLANE_EVENTS) == []
    assert sorted(r["EventId"] for r in rows(store, UNHANDLED_EVENTS)) == sorted(e["id"] for e in UNWANTED)


@pytest.mark.parametrize("resource", [SESSIONS, AMR, f"{AMR}/databases/default", STORE, f"{STORE}/replicas/westus",
                                      ROLE_ASSIGNMENT])
def test_each_resource_matches_exactly_one_audited_type_whatever_its_case(resource):
    """"/providers/Microsoft.Cache/Redis/" must not let redisEnterprise through by case-insensitivity
    (nor the reverse): the slash after the type name decides."""
    for variant in (resource, resource.lower(), resource.upper()):
        event = {"id": "x", "eventType": "t", "data": {"resourceUri": variant}}
        hits = [part for part in AUDITED_ID_PARTS
                if matches({"operatorType": "StringContains", "key": "data.resourceUri", "values": [part]}, event)]
        assert len(hits) == 1, (variant, hits)


def test_the_filters_stay_within_event_grids_limits(filters):
    """event-filtering.md, Limitations: 25 values over all advanced filters, 512 characters a value."""
    for filter_ in filters.values():
        values = [v for advanced in filter_["advancedFilters"] for v in advanced["values"]]
        assert 0 < len(values) <= 25 and all(len(v) <= 512 for v in values)


# --- the stand-in filter itself, against the page's own examples ---------------------------------

def one(operator: str, values: list[str], data: dict | None = None, key: str = "data.key1") -> bool:
    return matches({"operatorType": operator, "key": key, "values": values}, {"id": "1", "data": data or {}})


def test_the_string_operators_behave_as_documented():
    assert one("StringContains", ["microsoft", "azure"], {"key1": "azure data factory"})
    assert one("StringBeginsWith", ["event", "message"], {"key1": "Event hubs"})  # without case
    assert one("StringEndsWith", ["jpg", "jpeg", "png"], {"key1": "eventgrid.PNG"})
    assert not one("StringIn", ["contoso", "fabrikam"], {"key1": "contoso ltd"})  # exact match
    assert one("StringNotIn", ["aws", "bridge"], {"key1": "azure"})
    assert not one("StringNotContains", ["contoso"], {"key1": "Contoso Ltd"})
    # A missing key matches only StringNotIn; a value of another type is ignored
    assert not one("StringContains", ["x"], {}) and not one("StringNotContains", ["x"], {})
    assert one("StringNotIn", ["x"], {})
    assert not one("StringIn", ["5"], {"key1": 5})
    assert one("StringContains", ["deep"], {"a": {"b": "deeper"}}, key="data.a.b")
    with pytest.raises(NotImplementedError):
        one("NumberIn", ["5"], {"key1": 5})


def test_filters_and_across_and_values_or_within():
    event = {"id": "1", "eventType": "T", "subject": "/providers/Microsoft.Compute/virtualMachines/vm1", "data": {}}
    either = {"operatorType": "StringContains", "key": "Subject",
              "values": ["/providers/microsoft.devtestlab/", "/providers/Microsoft.Compute/virtualMachines/"]}
    lab = {"operatorType": "StringContains", "key": "Subject", "values": ["/providers/microsoft.devtestlab/"]}
    assert delivers({"includedEventTypes": ["T"], "advancedFilters": [either]}, event)
    assert not delivers({"includedEventTypes": ["T"], "advancedFilters": [either, lab]}, event)
    assert not delivers({"includedEventTypes": ["Other"], "advancedFilters": []}, event)
