"""The properties that matter per resource type, how a change reads, and nested resource ids."""

from __future__ import annotations

import pytest

from eventaudit.control_plane.properties import changes, describe, is_scaling, tracked_properties
from eventaudit.errors import MalformedEvent
from eventaudit.resource_ids import parse_resource_path
from tests.conftest import load_sample

RG = "/subscriptions/s/resourceGroups/g"


def info_of(name: str, event_id: str) -> dict:
    [event] = [e for e in load_sample(name) if e["id"] == event_id]
    return event["data"]["resourceInfo"]


def test_azure_cache_for_redis_size_is_family_and_capacity_from_properties():
    info = info_of("control-plane-eventgrid", "0d3e7c52-4a1b-4f6e-9c2d-8b7a6f5e4d31")
    assert tracked_properties("microsoft.cache/redis", info) == {
        "sku": "P1", "skuName": "Premium", "skuFamily": "P", "skuCapacity": 1, "shardCount": 2,
        "replicasPerPrimary": 1, "redisVersion": "6.0.14", "minimumTlsVersion": "1.2",
        "publicNetworkAccess": "Disabled", "enableNonSslPort": False, "disableAccessKeyAuthentication": False,
        "provisioningState": "Succeeded"}


def test_older_redis_api_versions_name_replicas_per_master():
    info = {"properties": {"replicasPerMaster": 2, "sku": {"name": "Premium", "family": "P", "capacity": 3}}}
    assert tracked_properties("microsoft.cache/redis", info)["replicasPerPrimary"] == 2


def test_azure_managed_redis_size_is_the_top_level_sku_name():
    info = info_of("control-plane-cloudevents", "5d1f8b43-7a2c-4e9d-8b6f-2c4a9e1d7b36")
    assert tracked_properties("microsoft.cache/redisenterprise", info) == {
        "sku": "Balanced_B10", "skuName": "Balanced_B10", "redisVersion": "7.4", "highAvailability": "Enabled",
        "minimumTlsVersion": "1.2", "publicNetworkAccess": "Disabled", "provisioningState": "Updating",
        "resourceState": "Scaling"}


def test_enterprise_tier_capacity_is_part_of_its_size():
    info = {"sku": {"name": "Enterprise_E10", "capacity": 4}, "properties": {}}
    assert tracked_properties("microsoft.cache/redisenterprise", info)["sku"] == "Enterprise_E10 (capacity 4)"


def test_database_and_store_and_replica_properties():
    database = info_of("control-plane-cloudevents", "2b8d4f16-9c3e-4a7b-8f1d-5e9b3c7a1f82")
    assert tracked_properties("microsoft.cache/redisenterprise/databases", database) == {
        "clusteringPolicy": "OSSCluster", "evictionPolicy": "NoEviction", "clientProtocol": "Encrypted",
        "port": 10000, "accessKeysAuthentication": "Disabled", "aofPersistence": False, "rdbPersistence": True,
        "provisioningState": "Succeeded", "resourceState": "Running"}
    store = info_of("control-plane-eventgrid", "7f1d3b95-6a4c-4e2f-8b9d-1c5e7a3f9b24")
    assert tracked_properties("microsoft.appconfiguration/configurationstores", store) == {
        "sku": "standard", "skuName": "standard", "disableLocalAuth": True, "enablePurgeProtection": True,
        "softDeleteRetentionInDays": 7, "publicNetworkAccess": "Disabled", "provisioningState": "Succeeded"}
    replica = {"location": "westus", "properties": {"provisioningState": "Creating", "endpoint": "x"}}
    assert tracked_properties("microsoft.appconfiguration/configurationstores/replicas", replica) == {
        "location": "westus", "provisioningState": "Creating"}


def test_odd_values_are_left_out_and_long_text_cut():
    info = {"sku": ["P", 1], "properties": {"shardCount": {"x": 1}, "redisVersion": "7" * 500}}
    assert tracked_properties("microsoft.cache/redis", info) == {"redisVersion": "7" * 200}
    assert tracked_properties("microsoft.cache/redis", {"properties": "none"}) == {}


def test_a_change_reads_from_before_to_after_and_a_size_change_is_a_scaling():
    before = {"sku": "P1", "skuCapacity": 1, "shardCount": 1, "provisioningState": "Succeeded"}
    after = {"sku": "P2", "skuCapacity": 2, "shardCount": 1, "enableNonSslPort": True}
    found = changes(before, after)
    assert describe(found) == "sku P1 → P2, enableNonSslPort (none) → true, provisioningState Succeeded → (none)"
    assert is_scaling(found)
    assert not is_scaling(changes({"provisioningState": "Scaling"}, {"provisioningState": "Succeeded"}))
    assert is_scaling(changes({"shardCount": 1}, {"shardCount": 3}))


@pytest.mark.parametrize(("value", "name", "below"), [
    (f"{RG}/providers/Microsoft.Cache/Redis/c", "c", ""),
    (f"{RG}/providers/Microsoft.Cache/Redis/c/", "c", ""),
    (f"{RG}/providers/Microsoft.Cache/redisEnterprise/c/databases/Default", "c", "databases/default"),
    (f"{RG}/providers/Microsoft.Cache/Redis/c/providers/Microsoft.Insights/diagnosticSettings/d", "c",
     "providers/microsoft.insights/diagnosticsettings/d"),
])
def test_a_resource_path_is_its_top_level_resource_and_what_lies_below(value, name, below):
    resource, found = parse_resource_path(value)
    assert (resource.name, resource.resource_group, found) == (name, "g", below)


@pytest.mark.parametrize("value", [
    None, 5, "", f"{RG}", f"{RG}/providers/Microsoft.Cache/Redis", f"{RG}/providers/Microsoft.Cache/Redis/c//x",
    f"{RG}/providers/Microsoft.Cache/Redis/-bad",
])
def test_what_is_no_resource_path_is_malformed(value):
    with pytest.raises(MalformedEvent):
        parse_resource_path(value)
