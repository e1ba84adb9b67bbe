"""Argument checks done before any az call, so a typo fails at once rather than half-way through."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

STORAGE_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
# Blob containers: 3-63 of lower-case letters, digits and single hyphens, starting with a letter or digit.
CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
# Function app (site) names: 2-60 letters, digits and hyphens, not starting or ending with a hyphen.
FUNCTION_APP = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,58}[A-Za-z0-9])?$")
# Event Grid event subscription names: 3-64 letters, digits and hyphens.
EVENT_SUBSCRIPTION = re.compile(r"^[A-Za-z0-9-]{3,64}$")
GROUP_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+$", re.IGNORECASE)
RESOURCE_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/[^/]+/[^/]+$", re.IGNORECASE
)


def pattern(regex: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not regex.match(value):
            raise argparse.ArgumentTypeError(f"{value!r} is not a valid {what}")
        return value

    return check


def int_range(low: int, high: int) -> Callable[[str], int]:
    def check(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} is not between {low} and {high}")
        return number

    return check


def is_resource_id(value: str) -> bool:
    return value.startswith("/")


def resource_id(value: str) -> str:
    """A top-level resource id, or a name (anything not starting with '/')."""
    if is_resource_id(value) and not RESOURCE_ID.match(value.rstrip("/")):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a resource id "
            "(/subscriptions/<id>/resourceGroups/<group>/providers/<type>/<name>)"
        )
    return value.rstrip("/")


def group_reference(value: str) -> str:
    """A resource group: a name (in the CLI's subscription) or /subscriptions/<id>/resourceGroups/<name>."""
    if is_resource_id(value) and not GROUP_ID.match(value.rstrip("/")):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a resource group id (/subscriptions/<id>/resourceGroups/<group>)"
        )
    return value.rstrip("/")
