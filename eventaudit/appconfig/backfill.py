"""Record every revision a store still retains (`audit-log appconfig backfill <store>`).

History that starts before the subscription: the store's revisions, newest first, page by page,
each written as a row of AppConfigurationRevisions with Source "backfill". Rows are keyed by the
revision like live capture's, so a second run, or one overlapping live capture, adds nothing twice:
whoever recorded a revision first keeps it. Throttling (429) is honoured by waiting retry-after-ms
and asking again.

The store's daily request budget (AUDIT_APPCONFIG_DAILY_REQUESTS) is shared with the live capture, so
a backfill of a large history cannot take a Free store's day: a run sends at most what is left of
today's budget (or `max_requests`, which may be more: the operator's explicit choice), counts its
requests as it goes, and stops when the cap is reached. Where it stopped is kept in the store's
capture state, so the next run goes on from there (a finished run clears it: the next one starts from
the newest revision again).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from eventaudit.appconfig import pending as pending_rows
from eventaudit.appconfig import records
from eventaudit.appconfig.client import BadRequest, BudgetSpent, Listing, Meter, Throttled, pages
from eventaudit.appconfig.settings import BUDGET_SETTING, CaptureSettings, Redaction
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
    cap: int = 0  # requests this run may send
    budget: int = 0  # the store's daily budget (capture and backfill together)
    left: int = 0  # of today's budget, after this run (negative: --max-requests spent beyond it)
    resumed: bool = False  # went on from where an earlier run stopped
    finished: bool = False  # reached the end of the listing
    stopped: str | None = None  # why it stopped before the end of the listing
    note: str | None = None  # anything else the operator should know
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
    restart: bool = False,
    progress: Callable[[BackfillProgress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> BackfillProgress:
    """Record every revision the store lists, within a request cap (default: what is left of the
    store's budget today); `pace` seconds between pages leaves room to its apps; `restart` ignores
    where an earlier run stopped."""
    report = BackfillProgress(store_name, redaction=settings.redaction, budget=settings.daily_requests)
    started = time.perf_counter()
    day = now().strftime("%Y-%m-%d")
    _register(store, store_name, resource_id)
    state = pending_rows.read_state(store, store_name)
    report.left = settings.daily_requests - state.used_on(day)
    report.cap = max_requests if max_requests is not None else max(report.left, 0)
    resume = None if restart else state.backfill_next
    report.resumed = resume is not None
    meter = Meter(report.cap)
    listing = pages(client, "/revisions", meter, store_name=store_name, resume=resume)
    buffered: list[dict[str, Any]] = []
    counted = 0  # requests already added to the store's state

    def checkpoint() -> None:
        """Write what was read, count the requests sent, and note where the listing goes on."""
        nonlocal counted
        written, existing = records.write(store, buffered)
        report.written += written
        report.existing += existing
        buffered.clear()
        used = _count(store, store_name, day, meter.sent - counted, listing.url)
        report.left = settings.daily_requests - used
        counted = meter.sent

    try:
        try:
            _read_all(listing, report, buffered, checkpoint, meter, started, pace, progress, sleep)
        except BadRequest:
            if not report.resumed or report.pages:
                raise
            # the store no longer takes the link where the last run stopped: start from the newest again
            report.note = "the store refused the position the last run stopped at; started from the newest"
            listing = pages(client, "/revisions", meter, store_name=store_name)
            _read_all(listing, report, buffered, checkpoint, meter, started, pace, progress, sleep)
        report.finished = True
    except BudgetSpent:
        report.stopped = _why_stopped(report, max_requests, store_name)
    finally:
        checkpoint()  # what was read is kept, and counted, whatever stopped the listing
        report.requests = meter.sent
        report.seconds = time.perf_counter() - started
    return report


def _why_stopped(report: BackfillProgress, max_requests: int | None, store_name: str) -> str:
    if max_requests is not None:
        return f"stopped after --max-requests {max_requests}; run it again to go on from where it stopped"
    if report.cap == 0:
        spent = "is spent"
    else:
        spent = f"is reached ({report.cap} requests left for today when it started)"
    return (
        f"stopped: today's request budget for {store_name} ({report.budget}, {BUDGET_SETTING}; shared "
        f"with the live capture) {spent}. Run the same command again after 00:00 UTC to go on from where "
        f"it stopped, or now with --max-requests N to spend N more requests today (the live capture "
        f"then waits for tomorrow's budget)."
    )


def _read_all(listing: Listing, report: BackfillProgress, buffered: list[dict[str, Any]],
              checkpoint: Callable[[], None], meter: Meter, started: float, pace: float,
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
                    checkpoint()
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


def _count(store: AuditStore, store_name: str, day: str, sent: int, next_page: str | None) -> int:
    """Add `sent` requests to today's count and note where the listing goes on; the count after."""
    state = pending_rows.change_state(
        store,
        store_name,
        lambda s: replace(s, budget_day=day, used=s.used_on(day) + sent, backfill_next=next_page),
    )
    return state.used_on(day)
