"""Count the Table HTTP requests of a real AuditStore, from inside its client's pipeline.

azure-data-tables builds its own policy list (it ignores `per_call_policies`), but keeps azure-core's
CustomHookPolicy after the retry policy: its `raw_response_hook` sees every request answered, retries
included, with the status. So the counts are of requests on the wire, not estimates.
"""

from __future__ import annotations

import collections
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from eventaudit.settings import StorageTarget
from eventaudit.storage import AuditStore, build_service_client

# /<account>/<table>(PartitionKey='<pk>',RowKey='<rk>'); quotes inside keys are doubled.
_ENTITY_PATH = re.compile(
    r"^/[^/]+/(?P<table>[^/(]+)(?:\(PartitionKey='(?P<pk>(?:[^']|'')*)',RowKey='(?P<rk>(?:[^']|'')*)'\))?")
_FILTER_PARTITION = re.compile(r"PartitionKey eq '(?P<pk>(?:[^']|'')*)'")
WRITE_METHODS = frozenset({"PUT", "POST", "MERGE", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Request:
    method: str
    table: str
    partition: str | None  # None for table-level requests ($batch, Tables)
    row: str | None
    status: int
    rows: int = 0  # entities a query answered with (0 for writes and single-entity reads)

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300


class RequestLog:
    """A raw_response_hook that remembers every request answered; thread-safe."""

    def __init__(self) -> None:
        self._requests: list[Request] = []
        self._lock = threading.Lock()

    def __call__(self, pipeline_response: Any) -> None:
        http = pipeline_response.http_request
        url = urlsplit(http.url)
        match = _ENTITY_PATH.match(unquote(url.path))
        table = match["table"] if match else "?"
        partition, row = (_unquoted(match["pk"]), _unquoted(match["rk"])) if match else (None, None)
        if partition is None and http.method == "GET":
            partition = _queried_partition(url.query)
        if partition is None and http.method == "POST" and table not in ("Tables", "$batch"):
            partition, row = _keys_of_insert(http.body)
        response = pipeline_response.http_response
        request = Request(http.method, table, partition, row, response.status_code,
                          _rows_answered(http.method, response))
        with self._lock:
            self._requests.append(request)

    def __len__(self) -> int:
        return len(self._requests)

    def __bool__(self) -> bool:
        return True  # CustomHookPolicy tests the hook for truth: an empty log must still count

    def since(self, mark: int) -> list[Request]:
        """The requests sent after len(log) was `mark`."""
        with self._lock:
            return self._requests[mark:]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()


def _queried_partition(query: str) -> str | None:
    """The partition a query names in its $filter (PartitionKey eq '<pk>'), if it names one."""
    found = _FILTER_PARTITION.search(parse_qs(query).get("$filter", [""])[0])
    return _unquoted(found["pk"]) if found else None


def _rows_answered(method: str, response: Any) -> int:
    """How many entities a query returned: the length of the JSON body's "value" list."""
    if method != "GET" or not 200 <= response.status_code < 300:
        return 0
    try:
        value = json.loads(response.body()).get("value")
    except (TypeError, ValueError, AttributeError):
        return 0
    return len(value) if isinstance(value, list) else 0


def _keys_of_insert(body: Any) -> tuple[str | None, str | None]:
    """An insert (POST to the table) carries its keys in the JSON body, not in the URL."""
    try:
        entity = json.loads(body)
        return entity.get("PartitionKey"), entity.get("RowKey")
    except (TypeError, ValueError, AttributeError):
        return None, None


def _unquoted(key: str | None) -> str | None:
    return key.replace("''", "'") if key is not None else None


def counting_store(connection_string: str, table_prefix: str, log: RequestLog,
                   latency: float = 0.0) -> AuditStore:
    """The app's own AuditStore and client (same transport, retries, pool), with `log` hooked in.

    `latency` seconds are added before each request, as a network between app and storage would.
    """
    target = StorageTarget(setting="benchmark", connection_string=connection_string)
    hooks: dict[str, Any] = {"raw_response_hook": log}
    if latency:
        hooks["raw_request_hook"] = lambda _: time.sleep(latency)
    return AuditStore(build_service_client(target, **hooks), table_prefix)


def max_partition_share(requests: list[Request]) -> tuple[float, str]:
    """The largest share of all writes that landed in one partition of one table, and which one."""
    writes = collections.Counter((r.table, r.partition) for r in requests if r.is_write)
    if not writes:
        return 0.0, ""
    (table, partition), count = writes.most_common(1)[0]
    return count / sum(writes.values()), f"{table}/{partition}"
