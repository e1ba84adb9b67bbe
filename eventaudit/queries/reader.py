"""Reading partitions of the audit tables: parameterised filters, merged newest first, paged.

Every filter is a template of fixed clauses with @parameters; user input only ever travels in
`parameters`, which azure-data-tables quotes (a ' in a name is doubled), so it stays data.
(The SDK substitutes words that start with "@": keep each @name a word of its own, no parentheses.)

A question over several partitions reads the first page of each (at most FAN_OUT at a time),
merges them by (RowKey, PartitionKey) - the RowKey starts with inverted ticks, so this is newest
first across partitions - and fetches further pages of a partition only when the merge reaches them.
The continuation token is the (RowKey, PartitionKey) of the last row returned: the next page starts
strictly after it in that order, in every partition, so no row is skipped or repeated between pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from azure.core.exceptions import AzureError, HttpResponseError

from eventaudit.errors import TransientStorageError
from eventaudit.queries.errors import InvalidQuery
from eventaudit.queries.ranges import TimeRange
from eventaudit.storage import AuditStore

T = TypeVar("T")
R = TypeVar("R")

FAN_OUT = 8  # partitions read at once
MAX_PARTITIONS = 256  # a question that would read more partitions is refused: narrow it down
MAX_LIMIT = 1000  # Table Storage returns at most 1,000 entities per request
DEFAULT_LIMIT = 50
MAX_TOKEN_CHARS = 2048
TOKEN_VERSION = 1

Entity = Mapping[str, Any]


@dataclass(frozen=True)
class PartitionQuery:
    """The same filter over some partitions of one table, within a time range."""

    table: str
    partitions: Sequence[str]
    clauses: Sequence[str] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    range: TimeRange = TimeRange()
    select: Sequence[str] | None = None

    def filter_for(self, partition: str, after: tuple[str, str] | None) -> tuple[str, dict[str, Any]]:
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
            row_key, after_partition = after
            # Strictly after (row_key, after_partition) in (RowKey, PartitionKey) order.
            clauses.append("RowKey gt @after" if partition <= after_partition else "RowKey ge @after")
            parameters["after"] = row_key
        return " and ".join(clauses), parameters


def check_limit(limit: Any, maximum: int = MAX_LIMIT) -> int:
    if isinstance(limit, str):
        if not limit.strip().isdigit():
            raise InvalidQuery(f"limit must be a whole number from 1 to {maximum}, got {limit[:50]!r}")
        limit = int(limit)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidQuery(f"limit must be a whole number from 1 to {maximum}, got {limit!r}")
    return limit


def read_merged(store: AuditStore, query: PartitionQuery, limit: int,
                after: tuple[str, str] | None = None) -> tuple[list[Entity], tuple[str, str] | None]:
    """Up to `limit` rows newest first across the partitions, and the position to continue from."""
    if len(query.partitions) > MAX_PARTITIONS:
        raise InvalidQuery(f"this question would read {len(query.partitions)} partitions (at most "
                           f"{MAX_PARTITIONS}): name a cache or store")
    page_size = min(limit + 1, MAX_LIMIT)
    client = store.table(query.table)

    def open_partition(partition: str) -> Iterator[Entity]:
        text, parameters = query.filter_for(partition, after)
        return first_page_then_rest(lambda: client.query_entities(
            text, parameters=parameters, results_per_page=page_size,
            select=list(query.select) if query.select else None).by_page())

    streams = run_bounded(open_partition, list(query.partitions))
    merged = heapq.merge(*streams, key=lambda e: (e["RowKey"], e["PartitionKey"]))
    rows = list(itertools.islice(merged, limit + 1))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, (rows[-1]["RowKey"], rows[-1]["PartitionKey"])


def read_all(store: AuditStore, table: str, filters: Iterable[tuple[str, dict[str, Any]]],
             select: Sequence[str] | None = None, *, first_only: bool = False) -> list[list[Entity]]:
    """Every row (or only the first) matching each (filter, parameters), each naming one partition."""
    client = store.table(table)

    def read(item: tuple[str, dict[str, Any]]) -> list[Entity]:
        text, parameters = item
        stream = first_page_then_rest(lambda: client.query_entities(
            text, parameters=parameters, results_per_page=1 if first_only else MAX_LIMIT,
            select=list(select) if select else None).by_page())
        return list(itertools.islice(stream, 1)) if first_only else list(stream)

    return run_bounded(read, list(filters))


def run_bounded(function: Callable[[T], R], items: list[T]) -> list[R]:
    """function(item) for each item, at most FAN_OUT at once, results in order."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(FAN_OUT, len(items)), thread_name_prefix="audit-query") as pool:
        return list(pool.map(function, items))


def first_page_then_rest(pages: Callable[[], Iterator[Iterable[Entity]]]) -> Iterator[Entity]:
    """Fetch the first page now (so fan-out runs it in parallel); later pages as they are reached.

    A table that does not exist yet (nothing recorded) reads as empty; other storage failures
    become TransientStorageError.
    """
    with _translated():
        iterator = pages()
        try:
            first = list(next(iterator))
        except StopIteration:
            return iter(())
        except HttpResponseError as exc:
            if _error_code(exc) == "TableNotFound":
                return iter(())
            raise
    return itertools.chain(first, _rest(iterator))


def _rest(pages: Iterator[Iterable[Entity]]) -> Iterator[Entity]:
    with _translated():
        for page in pages:
            yield from page


class _translated:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, HttpResponseError):
            raise TransientStorageError(
                f"Table Storage answered {exc.status_code} {_error_code(exc)}".strip()) from exc
        if isinstance(exc, AzureError) and not isinstance(exc, HttpResponseError):
            raise TransientStorageError(f"Table Storage is unreachable: {type(exc).__name__}") from exc
        return False


def _error_code(exc: HttpResponseError) -> str:
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code) or "")


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
    if not isinstance(body, dict) or body.get("v") != TOKEN_VERSION or body.get("q") != question:
        raise InvalidQuery("continuation token belongs to another question")
    if body.get("f") != fingerprint(question, identity):
        raise InvalidQuery("continuation token belongs to the same question with other filters")
    position = {name: body.get(name) for name in fields}
    if not all(isinstance(value, str) for value in position.values()):
        raise InvalidQuery("continuation token is malformed: pass the value a previous page returned")
    return position  # type: ignore[return-value]
