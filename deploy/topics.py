"""Event Grid system topics and the app's event subscription on each: what is wanted, how az makes it.

Every source gets an explicit system topic with a system-assigned identity, so dead-lettering writes
with that identity (`--deadletter-identity`) and works on storage accounts without shared keys. The
topic's identity gets Storage Blob Data Contributor on the dead-letter container only.

Shapes follow az 2.91: `az eventgrid system-topic event-subscription show` prints the SDK model
(azure-mgmt-eventgrid 10.2.0b2) flattened by az's todict, e.g. `destination.resourceId` and
`deadLetterWithResourceIdentity.deadLetterDestination.blobContainerName`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from deploy import ids
from deploy.az import Az, get, lookup, placeholder
from deploy.roles import BLOB_CONTRIBUTOR, Grant

FUNCTION_NAME = "record_event"
# Marks the system topics the scripts created, so teardown deletes only those (and only when empty).
CREATED_BY_TAG = ("created-by", "eventaudit")
SCHEMAS = {"eventgrid": "eventgridschema", "cloudevents": "cloudeventschemav1_0"}
# How the service spells them back (az eventgrid custom.py _get_event_delivery_schema).
SCHEMA_NAMES = {"eventgridschema": "EventGridSchema", "cloudeventschemav1_0": "CloudEventSchemaV1_0"}
# What Event Grid uses when batching is not asked for (one event a request, 64 KB).
UNBATCHED = (1, 64)
# The REST version for the one subscription az cannot create with an identity (see TopicType.via_rest).
EVENTGRID_API_VERSION = "2025-02-15"

# Azure Resource Manager events (Event Grid docs, event-schema-resource-groups / -subscriptions).
ARM_EVENT_TYPES = tuple(
    f"Microsoft.Resources.Resource{operation}{outcome}"
    for operation in ("Write", "Delete", "Action")
    for outcome in ("Success", "Failure", "Cancel")
)
# The resource types this audit log is about (BRIEF, lane 15), as the handler reads them
# (eventaudit/control_plane/targets.py FAMILIES): each with everything below it.
AUDITED_RESOURCE_TYPES = (
    "Microsoft.Cache/Redis",
    "Microsoft.Cache/redisEnterprise",
    "Microsoft.AppConfiguration/configurationStores",
)
# A resource of type T, its children (redisEnterprise/databases, configurationStores/replicas) and the
# extension resources on it (.../providers/Microsoft.Authorization/roleAssignments/<id>, locks,
# Microsoft.Insights/diagnosticSettings) all have ids containing "/providers/T/". Filtering on the id,
# not on the operation name, keeps those extension writes, whose operationName is the extension's own
# ("Microsoft.Authorization/roleAssignments/write"). Event Grid compares strings without case
# (event-filtering.md, "All string comparisons aren't case-sensitive"); the slash after the type keeps
# "/providers/Microsoft.Cache/Redis/" from matching ".../Microsoft.Cache/redisEnterprise/...".
AUDITED_ID_PARTS = tuple(f"/providers/{resource_type}/" for resource_type in AUDITED_RESOURCE_TYPES)
# The changed resource's id: data.resourceUri in Resource Manager events (event-schema-resource-groups,
# -subscriptions: "The URI of the resource in the operation", in Write, Delete and Action events alike),
# data.resourceInfo.id in Resource Notifications (event-schema-resources, CreatedOrUpdated and Deleted).
# These are the fields the handler reads (handlers/resource_manager.py). A missing key does not match
# (event-filtering.md), so such an event is not delivered.
ARM_RESOURCE_FILTER = ("data.resourceUri", "StringContains", AUDITED_ID_PARTS)
NOTIFICATIONS_RESOURCE_FILTER = ("data.resourceInfo.id", "StringContains", AUDITED_ID_PARTS)


@dataclass(frozen=True)
class TopicType:
    name: str  # the system topic's --topic-type
    event_types: tuple[str, ...]
    filters: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    # az 2.91 creates subscriptions with a dead-letter identity only through `az eventgrid
    # event-subscription create --source-resource-id` (custom.py cli_eventgrid_event_subscription_create);
    # `system-topic event-subscription create` passes deadletter_identity=None. A source id alone does
    # not tell Resource Notifications from the subscription's own topic (both are /subscriptions/<id>),
    # so that one subscription is PUT with `az rest`, as the ARM API takes it.
    via_rest: bool = False
    suffix: str = "events"  # of the names of system topics the scripts create


REDIS_TOPIC = TopicType(
    "Microsoft.Cache.Redis",
    (
        "Microsoft.Cache.ScalingCompleted",
        "Microsoft.Cache.PatchingCompleted",
        "Microsoft.Cache.ImportRDBCompleted",
        "Microsoft.Cache.ExportRDBCompleted",
    ),
    suffix="redis-events",
)
APP_CONFIGURATION_TOPIC = TopicType(
    "Microsoft.AppConfiguration.ConfigurationStores",
    (
        "Microsoft.AppConfiguration.KeyValueModified",
        "Microsoft.AppConfiguration.KeyValueDeleted",
        "Microsoft.AppConfiguration.SnapshotCreated",
        "Microsoft.AppConfiguration.SnapshotModified",
    ),
    suffix="appconfig-events",
)
RESOURCE_GROUP_TOPIC = TopicType(
    "Microsoft.Resources.ResourceGroups", ARM_EVENT_TYPES, (ARM_RESOURCE_FILTER,), suffix="arm-events"
)
SUBSCRIPTION_TOPIC = TopicType(
    "Microsoft.Resources.Subscriptions", ARM_EVENT_TYPES, (ARM_RESOURCE_FILTER,), suffix="arm-events"
)
NOTIFICATIONS_TOPIC = TopicType(
    "Microsoft.ResourceNotifications.Resources",
    (
        "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
        "Microsoft.ResourceNotifications.Resources.Deleted",
    ),
    (NOTIFICATIONS_RESOURCE_FILTER,),
    via_rest=True,
    suffix="resource-notifications",
)


@dataclass(frozen=True)
class Source:
    """Something Event Grid publishes for, resolved to its id."""

    label: str  # as the report names it
    id: str  # the system topic's --source
    topic_type: TopicType
    location: str  # a system topic lives where its source does; "global" for groups and subscriptions
    topic_group: str  # resource group for a system topic the script creates

    @property
    def subscription(self) -> str:
        return ids.ResourceId(self.id).subscription

    @property
    def key(self) -> tuple[str, str]:
        return (self.id.lower(), self.topic_type.name.lower())


@dataclass(frozen=True)
class Topic:
    name: str
    resource_group: str
    subscription: str
    id: str
    principal: str  # its system identity
    ours: bool  # created by these scripts (tagged)

    @property
    def where(self) -> tuple[str, ...]:
        return (
            "--resource-group",
            self.resource_group,
            "--system-topic-name",
            self.name,
            "--subscription",
            self.subscription,
        )


@dataclass(frozen=True)
class Delivery:
    name: str
    schema: str
    max_delivery_attempts: int
    event_ttl: int
    max_events_per_batch: int | None
    preferred_batch_size_kb: int | None
    deadletter_account_id: str
    deadletter_container: str

    @property
    def batch(self) -> tuple[int, int]:
        if self.max_events_per_batch is None and self.preferred_batch_size_kb is None:
            return UNBATCHED
        return (self.max_events_per_batch or UNBATCHED[0], self.preferred_batch_size_kb or UNBATCHED[1])

    @property
    def deadletter(self) -> str:
        return ids.container_id(self.deadletter_account_id, self.deadletter_container)


def topic_name(source: Source) -> str:
    """A name for a new system topic: 3-128 letters, digits and hyphens."""
    rid = ids.ResourceId(source.id)
    base = rid.name if rid.resource_group else source.subscription
    return f"{base}-{source.topic_type.suffix}"[:128]


def index_topics(az: Az, subscription: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The subscription's system topics by (source, topic type): at most one per pair (Event Grid docs,
    "System topics": one system topic per source), wherever it lives, so an existing one is reused."""
    found = az.read("eventgrid", "system-topic", "list", "--subscription", subscription) or []
    return {(str(t.get("source", "")).lower(), str(t.get("topicType", "")).lower()): t for t in found}


def ensure_topic(az: Az, source: Source, existing: dict[str, Any] | None, report: list[str]) -> Topic:
    """The source's system topic, with a system-assigned identity (made or added if missing)."""
    # `--identity systemassigned`, not `--mi-system-assigned`: az 2.91 builds the identity only when
    # --identity is given (custom.py _get_identity_info_only_if_not_none), so the newer flag alone
    # silently creates a topic without one.
    if existing is None:
        name, group, ours = topic_name(source), source.topic_group, True
    else:
        found = topic_of(existing)
        name, group, ours = found.name, found.resource_group, found.ours
    where = ("--name", name, "--resource-group", group, "--subscription", source.subscription)
    result = existing
    if existing is None:
        result = az.change(
            "eventgrid", "system-topic", "create", *where, "--location", source.location,
            "--topic-type", source.topic_type.name, "--source", source.id,
            "--identity", "systemassigned", "--tags", "=".join(CREATED_BY_TAG),
        )  # fmt: skip
        report.append(f"created system topic {name} for {source.label}, with a system identity")
    elif "systemassigned" not in get(existing, "identity.type", "").lower().replace(" ", ""):
        result = az.change("eventgrid", "system-topic", "update", *where, "--identity", "systemassigned")
        report.append(f"gave system topic {name} ({source.label}) a system identity")
    topic_id = get(result, "id", placeholder(f"id of system topic {name}"))
    principal = get(result, "identity.principalId", placeholder(f"principal id of system topic {name}"))
    return Topic(name, group, source.subscription, topic_id, principal, ours)


def wanted(delivery: Delivery, topic_type: TopicType, endpoint: str) -> dict[str, Any]:
    """The subscription as `show` prints it, limited to what the scripts set (compared and PUT)."""
    return {
        "destination": {
            "endpointType": "AzureFunction",
            "resourceId": endpoint,
            "maxEventsPerBatch": delivery.batch[0],
            "preferredBatchSizeInKilobytes": delivery.batch[1],
        },
        "filter": {
            "includedEventTypes": list(topic_type.event_types),
            "advancedFilters": [
                {"operatorType": operator, "key": key, "values": list(values)}
                for key, operator, values in topic_type.filters
            ],
        },
        "eventDeliverySchema": SCHEMA_NAMES[SCHEMAS[delivery.schema]],
        "retryPolicy": {
            "maxDeliveryAttempts": delivery.max_delivery_attempts,
            "eventTimeToLiveInMinutes": delivery.event_ttl,
        },
        "deadLetterWithResourceIdentity": {
            "identity": {"type": "SystemAssigned"},
            "deadLetterDestination": {
                "endpointType": "StorageBlob",
                "resourceId": delivery.deadletter_account_id,
                "blobContainerName": delivery.deadletter_container,
            },
        },
    }


# What `show` prints for settings the service defaults (no batching asked for).
DEFAULTS = {
    "destination.maxEventsPerBatch": UNBATCHED[0],
    "destination.preferredBatchSizeInKilobytes": UNBATCHED[1],
}
FILTER_FIELDS = ("operatorType", "key", "values")


def differences(existing: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """What an existing subscription has other than wanted, one "path: have -> want" line each (empty:
    leave it alone). Ids and names compare without case, lists without order."""
    lines = []
    for path, value in _leaves(want):
        current = lookup(existing, path)
        if current is None:
            current = DEFAULTS.get(path)
        if path == "filter.advancedFilters":
            current = [{k: f.get(k) for k in FILTER_FIELDS} for f in current or []]
        if _fold(current) != _fold(value):
            lines.append(f"{path}: {_short(current)} -> {_short(value)}")
    return lines


def _leaves(value: Any, prefix: str = "") -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{prefix}{key}.")
    else:
        yield prefix[:-1], value


def _fold(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list):
        return sorted((_fold(v) for v in value), key=json.dumps)
    if isinstance(value, dict):
        return {k: _fold(v) for k, v in value.items()}
    return value


def _short(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def create_args(delivery: Delivery, source: Source, endpoint: str) -> list[str]:
    """`az eventgrid event-subscription create` on the source: the system topic's identity dead-letters."""
    args = [
        "eventgrid",
        "event-subscription",
        "create",
        "--name",
        delivery.name,
        "--source-resource-id",
        source.id,
        "--endpoint-type",
        "azurefunction",
        "--endpoint",
        endpoint,
        "--included-event-types",
        *source.topic_type.event_types,
    ]
    for key, operator, values in source.topic_type.filters:
        args += ["--advanced-filter", key, operator, *values]
    args += [
        "--event-delivery-schema",
        SCHEMAS[delivery.schema],
        "--max-delivery-attempts",
        str(delivery.max_delivery_attempts),
        "--event-ttl",
        str(delivery.event_ttl),
        "--deadletter-identity",
        "systemassigned",
        "--deadletter-identity-endpoint",
        delivery.deadletter,
    ]
    if delivery.batch != UNBATCHED:
        args += [
            "--max-events-per-batch",
            str(delivery.batch[0]),
            "--preferred-batch-size-in-kilobytes",
            str(delivery.batch[1]),
        ]
    return args


def rest_body(want: dict[str, Any]) -> dict[str, Any]:
    """The ARM body of the same subscription (what the SDK serializes: destination and dead-letter
    details nest under "properties")."""
    destination = dict(want["destination"])
    endpoint_type = destination.pop("endpointType")
    dead = dict(want["deadLetterWithResourceIdentity"]["deadLetterDestination"])
    dead_type = dead.pop("endpointType")
    return {
        "properties": {
            "destination": {"endpointType": endpoint_type, "properties": destination},
            "filter": want["filter"],
            "eventDeliverySchema": want["eventDeliverySchema"],
            "retryPolicy": want["retryPolicy"],
            "deadLetterWithResourceIdentity": {
                "identity": want["deadLetterWithResourceIdentity"]["identity"],
                "deadLetterDestination": {"endpointType": dead_type, "properties": dead},
            },
        }
    }


def ensure_subscription(
    az: Az, source: Source, topic: Topic, delivery: Delivery, endpoint: str, report: list[str]
) -> None:
    """The app's subscription on the topic, up to date; the dead-letter role first, so the first
    event given up on can already be written."""
    holder = f"system topic {topic.name}"
    Grant(topic.principal, BLOB_CONTRIBUTOR, delivery.deadletter, holder).ensure(az, report)
    name = ("--name", delivery.name, *topic.where)
    existing = az.read("eventgrid", "system-topic", "event-subscription", "show", *name)
    want = wanted(delivery, source.topic_type, endpoint)
    if existing is not None:
        changed = differences(existing, want)
        if not changed:
            return
        if any(line.startswith("eventDeliverySchema:") for line in changed):
            # Event Grid refuses another delivery schema on an existing subscription ("The new event
            # delivery schema value ... cannot be different", MicrosoftDocs/azure-docs#17010) and
            # `update` has no schema option: delete, then create.
            az.change("eventgrid", "system-topic", "event-subscription", "delete", *name, "--yes")
            report.append(f"deleted {delivery.name} on {source.label} to change its schema")
        report.append(f"updated {delivery.name} on {source.label}: " + "; ".join(changed))
    else:
        report.append(f"created {delivery.name} on {source.label} ({topic.name})")
    if source.topic_type.via_rest:
        url = f"{topic.id}/eventSubscriptions/{delivery.name}?api-version={EVENTGRID_API_VERSION}"
        az.change("rest", "--method", "put", "--url", url, "--body", json.dumps(rest_body(want)))
    else:
        # create is a PUT: on an existing subscription it replaces the settings.
        az.change(*create_args(delivery, source, endpoint))


def remove_subscription(az: Az, topic: Topic, name: str, existing: dict[str, Any], report: list[str]) -> None:
    """Delete the app's subscription, the topic identity's dead-letter role, and the topic itself when
    the scripts made it and nothing else subscribes to it."""
    name_args = ("--name", name, *topic.where)
    az.change("eventgrid", "system-topic", "event-subscription", "delete", *name_args, "--yes")
    report.append(f"deleted event subscription {name} on system topic {topic.name}")
    dead = get(existing, "deadLetterWithResourceIdentity.deadLetterDestination.resourceId", "")
    container = get(existing, "deadLetterWithResourceIdentity.deadLetterDestination.blobContainerName", "")
    if dead and container and topic.principal:
        Grant(
            topic.principal, BLOB_CONTRIBUTOR, ids.container_id(dead, container), f"system topic {topic.name}"
        ).revoke(az, report)
    if topic.ours:
        others = az.read("eventgrid", "system-topic", "event-subscription", "list", *topic.where)
        if not others:
            az.change(
                "eventgrid",
                "system-topic",
                "delete",
                "--name",
                topic.name,
                "--resource-group",
                topic.resource_group,
                "--subscription",
                topic.subscription,
                "--yes",
            )
            report.append(f"deleted system topic {topic.name} (made by these scripts, now unused)")


def topic_of(existing: dict[str, Any]) -> Topic:
    """A system topic as `system-topic list/show` prints it."""
    rid = ids.ResourceId(str(existing["id"]))
    return Topic(
        name=str(existing["name"]),
        resource_group=str(rid.resource_group),
        subscription=rid.subscription,
        id=str(existing["id"]),
        principal=get(existing, "identity.principalId", ""),
        ours=(existing.get("tags") or {}).get(CREATED_BY_TAG[0]) == CREATED_BY_TAG[1],
    )
