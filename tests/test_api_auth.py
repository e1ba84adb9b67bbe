"""Sign-in for the API (AUDIT_API_AUTH): a function key checked by the host, or Entra ID through App
Service Authentication checked by the app.

Easy Auth cannot run here. What it does is taken from its documentation (see eventaudit/auth.py):
it injects X-MS-CLIENT-PRINCIPAL-ID (and -NAME, -IDP, X-MS-CLIENT-PRINCIPAL) into requests it signed
in, strips them from everything else, and sets WEBSITE_AUTH_ENABLED=True in the app's environment.
These tests give the app exactly those inputs, and check that it refuses everything else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import azure.functions as func
import pytest

from eventaudit import auth, http_api
from tests.test_http_api import call
from tests.test_queries import redis_event
from tools.azurite import ROOT

SIGNED_IN = {"X-MS-CLIENT-PRINCIPAL-ID": "8f2f6b4e-0d1c-4c3b-9a7e-1f2e3d4c5b6a",
             "X-MS-CLIENT-PRINCIPAL-NAME": "alice@contoso.com", "X-MS-CLIENT-PRINCIPAL-IDP": "aad"}


@pytest.fixture
def entra(monkeypatch):
    """The app as indexed with AUDIT_API_AUTH=entra, on an app where Easy Auth is enabled."""
    monkeypatch.setattr(http_api, "AUTH", auth.index_time_policy({"AUDIT_API_AUTH": "entra"}))
    monkeypatch.setenv(auth.AUTH_ENABLED_SETTING, "True")


@pytest.fixture
def recorded(store, send):
    send(redis_event("c1", 1, status="Failed"))
    return store


def body(response: func.HttpResponse) -> dict:
    return json.loads(response.get_body())


@pytest.mark.parametrize(("value", "mode", "level"), [
    (None, "key", func.AuthLevel.FUNCTION), ("key", "key", func.AuthLevel.FUNCTION),
    ("entra", "entra", func.AuthLevel.ANONYMOUS), (" Entra ", "entra", func.AuthLevel.ANONYMOUS),
])
def test_the_setting_decides_the_auth_level_of_the_api(value, mode, level):
    policy = auth.index_time_policy({} if value is None else {"AUDIT_API_AUTH": value})
    assert (policy.mode, policy.level, policy.problem) == (mode, level, None)


def test_an_unknown_mode_keeps_keys_and_refuses_every_request_naming_the_setting(recorded, monkeypatch):
    policy = auth.index_time_policy({"AUDIT_API_AUTH": "aad"})
    assert policy.level == func.AuthLevel.FUNCTION
    monkeypatch.setattr(http_api, "AUTH", policy)
    response = call("/api/events", headers=SIGNED_IN)
    assert response.status_code == 500 and "AUDIT_API_AUTH must be entra or key" in body(response)["error"]


def test_entra_mode_without_a_sign_in_answers_401_with_the_sign_in_link(recorded, entra):
    response = call("/api/events")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert body(response)["signIn"] == "/.auth/login/aad?post_login_redirect_uri=/api/timeline"
    assert "Authorization: Bearer" in body(response)["error"]
    # An empty principal is no principal
    assert call("/api/events", headers={"X-MS-CLIENT-PRINCIPAL-ID": " "}).status_code == 401


def test_entra_mode_answers_a_signed_in_caller(recorded, entra, caplog):
    caplog.set_level("INFO", logger="eventaudit.auth")
    response = call("/api/redis/failures", headers=SIGNED_IN)
    assert response.status_code == 200 and [i["cache"] for i in body(response)["items"]] == ["c1"]
    assert "read by alice@contoso.com" in caplog.text


def test_entra_mode_refuses_everything_when_easy_auth_is_off(recorded, entra, monkeypatch):
    # Without App Service Authentication nothing strips a client's own X-MS-CLIENT-PRINCIPAL-ID
    monkeypatch.delenv(auth.AUTH_ENABLED_SETTING)
    response = call("/api/events", headers=SIGNED_IN)
    assert response.status_code == 500
    problem = body(response)["error"]
    assert "App Service Authentication is not enabled" in problem and "WEBSITE_AUTH_ENABLED is not set" in problem
    # It says what to check, and the way out
    assert "/config/authsettingsV2/list?api-version=2020-12-01 --query properties.platform.enabled" in problem
    assert "AUDIT_API_AUTH=key" in problem
    monkeypatch.setenv(auth.AUTH_ENABLED_SETTING, "False")
    assert "WEBSITE_AUTH_ENABLED is 'False'" in body(call("/api/events", headers=SIGNED_IN))["error"]


def test_the_page_is_served_without_key_or_sign_in_in_either_mode(entra):
    response = call("/api/timeline")
    assert response.status_code == 200 and response.mimetype == "text/html"


def test_indexed_with_entra_the_api_routes_are_anonymous(tmp_path):
    # A fresh process, as the host indexes the app with the setting in its environment
    script = ("from tools.trigger import indexed_functions\n"
              "for f in indexed_functions():\n"
              "    t = f.get_trigger()\n"
              "    if t.get_binding_name() == 'httpTrigger':\n"
              "        print(f.get_function_name(), getattr(t.auth_level, 'value', t.auth_level))\n")
    for mode, expected in (("entra", "ANONYMOUS"), ("key", "FUNCTION")):
        env = {**os.environ, "AUDIT_API_AUTH": mode, "AUDIT_STORAGE": "UseDevelopmentStorage=true"}
        result = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        levels = dict(line.split() for line in result.stdout.splitlines())
        assert levels.pop("audit_timeline").upper() == "ANONYMOUS"
        assert levels and {level.upper() for level in levels.values()} == {expected}
