"""The demo (scripts/demo runs it from a fresh clone): before -> after of live and backfilled changes."""

from __future__ import annotations

from eventaudit import storage
from eventaudit.appconfig import client as appconfig_client
from eventaudit.appconfig.settings import CONNECTION_STRINGS_SETTING, ENDPOINTS_SETTING
from eventaudit.settings import PREFIX_SETTING, STORAGE_SETTING
from tools import demo


def test_the_demo_shows_a_key_history_from_what_to_what(capsys, monkeypatch):
    for name in (STORAGE_SETTING, PREFIX_SETTING, ENDPOINTS_SETTING, CONNECTION_STRINGS_SETTING):
        monkeypatch.setenv(name, "")  # the demo sets them; put them back afterwards
    try:
        assert demo.main([]) == 0
    finally:
        storage.reset_store()
        appconfig_client.forget_clients()
    out = capsys.readouterr().out
    timeout = out.split("$ audit-log appconfig values contoso Checkout:Timeout\n", 1)[1]
    live, backfilled = timeout.split("(event, captured)", 1)[1], timeout.split("(history, captured)", 1)[1]
    assert live.lstrip("\n").startswith('    before: "30"\n    after:  "45"')
    assert backfilled.lstrip("\n").startswith('    before: "20"\n    after:  "30"')
    assert "before -> after: enabled -> disabled" in out
    assert "-backoff=linear\n      +backoff=exponential" in out
    assert "(redacted; sha256" in out and "correct horse" not in out
    assert "0 failed" in out and "Traceback" not in out

