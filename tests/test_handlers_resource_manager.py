"""Control-plane events: exact rows, callers, resources and children, duplicates, any order, malformed."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import random

import pytest

from eventaudit.control_plane import previous
from eventaudit.control_plane.caller import caller_from, identity_type
from eventaudit.events import from_trigger
from eventaudit.resource_ids import fold_case
from eventaudit.storage import keys
from eventaudit.storage.tables import (
    AUDIT_RESOURCES,
    CONTROL_PLANE_CHAIN,
    CONTROL_PLANE_EVENTS,
    CONTROL_PLANE_STATE,
    UNHANDLED_EVENTS,
)
from tests.conftest import load_sample, rows
from tests.harness import ingest_at_once
from tools.trigger import decode

UTC = dt.UTC
SUB = "5b4b650e-28b9-4790-b3ab-ddbd88d727c4"
RG = f"/subscriptions/{SUB}/resourceGroups/platform-prod"
SESSIONS = f"{RG}/providers/Microsoft.Cache/Redis/contoso-sessions"
AMR = f"{RG}/providers/Microsoft.Cache/redisEnterprise/contoso-amr"
SESSIONS_PARTITION = keys.control_plane_partition("contoso-sessions", fold_case(SESSIONS))
AMR_PARTITION = keys.control_plane_partition("contoso-amr", fold_case(AMR))
_ids = itertools.count()


def sample(name: str, event_id: str) -> dict:
    [event] = [e for e in load_sample(name) if e["id"] == event_id]
    return copy.deepcopy(event)


def jane_scales_sessions() -> dict:
    """ResourceWriteSuccess: a user (Jane) PATCHes contoso-sessions (the P1 -> P2 scale)."""
    return sample("control-plane-eventgrid", "7c2a9e41-5b3d-4c8f-a1e6-2d9b8c7a6f50")


def claims_of(event_id: str, name: str = "control-plane-eventgrid") -> dict:
    return sample(name, event_id)["data"]["claims"]


USER_CLAIMS = claims_of("7c2a9e41-5b3d-4c8f-a1e6-2d9b8c7a6f50")
SERVICE_PRINCIPAL_CLAIMS = claims_of("9d4f1a86-3c7e-4b2a-8e5d-6f1b9c3a7e28")
MANAGED_IDENTITY_CLAIMS = claims_of("2e6d9b14-8c3a-4f7e-b5d2-9a1c6e4f8b37")


def notification(resource: str, time: str, *, sku: dict | None = None, properties: dict | None = None,
                 change: str = "CreatedOrUpdated", cloud: bool = False) -> dict:
    """A Resource Notifications event of `resource` at `time` (SKU top level, as for redisEnterprise)."""
    info: dict = {"id": resource, "name": resource.rsplit("/", 1)[1], "type": "Microsoft.Cache/redisEnterprise"}
    if change == "CreatedOrUpdated":
        info.update({"location": "westeurope", "properties": properties or {"provisioningState": "Succeeded"}})
        if sku is not None:
            info["sku"] = sku
    data = {"resourceInfo": info, "apiVersion": "2025-04-01", "operationalInfo": {"resourceEventTime": time}}
    event_type = f"Microsoft.ResourceNotifications.Resources.{change}"
    event_id = f"arn-{next(_ids)}"
    if cloud:
        return {"specversion": "1.0", "id": event_id, "source": f"/subscriptions/{SUB}", "subject": resource,
                "type": event_type, "time": time, "data": data}
    return {"id": event_id, "topic": f"/subscriptions/{SUB}", "subject": resource, "eventType": event_type,
            "eventTime": time, "data": data, "dataVersion": "1", "metadataVersion": "1"}


def to_cloud_event(event: dict) -> dict:
    return {"specversion": "1.0", "id": event["id"], "source": event["topic"], "subject": event["subject"],
            "type": event["eventType"], "time": event["eventTime"], "data": event["data"]}


def control_rows(store, partition: str | None = None) -> list[dict]:
    found = rows(store, CONTROL_PLANE_EVENTS)
    return [r for r in found if partition is None or r["PartitionKey"] == partition]


def by_event_id(store) -> dict[str, dict]:
    return {r["EventId"]: r for r in control_rows(store)}


# --- Resource Manager events ---------------------------------------------------------------------

def test_a_write_by_a_user_is_one_row_with_the_resource_the_operation_and_the_caller(store, send):
    # Given the documented ResourceWriteSuccess shape: a user PATCHes a cache (resource group topic)
    event = jane_scales_sessions()
    # When it is delivered
    send(event)
    # Then one row, in the cache's partition, holds every property of the contract
    [row] = control_rows(store)
    assert (row["PartitionKey"], row["RowKey"]) == (
        SESSIONS_PARTITION, keys.event_row_key(dt.datetime(2026, 11, 20, 21, 31, 7, 445927, tzinfo=UTC),
                                               from_trigger(decode(event)).identity))
    expected = {
        "EventId": event["id"], "EventType": "Microsoft.Resources.ResourceWriteSuccess", "Topic": RG,
        "Subject": SESSIONS, "Schema": "EventGridEvent",
        "EventTime": dt.datetime(2026, 11, 20, 21, 31, 7, 445927, tzinfo=UTC),
        "Source": "ResourceManager", "Change": "Write", "Outcome": "Success",
        "Operation": "Microsoft.Cache/redis/write", "Status": "Succeeded",
        "CorrelationId": "6b1f3a52-9d4e-4c7b-8a2f-3e5d1c9b7a64",
        "Kind": "RedisCache", "Product": "Azure Cache for Redis", "ResourceType": "Microsoft.Cache/Redis",
        "ResourceId": SESSIONS, "ResourceName": "contoso-sessions", "ResourceGroup": "platform-prod",
        "SubscriptionId": SUB, "SubResource": "",
        "CallerType": "User", "CallerObjectId": "9a4c3b1e-6f2d-4e8a-9b7c-1d2e3f4a5b6c",
        "CallerUpn": "jane.doe@contoso.com", "CallerName": "Jane Doe",
        "CallerAppId": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "ClientIp": "203.0.113.24", "HttpMethod": "PATCH",
    }
    assert {name: row.get(name) for name in expected} == expected
    assert set(row) - set(expected) == {"PartitionKey", "RowKey", "Data"}
    # And the cache is listed
    [resource] = rows(store, AUDIT_RESOURCES)
    assert (resource["PartitionKey"], resource["RowKey"], resource["ResourceType"], resource["ResourceId"]) == (
        "RedisCache", "contoso-sessions", "Microsoft.Cache/Redis", SESSIONS)


def test_the_cloud_event_of_the_same_write_gives_the_same_row(store, send):
    event = jane_scales_sessions()
    send(to_cloud_event(event))
    [row] = control_rows(store)
    assert row["Schema"] == "CloudEvent"
    assert (row["Topic"], row["CallerUpn"], row["ClientIp"], row["Operation"]) == (
        RG, "jane.doe@contoso.com", "203.0.113.24", "Microsoft.Cache/redis/write")


@pytest.mark.parametrize(("event_type", "change", "outcome"), [
    (f"Microsoft.Resources.Resource{change}{outcome}", change, outcome)
    for change in ("Write", "Delete", "Action") for outcome in ("Success", "Failure", "Cancel")
])
def test_each_resource_manager_event_type_maps_to_its_change_and_outcome(store, send, event_type, change,
                                                                         outcome):
    send({**jane_scales_sessions(), "eventType": event_type})
    [row] = control_rows(store)
    assert (row["Change"], row["Outcome"]) == (change, outcome)


@pytest.mark.parametrize(("claims", "caller_type", "who"), [
    (USER_CLAIMS, "User", {"CallerUpn": "jane.doe@contoso.com"}),
    (SERVICE_PRINCIPAL_CLAIMS, "ServicePrincipal", {"CallerAppId": "6d1f8c3a-2b4e-4f5a-9c8d-7e6f5a4b3c2d"}),
    (MANAGED_IDENTITY_CLAIMS, "ManagedIdentity", {
        "CallerManagedIdentity": f"{RG}/providers/Microsoft.Web/sites/contoso-checkout",
        "CallerAppId": "b7e6d5c4-3a2b-41c0-9f8e-7d6c5b4a3f2e"}),
], ids=["user", "service-principal", "managed-identity"])
def test_the_caller_type_and_identity_come_from_the_claims(store, send, claims, caller_type, who):
    event = jane_scales_sessions()
    event["data"]["claims"] = claims
    send(event)
    [row] = control_rows(store)
    assert row["CallerType"] == caller_type
    assert {name: row.get(name) for name in who} == who
    if caller_type != "User":
        assert "CallerUpn" not in row and "CallerName" not in row


@pytest.mark.parametrize(("claims", "expected"), [
    ({"xms_mirid": "/subscriptions/s/x", "idtyp": "app", "appid": "a"}, "ManagedIdentity"),
    ({"idtyp": "user", "appid": "a"}, "User"),
    ({"idtyp": "app", "upn": "someone@contoso.com"}, "ServicePrincipal"),
    ({"scp": "user_impersonation", "appid": "a"}, "User"),
    ({"http://schemas.microsoft.com/identity/claims/scope": "user_impersonation", "appid": "a"}, "User"),
    ({"upn": "someone@contoso.com"}, "User"),
    ({"azp": "a"}, "ServicePrincipal"),
    ({"appid": "a"}, "ServicePrincipal"),
    ({"oid": "o"}, "Unknown"),
    ({}, "Unknown"),
])
def test_identity_type_rules(claims, expected):
    assert identity_type({name.lower(): value for name, value in claims.items()}) == expected


@pytest.mark.parametrize(("claims", "http_request"), [
    ("eyJ0eXAiOiJKV1QifQ.eyJvaWQiOiJ4In0.sig", {"clientIpAddress": "not an address", "method": "BREW"}),
    ({"oid": 5, "upn": ["x"]}, ["not", "an", "object"]),
    (None, None),
])
def test_odd_claims_and_http_requests_give_an_unknown_caller_and_never_raise(claims, http_request):
    caller = caller_from(claims, http_request)
    assert caller.columns() == {"CallerType": "Unknown"}


def test_an_action_on_a_child_is_recorded_in_its_parents_history(store, send):
    # Given listKeys on an Azure Managed Redis database, by a managed identity (subscription topic)
    event = sample("control-plane-cloudevents", "3f7b1d95-8e2a-4c6f-9d4b-1a5c8e2f6d09")
    send(event)
    [row] = control_rows(store)
    # Then it lands in the cache's partition, with the child named
    assert (row["PartitionKey"], row["ResourceId"], row["SubResource"], row["Product"]) == (
        AMR_PARTITION, AMR, "databases/default", "Azure Managed Redis")
    assert (row["Change"], row["Outcome"], row["CallerType"]) == ("Action", "Success", "ManagedIdentity")
    # And the cache is listed as an Azure Managed Redis cache, under a RowKey of its own
    [resource] = rows(store, AUDIT_RESOURCES)
    assert (resource["PartitionKey"], resource["RowKey"], resource["Name"], resource["ResourceType"]) == (
        "RedisCache", keys.regional_resource_row_key("contoso-amr", fold_case(AMR)), "contoso-amr",
        "Microsoft.Cache/redisEnterprise")


def test_caches_of_both_generations_with_one_name_keep_two_listings_and_two_histories(store, send):
    # Given an Azure Cache for Redis and an Azure Managed Redis cache both named contoso-sessions
    send(jane_scales_sessions())
    managed = jane_scales_sessions()
    managed_id = SESSIONS.replace("Microsoft.Cache/Redis", "Microsoft.Cache/redisEnterprise")
    managed.update(id="other", subject=managed_id)
    managed["data"]["resourceUri"] = managed_id
    send(managed)
    # Then each has its row in AuditResources and its own partition
    assert sorted(r["ResourceType"] for r in rows(store, AUDIT_RESOURCES)) == [
        "Microsoft.Cache/Redis", "Microsoft.Cache/redisEnterprise"]
    assert len({r["PartitionKey"] for r in control_rows(store)}) == 2


def test_without_resource_uri_the_subject_names_the_resource(store, send):
    event = jane_scales_sessions()
    del event["data"]["resourceUri"]
    send(event)
    [row] = control_rows(store)
    assert row["ResourceId"] == SESSIONS


def test_resource_id_casing_does_not_split_a_resource(store, send):
    lower = jane_scales_sessions()
    lower["data"]["resourceUri"] = SESSIONS.lower()
    upper = {**jane_scales_sessions(), "id": "another"}
    upper["data"]["resourceUri"] = SESSIONS.upper().replace("/SUBSCRIPTIONS/", "/subscriptions/")
    send(lower)
    send(upper)
    assert {r["PartitionKey"] for r in control_rows(store)} == {SESSIONS_PARTITION}


def test_redeliveries_add_nothing(store, send):
    events = load_sample("control-plane-eventgrid") + load_sample("control-plane-cloudevents")
    for event in events + events[::-1]:
        send(event)
    assert sorted(r["EventId"] for r in control_rows(store)) == sorted(e["id"] for e in events)
    assert rows(store, UNHANDLED_EVENTS) == []


def test_another_resource_type_is_kept_in_unhandled_events_with_the_reason(store, send):
    # Given a storage account write (the subscription's filters should have kept it out)
    [event] = load_sample("control-plane-other-type")
    send(event)
    assert control_rows(store) == [] and rows(store, AUDIT_RESOURCES) == []
    [row] = rows(store, UNHANDLED_EVENTS)
    assert row["Reason"] == (
        "data.resourceUri is a Microsoft.Storage/storageAccounts resource; this app records only "
        "Microsoft.Cache/Redis, Microsoft.Cache/redisEnterprise, Microsoft.AppConfiguration/configurationStores "
        "(the event subscription's filters should keep others out)")


def arm_with(**changes) -> dict:
    event = jane_scales_sessions()
    for name, value in changes.items():
        if name.startswith("data_"):
            event["data"][name[5:]] = value
        else:
            event[name] = value
    return event


@pytest.mark.parametrize(("event", "reason"), [
    (arm_with(data=["not", "an", "object"]), "data is str, expected a JSON object"),
    (arm_with(data_resourceUri=7), "data.resourceUri: resource id is not a string: int"),
    (arm_with(data_resourceUri="contoso-sessions"), "data.resourceUri: not an Azure resource id"),
    (arm_with(data_resourceUri=f"/subscriptions/{SUB}/resourceGroups/platform-prod"),
     "data.resourceUri: not an Azure resource id"),
    (arm_with(topic=SESSIONS), "is not a subscription or resource group"),
    (arm_with(topic=f"/subscriptions/{SUB}/resourceGroups/other-rg"), "names a resource outside the topic"),
    (arm_with(data_operationName=5), "data.operationName must be a string"),
    (notification(AMR, "2026-11-22T07:45:14Z") | {"data": {"resourceInfo": "x"}},
     "data.resourceInfo is missing or not an object"),
    (notification(AMR, "2026-11-22T07:45:14Z") | {"data": {"resourceInfo": {"id": "/subscriptions/x"}}},
     "data.resourceInfo.id: not an Azure resource id"),
    (notification(AMR, "2026-11-22T07:45:14Z") | {"topic": "/subscriptions/another"},
     "names a resource outside the topic"),
], ids=["data-list", "uri-int", "uri-name", "uri-group", "topic-resource", "topic-other-group", "operation-int",
        "resource-info", "resource-info-id", "arn-topic"])
def test_malformed_control_plane_events_are_kept_with_their_reason_and_not_retried(store, send, event, reason):
    send(event)  # does not raise: a retry could never succeed
    assert control_rows(store) == [] and rows(store, CONTROL_PLANE_STATE) == []
    [row] = rows(store, UNHANDLED_EVENTS)
    assert reason in row["Reason"], row["Reason"]
    assert row["EventId"] == event["id"]


# --- Resource Notifications: properties, previous state, any order -----------------------------

def test_a_notification_row_holds_the_properties_that_matter(store, send):
    event = sample("control-plane-eventgrid", "3f8b2d61-7e4a-4b9c-8d1f-5a6e7c8b9d02")  # contoso-sessions at P2
    send(event)
    [row] = control_rows(store)
    assert (row["Source"], row["Change"], row["Outcome"], row["Sku"], row["ApiVersion"]) == (
        "ResourceNotifications", "CreatedOrUpdated", "Success", "P2", "2024-11-01")
    assert json.loads(row["Properties"]) == {
        "sku": "P2", "skuName": "Premium", "skuFamily": "P", "skuCapacity": 2, "shardCount": 2,
        "replicasPerPrimary": 1, "redisVersion": "6.0.14", "minimumTlsVersion": "1.2",
        "publicNetworkAccess": "Disabled", "enableNonSslPort": False, "disableAccessKeyAuthentication": False,
        "provisioningState": "Scaling"}
    assert row["ResourceEventTime"] == dt.datetime(2026, 11, 20, 21, 31, 9, 12000, tzinfo=UTC)
    assert "Previous" not in row and "Changes" not in row  # nothing seen before it


def test_a_scale_reads_from_the_previous_size_to_the_new_one(store, send):
    before = sample("control-plane-eventgrid", "0d3e7c52-4a1b-4f6e-9c2d-8b7a6f5e4d31")  # P1
    after = sample("control-plane-eventgrid", "3f8b2d61-7e4a-4b9c-8d1f-5a6e7c8b9d02")  # P2, scaling
    send(before)
    send(after)
    row = by_event_id(store)[after["id"]]
    assert (row["PreviousSku"], row["Sku"]) == ("P1", "P2")
    assert row["Changes"] == "sku P1 → P2, provisioningState Succeeded → Scaling"
    assert row["PreviousEventTime"] == dt.datetime(2026, 11, 18, 9, 12, 40, 123456, tzinfo=UTC)
    assert json.loads(row["Previous"])["sku"] == "P1"


def amr_history() -> list[dict]:
    """Five notifications of one Azure Managed Redis cache: B5, B10, B10 (state), B20, deleted."""
    return [
        notification(AMR, "2026-11-22T07:00:00Z", sku={"name": "Balanced_B5"}),
        notification(AMR, "2026-11-22T07:45:14Z", sku={"name": "Balanced_B10"},
                     properties={"provisioningState": "Updating"}),
        notification(AMR, "2026-11-22T08:03:51Z", sku={"name": "Balanced_B10"}, cloud=True),
        notification(AMR, "2026-11-22T09:00:00.0000001Z", sku={"name": "Balanced_B20"}),
        notification(AMR, "2026-11-22T10:00:00Z", change="Deleted"),
    ]


EXPECTED_CHANGES = [
    None,
    "sku Balanced_B5 → Balanced_B10, provisioningState Succeeded → Updating",
    "provisioningState Updating → Succeeded",
    "sku Balanced_B10 → Balanced_B20",
    "sku Balanced_B20 → (none), provisioningState Succeeded → (none)",
]


def previous_chain(store, history) -> list[tuple]:
    found = by_event_id(store)
    return [(found[e["id"]].get("PreviousSku"), found[e["id"]].get("Changes")) for e in history]


def amr_state(store):
    return store.table(CONTROL_PLANE_STATE).get_entity(AMR_PARTITION, keys.state_row_key(fold_case(AMR)))


def test_the_previous_state_is_the_one_before_in_event_time_whatever_the_arrival_order(store, send):
    history = amr_history()
    expected = list(zip([None, "Balanced_B5", "Balanced_B10", "Balanced_B10", "Balanced_B20"],
                        EXPECTED_CHANGES, strict=True))
    # When the history arrives in every order of a sample of permutations, with redeliveries
    orders = list(itertools.permutations(history))
    for seed, order in enumerate(random.Random(5).sample(orders, 6) + [tuple(history[::-1])]):
        for table in (CONTROL_PLANE_EVENTS, CONTROL_PLANE_STATE, CONTROL_PLANE_CHAIN):
            for row in rows(store, table):
                store.table(table).delete_entity(row["PartitionKey"], row["RowKey"])
        deliveries = list(order) + random.Random(seed).sample(history, 2)
        for event in deliveries:
            send(event)
        # Then every row reads from the state right before it, and the state is the latest event's
        assert previous_chain(store, history) == expected, order
        state = amr_state(store)
        assert (state["Deleted"], state["LastChange"], state["LastEventId"]) == (True, "Deleted", history[-1]["id"])


def test_a_late_notification_does_not_become_the_state(store, send):
    b5, b10 = notification(AMR, "2026-11-22T07:00:00Z", sku={"name": "Balanced_B5"}), notification(
        AMR, "2026-11-22T08:00:00Z", sku={"name": "Balanced_B10"})
    send(b10)
    send(b5)
    assert (amr_state(store)["Sku"], amr_state(store)["LastEventId"]) == ("Balanced_B10", b10["id"])
    assert by_event_id(store)[b10["id"]]["PreviousSku"] == "Balanced_B5"


def test_children_have_their_own_previous_state(store, send):
    database = f"{AMR}/databases/default"
    cache_b5 = notification(AMR, "2026-11-22T07:00:00Z", sku={"name": "Balanced_B5"})
    db_1 = notification(database, "2026-11-22T07:30:00Z", properties={"evictionPolicy": "NoEviction"})
    db_2 = notification(database, "2026-11-22T08:30:00Z", properties={"evictionPolicy": "AllKeysLRU"})
    for event in (db_2, cache_b5, db_1):
        send(event)
    found = by_event_id(store)
    assert found[db_2["id"]]["Changes"] == "evictionPolicy NoEviction → AllKeysLRU"
    assert "Changes" not in found[db_1["id"]]  # the cache's own notification is not the database's past
    assert {r["SubResource"] for r in rows(store, CONTROL_PLANE_STATE)} == {"", "databases/default"}


def test_resource_manager_rows_are_not_a_notifications_previous_state(store, send):
    b5, b10 = notification(AMR, "2026-11-22T07:00:00Z", sku={"name": "Balanced_B5"}), notification(
        AMR, "2026-11-22T08:00:00Z", sku={"name": "Balanced_B10"})
    write = sample("control-plane-cloudevents", "9b3d7f21-4c8e-4a1b-b6d2-8e4a1c7f3b95")  # at 07:45:12
    for event in (b10, write, b5):
        send(event)
    assert by_event_id(store)[b10["id"]]["PreviousSku"] == "Balanced_B5"


def test_concurrent_instances_link_every_notification_to_its_predecessor(store, make_store):
    # Given 6 scaled-out instances (own clients) receiving 24 notifications of one cache at once
    instances = [make_store() for _ in range(6)]
    history = [notification(AMR, f"2026-11-22T07:{minute:02d}:00Z", sku={"name": f"Balanced_B{minute}"})
               for minute in range(24)]
    ingest_at_once(instances, random.Random(11).sample(history, len(history)))
    # Then each reads from the one right before it, and the state is the latest
    found = by_event_id(store)
    assert [found[e["id"]].get("PreviousSku") for e in history] == [None] + [
        f"Balanced_B{minute}" for minute in range(23)]
    assert amr_state(store)["Sku"] == "Balanced_B23"


def test_a_lost_race_for_the_previous_link_is_decided_again_on_what_won(store, send, monkeypatch):
    # Given B5 (07:00) and B20 (09:00) recorded, B20 linked to B5
    b5 = notification(AMR, "2026-11-22T07:00:00Z", sku={"name": "Balanced_B5"})
    b10 = notification(AMR, "2026-11-22T08:00:00Z", sku={"name": "Balanced_B10"})
    b15 = notification(AMR, "2026-11-22T08:30:00Z", sku={"name": "Balanced_B15"})
    b20 = notification(AMR, "2026-11-22T09:00:00Z", sku={"name": "Balanced_B20"})
    send(b5)
    send(b20)
    # When B10 is linking itself as B20's previous, another instance links the closer B15 first:
    # Table Storage answers our If-Match with 412 (single-entity operations honour it on Azure and Azurite)
    original = type(store)._replace_if_unchanged
    raced = []

    def interleaved(self, table, entity, etag, *args):
        if table == CONTROL_PLANE_EVENTS and entity.get("PreviousSku") == "Balanced_B10" and not raced:
            raced.append(etag)
            send(b15)
        return original(self, table, entity, etag, *args)

    monkeypatch.setattr(type(store), "_replace_if_unchanged", interleaved)
    send(b10)
    # Then our stale link was refused and B20 keeps the closer B15
    assert raced, "the race was not provoked"
    found = by_event_id(store)
    assert [found[e["id"]].get("PreviousSku") for e in (b5, b10, b15, b20)] == [
        None, "Balanced_B5", "Balanced_B10", "Balanced_B15"]


def test_a_deleted_resource_has_no_properties_whatever_the_event_says(store, send):
    # Only CreatedOrUpdated carries properties (event-schema-resources.md); a Deleted event that
    # sends some anyway must not make the deleted resource look alive at its old size.
    b5 = notification(AMR, "2026-11-22T07:00:00Z", sku={"name": "Balanced_B5"})
    deleted = notification(AMR, "2026-11-22T08:00:00Z", change="Deleted")
    deleted["data"]["resourceInfo"].update(sku={"name": "Balanced_B5"}, properties={"provisioningState": "Deleting"})
    send(b5)
    send(deleted)
    row = by_event_id(store)[deleted["id"]]
    assert (json.loads(row["Properties"]), row["PreviousSku"]) == ({}, "Balanced_B5")
    assert (amr_state(store)["Sku"], amr_state(store)["Deleted"]) == ("", True)


def test_a_redelivery_never_blanks_the_link_a_reader_may_be_reading(store, send, monkeypatch):
    # Given a notification linked to the one before it
    b5 = notification(AMR, "2026-11-22T07:00:00Z", sku={"name": "Balanced_B5"})
    b10 = notification(AMR, "2026-11-22T08:00:00Z", sku={"name": "Balanced_B10"})
    send(b5)
    send(b10)
    # When b10 is delivered again: between rewriting its row and linking it again, what do readers see?
    seen = []
    original = previous.neighbours
    row_key = by_event_id(store)[b10["id"]]["RowKey"]

    def look_first(store, target, *args):
        seen.append(store.table(CONTROL_PLANE_EVENTS).get_entity(target.partition, row_key).get("PreviousSku"))
        return original(store, target, *args)

    monkeypatch.setattr(previous, "neighbours", look_first)
    send(b10)
    # Then the row kept its link all along (the row is merged, not replaced)
    assert seen == ["Balanced_B5"]


# --- cost of recording a notification ---------------------------------------------------------------

def test_the_chain_orders_are_the_events_order_and_its_exact_reverse_ties_included():
    # Given events at few distinct times (so many ties), identities as the app makes them
    rng = random.Random(3)
    base = dt.datetime(2026, 11, 22, 7, tzinfo=UTC)
    events = [(base + dt.timedelta(microseconds=rng.choice([0, 1, 10, 3_600_000_000])),
               f"{rng.getrandbits(128):032x}") for _ in range(300)]
    target = fold_case(AMR)

    def order(key) -> list:
        return sorted(events, key=key)

    # Then newest first is the events partition's order, and oldest first exactly its reverse
    by_events = order(lambda e: keys.event_row_key(*e))
    assert order(lambda e: keys.chain_row_key(target, keys.NEWEST_FIRST, *e)) == by_events
    assert order(lambda e: keys.chain_row_key(target, keys.OLDEST_FIRST, *e)) == by_events[::-1]
    # And each order's keys lie under its own prefix, which no other order's or target's key shares
    for chain_order in (keys.NEWEST_FIRST, keys.OLDEST_FIRST):
        prefix = keys.chain_prefix(target, chain_order)
        assert all(keys.chain_row_key(target, chain_order, *e).startswith(prefix) for e in events)
    assert len({keys.chain_prefix(t, o) for t in (target, target + "/databases/default")
                for o in (keys.NEWEST_FIRST, keys.OLDEST_FIRST)}) == 4


def list_keys_action(time: str) -> dict:
    """ResourceActionSuccess: a client lists the keys of contoso-amr's database (frequent, by nature)."""
    event = sample("control-plane-cloudevents", "3f7b1d95-8e2a-4c6f-9d4b-1a5c8e2f6d09")
    return event | {"id": f"listkeys-{next(_ids)}", "time": time}


@pytest.fixture
def counted(azurite, table_prefix, app_env):
    """A store on the test's tables whose every request (and the rows each query returned) is logged."""
    from benchmarks.counting import RequestLog, counting_store

    log = RequestLog()
    return counting_store(azurite.connection_string, table_prefix, log), log


def test_recording_a_notification_costs_the_same_whatever_the_history_of_its_partition(store, counted):
    from eventaudit.ingest import Outcome, ingest

    counting, log = counted

    def record(event: dict) -> list:
        mark = len(log)
        assert ingest(from_trigger(decode(event)), counting) is Outcome.RECORDED
        return log.since(mark)

    # Given a cache with a day of history: 40 notifications and 160 listKeys actions after 07:00
    b5 = notification(AMR, "2026-11-22T07:00:00Z", sku={"name": "Balanced_B5"})
    newer = [notification(AMR, f"2026-11-22T{8 + n // 4:02d}:{n % 4 * 15:02d}:00Z",
                          sku={"name": f"Balanced_B{10 + n}"}) for n in range(40)]
    actions = [list_keys_action(f"2026-11-22T{8 + n // 16:02d}:{n % 16 * 3:02d}:30Z") for n in range(160)]
    ingest_at_once([counting], [b5, *newer, *actions])
    # When a notification from 07:30 arrives late, and the next one in order
    b7 = notification(AMR, "2026-11-22T07:30:00Z", sku={"name": "Balanced_B7"})
    late_id = b7["id"]
    late = record(b7)
    in_order = record(notification(AMR, "2026-11-22T19:00:00Z", sku={"name": "Balanced_B99"}))
    # Then each costs what it costs on an empty partition: the row, the chain's two rows (one batch), two
    # one-row queries, each link made (read, merge), the state (read; replace if it is the latest).
    # Table Storage reads every row of a query's RowKey range, filter or not; a range of the events
    # partition would cross the listKeys rows, so only the chain (every row in range an answer) is queried.
    chain = store.table_name(CONTROL_PLANE_CHAIN)
    for requests, expected in ((late, 9), (in_order, 8)):
        queries = [r for r in requests if r.method == "GET" and r.row is None]
        assert (len(requests), [(q.table, q.rows) for q in queries]) == (
            expected, [(chain, 1), (chain, 1 if requests is late else 0)]), requests
    # And the late one sits between its neighbours
    found = by_event_id(store)
    assert [found[late_id].get("PreviousSku"), found[newer[0]["id"]].get("PreviousSku")] == [
        "Balanced_B5", "Balanced_B7"]
