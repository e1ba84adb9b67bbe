"""Reading partitions of the audit tables: parameterised filters, merged newest first, paged.

Every filter is a template of fixed clauses with @parameters; user input only ever travels in
`parameters`, which azure-data-tables quotes (a ' in a name is doubled), so it stays data.
(The SDK substitutes words that start with "@": keep each @name, and each parenthesis, a word of its
own.) Table Storage allows at most 15 comparisons in one $filter (Azurite allows more): checked here.

A question reads some partitions of one or more tables and merges them by (RowKey, table,
PartitionKey). Event RowKeys start with the inverted ticks of the event time, so this is newest first
across partitions and tables. The merge never reads much more than it returns: with one partition it
asks for exactly the page (plus one row, to know whether there is more); with several it asks each
partition for one row first, and for more (twice as many as last time, never more than the page still
needs) only when the merge has used up what that partition gave. So a page of n rows fetches at most
2(n + 1) + one row per partition read. The continuation token is the (RowKey, table, PartitionKey) of
the last row returned: the next page starts strictly after it in every partition, so no row is
skipped or repeated between pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import itertools
import json
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import HttpResponseError

from eventaudit.queries.errors import InvalidQuery
from eventaudit.queries.ranges import TimeRange
from eventaudit.queries.storage_errors import error_code, translated
from eventaudit.storage import AuditStore
from eventaudit.storage.fanout import run_bounded  # partitions read a few at once

MAX_PARTITIONS = 1024  # a question that would read more partitions is refused: narrow it down
MAX_LIMIT = 1000  # Table Storage returns at most 1,000 entities per request
DEFAULT_LIMIT = 50
MAX_COMPARISONS = 15  # Table Storage: "no more than 15 discrete comparisons" in one $filter
MAX_TOKEN_CHARS = 2048
TOKEN_VERSION = 2  # 2: positions carry the table, so one token can continue a read of several tables

Entity = Mapping[str, Any]
# Where a merged read stands: (RowKey, table, PartitionKey) of the last row returned.
Position = tuple[str, str, str]
_COMPARISON = re.compile(r"\s(?:eq|ne|gt|ge|lt|le)\s")


@dataclass(frozen=True)
class PartitionQuery:
    """The same filter over some partitions of one table, within a time range."""

    table: str
    partitions: Sequence[str]
    clauses: Sequence[str] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    range: TimeRange = TimeRange()
    select: Sequence[str] | None = None
    # A check Table Storage cannot make, applied to what its filter let through (which it narrows).
    keep: Callable[[Entity], bool] | None = None

    def filter_for(self, partition: str, after: Position | None) -> tuple[str, dict[str, Any]]:
        clauses = ["PartitionKey eq @pk", *self.clauses]
        parameters: dict[str, Any] = {**self.parameters, "pk": partition}
        low, high = self.range.row_key_bounds()
        if low is not None:
            clauses.append("RowKey ge @rklow")
            parameters["rklow"] = low
        if high is not None:
            clauses.append("RowKey lt @rkhigh")
            parameters["rkhigh"] = high
        if after is not None:
            row_key, table, after_partition = after
            # Strictly after (row_key, table, after_partition) in (RowKey, table, PartitionKey) order.
            clauses.append("RowKey gt @after" if (self.table, partition) <= (table, after_partition)
                           else "RowKey ge @after")
            parameters["after"] = row_key
        text = " and ".join(clauses)
        comparisons = len(_COMPARISON.findall(f" {text} "))
        if comparisons > MAX_COMPARISONS:
            raise InvalidQuery(f"these filters need {comparisons} comparisons in one query; Table Storage "
                               f"allows {MAX_COMPARISONS}: ask for fewer values at once")
        return text, parameters


@dataclass(frozen=True)
class Hit:
    """A row of a merged read, and which of the queries it answers."""

    query: int
    entity: Entity


def check_limit(limit: Any, maximum: int = MAX_LIMIT) -> int:
    if isinstance(limit, str):
        if not limit.strip().isdigit():
            raise InvalidQuery(f"limit must be a whole number from 1 to {maximum}, got {limit[:50]!r}")
        limit = int(limit)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidQuery(f"limit must be a whole number from 1 to {maximum}, got {limit!r}")
    return limit


def read_merged(store: AuditStore, query: PartitionQuery, limit: int,
                after: Position | None = None) -> tuple[list[Entity], Position | None]:
    """Up to `limit` rows newest first across the query's partitions, and the position to continue from."""
    hits, position = merge(store, [query], limit, after)
    return [hit.entity for hit in hits], position


def merge(store: AuditStore, queries: Sequence[PartitionQuery], limit: int,
          after: Position | None = None) -> tuple[list[Hit], Position | None]:
    """Up to `limit` rows of several queries (tables), merged newest first; the position to continue from."""
    total = sum(len(query.partitions) for query in queries)
    if total > MAX_PARTITIONS:
        raise InvalidQuery(f"this question would read {total} partitions (at most {MAX_PARTITIONS}): "
                           "name a cache or store, or narrow the time range")
    need = limit + 1  # one more than the page, to know whether there is a next page
    streams = [_Stream(store, index, query, partition, after)
               for index, query in enumerate(queries) for partition in query.partitions]
    first = need if len(streams) == 1 else 1
    run_bounded(lambda stream: stream.fill(first), streams)
    heap = [(stream.head_key(), n) for n, stream in enumerate(streams) if stream.buffer]
    heapq.heapify(heap)
    hits: list[Hit] = []
    while heap and len(hits) < need:
        _, n = heapq.heappop(heap)
        stream = streams[n]
        hits.append(Hit(stream.index, stream.buffer.popleft()))
        if not stream.buffer and len(hits) < need:
            stream.fill(min(2 * stream.last_size, need - len(hits), MAX_LIMIT))
        if stream.buffer:
            heapq.heappush(heap, (stream.head_key(), n))
    if len(hits) <= limit:
        return hits, None
    hits = hits[:limit]
    last = hits[-1]
    return hits, (last.entity["RowKey"], queries[last.query].table, last.entity["PartitionKey"])


class _Stream:
    """One partition of one query, read newest first in requests sized by what the merge still needs."""

    def __init__(self, store: AuditStore, index: int, query: PartitionQuery, partition: str,
                 after: Position | None) -> None:
        self.index = index
        self.buffer: deque[Entity] = deque()
        self.last_size = 0
        self._table = query.table
        self._client = store.table(query.table)
        self._query = query
        self._filter = query.filter_for(partition, after)
        self._pages: Any = None
        self._done = False

    def head_key(self) -> tuple[str, str, str]:
        head = self.buffer[0]
        return head["RowKey"], self._table, head["PartitionKey"]

    def fill(self, size: int) -> None:
        """Fetch pages of `size` rows until one holds a row to keep, or the partition has no more."""
        size = max(size, 1)
        while not self.buffer and not self._done:
            self.last_size = size
            rows = self._next_page(size)
            keep = self._query.keep
            self.buffer.extend(rows if keep is None else (row for row in rows if keep(row)))

    def _next_page(self, size: int) -> list[Entity]:
        text, parameters = self._filter
        with translated():
            try:
                if self._pages is None:
                    self._pages = self._client.query_entities(
                        text, parameters=parameters, results_per_page=size,
                        select=list(self._query.select) if self._query.select else None).by_page()
                else:
                    self._pages.results_per_page = size  # the next request's $top
                rows = list(next(self._pages))
            except StopIteration:
                rows = []
            except HttpResponseError as exc:
                if error_code(exc) != "TableNotFound":
                    raise
                rows = []  # nothing recorded yet
                self._done = True
        # The service says whether the partition holds more (a continuation), even after a short page.
        self._done = self._done or self._pages is None or self._pages.continuation_token is None
        return rows


def read_all(store: AuditStore, table: str, filters: Iterable[tuple[str, dict[str, Any]]],
             select: Sequence[str] | None = None, *, first_only: bool = False) -> list[list[Entity]]:
    """Every row (or only the first) matching each (filter, parameters), each naming one partition."""
    client = store.table(table)

    def read(item: tuple[str, dict[str, Any]]) -> list[Entity]:
        text, parameters = item
        with translated():
            try:
                pages = client.query_entities(text, parameters=parameters,
                                              results_per_page=1 if first_only else MAX_LIMIT,
                                              select=list(select) if select else None)
                return list(itertools.islice(pages, 1)) if first_only else list(pages)
            except HttpResponseError as exc:
                if error_code(exc) == "TableNotFound":
                    return []
                raise

    return run_bounded(read, list(filters))


# --- continuation tokens -------------------------------------------------------------------------

def fingerprint(question: str, identity: Sequence[Any]) -> str:
    """Ties a token to its question and filters (not the time range, which may be relative)."""
    text = json.dumps([question, *identity], ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def encode_token(question: str, identity: Sequence[Any], position: Mapping[str, Any]) -> str:
    body = {"v": TOKEN_VERSION, "q": question, "f": fingerprint(question, identity), **position}
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(token: str | None, question: str, identity: Sequence[Any],
                 fields: Sequence[str]) -> dict[str, str] | None:
    """The position a token holds (None for no token); InvalidQuery if it is not one of ours."""
    if token is None or token == "":
        return None
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise InvalidQuery("continuation token is malformed (too long)")
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidQuery("continuation token is malformed: pass the value a previous page returned"
                           ) from None
    if not isinstance(body, dict) or body.get("q") != question:
        raise InvalidQuery("continuation token belongs to another question")
    if body.get("v") != TOKEN_VERSION:
        raise InvalidQuery("continuation token comes from an older version of the app: start again")
    if body.get("f") != fingerprint(question, identity):
        raise InvalidQuery("continuation token belongs to the same question with other filters")
    position = {name: body.get(name) for name in fields}
    if not all(isinstance(value, str) for value in position.values()):
        raise InvalidQuery("continuation token is malformed: pass the value a previous page returned")
    return position  # type: ignore[return-value]


def position_token(question: str, identity: Sequence[Any], position: Position | None) -> str | None:
    """The token of a merged read's position (None when there is no next page)."""
    if position is None:
        return None
    row_key, table, partition = position
    return encode_token(question, identity, {"rk": row_key, "t": table, "pk": partition})


def token_position(token: str | None, question: str, identity: Sequence[Any]) -> Position | None:
    """The merged read's position a token holds (None for no token)."""
    found = decode_token(token, question, identity, ("rk", "t", "pk"))
    return (found["rk"], found["t"], found["pk"]) if found else None
