"""The audit-log command against Azurite: tables for people, --json for scripts, clear errors."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eventaudit import settings
from eventaudit.cli import main
from tests.test_queries import kv_event, redis_event, snapshot_event


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def ago(hours: float) -> float:
    """Minutes from the test data's T0 (2026-11-20 10:00Z) to `hours` before now, for redis_event."""
    t0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours) - t0).total_seconds() / 60


@pytest.fixture
def recorded(store, send):
    send(redis_event("contoso-sessions", 1, "ScalingCompleted", "Succeeded"))
    send(redis_event("contoso-sessions", 2, "PatchingCompleted", "Failed"))
    send(redis_event("contoso-catalog", 3, "ExportRDBCompleted", "Failed", group="data-rg"))
    send(kv_event("contoso", "Checkout:Timeout", 1, label="Production"))
    send(kv_event("contoso", "Checkout:Timeout", 2, label=None))
    send(kv_event("contoso", "Legacy:Conn", 3, deleted=True))
    send(snapshot_event("contoso", "release-1", 4))
    return store


def test_operations_print_as_an_aligned_table_newest_first_failures_marked(recorded):
    code, out, err = run("redis", "ops", "Contoso-Sessions")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["EVENT", "TIME", "CACHE", "OPERATION", "STATUS", "OCCURRED", "AT", "RESOURCE",
                                "GROUP"]
    assert "Patching" in lines[1] and "FAILED" in lines[1] and "2026-11-20 10:02:00Z" in lines[1]
    assert "Scaling" in lines[2] and "Succeeded" in lines[2]
    # Columns line up: each heading starts where its values start
    for heading in ("CACHE", "OPERATION", "STATUS"):
        column = lines[0].index(heading)
        assert lines[1][column - 2:column] == "  " and lines[1][column] != " "
        assert lines[2][column - 2:column] == "  " and lines[2][column] != " "


def test_json_output_and_paging_with_after(recorded):
    code, out, _ = run("redis", "failures", "--json", "--limit", "1")
    assert code == 0
    first = json.loads(out)
    assert [(i["cache"], i["operation"], i["failed"]) for i in first["items"]] == [
        ("contoso-catalog", "ExportRDB", True)]
    assert first["items"][0]["event_time"] == "2026-11-20T10:03:00Z"
    assert first["continuation"]
    code, out, _ = run("--json", "redis", "failures", "--limit", "1", "--after", first["continuation"])
    second = json.loads(out)
    assert [(i["cache"], i["operation"]) for i in second["items"]] == [("contoso-sessions", "Patching")]
    assert second["continuation"] is None
    # For people, the next page's token is printed under the table
    code, out, _ = run("redis", "failures", "--limit", "1")
    assert f"more with: --after {first['continuation']}" in out


def test_since_accepts_durations_and_dates(store, send):
    send(redis_event("c1", ago(1), status="Failed"))
    send(redis_event("c1", ago(30), status="Failed"))
    send(redis_event("c1", ago(24 * 40), status="Failed"))
    _, out, _ = run("--json", "redis", "failures", "--since", "24h")
    assert len(json.loads(out)["items"]) == 1
    _, out, _ = run("--json", "redis", "ops", "c1", "--since", "2d")
    assert len(json.loads(out)["items"]) == 2
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).strftime("%Y-%m-%d")
    _, out, _ = run("--json", "redis", "ops", "c1", "--since", since)
    assert len(json.loads(out)["items"]) == 2
    _, out, _ = run("--json", "redis", "ops", "c1", "--until", "24h")
    assert len(json.loads(out)["items"]) == 2


def test_appconfig_questions(recorded):
    code, out, _ = run("appconfig", "history", "contoso", "Checkout:Timeout")
    assert code == 0 and "(no label)" in out and "Production" in out
    assert out.index("(no label)") < out.index("Production")  # newest first
    _, out, _ = run("config", "history", "contoso", "Checkout:Timeout", "--label", "", "--json")
    assert [i["label"] for i in json.loads(out)["items"]] == [""]
    _, out, _ = run("appconfig", "changes", "contoso", "--json")
    assert [i["change"] for i in json.loads(out)["items"]] == ["SnapshotCreated", "Deleted", "Modified", "Modified"]
    _, out, _ = run("appconfig", "keys", "contoso")
    assert "Checkout:Timeout" in out and "Legacy:Conn" not in out
    _, out, _ = run("appconfig", "keys", "contoso", "--deleted")
    assert "Legacy:Conn" in out and "Deleted" in out
    _, out, _ = run("appconfig", "snapshots", "contoso")
    assert "snapshot release-1" in out and "SnapshotCreated" in out
    _, out, _ = run("appconfig", "stores")
    assert "contoso" in out
    _, out, _ = run("redis", "last-scaling")
    assert "contoso-catalog" in out and "never recorded" in out


def test_unknown_cache_or_store_is_a_clear_error(recorded):
    code, out, err = run("redis", "ops", "nope")
    assert (code, out) == (3, "")
    assert "unknown cache 'nope'; known caches: contoso-catalog, contoso-sessions" in err
    code, _, err = run("appconfig", "changes", "x' or PartitionKey ne '")
    assert code == 3 and "unknown store" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["redis", "failures", "--since", "yesterday"], "since 'yesterday' is not a time"),
    (["redis", "failures", "--since", "2026-11-05", "--until", "2026-11-01"], "must be before until"),
    (["redis", "failures", "--limit", "0"], "limit must be a whole number"),
    (["redis", "ops", "contoso-sessions", "--operation", "reboot"], "operation 'reboot' is not one of"),
    (["redis", "failures", "--after", "not-a-token"], "continuation token is malformed"),
])
def test_malformed_input_is_a_clear_error(recorded, argv, message):
    code, out, err = run(*argv)
    assert (code, out) == (2, "")
    assert message in err


def test_empty_answers_say_so(recorded):
    code, out, _ = run("redis", "failures", "--since", "2030-01-01")
    assert (code, out.strip()) == (0, "(no failed operations since 2030-01-01)")
    _, out, _ = run("--json", "redis", "failures", "--since", "2030-01-01")
    assert json.loads(out) == {"items": [], "continuation": None}


def test_no_storage_setting_names_the_setting(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("AUDIT_STORAGE", "AzureWebJobsStorage")):
            monkeypatch.delenv(name)
    code, _, err = run("redis", "caches")
    assert code == 1 and "AUDIT_STORAGE" in err


def test_the_installed_console_script_reads_the_app_settings(recorded, azurite, table_prefix):
    script = Path(sys.executable).parent / "audit-log"
    if not script.exists():
        if os.environ.get("CI"):
            pytest.fail("audit-log is not installed: scripts/setup must run `pip install --no-deps -e .`")
        pytest.skip("audit-log is not installed (pip install --no-deps -e .)")
    env = {**os.environ, settings.STORAGE_SETTING: azurite.connection_string,
           settings.PREFIX_SETTING: table_prefix}
    result = subprocess.run([str(script), "redis", "caches", "--json"], env=env, capture_output=True,
                            text=True, timeout=60, cwd="/")
    assert result.returncode == 0, result.stderr
    assert [i["name"] for i in json.loads(result.stdout)["items"]] == ["contoso-catalog", "contoso-sessions"]


class ClosedPipe(io.StringIO):
    """stdout of `audit-log ... | head -1` once head has exited: every write raises BrokenPipeError."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_that_stops_early_ends_the_command_quietly(recorded):
    err = io.StringIO()
    assert main(["redis", "failures"], ClosedPipe(), err) == 0
    assert err.getvalue() == ""


def test_piped_into_head_there_is_no_broken_pipe_traceback(store, send, azurite, table_prefix):
    script = Path(sys.executable).parent / "audit-log"
    if not script.exists():
        pytest.skip("audit-log is not installed (pip install --no-deps -e .)")
    for minute in range(200):  # ~100 KB of JSON: more than a pipe holds, so writes outlive head
        send(redis_event("contoso-sessions", minute, "ScalingCompleted", "Failed"))
    env = {**os.environ, settings.STORAGE_SETTING: azurite.connection_string,
           settings.PREFIX_SETTING: table_prefix}
    result = subprocess.run(f"'{script}' redis failures --json --limit 1000 | head -1", shell=True, env=env,
                            capture_output=True, text=True, timeout=120, cwd="/")
    assert result.stdout == "{\n"
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr
