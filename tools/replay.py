"""Replay Event Grid JSON files into the audit tables, decoded and ingested as the trigger does.

Accepts a JSON array of events or one event, in the Event Grid or CloudEvents schema, and Event
Grid dead-letter blobs (their delivery fields are stripped). Replaying is idempotent: an event
already recorded is not recorded twice. Unlike the trigger, which raises when the worker's decoder
lost an event's type, source and time (so that Event Grid redelivers the original), replay keeps
such an event in UnhandledEvents with the reason: the file still holds the original.

    python -m tools.replay samples/events/                  # uses AUDIT_STORAGE from the environment
    python -m tools.replay --storage "UseDevelopmentStorage=true" deadletter/*.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventaudit.errors import AuditError
from eventaudit.events import from_trigger
from eventaudit.ingest import Outcome, ingest
from eventaudit.settings import PREFIX_SETTING, STORAGE_SETTING, current_settings
from eventaudit.storage import get_store, reset_store
from tools.trigger import decode

# Fields Event Grid adds next to the event in a dead-letter blob, lower-cased: CloudEvents blobs spell
# them in lower case (deadletterreason, ...), Event Grid schema blobs in camel case.
DEAD_LETTER_FIELDS = frozenset({
    "deadletterreason", "deliveryattempts", "lastdeliveryoutcome", "lasthttpstatuscode",
    "publishtime", "lastdeliveryattempttime", "deliveryresult",
})


@dataclass
class Report:
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)


def load_events(paths: Iterable[Path]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, event) for every event in the files, folders searched for *.json."""
    for path in paths:
        files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        for file in files:
            try:
                content = json.loads(file.read_text(encoding="utf-8-sig"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValueError(f"{file}: not a JSON file: {exc}") from exc
            items = content if isinstance(content, list) else [content]
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    raise ValueError(f"{file}[{index}]: expected an event object, got {type(item).__name__}")
                yield f"{file}[{index}]", strip_dead_letter_fields(item)


def strip_dead_letter_fields(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key.lower() not in DEAD_LETTER_FIELDS}


class _OutcomeCollector(logging.Handler):
    """Counts ingest's outcome records of the current thread's event."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        outcome = getattr(record, "outcome", None)
        if isinstance(outcome, Outcome):
            self.local.result = (outcome, getattr(record, "reason", None))


def replay(events: Iterable[tuple[str, dict[str, Any]]], *, workers: int = 4, attempts: int = 3,
           report: Report | None = None) -> Report:
    """Deliver every event; a failing one is retried with backoff, as Event Grid would."""
    report = report or Report()
    collector = _OutcomeCollector()
    ingest_logger = logging.getLogger(Outcome.__module__)
    ingest_logger.addHandler(collector)
    ingest_logger.setLevel(logging.INFO)

    def one(item: tuple[str, dict[str, Any]]) -> None:
        where, event = item
        for attempt in range(1, attempts + 1):
            collector.local.result = None
            try:
                ingest(from_trigger(decode(event)), get_store(), current_settings().allowed_sources)
            except (AuditError, ValueError, TypeError) as exc:
                if attempt == attempts:
                    report.failures.append(f"{where} id={event.get('id')!r}: {type(exc).__name__}: {exc}")
                    return
                time.sleep(0.5 * 2 ** (attempt - 1))
                continue
            outcome, reason = collector.local.result or (Outcome.RECORDED, None)
            report.outcomes[outcome.value] += 1
            if reason:
                report.reasons[reason] += 1
            return

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            list(pool.map(one, events))
    finally:
        ingest_logger.removeHandler(collector)
    return report


def print_report(report: Report, out: Any = None) -> None:
    out = out or sys.stdout
    total = sum(report.outcomes.values()) + report.failed
    print(f"{total} events: {report.outcomes['recorded']} recorded, {report.outcomes['unhandled']} "
          f"kept in UnhandledEvents, {report.failed} failed", file=out)
    for reason, count in report.reasons.most_common():
        print(f"  unhandled x{count}: {reason}", file=out)
    for failure in report.failures:
        print(f"  FAILED {failure}", file=out)


def configure_logging(verbose: bool) -> None:
    """Log lines on stderr: every event with --verbose, else only errors (the report says the rest)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setLevel(logging.INFO if verbose else logging.ERROR)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="JSON files or folders of *.json")
    parser.add_argument("--storage", help=f"connection string (default: the {STORAGE_SETTING} setting)")
    parser.add_argument("--prefix", help=f"table name prefix (default: the {PREFIX_SETTING} setting)")
    parser.add_argument("--workers", type=int, default=4, help="events in flight at once (default 4)")
    parser.add_argument("--verbose", action="store_true", help="log every event")
    args = parser.parse_args(argv)
    if args.storage:
        os.environ[STORAGE_SETTING] = args.storage
    if args.prefix is not None:
        os.environ[PREFIX_SETTING] = args.prefix
    reset_store()
    configure_logging(args.verbose)
    try:
        events = list(load_events(args.paths))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = replay(events, workers=args.workers)
    print_report(report)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
