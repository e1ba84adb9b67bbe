"""What the readers answer when storage refuses them: fix-it errors for what never heals, 503 for the rest.

Real Table Storage answers a wrong account key with 403 AuthenticationFailed and a missing data role
(Entra ID) with 403 AuthorizationPermissionMismatch (Azure Storage "Common REST API error codes" and
"SAS error codes"). Azurite 3.35.0 answers a wrong key with 403 AuthorizationFailure and has no roles
at all, so the wrong-key case runs against Azurite itself and the documented codes are injected by a
proxy in front of it (tests/faultproxy.py) with the status and code the service sends.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eventaudit import http_api, settings
from eventaudit.cli import main
from eventaudit.errors import ConfigurationError
from eventaudit.storage import AuditStore, build_service_client
from tests.faultproxy import FORWARD, FaultProxy
from tests.test_http_api import call
from tests.test_queries import redis_event
from tools.azurite import free_port

AUDIT_LOG = Path(sys.executable).parent / "audit-log"


def store_for(connection_string: str, table_prefix: str) -> AuditStore:
    target = settings.StorageTarget(setting="test", connection_string=connection_string)
    return AuditStore(build_service_client(target, retry_total=0), table_prefix)


def ask_api(monkeypatch, store: AuditStore, path: str = "/api/redis/failures"):
    monkeypatch.setattr(http_api, "get_store", lambda: store)
    response = call(path)
    return response, json.loads(response.get_body())


def ask_cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, err.getvalue()


@pytest.fixture
def recorded(store, send):
    send(redis_event("c1", 1, status="Failed"))
    return store


def test_a_wrong_account_key_is_not_retryable_and_says_to_fix_the_key(recorded, azurite, table_prefix,
                                                                      monkeypatch):
    wrong = azurite.connection_string.replace("AccountKey=", "AccountKey=AAAA")
    response, body = ask_api(monkeypatch, store_for(wrong, table_prefix))
    assert response.status_code == 500 and "Retry-After" not in response.headers
    assert body["retryable"] is False
    assert "account key" in body["error"] and "try again" not in body["error"]
    code, err = ask_cli("--storage", wrong, "--table-prefix", table_prefix, "redis", "failures")
    assert code == 1 and "account key" in err and "Traceback" not in err


@pytest.mark.parametrize(("code", "fix"), [
    ("AuthenticationFailed", "account key"),
    ("AuthorizationPermissionMismatch", "Storage Table Data Reader"),
    ("AuthorizationFailure", "network rules"),
])
def test_refusals_that_never_heal_say_what_to_fix(recorded, azurite, table_prefix, monkeypatch, code, fix):
    with FaultProxy(azurite.port, lambda request: (403, code)) as proxy:
        via = proxy.via(azurite.connection_string)
        response, body = ask_api(monkeypatch, store_for(via, table_prefix))
        assert response.status_code == 500 and "Retry-After" not in response.headers
        assert fix in body["error"] and code in body["error"] and body["retryable"] is False
        exit_code, err = ask_cli("--storage", via, "--table-prefix", table_prefix, "redis", "failures")
        assert exit_code == 1 and fix in err


@pytest.mark.parametrize("status", [503, 500, 429])
def test_what_is_transient_answers_503_with_retry_after(recorded, azurite, table_prefix, monkeypatch, status):
    with FaultProxy(azurite.port, lambda request: status) as proxy:
        via = proxy.via(azurite.connection_string)
        response, body = ask_api(monkeypatch, store_for(via, table_prefix))
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        assert body["retryable"] is True and "try again" in body["error"]
        exit_code, err = ask_cli("--storage", via, "--table-prefix", table_prefix, "redis", "failures")
        assert exit_code == 4 and "try again" in err
        proxy.fault = lambda request: FORWARD
        assert ask_cli("--storage", via, "--table-prefix", table_prefix, "redis", "failures")[0] == 0


def test_an_http_service_uri_in_the_identity_form_names_the_setting():
    with pytest.raises(ConfigurationError, match="AUDIT_STORAGE__tableServiceUri.*https"):
        settings.load_settings({"AUDIT_STORAGE__tableServiceUri": "http://127.0.0.1:10002/devstoreaccount1"})


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without storage settings, Azure credentials or an az on PATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AUDIT_", "AzureWebJobs", "AZURE_", "IDENTITY_", "MSI_"))}
    env["PATH"] = "/usr/bin:/bin"
    return {**env, **extra}


def run_cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    if not AUDIT_LOG.exists():
        pytest.skip("audit-log is not installed (pip install --no-deps -e .)")
    return subprocess.run([str(AUDIT_LOG), *argv], env=env, capture_output=True, text=True, timeout=180,
                          cwd="/")


def test_the_command_names_an_http_service_uri_without_a_traceback():
    result = run_cli(clean_env(AUDIT_STORAGE__tableServiceUri="http://127.0.0.1:1/devstoreaccount1"),
                     "redis", "caches")
    assert result.returncode == 1, result.stderr
    assert "AUDIT_STORAGE__tableServiceUri" in result.stderr and "https" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_credential_says_how_to_get_one(tmp_path):
    env = clean_env(AUDIT_STORAGE__tableServiceUri=f"https://127.0.0.1:{free_port()}/devstoreaccount1",
                    AZURE_CONFIG_DIR=str(tmp_path))
    result = run_cli(env, "redis", "caches")
    assert result.returncode == 1, result.stderr
    assert "answered None" not in result.stderr and "Traceback" not in result.stderr
    assert "az login" in result.stderr and "AUDIT_STORAGE" in result.stderr
    assert len(result.stderr.splitlines()) <= 3, result.stderr  # one clear error, not the SDK's essay


def test_unreachable_storage_is_transient(recorded, table_prefix, monkeypatch):
    dead = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
            f"TableEndpoint=http://127.0.0.1:{free_port()}/devstoreaccount1;")
    response, body = ask_api(monkeypatch, store_for(dead, table_prefix))
    assert response.status_code == 503 and body["retryable"] is True
