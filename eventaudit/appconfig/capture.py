"""The capture pass: find the value of every pending key-value change in its store's revisions.

Run by the timer function `capture_values` (and `audit-log appconfig capture`). Per store with
pending work, within that store's daily request budget and never before a 429's retry-after-ms;
the timer's passes are paced so that the budget lasts the UTC day (next_pass), unless many changes
wait (then one page serves many):

1. The values. A few keys (at most 5): their revisions, all labels (`key=a,b,c`), newest first; one
   page usually holds the changed value and the one before it. Many keys: the whole store's
   revisions (`key=*`), newest first, page after page until every pending etag is found; revisions
   are listed by time, so the scan stops once it is older than the oldest event still unmatched.
2. The value just before each change, when step 1 did not reach it: the key-values as they were
   just before the change (`/kv` with Accept-Datetime), five keys a request, or the whole store in
   pages when more than 100 are needed (a bulk import).

Every revision found becomes a row (eventaudit.appconfig.records); the pending row goes once its
value (and, for a modification, the value before) is recorded. A revision the store does not list
is recorded as such: "not retained" when its event is older than the shortest retention any tier
keeps by default (7 days, Free and Developer), "not found" after a few passes otherwise (a younger
revision should still be listed: its absence is unexplained, so it is retried, then reported). A
change still pending after AUDIT_APPCONFIG_RETENTION_DAYS is "not retained" without asking.
Nothing is dropped silently: what cannot be read now (budget spent, 429, no role, unreachable) stays
pending, is shown to readers and logged, and is retried on a later pass; the problem of a store is
logged once, when it starts.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from eventaudit.appconfig import pending as pending_rows
from eventaudit.appconfig import records
from eventaudit.appconfig.client import (
    MAX_KEYS_PER_FILTER,
    BudgetSpent,
    CaptureProblem,
    Meter,
    NotAllowed,
    client_for,
    key_filter,
    pages,
)
from eventaudit.appconfig.pending import BEFORE_STAGE, PendingCapture, StoreState
from eventaudit.appconfig.records import NOT_FOUND, NOT_RETAINED, Revision
from eventaudit.appconfig.settings import CaptureSettings, load_capture_settings
from eventaudit.storage import AuditStore
from eventaudit.storage.tables import APP_CONFIGURATION_REVISIONS

logger = logging.getLogger(__name__)

MAX_PENDING_PER_PASS = 50_000
# Revisions are matched to events by etag; an event is published right after its change, so its
# revision is no older than the event time less this slack (clock skew, publishing delay).
EVENT_SLACK = dt.timedelta(minutes=10)
# Every store keeps revisions at least this long by default: 7 days on Free and Developer, 30 on
# Standard and Premium (ARM defaultKeyValueRevisionRetentionPeriodInSeconds: 604800 for Free, 2592000
# for Standard and Premium). A revision not listed although its event is younger is looked for again
# (MAX_ATTEMPTS passes), then reported NotFound; an older one has outlived the store's retention.
RETAINED_AT_LEAST = dt.timedelta(days=7)
MAX_ATTEMPTS = 3
SNAPSHOT_ABOVE = 100  # more values-before than this: read the store's key-values at once
# Passes are paced by the budget (next_pass), except for a store with this many changes waiting: one
# page of revisions then serves many changes, so reading now costs little per change.
PACE_UNLESS_BACKLOG = 100
PASS_SECONDS = 240  # stay well inside the Functions timeout (host.json: 5 minutes)
ABSENT = ""  # PreviousETag when the store shows no value just before (a new key-value, or expired)

ClientFactory = Callable[[str], Any]


@dataclass
class StoreOutcome:
    store: str
    requests: int = 0
    recorded: int = 0  # revision rows written (values and values before)
    finished: int = 0  # pending captures done
    deferred: int = 0  # pending captures left for a later pass
    problem: str | None = None


@dataclass
class PassReport:
    stores: list[StoreOutcome] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.stores)

    @property
    def finished(self) -> int:
        return sum(s.finished for s in self.stores)

    @property
    def deferred(self) -> int:
        return sum(s.deferred for s in self.stores)

    def summary(self) -> str:
        if not self.stores:
            return "no pending captures"
        return "; ".join(
            f"{s.store}: {s.finished} captured or reported, {s.deferred} deferred, "
            f"{s.requests} requests" + (f" ({s.problem})" if s.problem else "")
            for s in self.stores
        )


def run_pass(
    store: AuditStore,
    settings: CaptureSettings | None = None,
    *,
    clients: ClientFactory | None = None,
    now: dt.datetime | None = None,
    paced: bool = True,
) -> PassReport:
    """One capture pass over every store with pending work; `paced`: skip a store whose last pass was
    too recent for its budget to last the day (the timer's passes are; one asked for by hand is not)."""
    settings = settings or load_capture_settings()
    clients = clients or (lambda name: client_for(settings, name))
    started = time.monotonic()
    report = PassReport()
    by_store: dict[str, list[PendingCapture]] = {}
    for item in pending_rows.read_pending(store, MAX_PENDING_PER_PASS):
        by_store.setdefault(item.store.lower(), []).append(item)
    for items in by_store.values():
        if time.monotonic() - started > PASS_SECONDS:
            report.stores.append(StoreOutcome(items[0].store, deferred=len(items), problem="pass time up"))
            continue
        report.stores.append(
            capture_store(store, settings, items, clients, now or dt.datetime.now(dt.UTC), paced=paced)
        )
    if report.stores:
        logger.info("Capture pass: %s", report.summary())
    return report


def capture_store(
    store: AuditStore,
    settings: CaptureSettings,
    items: list[PendingCapture],
    clients: ClientFactory,
    now: dt.datetime,
    *,
    paced: bool = True,
) -> StoreOutcome:
    name = items[0].store
    outcome = StoreOutcome(name)
    items = _give_up_on_old(store, settings, items, now, outcome)
    if not items:
        return outcome
    state = pending_rows.read_state(store, name)
    day = now.strftime("%Y-%m-%d")
    allowed = settings.daily_requests - state.used_on(day)
    if state.not_before and state.not_before > now:
        return _defer(outcome, items, state.problem or f"waiting until {state.not_before:%H:%M:%S}Z")
    if allowed <= 0:
        logger.warning(
            "Capture of %s deferred: today's %d requests are spent (%s); %d changes wait",
            name,
            settings.daily_requests,
            "AUDIT_APPCONFIG_DAILY_REQUESTS",
            len(items),
        )
        return _defer(outcome, items, "today's request budget is spent")
    due = next_pass(state, settings, now)
    if paced and due > now and len(items) < PACE_UNLESS_BACKLOG:
        return _defer(outcome, items, f"paced: next pass after {due:%H:%M:%S}Z, so the budget lasts the day")
    meter = Meter(allowed)
    search = Search(items)
    problem: CaptureProblem | None = None
    try:
        client = clients(name)
        for item in items:
            if item.sync_token:
                client.update_sync_token(item.sync_token)  # read at least what the event saw
        search.run(client, meter, name, previous=lambda i: _recorded(store, i))
    except BudgetSpent:
        logger.warning(
            "Capture of %s stopped: today's request budget (%d) is spent; the rest waits",
            name,
            settings.daily_requests,
        )
    except CaptureProblem as exc:
        problem = exc
    outcome.requests = meter.sent
    _record(store, settings, search, now, outcome)
    _save_state(store, name, now, day, meter.sent, problem)
    if problem is not None:
        outcome.problem = str(problem)
    return outcome


class Search:
    """What one pass learns about one store's pending changes, kept as it goes (a pass may stop at
    any request: what was found before is still recorded)."""

    def __init__(self, items: list[PendingCapture]) -> None:
        self.items = items
        self.values = [i for i in items if i.stage != BEFORE_STAGE]
        self.found: dict[tuple[str, str, str], Revision] = {}  # (key, label, etag) -> the revision
        self.before: dict[tuple[str, str, str], Revision | None] = {}  # ... -> value before (None: none)
        self.exhausted = False  # the listing ended: everything it could show was seen
        self.oldest_seen: dt.datetime | None = None

    def run(
        self,
        client: Any,
        meter: Meter,
        store_name: str,
        previous: Callable[[PendingCapture], Revision | None],
    ) -> None:
        awaiting = [(revision, self.oldest_seen) for revision in self._scan_values(client, meter, store_name)]
        for item in self.items:
            if item.stage == BEFORE_STAGE:  # its value was recorded on an earlier pass, by another scan
                revision = _found_earlier(item) or previous(item)
                if revision is not None:
                    self.found[(*item.kv, item.etag)] = revision
                    awaiting.append((revision, item.scanned_from))
        self._values_before(client, meter, store_name, awaiting)

    def _scan_values(self, client: Any, meter: Meter, store_name: str) -> list[Revision]:
        """Step 1; returns the found revisions whose value before is still unknown."""
        wanted = {(*i.kv, i.etag): i for i in self.values}
        if not wanted:
            return []
        need_before = {k for k, i in wanted.items() if i.change == "Modified"}
        keys = sorted({i.key for i in self.values})
        few = len(keys) <= MAX_KEYS_PER_FILTER
        awaiting: dict[tuple[str, str], tuple[str, str, str]] = {}  # kv -> the change awaiting its before
        for page in pages(
            client, "/revisions", meter, key=key_filter(keys) if few else "*", store_name=store_name
        ):
            for revision in page:
                waiting = awaiting.pop(revision.kv, None)
                if waiting is not None:
                    self.before[waiting] = revision
                ident = (*revision.kv, revision.etag)
                if ident in wanted and ident not in self.found:
                    self.found[ident] = revision
                    if ident in need_before:
                        awaiting[revision.kv] = ident
            if page:
                self.oldest_seen = page[-1].last_modified
            unmatched = [i for k, i in wanted.items() if k not in self.found]
            if not unmatched and (not awaiting or not few):
                break
            if (
                unmatched
                and self.oldest_seen
                and all(i.event_time - EVENT_SLACK > self.oldest_seen for i in unmatched)
                and not (few and awaiting)
            ):
                break
        else:
            self.exhausted = True
        if self.exhausted:  # a key-value's oldest retained revision has no value before it
            for ident in awaiting.values():
                self.before[ident] = None
            return []
        return [self.found[ident] for ident in awaiting.values()]

    def covered(self, item: PendingCapture) -> bool:
        """Whether the listing reached back past the time this change's revision would have."""
        return self.exhausted or (
            self.oldest_seen is not None and item.event_time - EVENT_SLACK > self.oldest_seen
        )

    def _values_before(
        self,
        client: Any,
        meter: Meter,
        store_name: str,
        awaiting: list[tuple[Revision, dt.datetime | None]],
    ) -> None:
        """Step 2: each key-value as it was just before its found revision.

        `awaiting` pairs each revision with the time from which a scan listed every revision of its
        key-value (None: unknown). No revision of the key-value lies between that time and its own, so
        any instant in between shows the value before it. Revisions whose intervals share an instant
        are served together: one request for five keys, or pages of the whole store at that instant.
        """
        for share in _sharing_an_instant(awaiting):
            if len(share) > SNAPSHOT_ABOVE:
                groups = [share]
            else:
                groups = []
                for revision in sorted(share, key=lambda r: r.key):
                    if groups and len({r.key for r in groups[-1]} | {revision.key}) <= MAX_KEYS_PER_FILTER:
                        groups[-1].append(revision)
                    else:
                        groups.append([revision])
            for group in groups:
                # The instant just before the group's oldest revision: within every member's interval.
                at = min(r.last_modified for r in group if r.last_modified) - dt.timedelta(microseconds=1)
                keys = sorted({r.key for r in group})
                state: dict[tuple[str, str], Revision] = {}
                for page in pages(
                    client,
                    "/kv",
                    meter,
                    key="*" if len(group) > SNAPSHOT_ABOVE else key_filter(keys),
                    at=at,
                    store_name=store_name,
                ):
                    state.update((r.kv, r) for r in page)
                for revision in group:
                    self.before[(*revision.kv, revision.etag)] = state.get(revision.kv)


def _sharing_an_instant(awaiting: list[tuple[Revision, dt.datetime | None]]) -> list[list[Revision]]:
    """Revisions grouped so that, in each group, the instant just before the oldest lies within every
    member's unchanged interval (from its scan's start to the revision itself). The revisions one scan
    found form one group; revisions of earlier passes join a group their scans reached back to."""
    shares: list[tuple[dt.datetime, list[Revision]]] = []  # (the oldest revision's time, members)
    dated = [(r.last_modified, since or r.last_modified, r) for r, since in awaiting if r.last_modified]
    for modified, since, revision in sorted(dated, key=lambda entry: entry[0]):
        share = next((members for oldest, members in shares if since <= oldest), None)
        if share is None:
            shares.append((modified, [revision]))
        else:
            share.append(revision)
    return [members for _, members in shares]


def _found_earlier(item: PendingCapture) -> Revision | None:
    """The revision an earlier pass found for this change, as its pending row remembers it."""
    if item.revision_time is None:
        return None
    return Revision(item.key, item.label, item.etag, None, None, {}, False, item.revision_time)


def next_pass(state: StoreState, settings: CaptureSettings, now: dt.datetime) -> dt.datetime:
    """When the store's next pass may start: its last pass's requests later, at the pace that spreads
    the requests left today over the time left today (86400 / AUDIT_APPCONFIG_DAILY_REQUESTS seconds a
    request while the budget is spent evenly: 432 s by default)."""
    if state.last_pass is None or not state.last_pass_requests:
        return now
    tomorrow = now.astimezone(dt.UTC).date() + dt.timedelta(days=1)
    midnight = dt.datetime.combine(tomorrow, dt.time(), tzinfo=dt.UTC)
    left = settings.daily_requests - state.used_on(now.strftime("%Y-%m-%d"))
    if left <= 0:
        return midnight
    return state.last_pass + state.last_pass_requests * (midnight - now) / left


def _recorded(store: AuditStore, item: PendingCapture) -> Revision | None:
    """The revision row an earlier pass recorded for this change, as a Revision."""
    from azure.core.exceptions import ResourceNotFoundError

    from eventaudit.storage import keys

    try:
        entity = store.call(
            APP_CONFIGURATION_REVISIONS,
            lambda c: c.get_entity(item.partition, keys.revision_row_key(item.key, item.label, item.etag)),
        )
    except ResourceNotFoundError:
        return None
    modified = records.modified_time(entity)
    if modified is None:
        return None
    return Revision(item.key, item.label, item.etag, None, None, {}, False, modified)


def _record(
    store: AuditStore, settings: CaptureSettings, search: Search, now: dt.datetime, outcome: StoreOutcome
) -> None:
    rows: list[dict[str, Any]] = []
    done: list[PendingCapture] = []
    later: list[tuple[PendingCapture, dict[str, Any]]] = []
    for item in search.items:
        ident = (*item.kv, item.etag)
        revision = search.found.get(ident)
        if revision is not None:
            known_before = ident in search.before or item.change != "Modified"
            before = search.before.get(ident)
            if item.stage != BEFORE_STAGE:
                rows.append(
                    records.captured_entity(
                        item.store,
                        revision,
                        source=records.EVENT,
                        redaction=settings.redaction,
                        previous_etag=(before.etag if before else ABSENT) if ident in search.before else None,
                        event_time=item.event_time,
                    )
                )
            elif known_before:
                _set_previous(store, item, before)
            if before is not None:
                rows.append(
                    records.captured_entity(
                        item.store, before, source=records.BACKFILL, redaction=settings.redaction
                    )
                )
            if known_before:
                done.append(item)
            elif item.stage != BEFORE_STAGE:  # remember what the next pass needs to find the value before
                later.append((item, _awaiting_before(revision, search.oldest_seen)))
            else:
                later.append((item, {}))
        elif item.stage != BEFORE_STAGE and search.covered(item):
            attempts = item.attempts + 1
            if now - item.event_time > RETAINED_AT_LEAST:
                rows.append(
                    _placeholder(
                        item,
                        NOT_RETAINED,
                        "value no longer retained: the store lists no "
                        "revision with this etag, and the change is older than its retention",
                    )
                )
                done.append(item)
            elif attempts >= MAX_ATTEMPTS:
                rows.append(
                    _placeholder(
                        item, NOT_FOUND, f"the store listed no revision with this etag in {attempts} passes"
                    )
                )
                done.append(item)
            else:
                later.append((item, {"Attempts": attempts, "LastProblem": "revision not listed yet"}))
        else:
            later.append((item, {}))
    written, _ = records.write(store, rows)
    outcome.recorded += written
    pending_rows.finish(store, done)
    for item, changes in later:
        if changes:
            pending_rows.update(store, item, **changes)
    outcome.finished += len(done)
    outcome.deferred += len(later)


def _awaiting_before(revision: Revision, scanned_from: dt.datetime | None) -> dict[str, Any]:
    changes: dict[str, Any] = {"Stage": BEFORE_STAGE}
    if revision.last_modified is not None:
        changes["RevisionTime"] = revision.last_modified
    if scanned_from is not None:
        changes["ScannedFrom"] = scanned_from
    return changes


def _set_previous(store: AuditStore, item: PendingCapture, before: Revision | None) -> None:
    """Complete a row recorded on an earlier pass with the etag of the value just before it."""
    from azure.data.tables import UpdateMode

    from eventaudit.storage import keys

    entity = {
        "PartitionKey": item.partition,
        "RowKey": keys.revision_row_key(item.key, item.label, item.etag),
        "PreviousETag": before.etag if before else ABSENT,
    }
    store.call(APP_CONFIGURATION_REVISIONS, lambda c: c.update_entity(entity, mode=UpdateMode.MERGE))


def _placeholder(item: PendingCapture, status: str, reason: str) -> dict[str, Any]:
    logger.warning(
        "Value of %s/%s [%s] etag %s not captured: %s", item.store, item.key, item.label, item.etag, reason
    )
    return records.placeholder_entity(
        item.store, item.key, item.label, item.etag, status=status, reason=reason, event_time=item.event_time
    )


def _give_up_on_old(
    store: AuditStore,
    settings: CaptureSettings,
    items: list[PendingCapture],
    now: dt.datetime,
    outcome: StoreOutcome,
) -> list[PendingCapture]:
    """Changes pending longer than any store keeps revisions can never be captured: report them."""
    horizon = now - dt.timedelta(days=settings.retention_days)
    old = [i for i in items if i.event_time < horizon]
    if old:
        state = pending_rows.read_state(store, items[0].store)
        why = f" (the store could not be read: {state.problem})" if state.problem else ""
        rows = [
            _placeholder(
                i,
                NOT_RETAINED,
                f"value no longer retained: still not captured after {settings.retention_days} days{why}",
            )
            for i in old
        ]
        outcome.recorded += records.write(store, rows)[0]
        pending_rows.finish(store, old)
        outcome.finished += len(old)
    return [i for i in items if i.event_time >= horizon]


def _defer(outcome: StoreOutcome, items: Iterable[PendingCapture], why: str) -> StoreOutcome:
    outcome.deferred = len(list(items))
    outcome.problem = why
    return outcome


def _save_state(
    store: AuditStore, name: str, now: dt.datetime, day: str, sent: int, problem: CaptureProblem | None
) -> None:
    def change(state: StoreState) -> StoreState:
        used = state.used_on(day) + sent
        if problem is None:
            if state.problem:
                logger.info("Capture of %s works again (was: %s)", name, state.problem)
            return replace(
                state,
                budget_day=day,
                used=used,
                not_before=None,
                problem=None,
                problem_since=None,
                last_pass=now,
                last_pass_requests=sent,
            )
        message = str(problem)
        since = state.problem_since if state.problem == message else now
        if state.problem != message:  # reported once, when it starts (and again if it changes)
            log = logger.error if isinstance(problem, NotAllowed) else logger.warning
            log(
                "Capture of %s cannot proceed: %s; pending changes wait and are retried after %s",
                name,
                message,
                problem.retry_after,
            )
        return replace(
            state,
            budget_day=day,
            used=used,
            not_before=now + problem.retry_after,
            problem=message,
            problem_since=since,
            last_pass=now,
            last_pass_requests=sent,
        )

    pending_rows.change_state(store, name, change)
