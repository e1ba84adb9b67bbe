"""What the worker hands the trigger, turned once into an azure-eventgrid model.

Handlers see an `Envelope`: the azure-eventgrid `EventGridEvent` or azure-core `CloudEvent`,
with uniform read access to the fields both schemas share, and the event as JSON for the record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridEvent

from eventaudit.errors import UnfaithfulDecoding
from eventaudit.timestamps import as_utc

logger = logging.getLogger(__name__)

EVENT_GRID_SCHEMA = "EventGridEvent"
CLOUD_EVENTS_SCHEMA = "CloudEvent"


class TriggerEvent(Protocol):
    """What azure.functions hands the trigger: func.EventGridEvent or func.CloudEvent."""

    id: str
    subject: str | None

    def get_json(self) -> Any: ...


@dataclass(frozen=True)
class Envelope:
    """One event as received, in either schema."""

    model: EventGridEvent | CloudEvent
    # Why the event could not be turned into a model faithfully; such events are never applied.
    problem: str | None = None
    # The worker's decoder lost the event's type, source and time (see from_trigger).
    decoder_lost_attributes: bool = False
    # CloudEvents extension attributes the azure-core model refuses (kept for the record).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        return CLOUD_EVENTS_SCHEMA if isinstance(self.model, CloudEvent) else EVENT_GRID_SCHEMA

    @property
    def id(self) -> str | None:
        return self.model.id

    @property
    def event_type(self) -> str | None:
        return self.model.type if isinstance(self.model, CloudEvent) else self.model.event_type

    @property
    def source(self) -> str | None:
        """The topic (Event Grid schema) or source (CloudEvents): the resource id of the publisher."""
        return self.model.source if isinstance(self.model, CloudEvent) else self.model.topic

    @property
    def subject(self) -> str | None:
        return self.model.subject

    @property
    def time(self) -> dt.datetime | None:
        value = self.model.time if isinstance(self.model, CloudEvent) else self.model.event_time
        return as_utc(value) if isinstance(value, dt.datetime) else None

    @property
    def data(self) -> Any:
        return self.model.data

    @cached_property
    def identity(self) -> str:
        """Stable hash of (source, type, id): ids are unique only within a source and type."""
        if self.id:
            source = self.source or ""
            if not isinstance(source, str):  # e.g. "topic": true; kept so such events can be recorded
                source = json.dumps(source, ensure_ascii=False, default=str)
            parts: Any = [source.lower(), self.event_type or "", self.id]
        else:  # No id: only the whole content identifies a redelivery.
            parts = self.to_dict()
        text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        """The event in its own schema, as the trigger received it."""
        model = self.model
        if isinstance(model, CloudEvent):
            body: dict[str, Any] = {
                "specversion": getattr(model, "specversion", None) or "1.0",
                "id": model.id, "source": model.source, "type": model.type,
                "time": _iso(model.time), "subject": model.subject,
                "datacontenttype": model.datacontenttype, "dataschema": model.dataschema,
                **(model.extensions or {}), **self.extra,
            }
        else:
            body = {
                "id": model.id, "topic": model.topic, "subject": model.subject,
                "eventType": model.event_type, "eventTime": _iso(model.event_time),
                "dataVersion": model.data_version,
            }
        body = {key: value for key, value in body.items() if value is not None}
        body["data"] = model.data
        return body

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, default=str)


# What azure-functions before 1.25 makes of a CloudEvents delivery: a func.EventGridEvent with the id,
# subject and data, but no type, topic or time, since it reads only Event Grid schema names (seen with
# its EventGridEventInConverter, versions 1.21.3 to 1.24.0). Event Grid never delivers an Event Grid
# schema event without eventType, topic and eventTime, so all three missing means that loss.
DECODER_LOSS = ("the worker's decoder handed over an EventGridEvent without type, source and time: "
                "most likely a CloudEvents delivery decoded by azure-functions older than 1.25")


def from_trigger(event: TriggerEvent) -> Envelope:
    """Turn func.EventGridEvent / func.CloudEvent into an Envelope; never raises on content."""
    if hasattr(event, "specversion"):
        return _from_cloud_event(event)
    lost = event.event_type is None and event.topic is None and event.event_time is None
    return Envelope(
        model=EventGridEvent(
            subject=event.subject,
            event_type=event.event_type,
            data=event.get_json(),
            # A lower-case "dataversion" (one documented Redis example) is not decoded by the worker.
            data_version=event.data_version,
            id=event.id,
            topic=event.topic,
            event_time=event.event_time,
        ),
        problem=DECODER_LOSS if lost else None,
        decoder_lost_attributes=lost,
    )


def require_faithful(envelope: Envelope) -> Envelope:
    """The envelope, unless the worker's decoder lost part of the event: then raise, so that Event Grid
    redelivers the original (and finally dead-letters it, for tools.replay) instead of it being
    acknowledged as a remnant."""
    if envelope.decoder_lost_attributes:
        import azure.functions

        version = getattr(azure.functions, "__version__", "unknown")
        logger.error("Event id=%s not recorded: %s (this worker loaded azure-functions %s from %s; "
                     "the app requires >= 1.25, see PYTHON_ISOLATE_WORKER_DEPENDENCIES in docs/runtime.md). "
                     "Raising so that Event Grid redelivers it.", envelope.id, DECODER_LOSS, version,
                     getattr(azure.functions, "__file__", "?"))
        raise UnfaithfulDecoding(f"event id={envelope.id!r}: {DECODER_LOSS} (loaded: {version})")
    return envelope


def _from_cloud_event(event: Any) -> Envelope:
    extensions = dict(getattr(event, "extension_attrs", None) or {})
    valid = {k: v for k, v in extensions.items() if isinstance(k, str) and k.islower() and k.isalnum()}
    extra = {k: v for k, v in extensions.items() if k not in valid}
    model = CloudEvent(
        event.source,
        event.type,
        specversion=event.specversion,
        id=event.id,
        time=event.time,
        datacontenttype=event.datacontenttype,
        dataschema=event.dataschema,
        subject=event.subject,
        data=event.get_json(),
        extensions=valid or None,
    )
    if not event.id:
        model.id = event.id  # Keep it missing rather than the uuid azure-core made up.
    problem = None
    if extra:
        problem = "CloudEvents extension attribute names must be lower-case letters and digits: " + ", ".join(
            sorted(repr(k) for k in extra)
        )[:500]
    if not event.id:
        problem = "event has no id"
    return Envelope(model=model, problem=problem, extra=extra)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value
