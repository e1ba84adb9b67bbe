"""Print what the audit tables hold, as aligned text tables.

    python -m tools.show                 # uses AUDIT_STORAGE / AUDIT_TABLE_PREFIX from the environment
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from eventaudit.settings import PREFIX_SETTING, STORAGE_SETTING
from eventaudit.storage import get_store, reset_store
from eventaudit.storage.tables import (
    APP_CONFIGURATION_EVENTS,
    APP_CONFIGURATION_KEYS,
    APP_CONFIGURATION_REVISIONS,
    CONTROL_PLANE_EVENTS,
    REDIS_CACHE_EVENTS,
    UNHANDLED_EVENTS,
)

# Columns shown per table, and the column the rows are sorted by (newest first).
VIEWS: dict[str, tuple[Sequence[str], str]] = {
    REDIS_CACHE_EVENTS: (("EventTime", "CacheName", "Operation", "Status", "OccurredAt", "ResourceGroup",
                          "Schema"), "EventTime"),
    APP_CONFIGURATION_EVENTS: (("EventTime", "StoreName", "Change", "Key", "Label", "Snapshot", "ETag"),
                               "EventTime"),
    APP_CONFIGURATION_KEYS: (("StoreName", "Key", "Label", "Deleted", "LastChange", "LastEventTime", "ETag"),
                             "LastEventTime"),
    UNHANDLED_EVENTS: (("EventTime", "EventType", "EventId", "Reason"), "EventTime"),
    CONTROL_PLANE_EVENTS: (("EventTime", "ResourceName", "SubResource", "Change", "Outcome", "CallerType",
                            "CallerUpn", "ClientIp", "PreviousSku", "Sku"), "EventTime"),
    APP_CONFIGURATION_REVISIONS: (("LastModified", "StoreName", "Key", "Label", "Status", "Source", "Value",
                                   "ETag"), "LastModified"),
}
MAX_CELL = 48


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
    text = str(value).replace("\n", "\\n").replace("\r", "\\r")
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def format_table(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column), *(len(r[i]) for r in cells)]) for i, column in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def show(limit: int, out: Any = None) -> None:
    out = out or sys.stdout
    store = get_store()
    for table, (columns, order) in VIEWS.items():
        rows = [row for row in store.table(table).list_entities() if "PartOf" not in row]
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        rows.sort(key=lambda row: row.get(order) or epoch, reverse=True)
        count = f"{len(rows)} row{'' if len(rows) == 1 else 's'}{', newest first' if rows else ''}"
        print(f"\n{store.table_name(table)} ({count})", file=out)
        print(format_table(columns, rows[:limit]), file=out)
        if len(rows) > limit:
            print(f"... {len(rows) - limit} more", file=out)


def show_scalings(out: Any = None) -> None:
    """Who scaled each cache, and from which size to which (readers: audit-log redis history)."""
    from eventaudit.queries import REDIS_CACHE, list_resources
    from eventaudit.queries.history import scalings

    out = out or sys.stdout
    store = get_store()
    print("\nWho scaled which cache, from which size to which (audit-log redis history <cache>)", file=out)
    for cache in list_resources(store, REDIS_CACHE):
        for item in scalings(store, cache.name):
            when = cell(item.time)
            print(f"  {cache.name} ({item.details.get('product') or cache.product}), {when}: {item.summary}",
                  file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.show", description="Print the audit tables.")
    parser.add_argument("--storage", help=f"connection string (default: the {STORAGE_SETTING} setting)")
    parser.add_argument("--prefix", help=f"table name prefix (default: the {PREFIX_SETTING} setting)")
    parser.add_argument("--limit", type=int, default=50, help="rows per table (default 50)")
    args = parser.parse_args(argv)
    if args.storage:
        os.environ[STORAGE_SETTING] = args.storage
    if args.prefix is not None:
        os.environ[PREFIX_SETTING] = args.prefix
    reset_store()
    show(args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
