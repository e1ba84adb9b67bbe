"""What a question can go wrong with; the CLI and the HTTP API map these to exit codes and statuses."""

from __future__ import annotations

from eventaudit.errors import AuditError
from eventaudit.storage.tables import APP_CONFIGURATION_STORE, REDIS_CACHE


class QueryError(AuditError):
    """Base class of the query layer's own errors."""


class InvalidQuery(QueryError):
    """The question is malformed: a bad range, limit, filter value or continuation token (HTTP 400)."""


class UnknownResource(QueryError):
    """The cache or store was never seen by the app (HTTP 404); kind None: not of any kind."""

    def __init__(self, kind: str | None, name: str, known: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = known
        noun = resource_noun(kind)
        hint = f"; known {noun}s: {', '.join(known[:10])}{' ...' if len(known) > 10 else ''}" if known else (
            f"; no {noun} has been recorded yet")
        super().__init__(f"unknown {noun} {name!r}{hint}")


def resource_noun(kind: str | None) -> str:
    """What to call a resource of an AuditResources kind in messages."""
    return {REDIS_CACHE: "cache", APP_CONFIGURATION_STORE: "store"}.get(kind or "", "resource")
