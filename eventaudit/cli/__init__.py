"""audit-log: ask the audit log questions from a terminal (aligned tables) or a script (--json).

    audit-log timeline --since 2026-11-22T14:00Z --until 2026-11-22T14:30Z
    audit-log timeline --since 24h --resource contoso-sessions --status failed --details
    audit-log redis ops contoso-sessions --since 24h
    audit-log redis failures --since 2026-11-01 --until 2026-11-08
    audit-log redis last-scaling
    audit-log redis history contoso-sessions --since 7d
    audit-log appconfig store-changes contoso
    audit-log appconfig history contoso Checkout:Timeout --label Production
    audit-log appconfig changes contoso --since 7d --json
    audit-log appconfig keys contoso --deleted
    audit-log appconfig snapshots contoso
    audit-log appconfig values contoso Checkout:Timeout          # before -> after of every change
    audit-log appconfig backfill contoso                         # record the revisions the store retains

It reads the app's own settings (AUDIT_STORAGE, or AUDIT_STORAGE__tableServiceUri for a managed
identity or your az login, and AUDIT_TABLE_PREFIX); --storage and --table-prefix override them.
Exit codes: 0 answered (also when nothing matched, or when the reader of the output stopped early,
as `| head` does), 2 bad input, 3 unknown cache or store, 1 a problem waiting does not heal (a setting,
an account key, a role: the message says what to fix), 4 storage unavailable or throttling for now
(try again).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from eventaudit import queries as q
from eventaudit.cli import values as values_cli
from eventaudit.errors import AuditError, TransientStorageError
from eventaudit.settings import PREFIX_SETTING, STORAGE_SETTING

PROG = "audit-log"
MAX_CELL = 60

# Columns per kind of answer: (heading, attribute or function of the item).
Column = tuple[str, Callable[[Any], Any]]
OPERATION_COLUMNS: list[Column] = [
    ("EVENT TIME", lambda o: o.event_time), ("CACHE", lambda o: o.cache),
    ("OPERATION", lambda o: o.operation),
    ("STATUS", lambda o: "FAILED" if o.failed else o.status), ("OCCURRED AT", lambda o: o.occurred_at),
    ("RESOURCE GROUP", lambda o: o.resource_group),
]
SCALING_COLUMNS: list[Column] = [
    ("CACHE", lambda s: s.cache), ("RESOURCE GROUP", lambda s: s.resource_group),
    ("LAST SCALING", lambda s: s.last_scaling.event_time if s.last_scaling else (
        "not published: see redis history" if s.product == "Azure Managed Redis" else "never recorded")),
    ("STATUS", lambda s: ("FAILED" if s.last_scaling.failed else s.last_scaling.status) if s.last_scaling
     else ""),
]
CHANGE_COLUMNS: list[Column] = [
    ("EVENT TIME", lambda c: c.event_time), ("STORE", lambda c: c.store), ("CHANGE", lambda c: c.change),
    ("KEY", lambda c: c.key if c.snapshot is None else f"snapshot {c.snapshot}"),
    ("LABEL", lambda c: label_text(c.label) if c.snapshot is None else ""), ("ETAG", lambda c: c.etag),
]
KEY_COLUMNS: list[Column] = [
    ("KEY", lambda s: s.key), ("LABEL", lambda s: label_text(s.label)),
    ("LAST CHANGE", lambda s: s.last_change), ("AT", lambda s: s.last_event_time), ("ETAG", lambda s: s.etag),
]
RESOURCE_COLUMNS: list[Column] = [
    ("NAME", lambda r: r.name), ("TYPE", lambda r: r.product), ("RESOURCE GROUP", lambda r: r.resource_group),
    ("SUBSCRIPTION", lambda r: r.subscription_id),
]
# Timeline and history items: WHAT without the who; WHO the caller, or who requested a scaling (inferred)
# or that no write matched; FROM the client IP. WHO and FROM are left out of a page where all are empty.
TIMELINE_COLUMNS: list[Column] = [
    ("TIME (UTC)", lambda i: i.time), ("KIND", lambda i: i.kind), ("RESOURCE", lambda i: i.resource),
    ("WHAT", lambda i: i.what), ("WHO", lambda i: i.who or i.details.get("attribution")),
    ("FROM", lambda i: i.client_ip), ("", lambda i: "FAILED" if i.failed else ""),
]
SPARSE = frozenset({"WHO", "FROM"})
# --details: what each item carries on demand, in this order.
DETAIL_COLUMNS: list[Column] = [
    ("EVENT ID", lambda i: i.details.get("event_id")), ("ETAG", lambda i: i.details.get("etag")),
    ("SYNC TOKEN", lambda i: i.details.get("sync_token")),
]
EXIT_ANSWERED, EXIT_FIX, EXIT_BAD_INPUT, EXIT_UNKNOWN, EXIT_TRY_AGAIN = 0, 1, 2, 3, 4


def label_text(label: str | None) -> str:
    return "(no label)" if label == "" else (label or "")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") + "Z"
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in str(value))
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def format_table(columns: Sequence[Column], items: Sequence[Any]) -> str:
    columns = [(name, get) for name, get in columns
               if name not in SPARSE or any(cell(get(item)) for item in items)]
    rows = [[cell(get(item)) for _, get in columns] for item in items]
    headings = [name for name, _ in columns]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headings)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headings), *(line(r) for r in rows)])


# --- the parser -----------------------------------------------------------------------------------

def common_options(default: Any) -> argparse.ArgumentParser:
    """Options accepted before and after the subcommand (--json anywhere)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=default or False,
                        help="print the page as JSON (items, continuation)")
    common.add_argument("--storage", default=default,
                        help=f"connection string (default: the app's {STORAGE_SETTING} setting)")
    common.add_argument("--table-prefix", default=default,
                        help=f"table name prefix (default: {PREFIX_SETTING})")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = common_options(argparse.SUPPRESS)  # on subcommands: never override what came before
    paged = argparse.ArgumentParser(add_help=False)
    paged.add_argument("--limit", default=q.DEFAULT_LIMIT,
                       help=f"rows per page, 1..{q.MAX_LIMIT} (default {q.DEFAULT_LIMIT})")
    paged.add_argument("--after", metavar="TOKEN", help="continue from a previous page's continuation token")
    ranged = argparse.ArgumentParser(add_help=False)
    ranged.add_argument("--since", help=f"from this time on (inclusive): {q.TIME_HELP}")
    ranged.add_argument("--until", help="before this time (exclusive), same forms as --since")

    parser = argparse.ArgumentParser(prog=PROG, description="Read the Azure event audit log.",
                                     parents=[common_options(None)])
    areas = parser.add_subparsers(dest="area", required=True, metavar="{timeline,redis,appconfig}")

    merged = areas.add_parser("timeline", parents=[common, paged, ranged],
                              help="everything recorded in a window, across all caches and stores")
    merged.add_argument("--resource", action="append", metavar="NAME",
                        help="only this cache or store (repeatable)")
    merged.add_argument("--type", action="append", metavar="TYPE", dest="types",
                        help=f"only this operation or change type (repeatable): {', '.join(q.all_actions())}")
    merged.add_argument("--label", help='only key changes with this label ("" for no label)')
    merged.add_argument("--key", help="only the changes of this key")
    merged.add_argument("--status", help="only operations with this status (failed, succeeded, ...)")
    merged.add_argument("--details", action="store_true", help="also show event id, etag and sync token")

    redis = areas.add_parser("redis", help="Azure Cache for Redis operations")
    redis_commands = redis.add_subparsers(dest="command", required=True)
    redis_commands.add_parser("caches", parents=[common], help="the caches recorded so far")
    ops = redis_commands.add_parser("ops", parents=[common, paged, ranged], help="one cache's operations")
    ops.add_argument("cache")
    ops.add_argument("--operation", help=f"one of {', '.join(q.OPERATIONS)}")
    ops.add_argument("--status", help="failed or succeeded (any casing; Failure counts as failed)")
    failures = redis_commands.add_parser("failures", parents=[common, paged, ranged],
                                         help="failed operations across all caches")
    failures.add_argument("--cache", action="append", help="only this cache (repeatable)")
    redis_commands.add_parser("last-scaling", parents=[common, paged], help="each cache's last scaling")
    cache_history = redis_commands.add_parser(
        "history", parents=[common, paged, ranged],
        help="one cache's Redis events and control-plane changes, with who asked for a scaling")
    cache_history.add_argument("cache")

    config = areas.add_parser("appconfig", aliases=["config"], help="Azure App Configuration changes")
    config_commands = config.add_subparsers(dest="command", required=True)
    config_commands.add_parser("stores", parents=[common], help="the stores recorded so far")
    history = config_commands.add_parser("history", parents=[common, paged, ranged], help="one key's history")
    history.add_argument("store")
    history.add_argument("key")
    history.add_argument("--label", help='only this label ("" for no label; default: all labels)')
    changes = config_commands.add_parser("changes", parents=[common, paged, ranged],
                                         help="everything that changed in a store")
    changes.add_argument("store")
    changes.add_argument("--change", help=f"only one of {', '.join(q.CHANGES)}")
    changes.add_argument("--no-snapshots", action="store_true", help="key changes only")
    key_list = config_commands.add_parser("keys", parents=[common, paged],
                                          help="a store's current keys with their last change")
    key_list.add_argument("store")
    key_list.add_argument("--deleted", action="store_true", help="include deleted keys")
    key_list.add_argument("--prefix", help="only keys starting with this")
    snapshots = config_commands.add_parser("snapshots", parents=[common, paged, ranged],
                                           help="snapshot events")
    snapshots.add_argument("store")
    snapshots.add_argument("--snapshot", help="only this snapshot")
    store_changes = config_commands.add_parser("store-changes", parents=[common, paged, ranged],
                                               help="control-plane changes of a store (SKU, replicas, ...)")
    store_changes.add_argument("store")
    values_cli.add_commands(config_commands, common, paged, ranged)
    return parser


def run(args: argparse.Namespace, store: Any) -> tuple[Any, Sequence[Column], str]:
    """Ask the question; returns (page or list, columns, what to call an empty answer)."""
    command = (args.area if args.area != "config" else "appconfig", getattr(args, "command", None))
    paging = {}
    if hasattr(args, "limit"):
        paging = {"limit": q.check_limit(args.limit), "continuation": args.after}
    if hasattr(args, "since"):
        paging["time_range"] = q.time_range(args.since, args.until)
    if command == ("timeline", None):
        columns = TIMELINE_COLUMNS + (DETAIL_COLUMNS if args.details else [])
        return (q.timeline(store, resources=args.resource, actions=args.types, label=args.label, key=args.key,
                           status=args.status, **paging), columns, "nothing recorded")
    if command == ("redis", "caches"):
        return q.Page(q.list_resources(store, q.REDIS_CACHE)), RESOURCE_COLUMNS, "no cache recorded yet"
    if command == ("redis", "ops"):
        return (q.cache_operations(store, args.cache, operation=args.operation, status=args.status, **paging),
                OPERATION_COLUMNS, "no operations")
    if command == ("redis", "failures"):
        return (q.failed_operations(store, caches=args.cache, **paging), OPERATION_COLUMNS,
                "no failed operations")
    if command == ("redis", "last-scaling"):
        return q.last_scaling(store, **paging), SCALING_COLUMNS, "no cache recorded yet"
    if command == ("redis", "history"):
        return q.history(store, q.REDIS_CACHE, args.cache, **paging), TIMELINE_COLUMNS, "nothing recorded"
    if command == ("appconfig", "store-changes"):
        return (q.control_plane_history(store, q.APP_CONFIGURATION_STORE, args.store, **paging),
                TIMELINE_COLUMNS, "no control-plane changes")
    if command == ("appconfig", "stores"):
        return (q.Page(q.list_resources(store, q.APP_CONFIGURATION_STORE)), RESOURCE_COLUMNS,
                "no store recorded yet")
    if command == ("appconfig", "history"):
        return q.key_history(store, args.store, args.key, label=args.label, **paging), CHANGE_COLUMNS, (
            "no changes of this key")
    if command == ("appconfig", "changes"):
        return (q.store_changes(store, args.store, change=args.change,
                                include_snapshots=not args.no_snapshots, **paging),
                CHANGE_COLUMNS, "no changes")
    if command == ("appconfig", "keys"):
        return (q.current_keys(store, args.store, include_deleted=args.deleted, prefix=args.prefix, **paging),
                KEY_COLUMNS, "no keys")
    if command == ("appconfig", "snapshots"):
        return q.snapshot_events(store, args.store, snapshot=args.snapshot, **paging), CHANGE_COLUMNS, (
            "no snapshot events")
    raise AssertionError(command)


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.storage:
        os.environ[STORAGE_SETTING] = args.storage
    if args.table_prefix is not None:
        os.environ[PREFIX_SETTING] = args.table_prefix
    # azure-identity logs every credential it tried at WARNING; the error below says what to do.
    logging.getLogger("azure.identity").setLevel(logging.ERROR)
    try:
        from eventaudit.storage import get_store, reset_store

        reset_store()
        if args.area in ("appconfig", "config") and getattr(args, "command", None) in values_cli.COMMANDS:
            return values_cli.run(args, get_store(), out, err)
        page, columns, nothing = run(args, get_store())
    except q.InvalidQuery as exc:
        return fail(err, exc, EXIT_BAD_INPUT)
    except q.UnknownResource as exc:
        return fail(err, exc, EXIT_UNKNOWN)
    except TransientStorageError as exc:
        return fail(err, exc, EXIT_TRY_AGAIN)
    except AuditError as exc:  # settings, storage refusals, a store the value commands could not read
        return fail(err, exc, EXIT_FIX)
    except BrokenPipeError:
        return EXIT_ANSWERED  # the reader stopped early (`| head`): what it read was answered
    try:
        write(out, page, columns, nothing, args)
    except BrokenPipeError:
        pass  # the reader stopped early (`| head`): what it read was answered
    return EXIT_ANSWERED


def fail(err: TextIO, exc: Exception, code: int) -> int:
    print(f"{PROG}: error: {exc}", file=err)
    return code


def write(out: TextIO, page: Any, columns: Sequence[Column], nothing: str, args: argparse.Namespace) -> None:
    if args.json:
        json.dump(page.to_dict(), out, ensure_ascii=False, indent=2)
        print(file=out)
        return
    if not page.items:
        print(f"({nothing}{range_note(args)})", file=out)
        return
    print(format_table(columns, page.items), file=out)
    if page.continuation:
        print(f"\n{len(page.items)} rows; more with: --after {page.continuation}", file=out)
    skipped = getattr(page, "extra", {}).get("skipped")
    if skipped:
        print("\nnot read: " + "; ".join(f"{kind} ({why})" for kind, why in skipped.items()), file=out)


def range_note(args: argparse.Namespace) -> str:
    parts = [f"since {args.since}" if getattr(args, "since", None) else "",
             f"until {args.until}" if getattr(args, "until", None) else ""]
    text = " ".join(p for p in parts if p)
    return f" {text}" if text else ""


if __name__ == "__main__":
    sys.exit(main())
