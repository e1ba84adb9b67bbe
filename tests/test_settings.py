"""Settings: connection string or identity form, the fallback, and clear errors naming the setting."""

from __future__ import annotations

import pytest

from eventaudit.errors import ConfigurationError
from eventaudit.settings import load_settings


def test_connection_string_from_audit_storage():
    settings = load_settings({"AUDIT_STORAGE": "UseDevelopmentStorage=true", "AzureWebJobsStorage": "X=1"})
    assert settings.storage.connection_string == "UseDevelopmentStorage=true"
    assert settings.storage.setting == "AUDIT_STORAGE"


def test_identity_form_of_audit_storage():
    settings = load_settings({"AUDIT_STORAGE__tableServiceUri": "https://acct.table.core.windows.net/",
                              "AUDIT_STORAGE__clientId": "1111"})
    assert (settings.storage.endpoint, settings.storage.client_id) == ("https://acct.table.core.windows.net",
                                                                      "1111")
    assert settings.storage.connection_string is None


@pytest.mark.parametrize(("env", "expected"), [
    ({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, "AzureWebJobsStorage"),
    ({"AzureWebJobsStorage__tableServiceUri": "https://a.table.core.windows.net"},
     "AzureWebJobsStorage__tableServiceUri"),
    ({"AzureWebJobsStorage__accountName": "acct"}, "AzureWebJobsStorage__accountName"),
])
def test_falls_back_to_azure_web_jobs_storage(env, expected):
    assert load_settings(env).storage.setting == expected


def test_account_name_form_gives_the_table_endpoint():
    assert load_settings({"AzureWebJobsStorage__accountName": "acct"}).storage.endpoint == \
        "https://acct.table.core.windows.net"


@pytest.mark.parametrize(("env", "named"), [
    ({}, "AUDIT_STORAGE"),
    ({"AUDIT_STORAGE": "not a connection string"}, "AUDIT_STORAGE"),
    ({"AUDIT_STORAGE__tableServiceUri": "acct.table.core.windows.net"}, "AUDIT_STORAGE__tableServiceUri"),
    ({"AUDIT_STORAGE": "UseDevelopmentStorage=true", "AUDIT_TABLE_PREFIX": "bad-prefix"}, "AUDIT_TABLE_PREFIX"),
    ({"AUDIT_STORAGE": "UseDevelopmentStorage=true", "AUDIT_ALLOWED_SOURCES": "contoso"},
     "AUDIT_ALLOWED_SOURCES"),
])
def test_missing_or_unusable_setting_fails_naming_it(env, named):
    with pytest.raises(ConfigurationError, match=named):
        load_settings(env)


def test_allowed_sources_are_lower_cased_and_split():
    settings = load_settings({"AUDIT_STORAGE": "UseDevelopmentStorage=true",
                              "AUDIT_ALLOWED_SOURCES": "/subscriptions/A/resourceGroups/RG/, /subscriptions/b"})
    assert settings.allowed_sources == ("/subscriptions/a/resourcegroups/rg", "/subscriptions/b")


def test_trigger_fails_with_the_setting_name_when_storage_is_not_configured(monkeypatch):
    from eventaudit import storage
    from tests.conftest import load_sample
    from tools.trigger import deliver

    for name in ("AUDIT_STORAGE", "AUDIT_STORAGE__tableServiceUri", "AzureWebJobsStorage",
                 "AzureWebJobsStorage__tableServiceUri", "AzureWebJobsStorage__accountName"):
        monkeypatch.delenv(name, raising=False)
    storage.reset_store()
    try:
        with pytest.raises(ConfigurationError, match="AUDIT_STORAGE"):
            deliver(load_sample("redis-eventgrid")[0])
    finally:
        storage.reset_store()


def test_the_sample_settings_hold_every_setting_the_app_reads_and_load():
    # Given local.settings.sample.json, which users copy to local.settings.json
    import json
    import re
    from pathlib import Path

    from eventaudit.appconfig.settings import load_capture_settings

    root = Path(__file__).resolve().parent.parent
    values = json.loads((root / "local.settings.sample.json").read_text(encoding="utf-8"))["Values"]
    # Then every AUDIT_* setting named in the app's code is in it (a new setting must be added there too)
    # (the identity forms of AUDIT_STORAGE, AUDIT_STORAGE__tableServiceUri, are alternatives to it)
    code = "\n".join(path.read_text(encoding="utf-8") for path in (root / "eventaudit").rglob("*.py"))
    read = set(re.findall(r'"(AUDIT_[A-Z_]+)"', code))
    assert read <= set(values), sorted(read - set(values))
    # And its values are accepted as they are
    settings = load_settings(values)
    assert (settings.storage.connection_string, settings.table_prefix) == ("UseDevelopmentStorage=true", "")
    capture = load_capture_settings(values)
    assert capture.daily_requests == 200
