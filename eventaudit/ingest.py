"""Record one event: check it, dispatch it to its handler, or keep it in UnhandledEvents.

Permanent problems (unknown type, malformed data, a source not allowed, an entity storage
refuses) are recorded and the invocation succeeds: a retry could never fix them. Transient
storage problems raise, so Event Grid delivers the event again; every write is idempotent.
Handlers and UnhandledEvents only ever see the event redacted (no token, no claim beyond the
allow-list: eventaudit.redaction).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence

import handlers
from eventaudit.errors import MalformedEvent, PermanentStorageError, StorageError
from eventaudit.events import Envelope
from eventaudit.redaction import redact_event
from eventaudit.resource_ids import fold_case
from eventaudit.storage import AuditStore

logger = logging.getLogger(__name__)


class Outcome(enum.Enum):
    RECORDED = "recorded"
    UNHANDLED = "unhandled"


def ingest(event: Envelope, store: AuditStore, allowed_sources: Sequence[str] = ()) -> Outcome:
    event = redact_event(event)
    reason = refusal(event, allowed_sources)
    if reason is None:
        handler = handlers.handler_for(event.event_type)
        if handler is None:
            reason = f"no handler for event type {event.event_type!r}"
        else:
            try:
                handler(event, store)
            except (MalformedEvent, PermanentStorageError) as exc:
                reason = str(exc)
            except StorageError:
                logger.warning("Storage failed for event id=%s type=%s; raising so Event Grid retries",
                               event.id, event.event_type)
                raise
            else:
                logger.info("Recorded event id=%s type=%s subject=%s",
                            event.id, event.event_type, event.subject,
                            extra={"outcome": Outcome.RECORDED, "reason": None})
                return Outcome.RECORDED
    logger.warning("Unhandled event id=%s type=%s: %s", event.id, event.event_type, reason,
                   extra={"outcome": Outcome.UNHANDLED, "reason": reason})
    try:
        store.record_unhandled(event, reason)
    except StorageError:
        logger.error("Could not record unhandled event id=%s type=%s; raising so Event Grid retries "
                     "and finally dead-letters it", event.id, event.event_type)
        raise
    return Outcome.UNHANDLED


def refusal(event: Envelope, allowed_sources: Sequence[str] = ()) -> str | None:
    """Why the event must not be applied, or None."""
    if event.problem:
        return event.problem
    for name, value in (("id", event.id), ("type", event.event_type), ("source", event.source)):
        if not isinstance(value, str) or not value.strip():
            return f"event {name} is missing or not a string: {value!r:.100}"
    if event.time is None:
        return "event time is missing"
    if allowed_sources and not is_allowed_source(event.source, allowed_sources):
        return f"source {event.source!r:.300} is not in AUDIT_ALLOWED_SOURCES"
    return None


def is_allowed_source(source: str, allowed_sources: Sequence[str]) -> bool:
    """Case-insensitive match of a resource id against ids or prefixes ending at a '/'."""
    source = fold_case(source.strip().rstrip("/"))
    return any(source == allowed or source.startswith(allowed + "/") for allowed in allowed_sources)
