"""ISO 8601 timestamps as Azure sends them, and the tick arithmetic that orders rows."""

from __future__ import annotations

import datetime as dt
import re

# Azure writes seven fractional digits (.NET ticks); Python's datetime keeps six.
_FRACTION = re.compile(r"(\.\d{1,6})\d*")
_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
# .NET DateTime.MaxValue.Ticks: inverted ticks sort newest first and stay 19 digits wide.
MAX_TICKS = 3155378975999999999


def parse_timestamp(value: str) -> dt.datetime:
    """Parse an ISO 8601 timestamp into an aware UTC datetime (naive means UTC)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a timestamp: {value!r}")
    text = _FRACTION.sub(lambda m: m.group(1), value.strip(), count=1)
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    try:
        return as_utc(parsed)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise ValueError(f"timestamp out of range in UTC: {value!r:.100}") from exc


def as_utc(value: dt.datetime) -> dt.datetime:
    """Aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def ticks(value: dt.datetime) -> int:
    """100-nanosecond intervals since 0001-01-01 UTC, as .NET and Table Storage count them."""
    delta = as_utc(value) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def inverted_ticks(value: dt.datetime) -> str:
    """A fixed-width string that sorts newest first."""
    return f"{MAX_TICKS - ticks(value):019d}"


def from_inverted_ticks(text: str) -> dt.datetime:
    """The datetime an inverted-ticks string was made from."""
    value = MAX_TICKS - int(text)
    return _EPOCH + dt.timedelta(microseconds=value // 10)
