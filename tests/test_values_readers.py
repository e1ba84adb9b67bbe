"""Reading values: before -> after with readable diffs, a key at time T; CLI, --json and the HTTP API."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from eventaudit import queries as q
from eventaudit.appconfig.diff import Value, diff
from eventaudit.appconfig.settings import load_capture_settings
from eventaudit.cli import main
from tests.test_http_api import get_json
from tests.valuehelpers import Changes, capture

FLAG = "application/vnd.microsoft.appconfig.ff+json;charset=utf-8"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def flag(enabled: bool, **extra) -> str:
    return json.dumps({"id": "NewCheckout", "enabled": enabled, "conditions": {"client_filters": []}, **extra})


# --- diffs ---------------------------------------------------------------------------------------------

def test_a_feature_flag_diff_names_the_fields_that_changed():
    shown = diff(Value(flag(True), FLAG), Value(flag(False, description="rollback"), FLAG))
    assert shown.kind == "feature_flag"
    assert shown.summary.startswith("description: null -> \"rollback\"; enabled -> disabled")
    assert [(c.field, c.before, c.after) for c in shown.fields] == [
        ("description", None, "rollback"), ("enabled", True, False)]


def test_json_values_are_compared_by_field_and_text_by_line():
    shown = diff(Value('{"a": 1, "b": {"c": [1, 2]}}', "application/json"),
                 Value('{"a": 1, "b": {"c": [1, 3]}, "d": true}', "application/json"))
    assert [(c.field, c.before, c.after) for c in shown.fields] == [("b.c[1]", 2, 3), ("d", None, True)]
    lines = diff(Value("host=a\nport=1\nmode=x"), Value("host=a\nport=2\nmode=x"))
    assert lines.kind == "lines" and "-port=1" in lines.lines and "+port=2" in lines.lines
    assert diff(Value("30"), Value("45")).summary == '"30" -> "45"'


def test_metadata_redaction_creation_and_deletion_are_described():
    tagged = diff(Value("1", tags={"team": "pay"}), Value("1", tags={"team": "web"}, locked=True))
    assert tagged.summary == 'value unchanged; (tags).team: "pay" -> "web"; (locked): false -> true'
    hidden = diff(Value(None, redacted=True, value_sha256="aa"), Value(None, redacted=True, value_sha256="bb"))
    assert hidden.kind == "redacted" and "SHA-256 differs" in hidden.summary
    assert diff(None, Value("x")).summary == 'created: "x"'
    assert diff(Value("x"), None).summary == 'deleted (was "x")'


# --- the key's history -------------------------------------------------------------------------------------

@pytest.fixture
def history(values_env, standin):
    """Backfilled history, then live changes of a value, a feature flag, a secret and a delete."""
    changes = Changes(standin)
    first = changes.set("Checkout:Timeout", "20", "Production")
    changes.set("Checkout:Timeout", "30", "Production")
    changes.set(".appconfig.featureflag/NewCheckout", flag(True), content_type=FLAG)
    changes.events()  # before the subscription: only the backfill knows these
    settings = load_capture_settings()
    from eventaudit.appconfig.backfill import backfill
    from eventaudit.appconfig.client import client_for

    backfill(values_env, settings, "contoso", client_for(settings, "contoso"))
    changes.set("Checkout:Timeout", "45", "Production")
    changes.set(".appconfig.featureflag/NewCheckout", flag(False), content_type=FLAG)
    changes.set("Db:Password", "old-secret")
    changes.set("Db:Password", "new-secret")
    changes.delete("Checkout:Timeout", "Production")
    changes.deliver()
    capture(values_env)
    pending_change = changes.set("Checkout:Timeout", "60", "Production")
    changes.deliver()  # not captured yet
    return {"first": first, "pending": pending_change}


def test_a_key_history_shows_before_and_after_for_live_and_backfilled_changes(values_env, history):
    page = q.value_history(values_env, "contoso", "Checkout:Timeout")
    shown = [(i.change, i.status, i.before.value if i.before else None, i.after.value if i.after else None)
             for i in page.items]
    assert shown == [
        ("Modified", "pending", None, None),
        ("Deleted", "captured", "45", None),
        ("Modified", "captured", "30", "45"),  # live
        ("Modified", "captured", "20", "30"),  # backfilled
        ("Modified", "captured", None, "20"),  # the oldest the store retained
    ]
    assert page.items[2].event_id and page.items[3].event_id is None
    assert page.items[2].after.source == "event" and page.items[3].after.source == "backfill"
    assert page.items[4].before_known is False and page.items[4].diff.summary == 'set to: "20"'
    assert page.items[0].status_detail == "value not captured yet"
    assert page.extra["capture"]["problem"] is None


def test_feature_flags_and_secrets_read_as_what_changed(values_env, history):
    [flag_change, _] = q.value_history(values_env, "contoso", ".appconfig.featureflag/NewCheckout").items
    assert flag_change.diff.kind == "feature_flag" and flag_change.diff.summary == "enabled -> disabled"
    secret = q.value_history(values_env, "contoso", "Db:Password").items[0]
    assert secret.after.redacted and secret.after.value is None and secret.diff.kind == "redacted"


def test_a_key_at_a_time(values_env, history):
    first = history["first"].last_modified
    [at_first] = q.value_at(values_env, "contoso", "Checkout:Timeout", first, label="Production").items
    assert (at_first.state, at_first.revision.value) == ("present", "20")
    [now] = q.value_at(values_env, "contoso", "Checkout:Timeout", dt.datetime.now(dt.UTC),
                       label="Production").items
    assert now.state == "deleted" and now.revision.value == "45"
    [before] = q.value_at(values_env, "contoso", "Checkout:Timeout", first - dt.timedelta(seconds=1),
                          label="Production").items
    assert before.state == "unknown" and "starts" in before.detail


def test_the_cli_prints_before_and_after_and_json(values_env, history):
    code, out, err = run("appconfig", "values", "contoso", "Checkout:Timeout", "--label", "Production")
    assert code == 0, err
    assert 'before: "30"\n    after:  "45"' in out
    assert "Deleted" in out and "value not captured yet" in out
    code, out, _ = run("appconfig", "values", "contoso", ".appconfig.featureflag/NewCheckout")
    assert "before -> after: enabled -> disabled" in out
    code, out, _ = run("appconfig", "values", "contoso", "Checkout:Timeout", "--json")
    body = json.loads(out)
    assert body["items"][2]["before"]["value"] == "30" and body["items"][2]["after"]["value"] == "45"
    assert body["items"][2]["diff"]["summary"] == '"30" -> "45"' and "capture" in body
    at = history["first"].last_modified.isoformat()
    code, out, _ = run("appconfig", "values", "contoso", "Checkout:Timeout", "--at", at, "--label", "Production")
    assert code == 0 and 'value: "20"' in out and "present" in out


def test_the_api_answers_values_and_a_time(values_env, history):
    body = get_json("/api/appconfig/stores/contoso/values", {"key": "Checkout:Timeout", "label": "Production"})
    item = body["items"][2]
    assert (item["before"]["value"], item["after"]["value"], item["status"]) == ("30", "45", "captured")
    assert set(item) >= {"time", "change", "etag", "event_id", "status", "status_detail", "before", "after",
                         "before_known", "diff"}
    assert set(item["after"]) >= {"value", "redacted", "value_sha256", "content_type", "tags", "locked",
                                  "last_modified", "source", "kind"}
    assert body["capture"]["store"] == "contoso"
    at = get_json("/api/appconfig/stores/contoso/values",
                  {"key": "Checkout:Timeout", "label": "Production", "at": history["first"].last_modified.isoformat()})
    assert at["items"][0]["revision"]["value"] == "20"
    refused = get_json("/api/appconfig/stores/contoso/values", {}, status=400)
    assert "key is required" in refused["error"]


def test_the_backfill_command_reports_and_shows_progress_on_a_terminal(values_env, standin):
    changes = Changes(standin)
    for i in range(120):
        changes.set(f"k{i}", str(i))

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out, err = io.StringIO(), Terminal()
    assert main(["appconfig", "backfill", "contoso", "--pace", "0"], out, err) == 0
    assert "120 revisions read in 2 pages" in out.getvalue() and "120 recorded" in out.getvalue()
    assert "[" in err.getvalue() and "120 revisions" in err.getvalue()
    code, out2, _ = run("appconfig", "backfill", "contoso", "--pace", "0")
    assert code == 0 and "0 recorded, 120 were recorded already" in out2


def test_a_change_whose_event_has_no_etag_says_so(values_env, standin):
    changes = Changes(standin)
    changes.set("k", "v")
    [event] = changes.events()
    del event["data"]["etag"]
    from tools.trigger import deliver

    deliver(event)
    capture(values_env)
    [item] = q.value_history(values_env, "contoso", "k").items
    assert item.status == "not_found" and "no etag" in item.status_detail
