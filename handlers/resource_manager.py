"""Control-plane changes of caches and stores: Azure Resource Manager and Resource Notifications events.

Resource Manager events (`Microsoft.Resources.Resource{Write,Delete,Action}{Success,Failure,Cancel}`)
come from a resource group's or a subscription's system topic: `topic`/`source` is that scope, the
changed resource's id is `data.resourceUri` (and `subject`), and `data` holds the operation name,
status, correlation id, the caller's claims, the authorization and the HTTP request. They say who
asked; they carry no resource properties.

Resource Notifications events (`Microsoft.ResourceNotifications.Resources.CreatedOrUpdated` /
`.Deleted`) come from a subscription's `Microsoft.ResourceNotifications.Resources` system topic: the
resource is `data.resourceInfo` (id, type, properties). They say what the resource looked like after
a change; they carry no caller.

Only Microsoft.Cache/Redis, Microsoft.Cache/redisEnterprise and Microsoft.AppConfiguration/
configurationStores (with their children, such as databases and replicas) are recorded; other types
are kept in UnhandledEvents with the reason. The event arrives redacted (eventaudit.redaction).
"""

from __future__ import annotations

import json
from typing import Any

from azure.data.tables import UpdateMode
from azure.eventgrid import SystemEventNames

from eventaudit.control_plane.caller import caller_from
from eventaudit.control_plane.previous import RESOURCE_NOTIFICATIONS, apply_state, link_neighbours
from eventaudit.control_plane.properties import sku_label, tracked_properties
from eventaudit.control_plane.targets import target_of
from eventaudit.errors import MalformedEvent
from eventaudit.events import Envelope
from eventaudit.storage import AuditStore
from eventaudit.storage.tables import CONTROL_PLANE_EVENTS
from eventaudit.timestamps import parse_timestamp
from handlers.payload import data_object, optional_str, present
from handlers.registry import handles

RESOURCE_MANAGER = "ResourceManager"
SUCCESS, FAILURE, CANCEL = "Success", "Failure", "Cancel"
CREATED_OR_UPDATED, DELETED = "CreatedOrUpdated", "Deleted"


@handles(SystemEventNames.ResourceWriteSuccessEventName, change="Write", outcome=SUCCESS)
@handles(SystemEventNames.ResourceWriteFailureEventName, change="Write", outcome=FAILURE)
@handles(SystemEventNames.ResourceWriteCancelEventName, change="Write", outcome=CANCEL)
@handles(SystemEventNames.ResourceDeleteSuccessEventName, change="Delete", outcome=SUCCESS)
@handles(SystemEventNames.ResourceDeleteFailureEventName, change="Delete", outcome=FAILURE)
@handles(SystemEventNames.ResourceDeleteCancelEventName, change="Delete", outcome=CANCEL)
@handles(SystemEventNames.ResourceActionSuccessEventName, change="Action", outcome=SUCCESS)
@handles(SystemEventNames.ResourceActionFailureEventName, change="Action", outcome=FAILURE)
@handles(SystemEventNames.ResourceActionCancelEventName, change="Action", outcome=CANCEL)
def record_resource_operation(event: Envelope, store: AuditStore, *, change: str, outcome: str) -> None:
    data = data_object(event.data)
    if data.get("resourceUri") is not None:
        target = target_of(data["resourceUri"], "data.resourceUri", event.source)
    else:  # the subject is the same resource id (event-schema-resource-groups.md)
        target = target_of(event.subject, "subject", event.source)
    properties = {
        "Source": RESOURCE_MANAGER, "Change": change, "Outcome": outcome,
        "Operation": optional_str(data, "operationName"), "Status": optional_str(data, "status"),
        "CorrelationId": optional_str(data, "correlationId"),
        **target.columns(), **caller_from(data.get("claims"), data.get("httpRequest")).columns(),
    }
    target.register(store)
    store.append_event(CONTROL_PLANE_EVENTS, target.partition, event, present(properties))


@handles(SystemEventNames.ResourceNotificationsResourceManagementCreatedOrUpdatedEventName,
         change=CREATED_OR_UPDATED)
@handles(SystemEventNames.ResourceNotificationsResourceManagementDeletedEventName, change=DELETED)
def record_resource_notification(event: Envelope, store: AuditStore, *, change: str) -> None:
    data = data_object(event.data)
    info = data.get("resourceInfo")
    if not isinstance(info, dict):
        raise MalformedEvent("data.resourceInfo is missing or not an object")
    if info.get("id") is not None:
        target = target_of(info["id"], "data.resourceInfo.id", event.source)
    else:
        target = target_of(event.subject, "subject", event.source)
    # A Deleted event carries no properties: the resource has none any more.
    found = tracked_properties(target.type_path, info) if change == CREATED_OR_UPDATED else {}
    properties = {
        "Source": RESOURCE_NOTIFICATIONS, "Change": change, "Outcome": SUCCESS,
        "ApiVersion": optional_str(data, "apiVersion"), "ResourceEventTime": _resource_event_time(data),
        "Properties": json.dumps(found, ensure_ascii=False), "Sku": sku_label(found),
        **target.columns(),
    }
    target.register(store)
    row_key = store.append_event(CONTROL_PLANE_EVENTS, target.partition, event, present(properties),
                                 mode=UpdateMode.MERGE)
    link_neighbours(store, target, event, row_key, found)
    apply_state(store, target, event, change, found)


def _resource_event_time(data: dict[str, Any]) -> Any:
    """data.operationalInfo.resourceEventTime, if it is a timestamp (the event time orders the rows)."""
    info = data.get("operationalInfo")
    value = info.get("resourceEventTime") if isinstance(info, dict) else None
    try:
        return parse_timestamp(value) if isinstance(value, str) else None
    except ValueError:
        return None
