"""Property-based fuzzing of everything that parses outside input (Hypothesis).

The only acceptable outcomes of an event: a recorded row, or an UnhandledEvents row with a reason
that keeps the whole event; never an exception out of the function (a retry loop for an event that
can never succeed). Deterministic in CI (derandomize); FUZZ_SEED=<n> runs a random seed instead,
FUZZ_EXAMPLES=<n> scales every test (the default is CI-sized). The counts are printed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import string
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import handlers
from eventaudit.errors import MalformedEvent, UnfaithfulDecoding
from eventaudit.events import from_trigger
from eventaudit.ingest import refusal
from eventaudit.resource_ids import parse_resource_id
from eventaudit.storage import AuditStore, keys
from eventaudit.storage.tables import (
    APP_CONFIGURATION_EVENTS,
    APP_CONFIGURATION_KEYS,
    REDIS_CACHE_EVENTS,
    UNHANDLED_EVENTS,
)
from eventaudit.timestamps import from_inverted_ticks, inverted_ticks, parse_timestamp
from handlers.payload import sync_sequence
from tests.conftest import rows
from tests.eventgen import KEY_DELETED, KEY_MODIFIED, REDIS_TYPES, SNAPSHOT_TYPES, UNKNOWN_TYPES, raw_event
from tests.harness import empty_tables, report
from tools.trigger import decode, trigger_function

SCALE = float(os.environ.get("FUZZ_EXAMPLES", "0") or 0) / 1000 or 1.0
SEED = os.environ.get("FUZZ_SEED")
TRIED: Counter[str] = Counter()
REASONS: Counter[str] = Counter()  # UnhandledEvents reasons, by their first three words


def fuzz(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Hypothesis settings: `examples` in CI (times FUZZ_EXAMPLES/1000), deterministic unless FUZZ_SEED."""

    def apply(test: Callable[..., None]) -> Callable[..., None]:
        test = settings(max_examples=max(1, round(examples * SCALE)), deadline=None, database=None,
                        derandomize=SEED is None, print_blob=True,
                        suppress_health_check=list(HealthCheck))(test)
        return seed(int(SEED))(test) if SEED is not None else test

    return apply


@pytest.fixture(scope="module", autouse=True)
def print_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    mode = f"seed {SEED}" if SEED is not None else "derandomized"
    report(request, f"fuzz examples tried ({mode}): " + ", ".join(f"{k}={v}" for k, v in sorted(TRIED.items())))
    report(request, "most frequent reasons: " + "; ".join(f"{k!r}={v}" for k, v in REASONS.most_common(8)))
    # A fuzzer that never reaches one of the outcomes tests nothing there.
    if TRIED["delivered through the trigger"] >= 100:
        assert TRIED["delivered: recorded"] and TRIED["delivered: kept in UnhandledEvents"], TRIED


# --- strategies -----------------------------------------------------------------------------

SPECIAL = ["", " ", "\x00", "\ud800", "\udfff", "\ud83d", "\ufeff", "\u202e", "null", "0", "🚀", "a/b\\c#d?e",
           "'; eq ' or true", "%00", "\r\n", "Z", "sn=", "..", "/"]
odd_text = st.one_of(
    st.text(max_size=40),
    # Every code point, incl. lone surrogates (JSON's \ud800 escapes), NUL and control characters.
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.sampled_from(SPECIAL),
)
# Now and then a huge string: beyond a property's 64 KiB, up to a whole event's worth.
huge_text = st.builds(lambda char, n: char * n, st.sampled_from(["x", "ü", "😀", "\x00", '"', "\ud800"]),
                      st.integers(20_000, 80_000))
text = odd_text
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | odd_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=10,
)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """ISO 8601 in the shapes Azure and others write, some out of range, with garbage now and then."""
    if draw(st.integers(0, 5)) == 0:
        return draw(odd_text)
    value = draw(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59)))
    fraction = "".join(draw(st.lists(st.sampled_from(string.digits), max_size=9)))
    zone = draw(st.sampled_from(["Z", "z", "+00:00", "-05:30", "+14:00", "", "+0100", "+23:59"]))
    sep = draw(st.sampled_from(["T", " "]))
    return value.isoformat(sep, timespec="seconds") + (f".{fraction}" if fraction else "") + zone


def azure_times(since: int) -> st.SearchStrategy[str]:
    return st.datetimes(min_value=dt.datetime(since, 1, 1)).map(
        lambda value: value.isoformat(timespec="microseconds") + "1Z")


# Event times mostly as Azure writes them (the worker's decoder refuses most other shapes), some
# before 1601, which Table Storage cannot store.
event_times = st.one_of(*[azure_times(1601)] * 6, azure_times(1), timestamps())

PROVIDERS = [("Microsoft.Cache", "Redis"), ("Microsoft.AppConfiguration", "configurationStores"),
             ("Microsoft.Storage", "storageAccounts")]
valid_names = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=12).filter(
    lambda name: name[0].isalnum())
MUTATIONS = ("type", "source", "id", "time", "subject", "data", "data field", "drop", "replace", "extension",
             "huge")


@st.composite
def resource_ids(draw: st.DrawFn, provider: tuple[str, str] | None = None) -> str:
    """Resource ids in any casing, of the given provider or another, with odd parts or tails."""
    namespace, type_ = provider or draw(st.sampled_from(PROVIDERS))
    parts = [draw(valid_names | odd_text) if provider is None else draw(valid_names) for _ in range(3)]
    tail = draw(st.sampled_from(["", "/", "/extra/x", "/../x"])) if provider is None else ""
    value = f"/subscriptions/{parts[0]}/resourceGroups/{parts[1]}/providers/{namespace}/{type_}/{parts[2]}{tail}"
    return draw(st.sampled_from([str, str.lower, str.upper, str.swapcase]))(value)


def valid_data(event_type: str) -> st.SearchStrategy[dict[str, Any]]:
    if event_type in REDIS_TYPES:
        return st.fixed_dictionaries({"name": st.just("x"), "status": st.sampled_from(["Succeeded", "Failed"]),
                                      "timestamp": event_times})
    if event_type in (KEY_MODIFIED, KEY_DELETED):
        return st.fixed_dictionaries({"key": text.filter(bool), "etag": odd_text},
                                     optional={"label": st.none() | text, "syncToken": odd_text})
    return st.fixed_dictionaries({"name": text.filter(bool)}, optional={"etag": odd_text, "syncToken": odd_text})


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event of either schema, then up to three mutations (none: it must be recorded)."""
    event_type = draw(st.sampled_from([*REDIS_TYPES, KEY_MODIFIED, KEY_DELETED, *SNAPSHOT_TYPES]))
    provider = PROVIDERS[0] if event_type in REDIS_TYPES else PROVIDERS[1]
    event = raw_event(cloud=draw(st.booleans()), id=str(draw(st.uuids())), source=draw(resource_ids(provider)),
                      type=event_type, time=draw(event_times), subject=draw(odd_text),
                      data=draw(valid_data(event_type)))
    cloud = "specversion" in event
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), max_size=3)):
        if mutation in ("type", "source", "id", "time", "subject"):
            name = {"type": "type" if cloud else "eventType", "source": "source" if cloud else "topic",
                    "time": "time" if cloud else "eventTime"}.get(mutation, mutation)
            event[name] = draw({"type": st.sampled_from(UNKNOWN_TYPES) | odd_text, "source": resource_ids(),
                                "id": odd_text, "time": timestamps()}.get(mutation, json_values) | json_values)
        elif mutation == "data":
            event["data"] = draw(json_values)
        elif mutation == "data field" and isinstance(event.get("data"), dict) and event["data"]:
            name = draw(st.sampled_from(sorted(event["data"])))
            if draw(st.booleans()):
                del event["data"][name]
            else:
                event["data"][name] = draw(text | json_values)
        elif mutation == "drop":
            del event[draw(st.sampled_from(sorted(event)))]
        elif mutation == "replace":
            event[draw(st.sampled_from(sorted(event)))] = draw(json_values)
        elif mutation == "extension":
            event[draw(st.sampled_from(["traceparent", "Bad-Name", "x", "ünï"]) | odd_text)] = draw(json_values)
        elif mutation == "huge" and isinstance(event.get("data"), dict):
            event["data"][draw(st.sampled_from(["details", "key", "label", "name"]))] = draw(huge_text)
    return event


# --- the pure parsers, fast and many --------------------------------------------------------

@fuzz(3000)
@given(st.one_of(timestamps(), text))
def test_parse_timestamp_returns_utc_or_raises_value_error(value: str) -> None:
    TRIED["parse_timestamp"] += 1
    try:
        parsed = parse_timestamp(value)
    except ValueError:
        return
    assert parsed.tzinfo is dt.UTC


@fuzz(1000)
@given(st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),
                    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5)),
                                               dt.timezone(dt.timedelta(hours=14))])),
       st.integers(0, 9), st.sampled_from(["Z", "+00:00", ""]))
def test_azure_timestamps_round_trip_and_order(value: dt.datetime, seventh: int, zone: str) -> None:
    TRIED["timestamp round trip"] += 1
    utc = value.astimezone(dt.UTC)
    # Seven fractional digits, as Azure writes them: the seventh is dropped, never rounded up.
    text = utc.replace(tzinfo=None).isoformat(timespec="microseconds")  # strftime drops %Y's zeros
    assert parse_timestamp(f"{text}{seventh}{zone}") == utc
    assert from_inverted_ticks(inverted_ticks(utc)) == utc
    later = utc + dt.timedelta(microseconds=1)
    if later.year < 10000:
        assert inverted_ticks(later) < inverted_ticks(utc) and len(inverted_ticks(later)) == 19


@fuzz(3000)
@given(st.one_of(resource_ids(), json_values))
def test_parse_resource_id_returns_parts_or_raises_malformed_event(value: Any) -> None:
    TRIED["parse_resource_id"] += 1
    for namespace, type_ in PROVIDERS:
        try:
            parsed = parse_resource_id(value, namespace=namespace, type_=type_)
        except MalformedEvent as exc:
            assert str(exc)
            continue
        assert value.strip().rstrip("/").endswith(parsed.name)
        assert parsed.namespace.lower() == namespace.lower() and parsed.name.isascii()


@fuzz(1000)
@given(events())
def test_from_trigger_and_refusal_never_raise_on_content(raw: dict[str, Any]) -> None:
    TRIED["from_trigger"] += 1
    try:
        trigger_input = decode(raw)
    except Exception:  # the worker's own decoder refuses it: the function never runs (docs/runtime.md)
        TRIED["from_trigger: refused by the worker's decoder"] += 1
        return
    envelope = from_trigger(trigger_input)
    reason = refusal(envelope, ("/subscriptions/x",))
    assert reason is None or reason.strip()
    assert len(envelope.identity) == 32 and envelope.identity == from_trigger(decode(raw)).identity
    assert json.loads(envelope.to_json())["data"] == raw.get("data")


@fuzz(3000)
@given(text, text)
def test_key_hashing_and_sync_tokens_take_any_text(key: str, label: str) -> None:
    TRIED["keys and sync tokens"] += 1
    assert len(keys.key_row_key(key, label)) == 64
    assert keys.key_partition("store", key).startswith("store-")
    assert sync_sequence(key) >= -1


# --- the whole function against Azurite -----------------------------------------------------

RECORDING_TABLES = (REDIS_CACHE_EVENTS, APP_CONFIGURATION_EVENTS)
CLOUD_EVENT_ATTRIBUTES = {"specversion", "id", "source", "type", "time", "subject", "datacontenttype",
                          "dataschema", "data"}


def assert_kept_whole(raw: dict[str, Any], kept: dict[str, Any]) -> None:
    """The recorded event holds what the worker handed over (null means absent; the time is re-formatted)."""
    cloud = "specversion" in raw
    names = ["id", "subject", "data", *(["source", "type", "datacontenttype", "dataschema"] if cloud
                                        else ["topic", "eventType", "dataVersion"])]
    if cloud:  # extension attributes, including names azure-core refuses
        names += [name for name in raw if name not in CLOUD_EVENT_ATTRIBUTES]
    for name in names:
        assert kept.get(name) == raw.get(name), name


@pytest.fixture
def outcomes(store: AuditStore) -> Counter[str]:
    return Counter()


@fuzz(300)
@given(raw=events())
def test_any_event_is_recorded_or_kept_with_a_reason_never_raised(store: AuditStore, outcomes: Counter[str],
                                                                  raw: dict[str, Any]) -> None:
    TRIED["delivered through the trigger"] += 1
    empty_tables(store)
    try:
        trigger_input = decode(raw)
    except Exception:
        TRIED["delivered: refused by the worker's decoder"] += 1
        return
    if from_trigger(trigger_input).decoder_lost_attributes:
        # An Event Grid event with no type, topic and time is what an old decoder makes of a CloudEvent:
        # the trigger raises (Event Grid redelivers, then dead-letters the original) and writes nothing.
        TRIED["delivered: raised, decoder lost type, source and time"] += 1
        with pytest.raises(UnfaithfulDecoding):
            trigger_function()(trigger_input)
        assert all(rows(store, table) == [] for table in (*RECORDING_TABLES, UNHANDLED_EVENTS))
        return
    trigger_function()(trigger_input)  # must not raise: nothing here can succeed on a retry

    found = {table: rows(store, table) for table in (*RECORDING_TABLES, APP_CONFIGURATION_KEYS, UNHANDLED_EVENTS)}
    unhandled = [r for r in found[UNHANDLED_EVENTS] if "PartOf" not in r]
    recorded = found[REDIS_CACHE_EVENTS] + found[APP_CONFIGURATION_EVENTS]
    if unhandled:
        TRIED["delivered: kept in UnhandledEvents"] += 1
        assert recorded == [] and found[APP_CONFIGURATION_KEYS] == [] and len(unhandled) == 1
        [row] = unhandled
        assert len(row["Reason"].strip()) > 5
        REASONS[" ".join(row["Reason"].split()[:3])] += 1
        kept = json.loads(store.read_unhandled_event(row["PartitionKey"], row["RowKey"]))
        assert_kept_whole(raw, kept)
    else:
        TRIED["delivered: recorded"] += 1
        [row] = recorded
        assert row["EventType"] in handlers.handled_event_types() and row["EventId"] == raw["id"]
        assert json.loads(row["Data"]) == raw["data"]
        is_key_change = row["EventType"] in (KEY_MODIFIED, KEY_DELETED)
        assert len(found[APP_CONFIGURATION_KEYS]) == is_key_change


# --- regressions: what the fuzzers found, pinned -------------------------------------------

def redis_with(**changes: Any) -> dict[str, Any]:
    event = raw_event(cloud=False, id="regression-1", source="/subscriptions/s/resourceGroups/g/providers/"
                      "Microsoft.Cache/Redis/c", type=REDIS_TYPES[0], time="2026-11-22T10:00:00Z",
                      subject="s", data={"name": "x", "timestamp": "2026-11-22T10:00:00Z", "status": "Failed"})
    return event | changes


@pytest.mark.parametrize(("changes", "reason"), [
    # parse_timestamp raised OverflowError (not ValueError): the invocation failed on every retry.
    ({"data": {"status": "Failed", "timestamp": "0001-01-01T00:00:00+05:00"}}, "not an ISO 8601 timestamp"),
    # A topic that is not a string (true, 5, [..]) made the event identity raise AttributeError.
    ({"topic": True}, "source is missing or not a string"),
    ({"topic": ["/subscriptions/s"]}, "source is missing or not a string"),
    # Table Storage refuses dates before 1601 (400) where Azurite stores them: the event was "recorded"
    # here and would have failed forever in Azure, its UnhandledEvents row included.
    ({"eventTime": "1600-12-31T23:59:59Z"}, "property EventTime is 1600-12-31T23:59:59+00:00; Table Storage"),
    ({"data": {"status": "Failed", "timestamp": "1500-01-01T00:00:00Z"}}, "property OccurredAt is 1500"),
])
def test_found_by_fuzzing_is_kept_with_its_reason(store: AuditStore, changes: dict[str, Any], reason: str) -> None:
    raw = redis_with(**changes)
    trigger_function()(decode(raw))
    assert rows(store, REDIS_CACHE_EVENTS) == []
    [row] = [r for r in rows(store, UNHANDLED_EVENTS) if "PartOf" not in r]
    assert reason in row["Reason"]
    assert "EventTime" not in row or row["EventTime"].year >= 1601
    assert_kept_whole(raw, json.loads(store.read_unhandled_event(row["PartitionKey"], row["RowKey"])))
