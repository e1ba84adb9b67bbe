"""Which events an Event Grid subscription delivers: its filter applied to one event, as Event Grid's
documentation defines it. A stand-in (Event Grid cannot run here) for the filters the deploy scripts
set; it knows the string operators and refuses the rest.

Source for every rule below: MicrosoftDocs/azure-docs, articles/event-grid/event-filtering.md (commit
aa80303874570d4401cab25bbd0d7b8d64320bee), "Understand event filtering for Event Grid subscriptions":
- "Event type filtering": only the types in includedEventTypes are delivered (all when it is null);
- "Key": Event Grid schema keys are ID, Topic, Subject, EventType, DataVersion or event data
  ("data.key1"); CloudEvents keys are id, source, type, specversion, extension attributes or data, "."
  nesting the data's members; arrays are filtered only with enableAdvancedFilteringOnArrays;
- "Operators": StringContains, StringBeginsWith, StringEndsWith and StringIn match when the key matches
  any of the values; their Not forms fail when it matches any; "All string comparisons aren't
  case-sensitive"; "key values with data types that don't match the filter's data type are ignored";
- the note under StringNotIn: a key missing from the event is "not matched" for every string operator
  except StringNotIn, which it matches;
- "OR and AND": the values of one filter are alternatives, all filters must hold.
What the page leaves open is said where it is decided (event type names, data member names: compared
as given).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MISSING = object()

_TESTS: dict[str, Callable[[str, str], bool]] = {
    "contains": lambda key, value: value in key,
    "beginswith": lambda key, value: key.startswith(value),
    "endswith": lambda key, value: key.endswith(value),
    "in": lambda key, value: key == value,
}
# Operator -> (test, negated)
STRING_OPERATORS = {
    f"String{'Not' if negated else ''}{name}": (_TESTS[name.lower()], negated)
    for name in ("Contains", "BeginsWith", "EndsWith", "In")
    for negated in (False, True)
}
EVENT_GRID_KEYS = {"id": "id", "topic": "topic", "subject": "subject", "eventtype": "eventType",
                   "dataversion": "dataVersion"}


def is_cloud_event(event: dict[str, Any]) -> bool:
    return "specversion" in event


def key_value(event: dict[str, Any], key: str) -> Any:
    """The event's value for a filter key, MISSING if it has none."""
    head, _, rest = key.partition(".")
    if head.lower() == "data" and rest:
        value: Any = event.get("data", MISSING)
        for part in rest.split("."):  # data member names as given (the page is silent on their case)
            value = value.get(part, MISSING) if isinstance(value, dict) else MISSING
        return value
    if rest:
        raise NotImplementedError(f"filter key {key!r}: only data members nest")
    if is_cloud_event(event):  # context attributes, extension attributes among them, are lower case
        return event.get(key.lower(), MISSING)
    if key.lower() not in EVENT_GRID_KEYS:
        raise ValueError(f"filter key {key!r} is not one of the Event Grid schema's keys")
    return event.get(EVENT_GRID_KEYS[key.lower()], MISSING)


def matches(advanced: dict[str, Any], event: dict[str, Any]) -> bool:
    """One advanced filter ({"operatorType", "key", "values"}, as `show` prints it) on one event."""
    operator = advanced["operatorType"]
    if operator not in STRING_OPERATORS:
        raise NotImplementedError(f"the stand-in knows only the string operators, not {operator}")
    test, negated = STRING_OPERATORS[operator]
    value = key_value(event, advanced["key"])
    if value is MISSING:
        return operator == "StringNotIn"
    if not isinstance(value, str):
        return negated  # a value of another type is ignored: no match, and nothing to fail a Not
    hit = any(test(value.lower(), str(candidate).lower()) for candidate in advanced["values"])
    return hit != negated


def delivers(filter_: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether a subscription with this `filter` (as `show` prints it) delivers the event."""
    if filter_.get("enableAdvancedFilteringOnArrays"):
        raise NotImplementedError("filtering on arrays is not modelled")
    if filter_.get("subjectBeginsWith") or filter_.get("subjectEndsWith"):
        raise NotImplementedError("subject filters are not modelled")
    event_type = event["type"] if is_cloud_event(event) else event["eventType"]
    included = filter_.get("includedEventTypes")
    if included is not None and event_type not in included:  # as given: the page is silent on case
        return False
    return all(matches(advanced, event) for advanced in filter_.get("advancedFilters") or [])
