"""Which resource a control-plane event is about, whether this app records it, and where its rows go."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from eventaudit.errors import MalformedEvent, OutOfScope
from eventaudit.resource_ids import ResourceId, fold_case, parse_resource_path
from eventaudit.storage import AuditStore, keys
from eventaudit.storage.tables import APP_CONFIGURATION_STORE, REDIS_CACHE


@dataclass(frozen=True)
class Family:
    """A resource type this audit log records."""

    namespace: str
    type: str
    kind: str  # the AuditResources partition: RedisCache or AppConfigurationStore
    product: str
    # Redis caches and App Configuration stores have globally unique DNS names; Azure Managed Redis
    # names (<name>.<region>.redis.azure.net) need only be unique in a region.
    global_names: bool

    @property
    def type_name(self) -> str:
        return f"{self.namespace}/{self.type}"


AZURE_CACHE_FOR_REDIS = Family("Microsoft.Cache", "Redis", REDIS_CACHE, "Azure Cache for Redis", True)
# Also the type of the retiring Enterprise and Enterprise Flash tiers of Azure Cache for Redis; their SKU
# names (Enterprise_E10, EnterpriseFlash_F300) tell them apart in the recorded properties.
AZURE_MANAGED_REDIS = Family("Microsoft.Cache", "redisEnterprise", REDIS_CACHE, "Azure Managed Redis", False)
APP_CONFIGURATION = Family("Microsoft.AppConfiguration", "configurationStores", APP_CONFIGURATION_STORE,
                           "App Configuration store", True)
FAMILIES = {fold_case(f.type_name): f
            for f in (AZURE_CACHE_FOR_REDIS, AZURE_MANAGED_REDIS, APP_CONFIGURATION)}
RECORDED_TYPES = ", ".join(f.type_name for f in FAMILIES.values())
# What an AuditResources row of each kind is when it names no type (rows from before types were kept).
DEFAULT_FAMILY = {REDIS_CACHE: AZURE_CACHE_FOR_REDIS, APP_CONFIGURATION_STORE: APP_CONFIGURATION}


def family_of(resource_type: str | None, kind: str) -> Family | None:
    """The family of a resource type ("Microsoft.Cache/redisEnterprise"), else the kind's default."""
    return FAMILIES.get(fold_case(resource_type)) if resource_type else DEFAULT_FAMILY.get(kind)

# Resource Manager and Resource Notifications events come from a subscription's or resource group's
# system topic (topic/source), never from the resource itself.
_SCOPE = re.compile(r"^/subscriptions/[^/]+(?:/resourceGroups/[^/]+)?$", re.IGNORECASE | re.ASCII)


@dataclass(frozen=True)
class Target:
    """The resource (cache or store) an event is about, and the child or extension below it, if any."""

    resource: ResourceId
    family: Family
    below: str  # "" for the resource itself, else e.g. "databases/default" (lower case)

    @property
    def resource_id(self) -> str:
        r = self.resource
        return (f"/subscriptions/{r.subscription_id}/resourceGroups/{r.resource_group}"
                f"/providers/{self.family.type_name}/{r.name}")

    @property
    def key(self) -> str:
        """The resource id, lower-cased as Azure compares ids."""
        return fold_case(self.resource_id)

    @property
    def target_key(self) -> str:
        return f"{self.key}/{self.below}" if self.below else self.key

    @property
    def type_path(self) -> str:
        """The changed resource's type, lower case: "microsoft.cache/redisenterprise/databases"."""
        children = self.below.split("/")[0::2] if self.below else []
        return "/".join([fold_case(self.family.type_name), *children])

    @property
    def partition(self) -> str:
        return keys.control_plane_partition(self.resource.name, self.key)

    def columns(self) -> dict[str, Any]:
        return {
            "Kind": self.family.kind, "Product": self.family.product, "ResourceType": self.family.type_name,
            "ResourceId": self.resource_id, "ResourceName": self.resource.name,
            "ResourceGroup": self.resource.resource_group, "SubscriptionId": self.resource.subscription_id,
            "SubResource": self.below,
        }

    def register(self, store: AuditStore) -> None:
        """List the cache or store in AuditResources (Azure Managed Redis under its own RowKey)."""
        row_key = None if self.family.global_names else keys.regional_resource_row_key(self.resource.name,
                                                                                          self.key)
        store.register_resource(self.family.kind, self.resource, self.resource_id, row_key=row_key,
                                properties={"ResourceType": self.family.type_name})


def target_of(value: Any, field: str, topic: Any) -> Target:
    """The Target that the resource id `value` (read from `field`) names; MalformedEvent if it is no
    resource id or lies outside the topic, OutOfScope if it is of a type this app does not record."""
    try:
        resource, below = parse_resource_path(value)
    except MalformedEvent as exc:
        raise MalformedEvent(f"{field}: {exc}") from None
    family = FAMILIES.get(fold_case(f"{resource.namespace}/{resource.type}"))
    if family is None:
        raise OutOfScope(f"{field} is a {resource.namespace}/{resource.type} resource; this app records only "
                         f"{RECORDED_TYPES} (the event subscription's filters should keep others out)")
    scope = topic.strip().rstrip("/") if isinstance(topic, str) else ""
    if not _SCOPE.match(scope):
        raise MalformedEvent(f"topic {topic!r:.200} is not a subscription or resource group: Resource "
                             "Manager and Resource Notifications events come from their system topics")
    if not fold_case(value.strip()).startswith(fold_case(scope) + "/"):
        raise MalformedEvent(f"{field} names a resource outside the topic {scope!r:.200}")
    return Target(resource, family, below)
