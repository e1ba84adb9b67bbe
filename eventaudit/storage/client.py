"""The one TableServiceClient of a process, built from the storage setting."""

from __future__ import annotations

import logging
import os
from typing import Any

import requests
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableServiceClient

from eventaudit.settings import StorageTarget

# Table Storage answers 503/500 under load; back off exponentially (at once, then 1.6, 3.2, 6.4 s...)
# and give up in well under a minute, so a failing request raises and Event Grid retries later.
RETRY_OPTIONS: dict[str, Any] = {
    "retry_total": 5,
    "retry_connect": 3,
    "retry_read": 3,
    "retry_status": 4,
    "retry_backoff_factor": 0.8,
    "retry_backoff_max": 20,
}
TIMEOUTS: dict[str, Any] = {"connection_timeout": 10, "read_timeout": 30}
# azure-core logs every request and response header at INFO: far too much for Application Insights.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)

# The worker runs up to 32 invocations of a batch at once; keep a connection for each.
POOL_SIZE = 32


def build_service_client(target: StorageTarget, **options: Any) -> TableServiceClient:
    """A client with a shared connection pool; `options` override retry and timeout settings."""
    kwargs = {**RETRY_OPTIONS, **TIMEOUTS, "transport": _transport(), **options}
    if target.connection_string:
        return TableServiceClient.from_connection_string(target.connection_string, **kwargs)
    # Imported here: azure-identity is only needed, and only paid for, in the identity form.
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(managed_identity_client_id=target.client_id)
    return TableServiceClient(endpoint=target.endpoint, credential=credential, **kwargs)


def _transport() -> RequestsTransport:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # With trust_env, requests scans every environment variable on every request (proxies, CA bundle,
    # ~/.netrc): a sixth of a write's client CPU (docs/benchmark.md). Without a proxy there is nothing
    # to find per request, so read the CA bundle once here; with a proxy keep requests' full handling.
    session.trust_env = any(name.lower().endswith("_proxy") for name in os.environ)
    verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return RequestsTransport(session=session, session_owner=True,
                             connection_verify=True if session.trust_env else verify)
