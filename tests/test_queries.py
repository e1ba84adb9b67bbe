"""The shared query layer against Azurite: answers, order, ranges, paging, injection, empty results."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from eventaudit import queries as q
from eventaudit.queries import reader
from eventaudit.storage import keys

SUB = "5b4b650e-28b9-4790-b3ab-ddbd88d727c4"
UTC = dt.UTC
T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def redis_event(cache: str, minutes: float, operation: str = "ScalingCompleted", status: str = "Succeeded",
                group: str = "platform-prod") -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()), "eventType": f"Microsoft.Cache.{operation}",
        "topic": f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.Cache/Redis/{cache}",
        "data": {"name": operation, "timestamp": at(minutes), "status": status},
        "subject": operation, "dataVersion": "1.0", "eventTime": at(minutes),
    }


def kv_event(store: str, key: str, minutes: float, label: str | None = None, deleted: bool = False,
             sn: int = 1) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "topic": f"/subscriptions/{SUB}/resourceGroups/rg/providers/microsoft.appconfiguration/"
                 f"configurationstores/{store}",
        "subject": f"https://{store}.azconfig.io/kv/{key}",
        "data": {"key": key, "label": label, "etag": f"etag-{minutes}", "syncToken": f"x=y;sn={sn}"},
        "eventType": "Microsoft.AppConfiguration.KeyValue" + ("Deleted" if deleted else "Modified"),
        "eventTime": at(minutes), "dataVersion": "1",
    }


def snapshot_event(store: str, name: str, minutes: float, created: bool = True) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "topic": f"/subscriptions/{SUB}/resourceGroups/rg/providers/microsoft.appconfiguration/"
                 f"configurationstores/{store}",
        "subject": f"https://{store}.azconfig.io/snapshots/{name}",
        "data": {"name": name, "etag": "e1", "syncToken": "x=y;sn=5"},
        "eventType": "Microsoft.AppConfiguration.Snapshot" + ("Created" if created else "Modified"),
        "eventTime": at(minutes), "dataVersion": "1",
    }


def between(since: float | None = None, until: float | None = None) -> q.TimeRange:
    return q.TimeRange(T0 + dt.timedelta(minutes=since) if since is not None else None,
                       T0 + dt.timedelta(minutes=until) if until is not None else None)


def all_pages(function, *args, limit: int, **kwargs) -> list[list[Any]]:
    pages, token = [], None
    while True:
        page = function(*args, limit=limit, continuation=token, **kwargs)
        pages.append(page.items)
        token = page.continuation
        if token is None:
            return pages
        assert len(pages) < 100


@pytest.fixture
def filters(store, monkeypatch):
    """Every (filter, parameters) the query layer sends to Table Storage."""
    sent: list[tuple[str, dict[str, Any]]] = []
    for table in ("RedisCacheEvents", "AppConfigurationEvents", "AppConfigurationKeys", "AuditResources"):
        client = store.table(table)
        original = client.query_entities

        def spy(query_filter, *args, _original=original, **kwargs):
            sent.append((query_filter, dict(kwargs.get("parameters") or {})))
            return _original(query_filter, *args, **kwargs)

        monkeypatch.setattr(client, "query_entities", spy)
    return sent


# --- Redis ---------------------------------------------------------------------------------------

def test_cache_operations_newest_first_with_operation_and_status_filters(store, send):
    # Given operations of two caches at known times
    send(redis_event("contoso-sessions", 1, "ScalingCompleted", "Succeeded"))
    send(redis_event("contoso-sessions", 3, "PatchingCompleted", "Failed"))
    send(redis_event("contoso-sessions", 2, "ExportRDBCompleted", "Succeeded"))
    send(redis_event("Contoso-Catalog", 4, "ScalingCompleted", "Failed"))
    # Then one cache's operations come newest first, only that cache's
    page = q.cache_operations(store, "CONTOSO-SESSIONS")
    assert [(o.operation, o.status, o.event_time) for o in page.items] == [
        ("Patching", "Failed", T0 + dt.timedelta(minutes=3)),
        ("ExportRDB", "Succeeded", T0 + dt.timedelta(minutes=2)),
        ("Scaling", "Succeeded", T0 + dt.timedelta(minutes=1)),
    ]
    assert page.continuation is None
    assert page.items[0].failed and not page.items[1].failed
    assert page.items[0].cache == "contoso-sessions"
    assert page.items[0].resource_id.endswith("/Redis/contoso-sessions")
    # And the filters narrow it down (operation and status in any casing)
    assert [o.operation for o in q.cache_operations(store, "contoso-sessions", operation="scaling").items] == [
        "Scaling"]
    assert [o.operation for o in q.cache_operations(store, "contoso-sessions", status="failed").items] == [
        "Patching"]
    assert q.cache_operations(store, "contoso-sessions", operation="Scaling", status="Failed").items == []


def test_time_range_includes_since_and_excludes_until(store, send):
    for minute in range(5):
        send(redis_event("c1", minute))
    page = q.cache_operations(store, "c1", time_range=between(since=1, until=3))
    assert [o.event_time for o in page.items] == [T0 + dt.timedelta(minutes=2), T0 + dt.timedelta(minutes=1)]
    assert len(q.cache_operations(store, "c1", time_range=between(since=4)).items) == 1
    assert len(q.cache_operations(store, "c1", time_range=between(until=4)).items) == 4
    assert q.cache_operations(store, "c1", time_range=between(since=10)).items == []


def test_failed_operations_across_caches_newest_first_and_paged(store, send):
    # Given failures and successes spread over three caches
    expected = []
    for minute, cache in enumerate(["a1", "b2", "c3", "a1", "c3", "b2", "a1"]):
        send(redis_event(cache, minute, "ImportRDBCompleted", "Failed"))
        send(redis_event(cache, minute + 0.5, "ImportRDBCompleted", "Succeeded"))
        expected.append((cache, T0 + dt.timedelta(minutes=minute)))
    expected.reverse()
    # When read in pages of 3 (the token carries the last RowKey and partition)
    pages = all_pages(q.failed_operations, store, limit=3)
    # Then the pages hold every failure once, newest first, across caches
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [(o.cache, o.event_time) for p in pages for o in p] == expected
    assert all(o.status == "Failed" for p in pages for o in p)
    # And within a time range, or for some caches only
    in_range = q.failed_operations(store, time_range=between(since=2, until=5)).items
    assert [(o.cache, o.event_time) for o in in_range] == [e for e in expected if 2 <= e[1].minute < 5]
    assert {o.cache for o in q.failed_operations(store, caches=["A1"]).items} == {"a1"}


def test_last_scaling_of_each_cache(store, send):
    send(redis_event("alpha", 1, "ScalingCompleted", "Succeeded"))
    send(redis_event("alpha", 5, "ScalingCompleted", "Failed"))
    send(redis_event("alpha", 9, "PatchingCompleted", "Succeeded"))
    send(redis_event("beta", 2, "ExportRDBCompleted", "Succeeded"))
    send(redis_event("gamma", 3, "ScalingCompleted", "Succeeded"))
    page = q.last_scaling(store)
    assert [(s.cache, s.last_scaling and (s.last_scaling.status, s.last_scaling.event_time))
            for s in page.items] == [
        ("alpha", ("Failed", T0 + dt.timedelta(minutes=5))),
        ("beta", None),
        ("gamma", ("Succeeded", T0 + dt.timedelta(minutes=3))),
    ]
    pages = all_pages(q.last_scaling, store, limit=2)
    assert [[s.cache for s in p] for p in pages] == [["alpha", "beta"], ["gamma"]]


def test_unknown_cache_is_refused_with_the_known_names(store, send):
    send(redis_event("contoso-sessions", 1))
    with pytest.raises(q.UnknownResource, match="unknown cache 'nope'.*contoso-sessions"):
        q.cache_operations(store, "nope")
    with pytest.raises(q.UnknownResource):
        q.failed_operations(store, caches=["nope"])


# --- App Configuration ---------------------------------------------------------------------------

def test_key_history_all_labels_or_one_label_newest_first(store, send):
    send(kv_event("contoso", "Checkout:Timeout", 1, label="Production"))
    send(kv_event("contoso", "Checkout:Timeout", 2, label=None))
    send(kv_event("contoso", "Checkout:Timeout", 3, label="Production", deleted=True))
    send(kv_event("contoso", "Checkout:Other", 4, label="Production"))
    history = q.key_history(store, "Contoso", "Checkout:Timeout").items
    assert [(c.change, c.label, c.event_time.minute) for c in history] == [
        ("Deleted", "Production", 3), ("Modified", "", 2), ("Modified", "Production", 1)]
    assert [c.event_time.minute for c in q.key_history(store, "contoso", "Checkout:Timeout",
                                                       label="Production").items] == [3, 1]
    assert [c.event_time.minute for c in q.key_history(store, "contoso", "Checkout:Timeout",
                                                       label="").items] == [2]
    assert [c.event_time.minute for c in q.key_history(store, "contoso", "Checkout:Timeout",
                                                       time_range=between(since=2)).items] == [3, 2]


def test_store_changes_merge_every_shard_and_snapshots_newest_first_in_pages(store, send):
    # Given changes of 12 keys (spread over several shards) and two snapshot events
    names = [f"app/setting-{i}" for i in range(12)]
    assert len({keys.key_shard(k) for k in names}) > 4
    for i, key in enumerate(names):
        send(kv_event("contoso", key, i, label="prod" if i % 2 else None))
    send(snapshot_event("contoso", "release-1", 5.5))
    send(snapshot_event("contoso", "release-1", 20, created=False))
    send(kv_event("other", "app/setting-0", 7.5))
    # When the store's changes are read in pages of 5
    pages = all_pages(q.store_changes, store, "contoso", limit=5)
    # Then every change appears once, newest first, snapshots in their place
    flat = [c for p in pages for c in p]
    assert [len(p) for p in pages] == [5, 5, 4]
    times = [c.event_time for c in flat]
    assert times == sorted(times, reverse=True) and len(set(times)) == 14
    assert flat[0].change == "SnapshotModified" and flat[0].snapshot == "release-1"
    assert {c.store for c in flat} == {"contoso"}
    # And a time range and a change filter narrow it down
    in_range = q.store_changes(store, "contoso", time_range=between(since=5, until=8)).items
    assert [(c.change, c.event_time) for c in in_range] == [
        ("Modified", T0 + dt.timedelta(minutes=7)), ("Modified", T0 + dt.timedelta(minutes=6)),
        ("SnapshotCreated", T0 + dt.timedelta(minutes=5.5)), ("Modified", T0 + dt.timedelta(minutes=5))]
    assert [c.snapshot for c in q.store_changes(store, "contoso", change="snapshotcreated").items] == [
        "release-1"]
    assert all(c.snapshot is None for c in q.store_changes(store, "contoso", include_snapshots=False).items)
    # And across all stores the other store's change is merged in
    assert {c.store for c in q.recent_changes(store, limit=100).items} == {"contoso", "other"}


def test_snapshot_events(store, send):
    send(snapshot_event("contoso", "release-1", 1))
    send(snapshot_event("contoso", "release-2", 2))
    send(snapshot_event("contoso", "release-1", 3, created=False))
    send(kv_event("contoso", "k", 4))
    events = q.snapshot_events(store, "contoso").items
    assert [(c.snapshot, c.change) for c in events] == [
        ("release-1", "SnapshotModified"), ("release-2", "SnapshotCreated"), ("release-1", "SnapshotCreated")]
    assert len(q.snapshot_events(store, "contoso", snapshot="release-2").items) == 1


def test_current_keys_sorted_with_last_change_deleted_on_request_and_paged(store, send):
    send(kv_event("contoso", "b", 1))
    send(kv_event("contoso", "a", 2, label="prod"))
    send(kv_event("contoso", "a", 3, label=None))
    send(kv_event("contoso", "c/gone", 4))
    send(kv_event("contoso", "c/gone", 5, deleted=True))
    send(kv_event("contoso", "c/kept", 6))
    live = q.current_keys(store, "contoso").items
    assert [(s.key, s.label, s.last_change, s.deleted) for s in live] == [
        ("a", "", "Modified", False), ("a", "prod", "Modified", False), ("b", "", "Modified", False),
        ("c/kept", "", "Modified", False)]
    assert live[0].last_event_time == T0 + dt.timedelta(minutes=3)
    with_deleted = q.current_keys(store, "contoso", include_deleted=True).items
    assert ("c/gone", "Deleted", True) in [(s.key, s.last_change, s.deleted) for s in with_deleted]
    assert [s.key for s in q.current_keys(store, "contoso", prefix="c/", include_deleted=True).items] == [
        "c/gone", "c/kept"]
    # Pages follow the key states' hashes (so a page reads what it shows); each page is sorted
    pages = all_pages(q.current_keys, store, "contoso", limit=2, include_deleted=True)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted((s.key, s.label) for p in pages for s in p) == [
        ("a", ""), ("a", "prod"), ("b", ""), ("c/gone", ""), ("c/kept", "")]
    assert all([(s.key, s.label) for s in p] == sorted((s.key, s.label) for s in p) for p in pages)


# --- input is data, never OData ------------------------------------------------------------------

INJECTIONS = ["x' or PartitionKey ne '", "' or true or '", "a' and RowKey gt '", "@pk", "x) or (1 eq 1",
              "contoso' or Key ne 'x"]


@pytest.mark.parametrize("name", INJECTIONS)
def test_names_with_quotes_or_odata_operators_are_unknown_names(store, send, name):
    send(redis_event("contoso-sessions", 1, status="Failed"))
    send(kv_event("contoso", "k", 1))
    with pytest.raises(q.UnknownResource):
        q.cache_operations(store, name)
    with pytest.raises(q.UnknownResource):
        q.store_changes(store, name)
    with pytest.raises(q.UnknownResource):
        q.key_history(store, name, "k")


def test_keys_labels_and_filters_with_quotes_match_only_themselves(store, send, filters):
    # Given a key whose name is an injection attempt, and ordinary keys beside it
    tricky = "it's' or Key ne 'x"
    send(kv_event("contoso", tricky, 1, label="o'brien @label"))
    send(kv_event("contoso", "it's", 2))
    send(kv_event("contoso", "x", 3))
    # Then its history is exactly its own events, and another injection finds nothing
    assert [(c.key, c.label) for c in q.key_history(store, "contoso", tricky).items] == [
        (tricky, "o'brien @label")]
    assert [c.key for c in q.key_history(store, "contoso", tricky, label="o'brien @label").items] == [tricky]
    assert q.key_history(store, "contoso", "x' or Key ne '").items == []
    assert q.key_history(store, "contoso", "it's", label="' or Label ne '").items == []
    assert q.snapshot_events(store, "contoso", snapshot="' or Snapshot ne '").items == []
    # And no user text ever reached a filter string: it travelled as parameters only
    for query_filter, _ in filters:
        assert "'" not in query_filter and "it's" not in query_filter
        assert query_filter.startswith("PartitionKey eq @")
    assert any(tricky in parameters.values() for _, parameters in filters)


def test_every_question_reads_named_partitions_only(store, send, filters):
    send(redis_event("c1", 1, status="Failed"))
    send(kv_event("contoso", "k", 1))
    send(snapshot_event("contoso", "s", 2))
    q.cache_operations(store, "c1")
    q.failed_operations(store)
    q.last_scaling(store)
    q.key_history(store, "contoso", "k")
    q.store_changes(store, "contoso")
    q.current_keys(store, "contoso", include_deleted=True)
    q.snapshot_events(store, "contoso")
    assert filters and all(f.startswith("PartitionKey eq @pk") or f.startswith("PartitionKey eq @kind")
                           for f, _ in filters)
    partitions = {p.get("pk") for _, p in filters}
    # (last_scaling pages through AuditResources' RedisCache partition)
    assert partitions - {None} <= {"c1", keys.snapshot_partition("contoso"), *keys.store_partitions("contoso"),
                                   q.REDIS_CACHE}


# --- empty results, bad input, tokens ------------------------------------------------------------

def test_empty_answers_before_anything_was_recorded(store):
    assert q.failed_operations(store).items == []
    assert q.last_scaling(store).items == []
    assert q.recent_changes(store).items == []
    assert q.list_resources(store, q.REDIS_CACHE) == []
    with pytest.raises(q.UnknownResource, match="no cache has been recorded yet"):
        q.cache_operations(store, "contoso-sessions")


def test_known_names_with_nothing_in_range_give_empty_pages(store, send):
    send(redis_event("c1", 1))
    send(kv_event("contoso", "k", 1))
    assert q.cache_operations(store, "c1", time_range=between(since=2)) == q.Page([], None)
    assert q.key_history(store, "contoso", "never-set").items == []
    assert q.snapshot_events(store, "contoso").items == []
    assert q.current_keys(store, "contoso", prefix="zzz").items == []


@pytest.mark.parametrize("token", ["garbage!", "eyJ2IjoxfQ", "x" * 5000, "bm90IGpzb24"])
def test_malformed_continuation_tokens_are_refused(store, send, token):
    send(redis_event("c1", 1))
    with pytest.raises(q.InvalidQuery, match="continuation token"):
        q.cache_operations(store, "c1", continuation=token)


def test_a_token_only_continues_its_own_question_and_filters(store, send):
    for minute in range(3):
        send(redis_event("c1", minute, status="Failed"))
        send(redis_event("c2", minute))
    token = q.cache_operations(store, "c1", limit=1).continuation
    assert token
    with pytest.raises(q.InvalidQuery, match="another question"):
        q.failed_operations(store, continuation=token)
    with pytest.raises(q.InvalidQuery, match="other filters"):
        q.cache_operations(store, "c2", limit=1, continuation=token)
    with pytest.raises(q.InvalidQuery, match="other filters"):
        q.cache_operations(store, "c1", status="Failed", continuation=token)
    # A different limit or time range may continue it
    assert len(q.cache_operations(store, "c1", limit=5, continuation=token).items) == 2


@pytest.mark.parametrize("limit", [0, -1, 1001, "ten", "1.5", True])
def test_limit_out_of_range_is_refused(store, send, limit):
    send(redis_event("c1", 1))
    with pytest.raises(q.InvalidQuery, match="limit"):
        q.cache_operations(store, "c1", limit=limit)


def test_bad_filter_values_are_refused(store, send):
    send(redis_event("c1", 1))
    send(kv_event("contoso", "k", 1))
    with pytest.raises(q.InvalidQuery, match="operation 'Rebooting' is not one of"):
        q.cache_operations(store, "c1", operation="Rebooting")
    with pytest.raises(q.InvalidQuery, match="change"):
        q.store_changes(store, "contoso", change="Renamed")
    with pytest.raises(q.InvalidQuery, match="key is empty"):
        q.key_history(store, "contoso", "")
    with pytest.raises(q.InvalidQuery, match="cache name is empty"):
        q.cache_operations(store, " ")


def test_fan_out_is_bounded(store, send, monkeypatch):
    send(kv_event("contoso", "k", 1))
    monkeypatch.setattr(reader, "MAX_PARTITIONS", 10)
    with pytest.raises(q.InvalidQuery, match="17 partitions"):
        q.store_changes(store, "contoso")


# --- ranges --------------------------------------------------------------------------------------

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("24h", NOW - dt.timedelta(hours=24)), ("30m", NOW - dt.timedelta(minutes=30)),
    ("7d", NOW - dt.timedelta(days=7)), ("2w", NOW - dt.timedelta(weeks=2)), ("90s", NOW - dt.timedelta(seconds=90)),
    ("2026-11-01", dt.datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-01T08:30Z", dt.datetime(2026, 11, 1, 8, 30, tzinfo=UTC)),
    ("2026-11-01T08:30:00+02:00", dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
    ("2026-11-01 08:30", dt.datetime(2026, 11, 1, 8, 30, tzinfo=UTC)),
    ("now", NOW),
])
def test_parse_time_accepts_durations_dates_and_iso_times(text, expected):
    assert q.parse_time(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "24", "h24", "2026-13-01", "2026-11-01T25:00",
                                  "99999999999d", "-1h", "1y"])
def test_parse_time_refuses_anything_else_clearly(text):
    with pytest.raises(q.InvalidQuery, match=r"since .*(not a time|empty).*24h"):
        q.parse_time(text, now=NOW)


def test_time_range_must_run_forwards():
    assert q.time_range("2026-11-01", "2026-11-02", now=NOW).until == dt.datetime(2026, 11, 2, tzinfo=UTC)
    with pytest.raises(q.InvalidQuery, match="since .* must be before until"):
        q.time_range("2026-11-02", "2026-11-01", now=NOW)
    with pytest.raises(q.InvalidQuery, match="until"):
        q.time_range("24h", "soon", now=NOW)


def test_composite_token_continues_exactly_after_equal_row_keys_in_several_partitions(store):
    # Given rows that share RowKeys across three partitions (the merge's tie-break is the partition)
    client = store.table("RedisCacheEvents")
    client.create_table()
    expected = []
    for row_key in ("0001-a", "0002-b"):
        for partition in ("p1", "p2", "p3"):
            client.upsert_entity({"PartitionKey": partition, "RowKey": row_key, "Status": "Failed"})
            expected.append((row_key, partition))
    query = reader.PartitionQuery("RedisCacheEvents", ["p3", "p1", "p2"], ["Status eq @s"], {"s": "Failed"})
    # When read one row per page, each page continuing from the last (RowKey, PartitionKey)
    seen, after = [], None
    for _ in range(10):
        page, after = reader.read_merged(store, query, 1, after)
        seen += [(e["RowKey"], e["PartitionKey"]) for e in page]
        if after is None:
            break
    # Then every row comes once, in (RowKey, PartitionKey) order
    assert seen == expected


def test_a_merge_of_two_tables_continues_exactly_after_equal_row_keys(store):
    # Given equal RowKeys in the same partition name of two tables (the tie-break is table, then partition)
    expected = []
    for table in ("AppConfigurationEvents", "RedisCacheEvents"):
        client = store.table(table)
        client.create_table()
        for row_key in ("0001-a", "0002-b"):
            client.upsert_entity({"PartitionKey": "p", "RowKey": row_key})
    expected = [(rk, table) for rk in ("0001-a", "0002-b") for table in ("AppConfigurationEvents", "RedisCacheEvents")]
    queries = [reader.PartitionQuery("RedisCacheEvents", ["p"]), reader.PartitionQuery("AppConfigurationEvents", ["p"])]
    # When read one row per page
    seen, after = [], None
    for _ in range(10):
        hits, after = reader.merge(store, queries, 1, after)
        seen += [(hit.entity["RowKey"], queries[hit.query].table) for hit in hits]
        if after is None:
            break
    # Then every row comes once, in (RowKey, table) order
    assert seen == expected


def test_events_arriving_between_pages_neither_shift_nor_repeat_rows(store, send):
    for minute in range(4):
        send(redis_event("c1", minute))
    first = q.cache_operations(store, "c1", limit=2)
    send(redis_event("c1", 10))  # newer than everything: before the token's boundary
    send(redis_event("c1", 0.5))  # older: after the boundary, so the next page includes it
    second = q.cache_operations(store, "c1", limit=10, continuation=first.continuation)
    minutes = [(o.event_time - T0).total_seconds() / 60 for o in first.items + second.items]
    assert minutes == [3, 2, 1, 0.5, 0]


# --- defects of issue 16: every key once, what is shown as failed is found as failed, many stores ---

# Keys whose order differs between code points (Python's str order) and UTF-16 code units (what Table
# Storage compares): U+E000..U+FFFF sort above astral characters in code points, below in UTF-16.
UNICODE_KEYS = ["a", "a/b", "Z", "é", "中文", "\ue000-private-use", "\uff61-halfwidth", "\ufffd",
                "\U0001f600-emoji", "\U00010000", "a\U0001f600", "a\uffff", "a\ue000", "\U0010fffd",
                "\ud7ff-last-before-surrogates", "\U0010ffff-last", "k" * 1500, "y" * 1499 + "\U0001f600"]


@pytest.fixture
def counted(azurite, table_prefix):
    """A store on the test's tables whose every request (and the rows each query returned) is logged."""
    from benchmarks.counting import RequestLog, counting_store

    log = RequestLog()
    return counting_store(azurite.connection_string, table_prefix, log), log


@pytest.mark.parametrize("limit", [1, 3, 7, 100])
def test_keys_pages_return_every_unicode_key_exactly_once(store, send, limit):
    # Given keys that sort differently in UTF-16 than in code points, two 1,500-character keys among them
    for i, key in enumerate(UNICODE_KEYS):
        send(kv_event("contoso", key, i, label="prod" if i % 3 == 0 else None))
    # When every page is read
    pages = all_pages(q.current_keys, store, "contoso", limit=limit)
    # Then each key comes exactly once, and no token was too long to continue
    seen = [(s.key, s.label) for p in pages for s in p]
    assert sorted(seen) == sorted((k, "prod" if i % 3 == 0 else "") for i, k in enumerate(UNICODE_KEYS))
    assert len(seen) == len(set(seen)) == len(UNICODE_KEYS)
    assert all(len(p) <= limit for p in pages)


@pytest.mark.parametrize("prefix", ["a", "\U0001f600", "a\uffff", "\ue000", "k" * 1200, "\uffff", "\ud7ff",
                                    "\U0010ffff"])
def test_keys_with_a_prefix_are_exactly_those_starting_with_it(store, send, prefix):
    for i, key in enumerate(UNICODE_KEYS):
        send(kv_event("contoso", key, i))
    pages = all_pages(q.current_keys, store, "contoso", limit=2, prefix=prefix)
    assert sorted(s.key for p in pages for s in p) == sorted(k for k in UNICODE_KEYS if k.startswith(prefix))


def test_keys_pages_read_rows_in_proportion_to_the_page(store, send, counted):
    # Given 120 keys in one store (their states spread over its 16 partitions)
    for i in range(120):
        send(kv_event("contoso", f"app/setting-{i:03d}", i))
    reader_store, log = counted
    # When they are read in pages of 10
    token, pages, rows_per_page = None, 0, []
    while True:
        mark = len(log)
        page = q.current_keys(reader_store, "contoso", limit=10, continuation=token)
        rows_per_page.append(sum(r.rows for r in log.since(mark) if r.table.endswith("AppConfigurationKeys")))
        pages += 1
        token = page.continuation
        if token is None:
            break
    # Then no page read more than twice its size plus one row per partition, never every key state
    assert pages == 12
    assert max(rows_per_page) <= 2 * (10 + 1) + 16, rows_per_page
    assert sum(rows_per_page) < 120 * 3


def test_prefix_reads_only_the_matching_key_states(store, send, counted):
    for i in range(60):
        send(kv_event("contoso", f"{'feature' if i < 6 else 'setting'}/{i:03d}", i))
    reader_store, log = counted
    assert len(q.current_keys(reader_store, "contoso", prefix="feature/", limit=50).items) == 6
    assert sum(r.rows for r in log.since(0) if r.table.endswith("AppConfigurationKeys")) == 6


STATUSES = {"Failed": True, "failed": True, "FAILED": True, "Failure": True, "Succeeded": False,
            "SUCCEEDED": False, "Canceled": False, "Finished": False}


def test_what_is_shown_as_failed_is_found_as_failed(store, send):
    # Given operations whose status was sent in several spellings (stored as sent)
    for minute, status in enumerate(STATUSES):
        send(redis_event("c1", minute, "ScalingCompleted", status))
    shown = {o.status: o.failed for o in q.cache_operations(store, "c1", limit=100).items}
    # Then the rule is one: a status starting with "fail" in any casing is failed
    assert shown == STATUSES
    failed = {status for status, is_failed in STATUSES.items() if is_failed}
    # And every question that looks for failures finds exactly those
    assert {o.status for o in q.failed_operations(store).items} == failed
    for asked in ("Failed", "failed", "FAILURE"):
        assert {o.status for o in q.cache_operations(store, "c1", status=asked).items} == failed
        assert {o.status for o in q.recent_operations(store, status=asked).items} == failed
    # And other statuses are found by the same rule, whatever their casing
    assert {o.status for o in q.cache_operations(store, "c1", status="succeeded").items} == {
        "Succeeded", "SUCCEEDED"}
    assert {o.status for o in q.cache_operations(store, "c1", status="canceled").items} == {"Canceled"}
    assert {o.status for o in q.cache_operations(store, "c1", status="FINISHED").items} == {"Finished"}


def test_changes_of_every_store_with_sixteen_and_more_stores(store, send):
    for i in range(18):
        send(kv_event(f"store-{i:02d}", "k", i))
    changes = all_pages(q.recent_changes, store, limit=5)
    assert sorted(c.store for p in changes for c in p) == [f"store-{i:02d}" for i in range(18)]
