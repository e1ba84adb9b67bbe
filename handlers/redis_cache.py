"""Azure Cache for Redis: scaling, patching, import and export completions."""

from __future__ import annotations

from azure.eventgrid import SystemEventNames

from eventaudit.events import Envelope
from eventaudit.resource_ids import parse_resource_id
from eventaudit.storage import AuditStore, keys
from eventaudit.storage.tables import REDIS_CACHE, REDIS_CACHE_EVENTS
from handlers.payload import data_object, required_str, required_timestamp
from handlers.registry import handles


@handles(SystemEventNames.RedisScalingCompletedEventName, operation="Scaling")
@handles(SystemEventNames.RedisPatchingCompletedEventName, operation="Patching")
@handles(SystemEventNames.RedisImportRDBCompletedEventName, operation="ImportRDB")
@handles(SystemEventNames.RedisExportRDBCompletedEventName, operation="ExportRDB")
def record_operation(event: Envelope, store: AuditStore, *, operation: str) -> None:
    cache = parse_resource_id(event.source, namespace="Microsoft.Cache", type_="Redis")
    data = data_object(event.data)
    status = required_str(data, "status")  # stored as sent: Succeeded / Failed
    occurred_at = required_timestamp(data, "timestamp")
    store.register_resource(REDIS_CACHE, cache, event.source)
    store.append_event(REDIS_CACHE_EVENTS, keys.cache_partition(cache.name), event, {
        "Operation": operation,
        "Status": status,
        "OccurredAt": occurred_at,
        "CacheName": cache.name,
        "ResourceGroup": cache.resource_group,
        "SubscriptionId": cache.subscription_id,
    })
