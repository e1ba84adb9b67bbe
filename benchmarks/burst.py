"""A bulk `az appconfig kv import`: thousands of distinct keys of one store at once."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks import workload
from benchmarks.counting import max_partition_share
from benchmarks.harness import Run, install_app, new_prefix
from benchmarks.throughput import WORKERS, deliver_run


@dataclass(frozen=True)
class Burst:
    run: Run
    requests: int
    max_share: float  # largest share of all writes that landed in one partition
    hottest: str  # that partition, as <table>/<PartitionKey>


def measure_burst(connection_string: str, keys: int, workers: int = WORKERS) -> Burst:
    """Deliver `keys` KeyValueModified events of distinct keys with `workers` in flight, on new tables."""
    _, log = install_app(connection_string, new_prefix())
    run = deliver_run(workload.key_changes(keys), workers)
    requests = log.since(0)
    share, hottest = max_partition_share(requests)
    return Burst(run, len(requests), share, hottest)
