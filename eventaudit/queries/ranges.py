"""Time ranges from user input ("24h", "2026-11-01", ISO 8601) and the RowKey bounds they become.

Event RowKeys start with the inverted ticks of the event time (timestamps.inverted_ticks), followed
by "-" and the event identity: a newer event has a smaller RowKey. So `since` (inclusive) is an
upper RowKey bound and `until` (exclusive) a lower one. "." sorts right after "-", so
f"{inverted_ticks(t)}." lies just above every RowKey of time t.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from eventaudit.queries.errors import InvalidQuery
from eventaudit.timestamps import as_utc, inverted_ticks, parse_timestamp

_DURATION = re.compile(r"^(\d{1,9})\s*(s|sec|m|min|h|d|w)$", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNITS = {"s": "seconds", "sec": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days",
          "w": "weeks"}
TIME_HELP = ("a duration back from now (90s, 30m, 24h, 7d, 2w) or a UTC date/time "
             "(2026-11-01, 2026-11-01T08:00Z)")


@dataclass(frozen=True)
class TimeRange:
    """Events with since <= EventTime < until; None means unbounded."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def row_key_bounds(self) -> tuple[str | None, str | None]:
        """(lowest RowKey included, RowKey every included row is below)."""
        low = f"{inverted_ticks(self.until)}." if self.until else None
        high = f"{inverted_ticks(self.since)}." if self.since else None
        return low, high

    def to_dict(self) -> dict[str, str | None]:
        return {"since": iso(self.since), "until": iso(self.until)}


ANY_TIME = TimeRange()


def parse_time(text: str, *, name: str = "since", now: dt.datetime | None = None) -> dt.datetime:
    """A point in time from a duration back from now, a date (midnight UTC) or an ISO 8601 time."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidQuery(f"{name} is empty: give {TIME_HELP}")
    value = text.strip()
    now = as_utc(now or dt.datetime.now(dt.UTC))
    if value.lower() == "now":
        return now
    match = _DURATION.match(value)
    try:
        if match:
            return now - dt.timedelta(**{_UNITS[match[2].lower()]: int(match[1])})
        if _DATE.match(value):
            return dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.UTC)
        return parse_timestamp(value)
    except (ValueError, OverflowError):
        pass
    raise InvalidQuery(f"{name} {value[:100]!r} is not a time: give {TIME_HELP}")


def time_range(since: str | None = None, until: str | None = None, *,
               now: dt.datetime | None = None) -> TimeRange:
    """Parse both ends (either may be None or ""); since must come before until."""
    now = now or dt.datetime.now(dt.UTC)
    start = parse_time(since, name="since", now=now) if since else None
    end = parse_time(until, name="until", now=now) if until else None
    if start and end and start >= end:
        raise InvalidQuery(f"since ({iso(start)}) must be before until ({iso(end)})")
    return TimeRange(start, end)


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, microseconds only when there are some."""
    if value is None:
        return None
    return as_utc(value).isoformat().replace("+00:00", "Z")
