"""What of an event may be written anywhere: no token, and no claim beyond the caller allow-list.

Azure Resource Manager events carry the caller's token claims, the authorization decision and the
HTTP request in `data`. ingest() hands every event through redact_event() before anything reads or
writes it, so handlers, event rows (`Data`) and UnhandledEvents (`Event`) only ever see this copy:

- In every event, any JSON object member named `claims`, `authorization` or `httpRequest` (any
  casing, any depth) is cut down to its allow-list (control_plane.caller), or replaced by a note
  when it is not an object.
- The data of the nine Resource Manager event types keeps only the members their schema documents
  (`resourceUri`, `operationName`, `status`, `correlationId`, ...); a non-object data is replaced by
  a note (a string, so the event is still refused as malformed).
- Any string that holds a JSON Web Token (two base64url segments starting with "eyJ", a third
  after a dot) has it replaced, in data, subject and CloudEvents extension attributes.

Everything else of the event is kept as sent. Event Grid's own dead-letter blobs are out of reach:
they hold the event as it was sent, claims included (docs/control-plane.md).
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from azure.core.messaging import CloudEvent
from azure.eventgrid import SystemEventNames

from eventaudit.control_plane.caller import (
    AUTHORIZATION_EVIDENCE_FIELDS,
    AUTHORIZATION_FIELDS,
    HTTP_REQUEST_FIELDS,
    allowed_claims,
)
from eventaudit.events import Envelope

# Resource Manager events (resource group and subscription system topics): their data holds claims.
RESOURCE_MANAGER_EVENT_TYPES = frozenset(name.lower() for name in (
    SystemEventNames.ResourceWriteSuccessEventName, SystemEventNames.ResourceWriteFailureEventName,
    SystemEventNames.ResourceWriteCancelEventName, SystemEventNames.ResourceDeleteSuccessEventName,
    SystemEventNames.ResourceDeleteFailureEventName, SystemEventNames.ResourceDeleteCancelEventName,
    SystemEventNames.ResourceActionSuccessEventName, SystemEventNames.ResourceActionFailureEventName,
    SystemEventNames.ResourceActionCancelEventName,
))
# The data members of those events (event-schema-resource-groups.md, "The data object has ...").
RESOURCE_MANAGER_DATA = frozenset(name.lower() for name in (
    "authorization", "claims", "correlationId", "httpRequest", "resourceProvider", "resourceUri",
    "operationName", "status", "subscriptionId", "tenantId",
))
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
TOKEN_REMOVED = "[token removed]"
SENSITIVE_MEMBERS = frozenset({"claims", "authorization", "httprequest"})
REMOVED_MEMBERS = "_removedMembers"


def redact_event(event: Envelope) -> Envelope:
    """A copy of the event that is safe to write (see the module's docstring); the event's identity
    (source, type, id) is unchanged, so a redelivery lands on the same rows. An event with nothing to
    redact (most: a scan costs a few microseconds, a copy tens) is returned as it is."""
    event_type = event.event_type.lower() if isinstance(event.event_type, str) else None
    resource_manager = event_type in RESOURCE_MANAGER_EVENT_TYPES
    extensions = event.model.extensions if isinstance(event.model, CloudEvent) else None
    if not resource_manager and not any(_sensitive(part) for part in (
            event.data, event.model.subject, extensions, event.extra)):
        return event
    model = copy.copy(event.model)
    model.data = redact_data(event.data, resource_manager=resource_manager)
    model.subject = scrub(model.subject)
    if isinstance(model, CloudEvent) and model.extensions:
        model.extensions = scrub(model.extensions)
    return dataclasses.replace(event, model=model, extra=scrub(event.extra))


def redact_data(data: Any, *, resource_manager: bool = False) -> Any:
    if resource_manager:
        if not isinstance(data, Mapping):  # stays no object, so the handler still refuses it
            return (f"[{type(data).__name__} not kept: the data of a Resource Manager event may hold the "
                    "caller's claims]")
        dropped = [name for name in data
                   if not (isinstance(name, str) and name.lower() in RESOURCE_MANAGER_DATA)]
        data = {name: value for name, value in data.items() if name not in dropped}
        if dropped:
            data[REMOVED_MEMBERS] = [scrub(str(name))[:100] for name in dropped[:20]]
    return _walk(data)


def scrub(value: Any) -> Any:
    """`value` with every JSON Web Token in its strings (keys too) replaced."""
    if isinstance(value, str):
        return JWT.sub(TOKEN_REMOVED, value) if "eyJ" in value else value
    if isinstance(value, Mapping):
        return {scrub(name): scrub(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


def _sensitive(value: Any) -> bool:
    """Whether redaction would change `value`: a member it cuts, or a string that may hold a token."""
    if isinstance(value, str):
        return "eyJ" in value
    if isinstance(value, Mapping):
        return any((isinstance(name, str) and name.lower() in SENSITIVE_MEMBERS) or _sensitive(name)
                   or _sensitive(item) for name, item in value.items())
    if isinstance(value, list | tuple):
        return any(_sensitive(item) for item in value)
    return False


def _walk(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {scrub(name): _member(name, item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(item) for item in value]
    return scrub(value)


def _member(name: Any, value: Any) -> Any:
    key = name.lower() if isinstance(name, str) else None
    if key not in SENSITIVE_MEMBERS:
        return _walk(value)
    if key == "claims":
        return scrub(allowed_claims(value)) if isinstance(value, Mapping) else _not_kept(value)
    if key == "httprequest":
        return _fields(value, HTTP_REQUEST_FIELDS)
    if not isinstance(value, Mapping):  # authorization
        return _not_kept(value)
    kept = _fields(value, AUTHORIZATION_FIELDS)
    evidence = value.get("evidence")
    if isinstance(evidence, Mapping):
        kept["evidence"] = _fields(evidence, AUTHORIZATION_EVIDENCE_FIELDS)
    return kept


def _fields(value: Any, names: tuple[str, ...]) -> Any:
    if not isinstance(value, Mapping):
        return _not_kept(value)
    return {name: scrub(value[name]) for name in names if isinstance(value.get(name), str)}


def _not_kept(value: Any) -> str:
    return f"[{type(value).__name__} not kept]"
