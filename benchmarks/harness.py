"""Point the app at a benchmark's Azurite, and time runs with the CPU each process spent."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from benchmarks.counting import RequestLog, counting_store
from eventaudit import settings, storage
from eventaudit.storage import AuditStore
from tools.trigger import trigger_function


def new_prefix() -> str:
    """A fresh table prefix: every measurement starts from tables of its own."""
    return "b" + uuid.uuid4().hex[:10]


def install_app(connection_string: str, table_prefix: str,
                latency: float = 0.0) -> tuple[AuditStore, RequestLog]:
    """Make the trigger function write to `table_prefix` through a request-counting store."""
    os.environ[settings.STORAGE_SETTING] = connection_string
    os.environ[settings.PREFIX_SETTING] = table_prefix
    os.environ.pop(settings.ALLOWED_SOURCES_SETTING, None)
    storage.reset_store()
    log = RequestLog()
    store = counting_store(connection_string, table_prefix, log, latency)
    storage.use_store(store)
    trigger_function()  # index the app now, not inside the first timed event
    return store, log


@dataclass(frozen=True)
class Run:
    """One timed run: wall seconds, and CPU seconds of this process and of Azurite."""

    count: int
    wall: float
    python_cpu: float
    azurite_cpu: float
    machine_cpu: float  # every process on the machine, neighbours included

    @property
    def rate(self) -> float:
        return self.count / self.wall

    def busy(self) -> str:
        """How many cores each process kept busy: what bounds a concurrent run on 2 cores."""
        return (f"python {self.python_cpu / self.wall:.2f} + azurite {self.azurite_cpu / self.wall:.2f}"
                f" of {self.machine_cpu / self.wall:.2f} busy cores")


def azurite_process() -> psutil.Process | None:
    """The Node process of the Azurite this benchmark started (a child of this process)."""
    for child in psutil.Process().children(recursive=True):
        if "node" in child.name() or "azurite" in " ".join(child.cmdline()):
            return child
    return None


class Stopwatch:
    """Wall time and CPU of this process, of Azurite and of the machine, from start to stop."""

    def __init__(self) -> None:
        self._node = azurite_process()
        self._node_before, self._machine_before = _cpu(self._node), _machine_cpu()
        self._cpu_before = time.process_time()
        self._start = time.perf_counter()

    def stop(self, count: int) -> Run:
        wall = time.perf_counter() - self._start
        return Run(count, wall, time.process_time() - self._cpu_before, _cpu(self._node) - self._node_before,
                   _machine_cpu() - self._machine_before)


def timed(count: int, work: Callable[[], None]) -> Run:
    watch = Stopwatch()
    work()
    return watch.stop(count)


def _machine_cpu() -> float:
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _cpu(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return times.user + times.system
