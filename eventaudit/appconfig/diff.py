"""What changed between two values of a key-value, in words a person reads at a glance.

Feature flags (content type application/vnd.microsoft.appconfig.ff+json) and JSON values are
compared field by field ("enabled: true -> false"), multi-line values line by line (a unified
diff), other values as a whole. Content type, tags and the lock are compared too. Redacted values
are compared by their SHA-256 only.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from eventaudit.appconfig.settings import FEATURE_FLAG, KEY_VAULT_REFERENCE

MAX_SHOWN = 80  # characters of a value quoted in a summary
MISSING = object()


@dataclass(frozen=True)
class Value:
    """One value of a key-value, as a reader shows it."""

    value: str | None
    content_type: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    locked: bool = False
    redacted: bool = False
    value_sha256: str | None = None

    @property
    def kind(self) -> str:
        media = (self.content_type or "").split(";")[0].strip().lower()
        if media == FEATURE_FLAG:
            return "feature_flag"
        if media == KEY_VAULT_REFERENCE:
            return "key_vault_reference"
        if self.redacted:
            return "redacted"
        if _json(self.value) is not MISSING and (
            "json" in media or isinstance(_json(self.value), dict | list)
        ):
            return "json"
        return "text"


@dataclass(frozen=True)
class FieldChange:
    field: str  # a JSON path (enabled, conditions.client_filters[0].name), or (content type), (tags).x
    before: Any
    after: Any


@dataclass(frozen=True)
class Diff:
    kind: str  # created, deleted, unchanged, text, lines, json, feature_flag, key_vault_reference, redacted
    summary: str
    fields: list[FieldChange] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def diff(before: Value | None, after: Value | None) -> Diff:
    """How `after` differs from `before` (None: the key-value did not exist)."""
    if before is None and after is None:
        return Diff("unchanged", "no value recorded")
    if before is None:
        return Diff("created", f"created: {_shown(after)}", _metadata(None, after))  # type: ignore[arg-type]
    if after is None:
        return Diff("deleted", f"deleted (was {_shown(before)})")
    metadata = _metadata(before, after)
    if before.redacted or after.redacted:
        same = before.value_sha256 == after.value_sha256 and before.value_sha256 is not None
        text = (
            "value unchanged (redacted: same SHA-256)"
            if same
            else "value changed (redacted: SHA-256 differs)"
        )
        return Diff("redacted", _with_metadata(text, metadata), metadata)
    kind = after.kind if after.kind == before.kind else "text"
    if kind in ("feature_flag", "json", "key_vault_reference"):
        old, new = _json(before.value), _json(after.value)
        if old is not MISSING and new is not MISSING:
            fields = [FieldChange(path, a, b) for path, a, b in _compare(old, new)]
            return Diff(kind, _with_metadata(_field_summary(kind, fields), metadata), fields + metadata)
    if before.value == after.value:
        return Diff("unchanged", _with_metadata("value unchanged", metadata), metadata)
    if "\n" in (before.value or "") or "\n" in (after.value or ""):
        lines = list(
            difflib.unified_diff(
                (before.value or "").splitlines(), (after.value or "").splitlines(), lineterm="", n=1
            )
        )[2:]
        added = sum(1 for line in lines if line.startswith("+"))
        removed = sum(1 for line in lines if line.startswith("-"))
        return Diff(
            "lines", _with_metadata(f"{removed} line(s) removed, {added} added", metadata), metadata, lines
        )
    return Diff(
        "text", _with_metadata(f"{_quote(before.value)} -> {_quote(after.value)}", metadata), metadata
    )


def _field_summary(kind: str, fields: list[FieldChange]) -> str:
    if not fields:
        return "value unchanged"
    parts = []
    for change in fields:
        if kind == "feature_flag" and change.field == "enabled" and isinstance(change.after, bool):
            parts.append(
                "enabled -> disabled"
                if change.before is True and not change.after
                else "disabled -> enabled"
                if change.after
                else f"enabled: {change.before} -> false"
            )
        else:
            parts.append(f"{change.field}: {_literal(change.before)} -> {_literal(change.after)}")
    return "; ".join(parts)


def _metadata(before: Value | None, after: Value) -> list[FieldChange]:
    changes = []
    old_type = before.content_type if before else None
    if before is not None and old_type != after.content_type:
        changes.append(FieldChange("(content type)", old_type, after.content_type))
    old_tags = before.tags if before else {}
    for name in sorted(set(old_tags) | set(after.tags)):
        if old_tags.get(name, MISSING) != after.tags.get(name, MISSING):
            changes.append(FieldChange(f"(tags).{name}", old_tags.get(name), after.tags.get(name)))
    if before is not None and before.locked != after.locked:
        changes.append(FieldChange("(locked)", before.locked, after.locked))
    return changes


def _with_metadata(text: str, metadata: list[FieldChange]) -> str:
    if not metadata:
        return text
    return (
        text + "; " + "; ".join(f"{c.field}: {_literal(c.before)} -> {_literal(c.after)}" for c in metadata)
    )


def _compare(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(path, before, after) of every leaf that differs; MISSING-free: absent shows as None."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for name in sorted(set(old) | set(new), key=str):
            child = f"{path}.{name}" if path else str(name)
            found += (
                _compare(old.get(name), new.get(name), child)
                if name in old and name in new
                else [(child, old.get(name), new.get(name))]
            )
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            found += _compare(a, b, f"{path}[{index}]")
        return found
    return [] if old == new and type(old) is type(new) else [(path or "(value)", old, new)]


def _json(text: str | None) -> Any:
    if text is None:
        return MISSING
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return MISSING


def _shown(value: Value) -> str:
    if value.redacted:
        return "(redacted)"
    return _quote(value.value)


def _quote(text: str | None) -> str:
    if text is None:
        return "(null)"
    shown = json.dumps(text, ensure_ascii=False)
    return shown if len(shown) <= MAX_SHOWN else shown[: MAX_SHOWN - 2] + '…"'


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return _quote(value)
    return json.dumps(value, ensure_ascii=False, default=str)
