"""One rule for statuses stored as sent: what is shown as failed is what is found as failed.

Azure sends "Succeeded" or "Failed"; the app stores the text as sent, so "FAILED", "failed" or
"Failure" may be there too. A status is *failed* when it starts with "fail" in any casing, and
*succeeded* when it starts with "succe" (Succeeded, Success); any other status is itself, in any
casing. The same rule decides the `failed` flag of an answer and what a status filter finds.

Table Storage compares strings exactly, so a status filter sends the service a range per casing of
the status' first letter when it is an ASCII letter (4 comparisons; other first characters have
casings that case-folding joins but ranges cannot) and the app applies the rule to what comes back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from eventaudit.queries.errors import InvalidQuery
from eventaudit.queries.text_bounds import check_unicode

FAILED = "failed"
SUCCEEDED = "succeeded"
MAX_STATUS_CHARS = 100
Keep = Callable[[Mapping[str, Any]], bool]


def status_class(status: str) -> str:
    """'failed', 'succeeded', or the status itself case-folded."""
    folded = status.casefold()
    if folded.startswith("fail"):
        return FAILED
    if folded.startswith("succe"):
        return SUCCEEDED
    return folded


def is_failed(status: str | None) -> bool:
    return status is not None and status_class(status) == FAILED


def checked_status(value: str | None) -> str | None:
    """A status filter as given (None or "" for none); refused if it is not a short text."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidQuery("status is empty")
    if len(value) > MAX_STATUS_CHARS:
        raise InvalidQuery(f"status is longer than {MAX_STATUS_CHARS} characters")
    return check_unicode("status", value.strip())


def status_filter(status: str, column: str = "Status") -> tuple[str | None, dict[str, str], Keep]:
    """(clause or None, its parameters, keep) finding the statuses of the same class as `status`."""
    wanted = status_class(status)
    first = {FAILED: "f", SUCCEEDED: "s"}.get(wanted, wanted[:1])

    def keep(entity: Mapping[str, Any]) -> bool:
        value = entity.get(column)
        return isinstance(value, str) and status_class(value) == wanted

    if not (first.isascii() and first.isalpha()):
        return None, {}, keep
    upper, lower = first.upper(), first.lower()
    clause = (f"( {column} ge @statusA and {column} lt @statusB or "
              f"{column} ge @statusC and {column} lt @statusD )")
    return clause, {"statusA": upper, "statusB": chr(ord(upper) + 1), "statusC": lower,
                    "statusD": chr(ord(lower) + 1)}, keep
