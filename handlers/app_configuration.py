"""Azure App Configuration: key-value changes (with the latest state of each key) and snapshots.

Each key-value change also leaves a pending capture: the value itself comes later, from the store's
revisions (eventaudit.appconfig.capture), since the event carries none.
"""

from __future__ import annotations

from azure.eventgrid import SystemEventNames

from eventaudit.appconfig.pending import pending_entity
from eventaudit.events import Envelope
from eventaudit.resource_ids import ResourceId, parse_resource_id
from eventaudit.storage import AuditStore, keys
from eventaudit.storage.tables import (
    APP_CONFIGURATION_CAPTURES,
    APP_CONFIGURATION_EVENTS,
    APP_CONFIGURATION_STORE,
)
from handlers.payload import data_object, optional_str, present, required_str, sync_sequence
from handlers.registry import handles


@handles(SystemEventNames.AppConfigurationKeyValueModifiedEventName, change="Modified")
@handles(SystemEventNames.AppConfigurationKeyValueDeletedEventName, change="Deleted")
def record_key_value_change(event: Envelope, store: AuditStore, *, change: str) -> None:
    config_store = _config_store(event)
    data = data_object(event.data)
    key = required_str(data, "key")
    label = optional_str(data, "label") or ""  # null, absent and "" all mean "no label"
    etag = optional_str(data, "etag")
    sync_token = optional_str(data, "syncToken")
    partition = keys.key_partition(config_store.name, key)

    store.register_resource(APP_CONFIGURATION_STORE, config_store, event.source)
    store.append_event(APP_CONFIGURATION_EVENTS, partition, event, present({
        "Change": change, "StoreName": config_store.name, "Key": key, "Label": label,
        "ETag": etag, "SyncToken": sync_token,
    }))
    store.apply_key_state(
        partition,
        keys.key_row_key(key, label),
        present({
            "StoreName": config_store.name, "Key": key, "Label": label, "ETag": etag,
            "Deleted": change == "Deleted", "LastChange": change, "LastEventTime": event.time,
            "LastEventId": event.id, "LastSyncToken": sync_token,
        }),
        version=keys.key_state_version(event.time, sync_sequence(sync_token), event.identity),
    )
    # Hand the value over to the capture pass (eventaudit/appconfig): one upsert, no App Configuration
    # call here, so recording an event never waits for or fails because of the store.
    if etag:
        store.upsert(APP_CONFIGURATION_CAPTURES, pending_entity(
            config_store.name, key, label, etag, change, event.time, sync_token))


@handles(SystemEventNames.AppConfigurationSnapshotCreatedEventName, change="SnapshotCreated")
@handles(SystemEventNames.AppConfigurationSnapshotModifiedEventName, change="SnapshotModified")
def record_snapshot_change(event: Envelope, store: AuditStore, *, change: str) -> None:
    config_store = _config_store(event)
    data = data_object(event.data)
    properties = present({
        "Change": change, "StoreName": config_store.name, "Snapshot": required_str(data, "name"),
        "ETag": optional_str(data, "etag"), "SyncToken": optional_str(data, "syncToken"),
    })
    store.register_resource(APP_CONFIGURATION_STORE, config_store, event.source)
    partition = keys.snapshot_partition(config_store.name)
    store.append_event(APP_CONFIGURATION_EVENTS, partition, event, properties)


def _config_store(event: Envelope) -> ResourceId:
    return parse_resource_id(
        event.source, namespace="Microsoft.AppConfiguration", type_="configurationStores"
    )
