"""Azure resource ids, parsed case-insensitively as Azure treats them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from errors import MalformedEvent

_RESOURCE_ID = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)"
    r"/providers/(?P<namespace>[^/]+)/(?P<type>[^/]+)/(?P<name>[^/]+)/?$",
    re.IGNORECASE,
)
# Redis cache and App Configuration store names: letters, digits, '-', '_' (and '.', to be lenient).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class ResourceId:
    subscription_id: str
    resource_group: str
    namespace: str
    type: str
    name: str


def parse_resource_id(value: object, *, namespace: str, type_: str) -> ResourceId:
    """The parts of a top-level resource id of the given provider type; MalformedEvent otherwise."""
    if not isinstance(value, str):
        raise MalformedEvent(f"source is not a resource id: {value!r:.200}")
    match = _RESOURCE_ID.match(value.strip())
    if not match:
        raise MalformedEvent(f"source is not an Azure resource id: {value!r:.200}")
    if (match["namespace"].lower(), match["type"].lower()) != (namespace.lower(), type_.lower()):
        raise MalformedEvent(
            f"source is a {match['namespace']}/{match['type']} resource, expected {namespace}/{type_}"
        )
    if not _NAME.match(match["name"]):
        raise MalformedEvent(f"resource name is not a valid Azure name: {match['name']!r:.200}")
    return ResourceId(
        subscription_id=match["subscription"],
        resource_group=match["group"],
        namespace=match["namespace"],
        type=match["type"],
        name=match["name"],
    )
