"""The App Configuration stand-in, pinned to the REST docs' documented behaviour, through the real SDK.

Sources: Azure/AppConfiguration docs/REST (kv.md, revisions.md, authentication/hmac.md, throttling.md,
versioning.md, consistency.md) and Azure/AppConfiguration-Emulator's src where the docs are silent.
"""

from __future__ import annotations

import datetime as dt

import pytest
from azure.appconfiguration import AzureAppConfigurationClient, ConfigurationSetting
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from tools.appconfig_standin import NO_ACCESS, READ_ONLY, AppConfigStandIn


def client(standin: AppConfigStandIn, **options) -> AzureAppConfigurationClient:
    return AzureAppConfigurationClient.from_connection_string(standin.connection_string(), **options)


def put(c: AzureAppConfigurationClient, key: str, value: str, label: str | None = None, **extra):
    return c.set_configuration_setting(ConfigurationSetting(key=key, value=value, label=label, **extra))


def test_revisions_list_every_change_newest_first_and_a_delete_adds_none(standin):
    c = client(standin)
    first = put(c, "Checkout:Timeout", "30", "Production")
    second = put(c, "Checkout:Timeout", "45", "Production")
    put(c, "Other", "x")
    deleted = c.delete_configuration_setting("Checkout:Timeout", label="Production")
    revisions = list(c.list_revisions(key_filter="Checkout:Timeout", label_filter="*"))
    # revisions.md: every set is a revision; sources-next.md: a delete adds none
    assert [(r.value, r.etag) for r in revisions] == [("45", second.etag), ("30", first.etag)]
    # the deleted key-value's etag is what KeyValueDeleted carries
    assert deleted.etag == second.etag
    event = standin.published_events[-1]
    assert event["eventType"] == "Microsoft.AppConfiguration.KeyValueDeleted"
    assert event["data"]["etag"] == second.etag and event["data"]["key"] == "Checkout:Timeout"
    assert c.get_configuration_setting("Other").value == "x"
    with pytest.raises(HttpResponseError) as missing:
        c.get_configuration_setting("Checkout:Timeout", label="Production")
    assert missing.value.status_code == 404


def test_pages_hold_100_items_with_a_link_header_and_next_link(standin):
    c = client(standin)
    for i in range(150):
        put(c, f"bulk/{i:03d}", str(i))
    seen = []
    revisions = list(c.list_revisions(raw_response_hook=lambda r: seen.append(r.http_response)))
    assert len(revisions) == 150
    assert len(seen) == 2
    # revisions.md "Pagination": Link: <...after=...>; rel="next" (and @nextLink in the body)
    assert seen[0].headers["Link"].endswith('>; rel="next"') and "after=" in seen[0].headers["Link"]
    assert seen[0].json()["@nextLink"] and "Link" not in seen[1].headers
    assert len(seen[0].json()["items"]) == 100
    assert [r.key for r in revisions[:2]] == ["bulk/149", "bulk/148"]
    # a position it did not hand out is refused (400 on the After parameter), not read as the start
    from azure.core.rest import HttpRequest

    for token in ("!!", "bm90LWEtbnVtYmVy"):  # not base64; base64 of something not a position
        refused = c.send_request(HttpRequest("GET", f"/revisions?after={token}&api-version=2023-11-01"))
        assert refused.status_code == 400 and "After" in refused.text()


def test_filters_select_and_their_refusals(standin):
    c = client(standin)
    put(c, "app:a", "1", "prod")
    put(c, "app:b", "2")
    put(c, "other", "3", "test")
    assert sorted(r.key for r in c.list_revisions(key_filter="app:*", label_filter="*")) == ["app:a", "app:b"]
    assert [r.key for r in c.list_revisions(key_filter="app:a,other", label_filter="prod")] == ["app:a"]
    assert [r.key for r in c.list_revisions(label_filter="\0")] == ["app:b"]  # kv.md: \0 is "no label"
    [only] = c.list_revisions(key_filter="other", fields=["key", "value"])
    assert (only.key, only.value, only.etag, only.label) == ("other", "3", None, None)
    # kv.md "Filter Validation": 400 invalid-argument; the service takes only exact names and prefix*
    for bad in ("*abc", "a*b", "a,b*", "a,b,c,d,e,f", "trailing\\"):
        with pytest.raises(HttpResponseError) as refused:
            list(c.list_revisions(key_filter=bad))
        assert refused.value.status_code == 400, bad
        assert "invalid-argument" in str(refused.value)
    with pytest.raises(HttpResponseError, match="select"):
        list(c.list_revisions(fields=["key", "secret_sauce"]))


def test_hmac_signature_date_and_credential_are_checked(standin, monkeypatch):
    c = client(standin)
    put(c, "k", "v")
    wrong_secret = standin.connection_string().rsplit("Secret=", 1)[0] + "Secret=" + "A" * 44
    with pytest.raises(ClientAuthenticationError) as bad_signature:
        AzureAppConfigurationClient.from_connection_string(wrong_secret).get_configuration_setting("k")
    assert 'error_description="Invalid Signature"' in bad_signature.value.response.headers["WWW-Authenticate"]
    unknown = standin.connection_string().replace("Id=standin-rw", "Id=nobody")
    with pytest.raises(ClientAuthenticationError) as bad_id:
        AzureAppConfigurationClient.from_connection_string(unknown).get_configuration_setting("k")
    assert "Invalid Credential" in bad_id.value.response.headers["WWW-Authenticate"]
    # hmac.md: a date more than 15 minutes off is refused ("The access token has expired")
    stale = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)).strftime("%b, %d %Y %H:%M:%S.%f ") + "GMT"
    monkeypatch.setattr("azure.appconfiguration._azure_appconfiguration_requests.get_current_utc_time",
                        lambda: stale)
    with pytest.raises(ClientAuthenticationError) as expired:
        client(standin).get_configuration_setting("k")
    assert "The access token has expired" in expired.value.response.headers["WWW-Authenticate"]


def test_api_version_is_required_and_must_be_known(standin):
    with pytest.raises(HttpResponseError) as unknown:
        client(standin, api_version="2099-01-01").get_configuration_setting("k")
    assert unknown.value.status_code == 400 and "Unsupported API version" in str(unknown.value)
    assert client(standin, api_version="2023-11-01").list_revisions().next is not None  # a known one works


def test_throttling_answers_429_with_retry_after_ms(standin):
    standin.throttle(1, retry_after_ms=1234)
    seen = []
    with pytest.raises(HttpResponseError) as throttled:
        client(standin, retry_total=0).get_configuration_setting(
            "k", raw_response_hook=lambda r: seen.append(r.http_response))
    assert throttled.value.status_code == 429
    assert seen[0].headers["retry-after-ms"] == "1234"
    assert seen[0].json()["type"] == "https://azconfig.io/errors/too-many-requests"  # throttling.md


def test_accept_datetime_gives_the_state_at_that_time(standin):
    c = client(standin)
    put(c, "k", "old")
    standin.backdate(dt.timedelta(hours=1))
    put(c, "k", "new")
    put(c, "gone", "x")
    standin.backdate(dt.timedelta(minutes=30))
    c.delete_configuration_setting("gone")
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=45)
    seen = []
    state = list(c.list_configuration_settings(accept_datetime=earlier,
                                               raw_response_hook=lambda r: seen.append(r.http_response)))
    assert [(s.key, s.value) for s in state] == [("k", "old")]
    assert "Memento-Datetime" in seen[0].headers  # kv.md "Time-Based Access"
    now = list(c.list_configuration_settings())
    assert [(s.key, s.value) for s in now] == [("k", "new")]
    between = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    assert {s.key for s in c.list_configuration_settings(accept_datetime=between)} == {"k", "gone"}


def test_revisions_expire_after_the_retention_but_the_newest_stays(standin):
    standin.retention = dt.timedelta(days=7)
    c = client(standin)
    put(c, "k", "1")
    put(c, "k", "2")
    put(c, "only", "x")
    standin.backdate(dt.timedelta(days=8))
    put(c, "k", "3")
    # emulator KeyValueProvider.QueryRevisions: past-TTL revisions behind a newer one are gone
    assert [(r.key, r.value) for r in c.list_revisions()] == [("k", "3"), ("only", "x")]


def test_sync_token_in_every_answer_and_a_stale_cache_without_it(standin):
    standin.cache_seconds = 60
    writer = client(standin)
    put(writer, "k", "v")
    token = standin.published_events[-1]["data"]["syncToken"]
    fresh_reader = client(standin)
    # consistency.md: without a sync token a read may come from a cache a few seconds old
    assert list(fresh_reader.list_revisions()) == []
    fresh_reader.update_sync_token(token)
    seen = []
    assert [r.value for r in fresh_reader.list_revisions(
        raw_response_hook=lambda r: seen.append(r.http_response))] == ["v"]
    assert seen[0].headers["Sync-Token"].startswith(standin.token_id + "=")
    assert standin.requests[-1].headers["sync-token"] == token.split(";")[0]


def test_keys_without_the_right_role_are_refused(standin):
    c = client(standin)
    put(c, "k", "v")
    read_only = AzureAppConfigurationClient.from_connection_string(standin.connection_string(standin.keys[1]))
    assert standin.keys[1].role == READ_ONLY
    assert read_only.get_configuration_setting("k").value == "v"
    with pytest.raises(HttpResponseError) as refused:
        put(read_only, "k", "w")
    assert refused.value.status_code == 403
    nobody = standin.add_key(NO_ACCESS)
    with pytest.raises(HttpResponseError) as forbidden:
        list(AzureAppConfigurationClient.from_connection_string(standin.connection_string(nobody)).list_revisions())
    assert forbidden.value.status_code == 403


def test_locked_key_values_refuse_changes_and_size_is_limited(standin):
    c = client(standin)
    setting = put(c, "k", "v")
    c.set_read_only(setting)
    with pytest.raises(HttpResponseError) as locked:
        put(c, "k", "w")
    assert locked.value.status_code == 409
    with pytest.raises(HttpResponseError) as too_large:
        put(c, "big", "x" * 10_000)  # concept-key-value: 10,000 characters with key and attributes
    assert too_large.value.status_code == 413
