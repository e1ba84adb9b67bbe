"""Reading fields out of an event's data, with a MalformedEvent that says what is wrong."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from eventaudit.errors import MalformedEvent
from eventaudit.timestamps import parse_timestamp


def data_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MalformedEvent(f"data is {type(data).__name__}, expected a JSON object")
    return data


def required_str(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        raise MalformedEvent(f"data.{name} is missing")
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"data.{name} must be a non-empty string, got {value!r:.100}")
    return value


def optional_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise MalformedEvent(f"data.{name} must be a string, got {value!r:.100}")
    return value


def present(properties: dict[str, Any]) -> dict[str, Any]:
    """Table Storage has no null: absent values are left out of the entity."""
    return {name: value for name, value in properties.items() if value is not None}


def required_timestamp(data: dict[str, Any], name: str) -> dt.datetime:
    value = required_str(data, name)
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise MalformedEvent(f"data.{name} is not an ISO 8601 timestamp: {value!r:.100}") from exc


_SEQUENCE = re.compile(r"(?:^|[;,])\s*sn=(\d{1,19})\b")


def sync_sequence(sync_token: str | None) -> int:
    """The sequence number (`sn=`) of an App Configuration sync token; -1 if there is none."""
    if not sync_token:
        return -1
    return max((int(match) for match in _SEQUENCE.findall(sync_token)), default=-1)
