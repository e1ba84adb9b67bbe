"""The value capture's settings: endpoints per cloud or per store, credentials, budget, redaction."""

from __future__ import annotations

import pytest

from eventaudit.appconfig.settings import Redaction, load_capture_settings
from eventaudit.errors import ConfigurationError
from eventaudit.settings import capture_schedule


def test_the_endpoint_comes_from_the_store_name_with_a_suffix_or_an_explicit_url():
    assert load_capture_settings({}).endpoint("Contoso") == "https://contoso.azconfig.io"
    china = load_capture_settings({"AUDIT_APPCONFIG_ENDPOINT_SUFFIX": "azconfig.azure.cn"})
    assert china.endpoint("contoso") == "https://contoso.azconfig.azure.cn"
    explicit = load_capture_settings({"AUDIT_APPCONFIG_ENDPOINTS": "contoso=https://cfg.example.net/ other=http://127.0.0.1:9"})
    assert explicit.endpoint("CONTOSO") == "https://cfg.example.net"
    assert explicit.endpoint("third") == "https://third.azconfig.io"


def test_connection_strings_apply_to_the_store_whose_endpoint_they_name():
    cs = "Endpoint=http://127.0.0.1:9;Id=abc;Secret=c2VjcmV0"
    settings = load_capture_settings({"AUDIT_APPCONFIG_ENDPOINTS": "contoso=http://127.0.0.1:9",
                                      "AUDIT_APPCONFIG_CONNECTION_STRINGS": f"{cs} Endpoint=https://x.azconfig.io;Id=a;Secret=b"})
    assert settings.connection_string("contoso") == cs
    assert settings.connection_string("x") == "Endpoint=https://x.azconfig.io;Id=a;Secret=b"
    assert settings.connection_string("other") is None  # DefaultAzureCredential then


@pytest.mark.parametrize(("name", "value"), [
    ("AUDIT_APPCONFIG_DAILY_REQUESTS", "0"), ("AUDIT_APPCONFIG_DAILY_REQUESTS", "many"),
    ("AUDIT_APPCONFIG_RETENTION_DAYS", "-1"), ("AUDIT_APPCONFIG_ENDPOINTS", "contoso=ftp://x"),
    ("AUDIT_APPCONFIG_CONNECTION_STRINGS", "Endpoint=https://x;Id=a"),
    ("AUDIT_APPCONFIG_ENDPOINT_SUFFIX", "not a suffix"),
])
def test_bad_settings_fail_with_their_name(name, value):
    with pytest.raises(ConfigurationError, match=name):
        load_capture_settings({name: value})


def test_defaults_are_conservative():
    settings = load_capture_settings({})
    assert settings.daily_requests == 200 and settings.retention_days == 30
    assert capture_schedule({}) == "0 */1 * * * *"
    assert capture_schedule({"AUDIT_APPCONFIG_CAPTURE_SCHEDULE": "0 */5 * * * *"}) == "0 */5 * * * *"


@pytest.mark.parametrize(("key", "redacted"), [
    ("Db:Password", True), ("ConnectionStrings:Default", True), ("Api:Token", True), ("Stripe:ApiKey", True),
    ("Storage:Connection_String", True), ("Client:Secret", True), ("Checkout:Timeout", False),
    ("FeatureManagement/NewCheckout", False),
    # secret words, however the name is cut into words
    ("ApiKey", True), ("Storage:AccountKey", True), ("key", True), ("ConnectionString", True),
    ("SasToken", True), ("SASToken", True), ("DB_PASSWORD", True), ("smtp.pwd", True), ("Keys:Primary", True),
    ("Auth:Credentials", True), ("apikey", True), ("dbpassword", True), ("Storage:sastoken", True),
    ("Db:Connection-String", True), ("Jwt:SigningKey", True), ("Redis:AccessKeyPrimary", True),
    ("Github:TokenValue", True),
    # words that merely contain a secret word are not secret
    ("Keyboard:Layout", False), ("monkey", False), ("Zoo:Turkey", False), ("Hotkeys:Enabled", False),
    ("Tokenizer:Model", False), ("Office:Secretary", False), ("Passwordless:Enabled", False),
    ("KeyVault:Uri", False), ("Connection:Timeout", False), ("Log:Keystrokes", False),
])
def test_secret_looking_names_are_hashed_by_default(key, redacted):
    assert Redaction().redacts(key, None) is redacted
    assert load_capture_settings({}).redaction.redacts(key, None) is redacted  # the app's default


def test_redact_patterns_replace_the_secret_looking_names():
    settings = load_capture_settings({"AUDIT_APPCONFIG_REDACT_VALUES": "Checkout:*, *:Pin"})
    assert settings.redaction.redacts("checkout:Timeout", None) and settings.redaction.redacts("Card:Pin", None)
    assert not settings.redaction.redacts("Db:Password", None)


def test_key_vault_references_and_feature_flags_are_never_hashed_and_keep_wins():
    redaction = Redaction(keep=("db:*",))
    assert not Redaction().redacts("Db:Password", "application/vnd.microsoft.appconfig.keyvaultref+json;charset=utf-8")
    assert not Redaction().redacts(".appconfig.featureflag/ApiKeyRotation", "application/vnd.microsoft.appconfig.ff+json")
    assert not redaction.redacts("Db:Password", None) and redaction.redacts("Api:Token", None)
