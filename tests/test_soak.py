"""Soak: many events through one process; memory stays flat and nothing leaks.

CI-sized by default (3,000 events, checkpoint at 1,000); SOAK_EVENTS=20000 runs the full size.
Memory is this process's resident set, sampled after every chunk (the peak of the soak itself, not
of earlier tests in the same pytest process); descriptors and TCP connections are counted too.
"""

from __future__ import annotations

import gc
import itertools
import os
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil

from eventaudit.storage.client import POOL_SIZE
from tests.eventgen import EventFactory, endless_events, expected_rows, observed_rows
from tests.harness import report
from tools.trigger import deliver, trigger_function

EVENTS = int(os.environ.get("SOAK_EVENTS") or 3000)
CHECKPOINT = 1000
WARM_UP = 200  # connection pool, tables, imports: growth that happens once
CHUNK = 100
WORKERS = 8
MB = 1024 * 1024
# Growth allowed from the checkpoint to the end: a margin for allocator noise plus 512 B per event.
# Keeping a reference to each event (about 2 KiB of objects) exceeds it at any size (tried).
FIXED_MARGIN = 2 * MB
PER_EVENT = 512
SEED = 11


def test_memory_descriptors_and_connections_stay_flat(store, azurite, request):
    process = psutil.Process()
    events = stream()
    trigger_function()  # index once before the threads start

    def run(count: int, pool: ThreadPoolExecutor) -> float:
        """Deliver `count` more events; the highest RSS seen after each chunk."""
        peak = 0.0
        for _ in range(0, count, CHUNK):
            list(pool.map(deliver, itertools.islice(events, CHUNK)))
            peak = max(peak, process.memory_info().rss)
        return peak

    def descriptors() -> tuple[int, int]:
        connections = [c for c in process.net_connections("tcp") if c.raddr and c.raddr.port == azurite.port]
        return process.num_fds(), len(connections)

    started = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        run(WARM_UP, pool)
        gc.collect()
        run(CHECKPOINT - WARM_UP, pool)
        gc.collect()
        at_checkpoint = process.memory_info().rss
        fds_checkpoint, connections_checkpoint = descriptors()
        peak_after = run(EVENTS - CHECKPOINT, pool)
        gc.collect()
        at_end = process.memory_info().rss
        fds_end, connections_end = descriptors()
    elapsed = time.monotonic() - started

    report(request, f"{EVENTS} events in {elapsed:.1f} s ({EVENTS / elapsed:.0f}/s, {WORKERS} workers): RSS "
                    f"{at_checkpoint / MB:.1f} MB at {CHECKPOINT}, {at_end / MB:.1f} MB at {EVENTS} "
                    f"(peak after the checkpoint {peak_after / MB:.1f} MB); fds {fds_checkpoint} -> {fds_end}; "
                    f"connections to storage {connections_checkpoint} -> {connections_end}")
    allowed = FIXED_MARGIN + PER_EVENT * (EVENTS - CHECKPOINT)
    assert peak_after - at_checkpoint < allowed, f"memory grew by {(peak_after - at_checkpoint) / MB:.1f} MB"
    assert fds_end <= fds_checkpoint + 4
    assert connections_end <= min(POOL_SIZE, WORKERS + 4)
    # And the load was real: every event landed, once (the same seed makes the same events again,
    # so the expectation is not held in memory during the run).
    assert observed_rows(store) == expected_rows(itertools.islice(stream(), EVENTS))


def stream() -> Iterator[dict[str, Any]]:
    return endless_events(EventFactory(random.Random(SEED), keys_per_store=500))
