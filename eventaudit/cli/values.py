"""audit-log appconfig values / backfill / capture: a key's values from what to what, and filling them in.

audit-log appconfig values contoso Checkout:Timeout --label Production
audit-log appconfig values contoso Checkout:Timeout --at 2026-11-22T14:06Z
audit-log appconfig backfill contoso          # every revision the store still retains
audit-log appconfig capture                   # one capture pass now (the timer does this every minute)
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from eventaudit import queries as q
from eventaudit.appconfig.settings import BUDGET_SETTING, CONNECTION_STRINGS_SETTING, ENDPOINTS_SETTING

COMMANDS = ("values", "backfill", "capture")
INDENT = "    "


def add_commands(
    commands: Any,
    common: argparse.ArgumentParser,
    paged: argparse.ArgumentParser,
    ranged: argparse.ArgumentParser,
) -> None:
    values = commands.add_parser(
        "values",
        parents=[common, paged, ranged],
        help="one key's values: before -> after of every change, or at a time",
    )
    values.add_argument("store")
    values.add_argument("key")
    values.add_argument("--label", help='only this label ("" for no label; default: all labels)')
    values.add_argument("--at", metavar="TIME", help=f"the key as it was then: {q.TIME_HELP}")
    backfill = commands.add_parser(
        "backfill", parents=[common], help="record every revision the store still retains (safe to rerun)"
    )
    backfill.add_argument("store")
    backfill.add_argument(
        "--connection-string",
        help=f"the store's connection string (default: {CONNECTION_STRINGS_SETTING}, else your Entra login)",
    )
    backfill.add_argument(
        "--endpoint",
        help=f"the store's endpoint (default: {ENDPOINTS_SETTING}, else https://<store>.azconfig.io)",
    )
    backfill.add_argument("--resource-id", help="the store's resource id, kept in AuditResources")
    backfill.add_argument(
        "--pace",
        type=float,
        default=0.1,
        help="seconds between pages, to leave the store to its apps (default 0.1)",
    )
    backfill.add_argument(
        "--max-requests",
        type=int,
        metavar="N",
        help="send at most N requests (default: what is left of the store's daily budget today, "
        f"{BUDGET_SETTING}, shared with the live capture); more than is left spends beyond the budget, "
        "and the live capture then waits for tomorrow's",
    )
    backfill.add_argument(
        "--restart",
        action="store_true",
        help="start from the newest revision, not where an unfinished run stopped",
    )
    commands.add_parser(
        "capture",
        parents=[common],
        help="run one value capture pass now (not paced like the timer's, still within the daily budget)",
    )


def run(args: argparse.Namespace, store: Any, out: TextIO, err: TextIO) -> int:
    if args.command == "values":
        return _values(args, store, out)
    if args.command == "backfill":
        return _backfill(args, store, out, err)
    return _capture(args, store, out)


def _values(args: argparse.Namespace, store: Any, out: TextIO) -> int:
    if args.at:
        page = q.value_at(store, args.store, args.key, q.parse_time(args.at, name="at"), label=args.label)
        if args.json:
            return _dump(page.to_dict(), out)
        for item in page.items:
            print(f"{item.key} [{_label(item.label)}] at {q.ranges.iso(item.at)}: {item.state}", file=out)
            if item.revision is not None:
                print(f"{INDENT}value: {_shown(item.revision)}", file=out)
            print(f"{INDENT}{item.detail}", file=out)
        if not page.items:
            print("(nothing recorded for this key)", file=out)
        return 0
    page = q.value_history(
        store,
        args.store,
        args.key,
        label=args.label,
        limit=q.check_limit(args.limit),
        continuation=args.after,
        time_range=q.time_range(args.since, args.until),
    )
    if args.json:
        return _dump(page.to_dict(), out)
    problem = page.extra.get("capture", {}).get("problem")
    if problem:
        print(f"capture of {args.store} waits: {problem}\n", file=out)
    if not page.items:
        print("(no changes of this key recorded)", file=out)
    for item in page.items:
        when = q.ranges.iso(item.time) or "(no time)"
        source = "event" if item.event_id else "history"
        print(
            f"{when}  {item.change:<8}  {item.key} [{_label(item.label)}]  ({source}, {item.status})",
            file=out,
        )
        for line in _details(item):
            print(INDENT + line, file=out)
    if page.continuation:
        print(f"\nmore with: --after {page.continuation}", file=out)
    return 0


def _details(item: Any) -> list[str]:
    if item.status != "captured":
        return [item.status_detail or item.status]
    lines = []
    before = (
        _shown(item.before) if item.before else ("(none)" if item.before_known else "(not recorded)")
    )
    after = _shown(item.after) if item.after else "(deleted)"
    diff = item.diff
    if diff.kind in ("lines",):
        lines.append(f"before -> after: {diff.summary}")
        lines += [f"  {line}" for line in diff.lines]
    elif diff.kind in ("json", "feature_flag", "key_vault_reference") and diff.fields:
        lines.append(f"before -> after: {diff.summary}")
    else:
        lines.append(f"before: {before}")
        lines.append(f"after:  {after}")
        if diff.fields:
            lines.append(f"also: {'; '.join(f'{c.field}: {c.before} -> {c.after}' for c in diff.fields)}")
    return lines


def _shown(revision: Any) -> str:
    if revision.redacted:
        return f"(redacted; sha256 {revision.value_sha256[:12]}…)" if revision.value_sha256 else "(redacted)"
    if revision.value is None:
        return "(null)"
    text = json.dumps(revision.value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:199] + "…"


def _label(label: str) -> str:
    return "(no label)" if label == "" else label


def _backfill(args: argparse.Namespace, store: Any, out: TextIO, err: TextIO) -> int:
    from eventaudit.appconfig.backfill import backfill
    from eventaudit.appconfig.client import client_for
    from eventaudit.appconfig.settings import load_capture_settings

    settings = load_capture_settings()
    if args.endpoint:
        settings = _with(
            settings, endpoints={**settings.endpoints, args.store.lower(): args.endpoint.rstrip("/")}
        )
    if args.connection_string:
        endpoint = settings.endpoint(args.store).lower()
        settings = _with(
            settings, connection_strings={**settings.connection_strings, endpoint: args.connection_string}
        )
    client = client_for(settings, args.store, retries=3)
    show = _progress(err) if err.isatty() and not args.json else None
    report = backfill(
        store,
        settings,
        args.store,
        client,
        resource_id=args.resource_id,
        pace=args.pace,
        max_requests=args.max_requests,
        restart=args.restart,
        progress=show,
    )
    if show:
        print(file=err)
    if args.json:
        return _dump({k: v for k, v in vars(report).items() if k != "redaction"} | {"rate": report.rate}, out)
    if report.resumed and report.pages:
        print(f"{args.store}: went on from where the last run stopped", file=out)
    if report.note:
        print(f"{args.store}: {report.note}", file=out)
    print(
        f"{args.store}: {report.revisions} revisions read in {report.pages} pages "
        f"({report.seconds:.1f} s); {report.written} recorded, "
        f"{report.existing} were recorded already",
        file=out,
    )
    left = (
        f"{report.left} of today's {report.budget} left"
        if report.left >= 0
        else f"today's {report.budget} are spent, {-report.left} over as --max-requests allowed"
    )
    print(f"{report.requests} requests used; {left} (capture and backfill together, {BUDGET_SETTING})",
          file=out)
    if report.stopped:
        print(report.stopped, file=out)
    return 0


def _progress(err: TextIO) -> Any:
    spinner = "|/-\\"

    def show(report: Any) -> None:
        bar = "#" * min(report.pages, 30)
        err.write(
            f"\r{spinner[report.pages % 4]} [{bar:<30}] {report.revisions:,} revisions, "
            f"{report.written:,} new, page {report.pages}"
        )
        err.flush()

    return show


def _capture(args: argparse.Namespace, store: Any, out: TextIO) -> int:
    from eventaudit.appconfig.capture import run_pass

    report = run_pass(store, paced=False)  # asked for now: the daily budget still applies
    if args.json:
        return _dump({"stores": [vars(s) for s in report.stores]}, out)
    print(report.summary(), file=out)
    return 0


def _with(settings: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(settings, **changes)


def _dump(body: Any, out: TextIO) -> int:
    json.dump(body, out, ensure_ascii=False, indent=2, default=str)
    print(file=out)
    return 0
