"""AUDIT_ALLOWED_SOURCES: events from other sources are kept in UnhandledEvents and never applied."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest

from eventaudit import settings, storage
from eventaudit.errors import ConfigurationError
from eventaudit.ingest import is_allowed_source
from eventaudit.resource_ids import parse_resource_id
from eventaudit.settings import load_settings
from eventaudit.storage import AuditStore
from eventaudit.storage.tables import (
    APP_CONFIGURATION_EVENTS,
    APP_CONFIGURATION_KEYS,
    AUDIT_RESOURCES,
    REDIS_CACHE_EVENTS,
    UNHANDLED_EVENTS,
)
from tests.conftest import rows
from tests.eventgen import OTHER_SUBSCRIPTION, SUBSCRIPTION, EventFactory, cache_id, fields, store_id
from tools.trigger import deliver

SUB = f"/subscriptions/{SUBSCRIPTION}"


def allowed(setting: str) -> tuple[str, ...]:
    return load_settings({"AUDIT_STORAGE": "UseDevelopmentStorage=true", "AUDIT_ALLOWED_SOURCES": setting}).allowed_sources


@pytest.mark.parametrize(("setting", "source", "expected"), [
    # Case-insensitive, as Azure treats resource ids; either side may be in any casing.
    (SUB.upper(), cache_id("c"), True),
    (SUB, cache_id("c").upper(), True),
    # A prefix ends at a segment boundary: /subscriptions/abc never allows /subscriptions/abcd.
    ("/subscriptions/abc", "/subscriptions/abcd/resourceGroups/g/providers/Microsoft.Cache/Redis/c", False),
    ("/subscriptions/abc", "/subscriptions/abc/resourceGroups/g/providers/Microsoft.Cache/Redis/c", True),
    (f"{SUB}/resourceGroups/audit-rg", cache_id("c", group="audit-rg-2"), False),
    (cache_id("cache-1"), cache_id("cache-10"), False),
    # Trailing slashes on either side do not matter.
    (f"{SUB}/", cache_id("c"), True),
    (cache_id("c") + "/", cache_id("c"), True),
    (cache_id("c"), cache_id("c") + "/", True),
    # Empty entries and other separators are ignored.
    (f" ,{SUB},, ;", cache_id("c"), True),
    (f"{cache_id('a')};{store_id('s')}", store_id("s"), True),
    (f"{cache_id('a')} {store_id('s')}", cache_id("b"), False),
    # Only ASCII letters fold: the Kelvin sign (U+212A) lower-cases to "k" in Python, not in Azure.
    ("/subscriptions/kkk", "/subscriptions/\u212akk/resourceGroups/g/providers/Microsoft.Cache/Redis/c", False),
    ("/subscriptions/\u212akk", "/subscriptions/kkk/resourceGroups/g/providers/Microsoft.Cache/Redis/c", False),
    ("/subscriptions/sss", "/subscriptions/\u017fss/resourceGroups/g/providers/Microsoft.Cache/Redis/c", False),
    # Another subscription, and a source that is no resource id at all.
    (SUB, cache_id("c", subscription=OTHER_SUBSCRIPTION), False),
    (SUB, "https://contoso.example/events", False),
])
def test_allowed_source_matching(setting: str, source: str, expected: bool) -> None:
    assert is_allowed_source(source, allowed(setting)) is expected


@pytest.mark.parametrize("setting", ["*", "/subscriptions/", "/", "subscriptions/abc", "https://x/subscriptions/a"])
def test_a_setting_that_is_no_resource_id_prefix_fails_naming_the_setting(setting: str) -> None:
    with pytest.raises(ConfigurationError, match="AUDIT_ALLOWED_SOURCES"):
        allowed(setting)


def test_an_empty_setting_accepts_every_source() -> None:
    assert allowed(" , ; ") == ()


def test_resource_ids_fold_only_ascii_case() -> None:
    # "\u017f" (long s) matches "s" under Unicode IGNORECASE; Azure would not see a resource id there.
    from eventaudit.errors import MalformedEvent

    with pytest.raises(MalformedEvent):
        parse_resource_id("/\u017fubscriptions/a/resourceGroups/g/providers/Microsoft.Cache/Redis/c",
                          namespace="Microsoft.Cache", type_="Redis")
    assert parse_resource_id(cache_id("c").upper(), namespace="Microsoft.Cache", type_="Redis").name == "C"


@pytest.fixture
def allow(app_env: AuditStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], AuditStore]]:
    """Set AUDIT_ALLOWED_SOURCES for the app and return its (rebuilt) store."""

    def set_allowed(value: str) -> AuditStore:
        monkeypatch.setenv(settings.ALLOWED_SOURCES_SETTING, value)
        storage.reset_store()
        return storage.get_store()

    yield set_allowed
    monkeypatch.delenv(settings.ALLOWED_SOURCES_SETTING)
    storage.reset_store()


def test_events_from_other_sources_are_kept_with_the_reason_and_not_applied(allow) -> None:
    store = allow(f"{SUB}/resourceGroups/audit-rg")
    rng = random.Random(7)
    ours = EventFactory(rng)
    theirs = EventFactory(rng, subscription=OTHER_SUBSCRIPTION)
    spoofed = [make(cloud=cloud) for cloud in (False, True)
               for make in (theirs.redis, theirs.key_change, theirs.snapshot)]
    # A source that starts like an allowed one but is not in it, and one that escapes it with "..".
    near = ours.redis(cloud=False)
    near["topic"] = near["topic"].replace("/resourceGroups/audit-rg/", "/resourceGroups/audit-rg2/")
    escape = ours.key_change(cloud=True)
    escape["source"] = f"{SUB}/resourceGroups/audit-rg/../../../{OTHER_SUBSCRIPTION}" + store_id("store-0")[len(SUB):]
    genuine = [ours.redis(), ours.key_change(key="K", label="prod", deleted=False)]
    for event in [*spoofed, near, escape, *genuine]:
        deliver(event)

    # Only the genuine events reached the audit tables, the key state and the resource list.
    recorded = {r["EventId"] for t in (REDIS_CACHE_EVENTS, APP_CONFIGURATION_EVENTS) for r in rows(store, t)}
    assert recorded == {fields(e)[0] for e in genuine}
    assert [r["LastEventId"] for r in rows(store, APP_CONFIGURATION_KEYS)] == [genuine[1]["id"]]
    assert {r["SubscriptionId"].lower() for r in rows(store, AUDIT_RESOURCES)} == {SUBSCRIPTION}
    # Every other event is kept whole, with a reason that says why.
    unhandled = {r["EventId"]: r["Reason"] for r in rows(store, UNHANDLED_EVENTS)}
    assert set(unhandled) == {fields(e)[0] for e in [*spoofed, near, escape]}
    for event in [*spoofed, near]:
        assert unhandled[fields(event)[0]] == f"source {fields(event)[2]!r} is not in AUDIT_ALLOWED_SOURCES"
    assert "not an Azure resource id" in unhandled[escape["id"]]


def test_a_spoofed_later_change_does_not_overwrite_the_key_state(allow) -> None:
    store = allow(SUB)
    factory = EventFactory(random.Random(3))
    real = factory.key_change(key="Payments:Limit", label="prod", store=store_id("store-0"), deleted=False)
    # Same store name, key and label, a later time, from another subscription: it must not win.
    fake = factory.key_change(key="Payments:Limit", label="prod", deleted=True, cloud=True,
                              store=store_id("store-0", subscription=OTHER_SUBSCRIPTION))
    fake["time"] = "2030-01-01T00:00:00Z"
    deliver(fake)
    deliver(real)
    deliver(fake)
    [state] = rows(store, APP_CONFIGURATION_KEYS)
    assert (state["LastEventId"], state["Deleted"]) == (real["id"], False)
    assert [r["EventId"] for r in rows(store, UNHANDLED_EVENTS)] == [fake["id"]]


def test_kelvin_sign_subscription_is_not_taken_for_an_allowed_one(allow) -> None:
    store = allow("/subscriptions/kkk")
    event = EventFactory(random.Random(1)).redis(cache=cache_id("c", subscription="\u212akk"))
    deliver(event)
    assert rows(store, REDIS_CACHE_EVENTS) == []
    assert [r["EventId"] for r in rows(store, UNHANDLED_EVENTS)] == [fields(event)[0]]
