"""Azure resource ids, parsed case-insensitively as Azure treats them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from eventaudit.errors import MalformedEvent

_TOP_LEVEL = (r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)"
              r"/providers/(?P<namespace>[^/]+)/(?P<type>[^/]+)/(?P<name>[^/]+)")
# ASCII: "\u017f" (long s) must not match the "s" of "subscriptions"
_RESOURCE_ID = re.compile(_TOP_LEVEL + r"/?$", re.IGNORECASE | re.ASCII)
# The same, followed by what lies below the resource: child resources ("databases/default") and
# extension resources ("providers/Microsoft.Insights/diagnosticSettings/x"), each segment non-empty.
_RESOURCE_PATH = re.compile(_TOP_LEVEL + r"(?P<below>(?:/[^/]+)*)/?$", re.IGNORECASE | re.ASCII)
# Redis cache and App Configuration store names: letters, digits, '-', '_' (and '.', to be lenient).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold_case(value: str) -> str:
    """Lower-case A-Z only, as Azure compares resource ids (ordinal, ignoring ASCII case).

    str.lower() would also fold look-alikes such as the Kelvin sign U+212A into "k", letting
    "/subscriptions/\u212a..." pass for "/subscriptions/k...".
    """
    return value.translate(_ASCII_LOWER)


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
    if (fold_case(match["namespace"]), fold_case(match["type"])) != (fold_case(namespace), fold_case(type_)):
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


def parse_resource_path(value: object) -> tuple[ResourceId, str]:
    """The top-level resource an id names, and the path below it (lower case; "" for the resource itself).

    "/subscriptions/s/resourceGroups/g/providers/Microsoft.Cache/redisEnterprise/c/databases/default"
    is (the redisEnterprise resource c, "databases/default"). MalformedEvent if it is no resource id.
    """
    if not isinstance(value, str):
        raise MalformedEvent(f"resource id is not a string: {type(value).__name__}")
    match = _RESOURCE_PATH.match(value.strip())
    if not match:
        raise MalformedEvent(f"not an Azure resource id: {value!r:.200}")
    if not _NAME.match(match["name"]):
        raise MalformedEvent(f"resource name is not a valid Azure name: {match['name']!r:.200}")
    below = fold_case(match["below"].strip("/"))
    return ResourceId(subscription_id=match["subscription"], resource_group=match["group"],
                      namespace=match["namespace"], type=match["type"], name=match["name"]), below
