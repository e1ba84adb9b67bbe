"""No token and no claim beyond the allow-list is ever written anywhere: rows, kept events, logs."""

from __future__ import annotations

import copy
import json
import logging

import pytest

from eventaudit.events import from_trigger
from eventaudit.ingest import Outcome, ingest
from eventaudit.redaction import TOKEN_REMOVED, redact_data
from eventaudit.storage.tables import ALL_TABLES, CONTROL_PLANE_EVENTS, UNHANDLED_EVENTS
from tests.conftest import load_sample, rows
from tools.trigger import decode

CANARY = "CANARY"
# A JSON Web Token's shape: header and payload are base64url JSON ("eyJ" is '{"').
JWT = ("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuY29yZS53aW5kb3dzLm5ldC8i"
       "LCJvaWQiOiJ4In0.c2lnbmF0dXJlLWJ5dGVz")
# The claims of the documented example that the allow-list does not name, each with a canary value.
UNLISTED = ["aud", "iss", "iat", "nbf", "exp", "_claim_names", "_claim_sources", "aio", "appidacr", "e_exp",
            "http://schemas.microsoft.com/claims/authnclassreference",
            "http://schemas.microsoft.com/claims/authnmethodsreferences",
            "http://schemas.microsoft.com/2012/01/devicecontext/claims/identifier",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "ipaddr", "onprem_sid", "puid",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
            "http://schemas.microsoft.com/identity/claims/tenantid", "uti", "ver", "rh", "groups", "wids",
            "xms_tcdt", "tid", "sub", "acrs", "amr", "family_name", "preferred_username", "unique_name"]
ALLOWED = {"http://schemas.microsoft.com/identity/claims/objectidentifier": "oid-of-jane",
           "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "jane.doe@contoso.com",
           "name": "Jane Doe", "appid": "app-of-the-portal",
           "http://schemas.microsoft.com/identity/claims/scope": "user_impersonation"}


def leaky_claims() -> dict:
    claims = {name: f"{CANARY}-{index}" for index, name in enumerate(UNLISTED)}
    claims["aio"] = JWT
    return {**claims, **ALLOWED}


def leaky_write(**changes) -> dict:
    """A ResourceWriteSuccess on contoso-sessions whose data is full of what must never be written."""
    [event] = [copy.deepcopy(e) for e in load_sample("control-plane-eventgrid")
               if e["id"] == "7c2a9e41-5b3d-4c8f-a1e6-2d9b8c7a6f50"]
    event["data"]["claims"] = leaky_claims()
    event["data"]["authorization"]["evidence"].update({"principalId": f"{CANARY}-principal", "token": JWT})
    event["data"]["httpRequest"].update({"clientRequestId": f"{CANARY}-request",
                                         "url": f"https://management.azure.com/x?sig={CANARY}&t={JWT}",
                                         "headers": {"Authorization": f"Bearer {JWT}"}})
    event["data"]["undocumented"] = {"token": f"{CANARY}-undocumented"}
    event.update(changes)
    return event


def to_cloud(event: dict, **extra) -> dict:
    return {"specversion": "1.0", "id": event["id"], "source": event["topic"], "subject": event["subject"],
            "type": event["eventType"], "time": event["eventTime"], "data": event["data"], **extra}


RECORDED, KEPT = "recorded", "kept in UnhandledEvents"


def deliveries() -> list[tuple[str, str, dict]]:
    """(what it is, where it ends, raw event): recorded ones, and malformed ones kept in UnhandledEvents."""
    write = leaky_write()
    other_type = leaky_write(id="other-type")
    other_type["data"]["resourceUri"] = other_type["data"]["resourceUri"].replace(
        "Microsoft.Cache/Redis", "Microsoft.Storage/storageAccounts")
    notification = copy.deepcopy(load_sample("control-plane-eventgrid")[0])
    notification["data"]["claims"] = leaky_claims()  # not in the schema; must go all the same
    notification["data"]["resourceInfo"]["properties"]["authorization"] = {"token": JWT, "x": CANARY}
    huge = leaky_write(id="huge")
    huge["data"]["claims"]["groups"] = [f"{CANARY}-group-{n:05d}" for n in range(4000)]  # > 64 KiB
    huge["data"]["resourceUri"] = "not a resource id " + "x" * 70_000  # so it is kept, in parts
    return [
        ("a write", RECORDED, write),
        ("a write, CloudEvents", RECORDED, to_cloud(leaky_write(id="cloud"))),
        ("a notification", RECORDED, notification),
        # The change happened: recorded, with an Unknown caller, the claims' content not kept
        ("claims is the raw token", RECORDED, leaky_write(id="raw", data={**write["data"], "claims": JWT})),
        ("claims is a list", RECORDED, leaky_write(id="claims-list", data={**write["data"], "claims": [CANARY, JWT]})),
        ("subject is a token", RECORDED, leaky_write(id="subject", subject=f"Bearer {JWT}")),
        ("another resource type", KEPT, other_type),
        ("data is a list", KEPT, leaky_write(id="list", data=[{"claims": leaky_claims()}, CANARY, JWT])),
        ("resource id is a token", KEPT, leaky_write(id="uri-token", data={**write["data"], "resourceUri": JWT})),
        ("no event time", KEPT, {key: value for key, value in leaky_write(id="undated").items() if key != "eventTime"}),
        ("bad CloudEvents extension", KEPT, to_cloud(leaky_write(id="extension"), **{"Bad-Name": JWT, "token": JWT})),
        ("too large to keep in one row", KEPT, huge),
        ("unknown type", KEPT, {
            "id": "unknown", "topic": "/subscriptions/s", "subject": "s", "eventType": "Contoso.Thing",
            "eventTime": "2026-11-22T10:00:00Z", "dataVersion": "1",
            "data": {"nested": [{"Claims": leaky_claims(), "HttpRequest": {"url": CANARY},
                                 "authorization": "raw " + CANARY}], "note": f"see {JWT}"}}),
    ]


def every_text(store) -> list[str]:
    """Every property of every row of every table as text, and every kept event joined from its parts."""
    texts = []
    for table in ALL_TABLES:
        for row in rows(store, table):
            texts += [f"{table}.{name}={value}" for name, value in row.items()]
            if table == UNHANDLED_EVENTS and "PartOf" not in row:
                texts.append(store.read_unhandled_event(row["PartitionKey"], row["RowKey"]))
    return texts


def test_no_token_or_unlisted_claim_is_written_anywhere(store, send, caplog):
    caplog.set_level(logging.DEBUG)
    for _, _, event in deliveries():
        send(event)
    # An event from a source that is not allowed is kept too, and must be redacted as well
    ingest(from_trigger(decode(leaky_write(id="not-allowed"))), store, ["/subscriptions/another"])
    texts = every_text(store)
    leaks = [text[:300] for text in texts if CANARY in text or "eyJ" in text]
    assert leaks == []
    logged = [record.getMessage() for record in caplog.records]
    assert [m for m in logged if CANARY in m or "eyJ" in m] == []
    # And what the allow-list names is there: the rows are not just empty
    recorded = rows(store, CONTROL_PLANE_EVENTS)
    assert sorted(r["EventId"] for r in recorded) == sorted(e["id"] for _, end, e in deliveries() if end == RECORDED)
    [write] = [r for r in recorded if r["EventId"] == "7c2a9e41-5b3d-4c8f-a1e6-2d9b8c7a6f50"]
    assert (write["CallerUpn"], write["CallerObjectId"], write["CallerType"]) == (
        "jane.doe@contoso.com", "oid-of-jane", "User")
    assert json.loads(write["Data"])["claims"] == ALLOWED
    unhandled = [r for r in rows(store, UNHANDLED_EVENTS) if "PartOf" not in r]
    assert sorted(r["EventId"] for r in unhandled) == sorted(
        [e["id"] for _, end, e in deliveries() if end == KEPT] + ["not-allowed"])
    assert any("PartOf" in r for r in rows(store, UNHANDLED_EVENTS))  # the large one spans rows


@pytest.mark.parametrize(("what", "end", "event"), deliveries(), ids=[what for what, _, _ in deliveries()])
def test_each_delivery_ends_where_it_should(store, send, what, end, event):
    send(event)
    recorded = rows(store, CONTROL_PLANE_EVENTS)
    kept = [r for r in rows(store, UNHANDLED_EVENTS) if "PartOf" not in r]
    assert [r["EventId"] for r in (recorded if end == RECORDED else kept)] == [event["id"]]
    assert (kept if end == RECORDED else recorded) == []
    if end == KEPT:
        assert len(kept[0]["Reason"]) > 10


def test_the_data_row_keeps_the_allow_listed_parts_of_authorization_and_request(store, send):
    send(leaky_write())
    [row] = rows(store, CONTROL_PLANE_EVENTS)
    data = json.loads(row["Data"])
    assert data["authorization"] == {
        "action": "Microsoft.Cache/redis/write",
        "scope": "/subscriptions/5b4b650e-28b9-4790-b3ab-ddbd88d727c4/resourceGroups/platform-prod/providers/"
                 "Microsoft.Cache/Redis/contoso-sessions",
        "evidence": {"role": "Contributor"}}
    assert data["httpRequest"] == {"clientIpAddress": "203.0.113.24", "method": "PATCH"}
    assert data["_removedMembers"] == ["undocumented"]
    assert {name for name in data} == {"authorization", "claims", "correlationId", "httpRequest", "resourceProvider",
                                       "resourceUri", "operationName", "status", "subscriptionId", "tenantId",
                                       "_removedMembers"}


@pytest.mark.parametrize(("data", "expected"), [
    ({"a": [{"b": {"CLAIMS": {"upn": "u", "puid": "p"}}}]}, {"a": [{"b": {"CLAIMS": {"upn": "u"}}}]}),
    ({"claims": "raw"}, {"claims": "[str not kept]"}),
    ({"authorization": {"action": "a", "evidence": "x"}}, {"authorization": {"action": "a"}}),
    ({"httpRequest": ["x"]}, {"httpRequest": "[list not kept]"}),
    ({f"k{JWT}": [f"a {JWT} b", 5, None]}, {f"k{TOKEN_REMOVED}": [f"a {TOKEN_REMOVED} b", 5, None]}),
    ("eyJ but no token", "eyJ but no token"),
])
def test_redaction_of_any_event_data(data, expected):
    assert redact_data(data) == expected


def test_events_without_claims_are_kept_as_sent(store, send):
    event = load_sample("redis-eventgrid")[0]
    send(event)
    assert ingest(from_trigger(decode(event)), store) is Outcome.RECORDED


@pytest.mark.parametrize("event", [
    # Each alone is reason enough to redact; the quick check that passes other events through must see it
    {"id": "jwt", "topic": "/subscriptions/s", "subject": "s", "eventType": "Contoso.Thing",
     "eventTime": "2026-11-22T10:00:00Z", "dataVersion": "1", "data": {"note": [f"Bearer {JWT}"]}},
    {"id": "member", "topic": "/subscriptions/s", "subject": "s", "eventType": "Contoso.Thing",
     "eventTime": "2026-11-22T10:00:00Z", "dataVersion": "1", "data": {"x": {"Claims": {"puid": CANARY}}}},
    {"id": "subject", "topic": "/subscriptions/s", "subject": JWT, "eventType": "Contoso.Thing",
     "eventTime": "2026-11-22T10:00:00Z", "dataVersion": "1", "data": {}},
    leaky_write(id="undocumented", data={"resourceUri": "x", "undocumented": CANARY}),
], ids=["token-in-a-string", "claims-member", "token-subject", "undocumented-member"])
def test_every_single_reason_to_redact_is_found_on_its_own(store, send, event):
    send(event)
    leaks = [text[:200] for text in every_text(store) if CANARY in text or "eyJ" in text]
    assert leaks == []
    assert rows(store, UNHANDLED_EVENTS)  # kept, redacted
