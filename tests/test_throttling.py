"""Throttling: Table Storage answers 503/500 (and 429) when a partition is overloaded.

Faults come from a real HTTP proxy in front of Azurite (tests/faultproxy.py); the app's client and
retry policy are the production ones, only with shorter backoffs where the test says so.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.core.pipeline.policies import RetryPolicy

from eventaudit import storage
from eventaudit.errors import TransientStorageError
from eventaudit.settings import StorageTarget
from eventaudit.storage import build_service_client
from eventaudit.storage.client import RETRY_OPTIONS
from eventaudit.storage.tables import ALL_TABLES, APP_CONFIGURATION_KEYS, REDIS_CACHE_EVENTS, UNHANDLED_EVENTS
from tests.eventgen import (
    EventFactory,
    Stream,
    expected_rows,
    mixed_stream,
    observed_key_states,
    observed_rows,
)
from tests.faultproxy import DROP, FORWARD, LOST_ANSWER, FaultProxy, Request
from tests.harness import point_app_at, report
from tools.azurite import Azurite
from tools.trigger import deliver

# The production counts with millisecond backoffs, for the tests that are about counts, not delays.
QUICK = {**RETRY_OPTIONS, "retry_backoff_factor": 0.01, "retry_backoff_max": 0.05}


def retry_policy() -> RetryPolicy:
    """The retry policy in the production client's pipeline."""
    client = build_service_client(StorageTarget(setting="test", connection_string="UseDevelopmentStorage=true"))
    [policy] = [p for p in client._client._client._pipeline._impl_policies if isinstance(p, RetryPolicy)]
    return policy


def test_the_production_backoff_is_exponential_and_capped() -> None:
    policy = retry_policy()
    delays = [policy.get_backoff_time({"history": [None] * n, "backoff": policy.backoff_factor,
                                       "max_backoff": policy.backoff_max}) for n in range(1, 8)]
    # azure-core: no wait before the first retry, then factor * 2^(n-1), capped.
    assert delays == [0, 1.6, 3.2, 6.4, 12.8, 20, 20]
    assert policy.backoff_max == RETRY_OPTIONS["retry_backoff_max"] == 20
    assert {429, 500, 503}.issubset(policy._retry_on_status_codes)
    # A request answered 503 every time gives up after 4 retries, 0 + 1.6 + 3.2 + 6.4 = 11.2 s of waiting
    # (24 s at most with 5 retries of mixed errors): well inside the Functions timeout, so the
    # invocation fails and Event Grid retries later.
    assert sum(delays[:RETRY_OPTIONS["retry_status"]]) == pytest.approx(11.2)
    assert sum(delays[:RETRY_OPTIONS["retry_total"]]) == pytest.approx(24.0)


def first(n: int, answer: str | int, match: Callable[[Request], bool]) -> Callable[[Request], str | int]:
    """Answer `answer` to the first n requests that match, then forward everything."""
    left = [n]

    def fault(request: Request) -> str | int:
        if left[0] > 0 and match(request):
            left[0] -= 1
            return answer
        return FORWARD

    return fault


def to_table(name: str, method: str | None = None) -> Callable[[Request], bool]:
    """Requests to one table (any prefix): its rows `.../<table>(PartitionKey=...)`, or POSTs to it."""

    def match(request: Request) -> bool:
        return ((f"{name}(" in request.path or request.path.endswith(name))
                and method in (None, request.method))

    return match


@pytest.fixture
def proxied(azurite: Azurite, table_prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[
        Callable[[dict[str, Any]], FaultProxy]]:
    """The app's store behind a fault proxy, with the retry options a test passes."""
    proxies: list[FaultProxy] = []

    def make(retry_options: dict[str, Any]) -> FaultProxy:
        proxy = FaultProxy(azurite.port).start()
        proxies.append(proxy)
        point_app_at(monkeypatch, proxy.via(azurite.connection_string), table_prefix, retry_options)
        for name in ALL_TABLES:  # so that the requests a test counts are not the first-use creates
            storage.get_store().table(name).create_table()
        proxy.seen.clear()
        return proxy

    yield make
    storage.reset_store()
    for proxy in proxies:
        proxy.stop()


def attempts(proxy: FaultProxy, match: Callable[[Request], bool]) -> list[float]:
    return [seen.request.time for seen in proxy.seen if match(seen.request)]


def test_observed_delays_with_the_production_retry_settings(proxied, request) -> None:
    # Given a partition that answers 503 ServerBusy three times, with the production settings
    proxy = proxied(RETRY_OPTIONS)
    factory = EventFactory(random.Random(1))
    rows_of_events = to_table(REDIS_CACHE_EVENTS, "PUT")
    proxy.fault = first(3, 503, rows_of_events)
    # When an event is delivered, the client waits and retries, and the event is recorded once
    event = factory.redis()
    deliver(event)
    times = attempts(proxy, rows_of_events)
    delays = [round(b - a, 2) for a, b in zip(times, times[1:], strict=False)]
    report(request, f"observed delays between attempts after 503s: {delays} s (policy: 0, 1.6, 3.2)")
    assert len(times) == 4
    assert delays[0] < 0.5 and 1.5 <= delays[1] < 2.5 and 3.1 <= delays[2] < 4.5
    assert observed_rows(storage.get_store()) == expected_rows([event])


@pytest.mark.parametrize("answer", [503, 500, 429, DROP], ids=["503", "500", "429", "connection-reset"])
def test_throttled_writes_are_retried_by_the_client(proxied, answer) -> None:
    # Upserts of event rows are PUTs, which the client retries on every throttling answer.
    proxy = proxied(QUICK)
    rows_of_events = to_table(REDIS_CACHE_EVENTS, "PUT")
    proxy.fault = first(2, answer, rows_of_events)
    event = EventFactory(random.Random(2)).redis()
    deliver(event)  # no exception: the client's own retries were enough
    assert len(attempts(proxy, rows_of_events)) == 3
    assert observed_rows(storage.get_store()) == expected_rows([event])


def test_429_on_a_post_raises_through_the_trigger_and_the_redelivery_records_it_once(proxied) -> None:
    # azure-core retries POST only on 500/503/504, so a 429 to the key state's create (a POST) is not
    # retried by the client: the invocation must fail (Event Grid redelivers), not swallow it.
    proxy = proxied(QUICK)
    key_state_create = to_table(APP_CONFIGURATION_KEYS, "POST")
    proxy.fault = first(1, 429, key_state_create)
    event = EventFactory(random.Random(3)).key_change(deleted=False)
    with pytest.raises(TransientStorageError, match="429"):
        deliver(event)
    deliver(event)  # Event Grid's redelivery
    assert observed_rows(storage.get_store()) == expected_rows([event])
    [(_, (event_id, deleted, _))] = observed_key_states(storage.get_store()).items()
    assert (event_id, deleted) == (event["id"], False)


def test_a_request_that_keeps_failing_raises_after_the_retries_and_nothing_duplicates(proxied) -> None:
    # Given a key-state partition that answers 503 to everything
    proxy = proxied(QUICK)
    key_state = to_table(APP_CONFIGURATION_KEYS)
    proxy.fault = lambda request: 503 if key_state(request) else FORWARD
    event = EventFactory(random.Random(4)).key_change(deleted=True)
    # Then the invocation raises once the client's retries are spent (Event Grid will redeliver)
    started = time.monotonic()
    with pytest.raises(TransientStorageError, match="503"):
        deliver(event)
    assert len(attempts(proxy, key_state)) == 1 + min(RETRY_OPTIONS["retry_total"], RETRY_OPTIONS["retry_status"])
    assert time.monotonic() - started < 5
    # And when the partition recovers, redeliveries leave one event row and the key state, once
    proxy.fault = lambda request: FORWARD
    deliver(event)
    deliver(event)
    assert observed_rows(storage.get_store()) == expected_rows([event])
    assert list(observed_key_states(storage.get_store()).values()) == [(event["id"], True, event["data"]["etag"])]


def test_writes_that_were_applied_but_whose_answer_was_lost_do_not_duplicate(proxied, request) -> None:
    # Given storage that applies every first write to a row but loses the answer (the connection
    # drops after the write, as when a front end times out), for a mixed stream with large events
    proxy = proxied(QUICK)
    seen_paths: set[tuple[str, str]] = set()

    def lose_first_answer(request: Request) -> str | int:
        key = (request.method, request.path)
        if request.method != "GET" and key not in seen_paths:
            seen_paths.add(key)
            return LOST_ANSWER
        return FORWARD

    proxy.fault = lose_first_answer
    rng = random.Random(5)
    stream = mixed_stream(rng, 150)
    big = EventFactory(rng).unhandled()
    big["data"] = {"blob": "x" * 100_000}  # several UnhandledEvents rows in one batch (a POST)
    stream = Stream(stream.deliveries + [big], stream.unique + [big], expected_rows(stream.unique + [big]),
                    stream.key_states)
    # When each event is redelivered until its invocation succeeds, as Event Grid does
    failures = 0
    for event in stream.deliveries:
        for _ in range(5):
            try:
                deliver(event)
                break
            except TransientStorageError:
                failures += 1
    lost = sum(1 for seen in proxy.seen if seen.action == LOST_ANSWER)
    report(request, f"{len(stream.deliveries)} deliveries, {lost} answers lost after the write, "
                    f"{failures} invocations raised and were redelivered")
    # Then every event is in its table exactly once, and every key in the state of its latest event
    store = storage.get_store()
    assert lost > 100 and failures > 0
    assert observed_rows(store) == stream.rows
    assert observed_key_states(store) == stream.key_states
    [main] = [r for r in store.table(UNHANDLED_EVENTS).list_entities() if r.get("EventId") == big["id"]]
    parts = [r for r in store.table(UNHANDLED_EVENTS).list_entities() if r.get("PartOf") == main["RowKey"]]
    assert main["EventParts"] == len(parts) + 1 > 2
