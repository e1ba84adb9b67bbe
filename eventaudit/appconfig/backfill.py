"""Record every revision a store still retains (`audit-log appconfig backfill <store>`).

History that starts before the subscription: the store's revisions, newest first, page by page,
each written as a row of AppConfigurationRevisions with Source "backfill". Rows are keyed by the
revision like live capture's, so a second run, or one overlapping live capture, adds nothing twice:
whoever recorded a revision first keeps it. Throttling (429) is honoured by waiting retry-after-ms
and asking again; the requests made count against the store's daily capture budget.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from eventaudit.appconfig import pending as pending_rows
from eventaudit.appconfig import records
from eventaudit.appconfig.client import BudgetSpent, Listing, Meter, Throttled, pages
from eventaudit.appconfig.settings import CaptureSettings, Redaction
from eventaudit.resource_ids import ResourceId
from eventaudit.storage import AuditStore

# Rows gathered before writing: 16 pages, so each of a store's 16 partitions gets about one full
# transaction (100 rows) rather than a few rows per page.
BUFFER_ROWS = 1600
MAX_WAITS = 20  # 429s in a row before giving up (each waited out)


@dataclass
class BackfillProgress:
    store: str
    pages: int = 0
    revisions: int = 0
    written: int = 0  # new rows
    existing: int = 0  # revisions recorded already (by live capture or an earlier backfill)
    requests: int = 0
    throttled: int = 0
    seconds: float = 0.0
    stopped: str | None = None  # why it stopped before the end of the listing
    redaction: Redaction = field(default_factory=Redaction, repr=False)

    @property
    def rate(self) -> float:
        return self.revisions / self.seconds if self.seconds else 0.0


def backfill(
    store: AuditStore,
    settings: CaptureSettings,
    store_name: str,
    client: Any,
    *,
    resource_id: str | None = None,
    pace: float = 0.0,
    max_requests: int | None = None,
    progress: Callable[[BackfillProgress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BackfillProgress:
    """Record every revision the store lists; `pace` seconds between pages leaves room to its apps."""
    report = BackfillProgress(store_name, redaction=settings.redaction)
    started = time.perf_counter()
    _register(store, store_name, resource_id)
    meter = Meter(max_requests if max_requests is not None else 1 << 62)
    listing = pages(client, "/revisions", meter, store_name=store_name)
    buffered: list[dict[str, Any]] = []

    def flush() -> None:
        written, existing = records.write(store, buffered)
        report.written += written
        report.existing += existing
        buffered.clear()

    try:
        _read_all(listing, report, buffered, flush, meter, started, pace, progress, sleep)
    except BudgetSpent:
        report.stopped = f"stopped after --max-requests {max_requests}; run it again to go on"
    finally:
        if buffered:
            flush()  # what was read is kept, whatever stopped the listing
        report.requests = meter.sent
        report.seconds = time.perf_counter() - started
        _count(store, store_name, meter.sent)
    return report


def _read_all(listing: Listing, report: BackfillProgress, buffered: list[dict[str, Any]],
              flush: Callable[[], None], meter: Meter, started: float, pace: float,
              progress: Callable[[BackfillProgress], None] | None, sleep: Callable[[float], None]) -> None:
    throttled_in_a_row = 0
    while True:
        try:
            for page in listing:
                throttled_in_a_row = 0
                buffered += [records.captured_entity(report.store, revision, source=records.BACKFILL,
                                                     redaction=report.redaction) for revision in page]
                report.pages += 1
                report.revisions += len(page)
                if len(buffered) >= BUFFER_ROWS:
                    flush()
                report.requests = meter.sent
                report.seconds = time.perf_counter() - started
                if progress:
                    progress(report)
                if pace and listing.url:
                    sleep(pace)
            return
        except Throttled as exc:  # wait as asked, then ask for the same page again
            throttled_in_a_row += 1
            report.throttled += 1
            if throttled_in_a_row > MAX_WAITS:
                raise
            sleep(exc.retry_after.total_seconds())


def _register(store: AuditStore, store_name: str, resource_id: str | None) -> None:
    """So readers know the store even if no event of it has arrived yet."""
    from azure.core.exceptions import ResourceNotFoundError

    from eventaudit.resource_ids import parse_resource_id
    from eventaudit.storage.tables import APP_CONFIGURATION_STORE, AUDIT_RESOURCES

    try:
        store.call(AUDIT_RESOURCES, lambda c: c.get_entity(APP_CONFIGURATION_STORE, store_name.lower()))
        return  # known already, with what its events said
    except ResourceNotFoundError:
        pass
    if resource_id:
        resource = parse_resource_id(
            resource_id, namespace="Microsoft.AppConfiguration", type_="configurationStores"
        )
    else:
        resource = ResourceId("", "", "Microsoft.AppConfiguration", "configurationStores", store_name)
    store.register_resource(APP_CONFIGURATION_STORE, resource, resource_id)


def _count(store: AuditStore, store_name: str, sent: int) -> None:
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    pending_rows.change_state(
        store, store_name, lambda s: replace(s, budget_day=day, used=s.used_on(day) + sent)
    )
