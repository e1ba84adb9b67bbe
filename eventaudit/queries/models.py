"""What the questions answer: plain dataclasses, turned into JSON by to_dict()."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from eventaudit.control_plane.targets import family_of
from eventaudit.queries.ranges import iso
from eventaudit.timestamps import as_utc

T = TypeVar("T")


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


class _Record:
    def to_dict(self) -> dict[str, Any]:
        return {f.name: _json(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class Resource(_Record):
    """A cache or store the app has seen (a row of AuditResources)."""

    name: str
    resource_group: str | None
    subscription_id: str | None
    resource_id: str | None
    # Microsoft.Cache/Redis, Microsoft.Cache/redisEnterprise, Microsoft.AppConfiguration/configurationStores
    resource_type: str | None = None
    product: str | None = None  # Azure Cache for Redis, Azure Managed Redis, App Configuration store


@dataclass(frozen=True)
class RedisOperation(_Record):
    cache: str
    operation: str
    status: str
    event_time: dt.datetime | None
    occurred_at: dt.datetime | None
    resource_group: str | None
    subscription_id: str | None
    event_id: str | None
    event_type: str | None
    resource_id: str | None

    @property
    def failed(self) -> bool:
        return self.status.lower() == "failed"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "failed": self.failed}


@dataclass(frozen=True)
class LastScaling(_Record):
    """A cache and its latest scaling operation (None if it never scaled since recording began)."""

    cache: str
    resource_group: str | None
    last_scaling: RedisOperation | None
    product: str | None = None  # Azure Managed Redis publishes no scaling event: see the cache's history


@dataclass(frozen=True)
class ConfigChange(_Record):
    store: str
    change: str
    event_time: dt.datetime | None
    key: str | None
    label: str | None
    snapshot: str | None
    etag: str | None
    sync_token: str | None
    event_id: str | None
    event_type: str | None


@dataclass(frozen=True)
class KeyState(_Record):
    store: str
    key: str
    label: str
    deleted: bool
    last_change: str | None
    last_event_time: dt.datetime | None
    etag: str | None
    last_event_id: str | None
    last_sync_token: str | None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of answers, newest first; `continuation` asks for the next page (None: no more)."""

    items: list[T]
    continuation: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"items": [_json(item) for item in self.items], "continuation": self.continuation,
                **self.extra}


def _text(entity: Mapping[str, Any], name: str) -> str | None:
    value = entity.get(name)
    return None if value is None else str(value)


def _time(entity: Mapping[str, Any], name: str) -> dt.datetime | None:
    value = entity.get(name)
    if not isinstance(value, dt.datetime):
        return None
    # The SDK's TablesEntityDatetime subclass, made a plain aware datetime.
    return as_utc(dt.datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                              value.microsecond, tzinfo=value.tzinfo))


def resource_from(entity: Mapping[str, Any]) -> Resource:
    # Rows written before Azure Managed Redis was recorded have no ResourceType: their kind says it.
    family = family_of(_text(entity, "ResourceType"), str(entity.get("PartitionKey", "")))
    return Resource(name=_text(entity, "Name") or str(entity["RowKey"]),
                    resource_group=_text(entity, "ResourceGroup"),
                    subscription_id=_text(entity, "SubscriptionId"),
                    resource_id=_text(entity, "ResourceId") or None,
                    resource_type=family.type_name if family else None,
                    product=family.product if family else None)


def redis_operation_from(entity: Mapping[str, Any]) -> RedisOperation:
    return RedisOperation(
        cache=_text(entity, "CacheName") or str(entity["PartitionKey"]),
        operation=_text(entity, "Operation") or "",
        status=_text(entity, "Status") or "",
        event_time=_time(entity, "EventTime"),
        occurred_at=_time(entity, "OccurredAt"),
        resource_group=_text(entity, "ResourceGroup"),
        subscription_id=_text(entity, "SubscriptionId"),
        event_id=_text(entity, "EventId"),
        event_type=_text(entity, "EventType"),
        resource_id=_text(entity, "Topic"),
    )


def config_change_from(entity: Mapping[str, Any]) -> ConfigChange:
    return ConfigChange(
        store=_text(entity, "StoreName") or "",
        change=_text(entity, "Change") or "",
        event_time=_time(entity, "EventTime"),
        key=_text(entity, "Key"),
        label=_text(entity, "Label"),
        snapshot=_text(entity, "Snapshot"),
        etag=_text(entity, "ETag"),
        sync_token=_text(entity, "SyncToken"),
        event_id=_text(entity, "EventId"),
        event_type=_text(entity, "EventType"),
    )


def key_state_from(entity: Mapping[str, Any]) -> KeyState:
    return KeyState(
        store=_text(entity, "StoreName") or "",
        key=_text(entity, "Key") or "",
        label=_text(entity, "Label") or "",
        deleted=bool(entity.get("Deleted", False)),
        last_change=_text(entity, "LastChange"),
        last_event_time=_time(entity, "LastEventTime"),
        etag=_text(entity, "ETag"),
        last_event_id=_text(entity, "LastEventId"),
        last_sync_token=_text(entity, "LastSyncToken"),
    )
