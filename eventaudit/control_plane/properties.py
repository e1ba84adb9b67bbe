"""The properties that matter of a cache or store, as Azure Resource Notifications report them.

A `CreatedOrUpdated` event carries the resource in `data.resourceInfo` (id, name, type, location,
tags, properties: MicrosoftDocs azure-docs articles/event-grid/event-schema-resources.md). Where the
SKU sits depends on the resource provider's REST API: inside `properties` for Microsoft.Cache/Redis
(RedisProperties.sku: name, family, capacity), at the top of the resource for redisEnterprise and
configurationStores. The documented schema lists no top-level `sku`; this reads `resourceInfo.sku`
first (where Azure Resource Graph, which the notifications mirror, has it) and then
`properties.sku`. A property that is absent is simply not recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Properties = dict[str, Any]
MAX_TEXT = 200
# Properties whose change makes a change a scaling.
SCALING = ("sku", "shardCount", "replicasPerPrimary")
SKU_PARTS = ("skuName", "skuFamily", "skuCapacity")

# Per changed resource type (lower case): the properties kept, by (name, path in resourceInfo.properties).
_COMMON_TAIL = (("provisioningState", ("provisioningState",)),)
TRACKED: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "microsoft.cache/redis": (
        ("shardCount", ("shardCount",)), ("replicasPerPrimary", ("replicasPerPrimary",)),
        ("redisVersion", ("redisVersion",)), ("minimumTlsVersion", ("minimumTlsVersion",)),
        ("publicNetworkAccess", ("publicNetworkAccess",)), ("enableNonSslPort", ("enableNonSslPort",)),
        ("disableAccessKeyAuthentication", ("disableAccessKeyAuthentication",)), *_COMMON_TAIL),
    "microsoft.cache/redisenterprise": (
        ("redisVersion", ("redisVersion",)), ("highAvailability", ("highAvailability",)),
        ("minimumTlsVersion", ("minimumTlsVersion",)), ("publicNetworkAccess", ("publicNetworkAccess",)),
        *_COMMON_TAIL, ("resourceState", ("resourceState",))),
    "microsoft.cache/redisenterprise/databases": (
        ("clusteringPolicy", ("clusteringPolicy",)), ("evictionPolicy", ("evictionPolicy",)),
        ("clientProtocol", ("clientProtocol",)), ("port", ("port",)),
        ("accessKeysAuthentication", ("accessKeysAuthentication",)),
        ("aofPersistence", ("persistence", "aofEnabled")), ("rdbPersistence", ("persistence", "rdbEnabled")),
        *_COMMON_TAIL, ("resourceState", ("resourceState",))),
    "microsoft.appconfiguration/configurationstores": (
        ("disableLocalAuth", ("disableLocalAuth",)), ("enablePurgeProtection", ("enablePurgeProtection",)),
        ("softDeleteRetentionInDays", ("softDeleteRetentionInDays",)),
        ("publicNetworkAccess", ("publicNetworkAccess",)), *_COMMON_TAIL),
}
# Every other child or extension (replicas, firewall rules, ...): its provisioning state.
DEFAULT = _COMMON_TAIL


def tracked_properties(type_path: str, resource_info: Mapping[str, Any]) -> Properties:
    """The properties that matter of a resource (`data.resourceInfo`), in a fixed order."""
    properties = resource_info.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    found: Properties = {}
    if type_path in ("microsoft.cache/redis", "microsoft.cache/redisenterprise",
                     "microsoft.appconfiguration/configurationstores"):
        found.update(_sku(type_path, resource_info.get("sku") or properties.get("sku")))
    if type_path == "microsoft.cache/redis" and "replicasPerPrimary" not in properties:
        properties = {**properties, "replicasPerPrimary": properties.get("replicasPerMaster")}
    if type_path == "microsoft.appconfiguration/configurationstores/replicas":
        found["location"] = _scalar(resource_info.get("location"))
    for name, path in TRACKED.get(type_path, DEFAULT):
        found[name] = _scalar(_at(properties, path))
    return {name: value for name, value in found.items() if value is not None}


def sku_label(properties: Mapping[str, Any]) -> str | None:
    value = properties.get("sku")
    return value if isinstance(value, str) else None


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(name, before, after) of every property that differs, in the order of `after` then `before`;
    the parts of the SKU are left out when its label ("P1 → P2") says it already."""
    names = [*after, *(name for name in before if name not in after)]
    found = [(name, before.get(name), after.get(name)) for name in names
             if before.get(name) != after.get(name)]
    if any(name == "sku" for name, _, _ in found):
        found = [change for change in found if change[0] not in SKU_PARTS]
    return found


def describe(found: list[tuple[str, Any, Any]]) -> str:
    """'sku P1 → P2, shardCount 1 → 2'."""
    return ", ".join(f"{name} {_text(old)} → {_text(new)}" for name, old, new in found)


def listing(properties: Mapping[str, Any]) -> str:
    """'sku P1, shardCount 2, ...' (the parts of the SKU left out: its label says them)."""
    return ", ".join(f"{name} {_text(value)}" for name, value in properties.items() if name not in SKU_PARTS)


def is_scaling(found: list[tuple[str, Any, Any]]) -> bool:
    return any(name in SCALING for name, _, _ in found)


def _sku(type_path: str, sku: Any) -> Properties:
    if not isinstance(sku, Mapping):
        return {}
    name, family, capacity = (_scalar(sku.get(field)) for field in ("name", "family", "capacity"))
    if type_path == "microsoft.cache/redis" and family is not None and capacity is not None:
        label = f"{family}{capacity}"  # the size people name: C0..C6, P1..P5
    elif capacity is not None and name is not None:
        label = f"{name} (capacity {capacity})"
    else:
        label = name
    return {"sku": label, "skuName": name, "skuFamily": family, "skuCapacity": capacity}


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def _scalar(value: Any) -> Any:
    """Strings (cut to MAX_TEXT), numbers and booleans; anything else is not recorded."""
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, bool | int | float):
        return value
    return None


def _text(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
