"""What the questions answer: plain dataclasses, turned into JSON by to_dict()."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from eventaudit.control_plane.caller import MANAGED_IDENTITY_TYPE
from eventaudit.control_plane.targets import family_of
from eventaudit.queries.ranges import iso
from eventaudit.queries.statuses import is_failed
from eventaudit.timestamps import as_utc

T = TypeVar("T")


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
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
    kind: str | None = None  # its AuditResources partition: RedisCache, AppConfigurationStore
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
        return is_failed(self.status)  # statuses.status_class: the rule every filter uses too

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
class Caller(_Record):
    """Who sent a Resource Manager request: the allow-listed claims and the client IP."""

    type: str | None
    object_id: str | None
    upn: str | None
    name: str | None
    app_id: str | None
    managed_identity: str | None
    client_ip: str | None

    def label(self) -> str:
        """'jane.doe@contoso.com (user)', 'contoso-checkout (managed identity)', '<app id> (service
        principal)'."""
        identity = self.managed_identity.rsplit("/", 1)[-1] if self.managed_identity else None
        who = self.upn or self.name or identity or self.app_id or self.object_id or "unknown caller"
        kind = _IDENTITY_WORDS.get(self.type or "", self.type)
        return f"{who} ({kind})" if kind else who

    def sentence(self) -> str:
        """'jane.doe@contoso.com (user) from 203.0.113.24'."""
        return f"{self.label()} from {self.client_ip}" if self.client_ip else self.label()


_IDENTITY_WORDS = {"User": "user", "ServicePrincipal": "service principal",
                   MANAGED_IDENTITY_TYPE: "managed identity", "Unknown": "unknown identity type"}


@dataclass(frozen=True)
class RequestedBy(_Record):
    """The write a scaling outcome is attributed to, and how (an inference)."""

    caller: Caller
    time: dt.datetime | None
    operation: str | None
    correlation_id: str | None
    event_id: str | None
    matched_by: str  # "correlation id" or "time window"
    note: str


@dataclass(frozen=True)
class TimelineItem(_Record):
    """One recorded event, whatever its source: an entry of the merged timeline and of a cache's or
    store's history, as the page, the API and the CLI render it.

    `details` holds what is shown on demand (event id, etag, sync token, caller, sizes, ...), by name.
    """

    time: dt.datetime | None
    kind: str  # the source (timeline.SOURCES): redis-operation, key-change, control-plane, ...
    resource: str | None  # the cache or store name
    resource_type: str | None  # RedisCache, AppConfigurationStore, ...
    action: str  # the operation or change type: Scaling, Modified, SnapshotCreated, Write, ...
    subject: str | None  # what in the resource: a key, a snapshot, a child ("databases/default")
    label: str | None
    status: str | None
    failed: bool  # statuses.is_failed(status): the rule every status filter uses too
    summary: str  # what happened, and who did it or (inferred) requested it
    details: dict[str, Any] = field(default_factory=dict)
    what: str = ""  # the summary without the who ("" when built: the summary)
    who: str | None = None  # the caller; for a scaling outcome, who requested it (inferred)
    requested_by: RequestedBy | None = None

    def __post_init__(self) -> None:
        if not self.what:
            object.__setattr__(self, "what", self.summary)

    @property
    def client_ip(self) -> str | None:
        """The caller's (or the inferred requester's) client IP."""
        if self.requested_by is not None:
            return self.requested_by.caller.client_ip
        caller = self.details.get("caller")
        return caller.get("client_ip") if isinstance(caller, dict) else None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of answers, newest first; `continuation` asks for the next page (None: no more)."""

    items: list[T]
    continuation: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"items": [_json(item) for item in self.items], "continuation": self.continuation,
                **self.extra}


def entity_text(entity: Mapping[str, Any], name: str) -> str | None:
    value = entity.get(name)
    return None if value is None else str(value)


def entity_time(entity: Mapping[str, Any], name: str) -> dt.datetime | None:
    value = entity.get(name)
    if not isinstance(value, dt.datetime):
        return None
    # The SDK's TablesEntityDatetime subclass, made a plain aware datetime.
    return as_utc(dt.datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                              value.microsecond, tzinfo=value.tzinfo))


def resource_from(entity: Mapping[str, Any]) -> Resource:
    # Rows written before Azure Managed Redis was recorded have no ResourceType: their kind says it.
    kind = entity_text(entity, "PartitionKey")
    family = family_of(entity_text(entity, "ResourceType"), kind or "")
    return Resource(name=entity_text(entity, "Name") or str(entity["RowKey"]),
                    resource_group=entity_text(entity, "ResourceGroup"),
                    subscription_id=entity_text(entity, "SubscriptionId"),
                    resource_id=entity_text(entity, "ResourceId") or None,
                    kind=kind,
                    resource_type=family.type_name if family else None,
                    product=family.product if family else None)


def redis_operation_from(entity: Mapping[str, Any]) -> RedisOperation:
    return RedisOperation(
        cache=entity_text(entity, "CacheName") or str(entity["PartitionKey"]),
        operation=entity_text(entity, "Operation") or "",
        status=entity_text(entity, "Status") or "",
        event_time=entity_time(entity, "EventTime"),
        occurred_at=entity_time(entity, "OccurredAt"),
        resource_group=entity_text(entity, "ResourceGroup"),
        subscription_id=entity_text(entity, "SubscriptionId"),
        event_id=entity_text(entity, "EventId"),
        event_type=entity_text(entity, "EventType"),
        resource_id=entity_text(entity, "Topic"),
    )


def config_change_from(entity: Mapping[str, Any]) -> ConfigChange:
    return ConfigChange(
        store=entity_text(entity, "StoreName") or "",
        change=entity_text(entity, "Change") or "",
        event_time=entity_time(entity, "EventTime"),
        key=entity_text(entity, "Key"),
        label=entity_text(entity, "Label"),
        snapshot=entity_text(entity, "Snapshot"),
        etag=entity_text(entity, "ETag"),
        sync_token=entity_text(entity, "SyncToken"),
        event_id=entity_text(entity, "EventId"),
        event_type=entity_text(entity, "EventType"),
    )


def key_state_from(entity: Mapping[str, Any]) -> KeyState:
    return KeyState(
        store=entity_text(entity, "StoreName") or "",
        key=entity_text(entity, "Key") or "",
        label=entity_text(entity, "Label") or "",
        deleted=bool(entity.get("Deleted", False)),
        last_change=entity_text(entity, "LastChange"),
        last_event_time=entity_time(entity, "LastEventTime"),
        etag=entity_text(entity, "ETag"),
        last_event_id=entity_text(entity, "LastEventId"),
        last_sync_token=entity_text(entity, "LastSyncToken"),
    )
