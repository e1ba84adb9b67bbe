"""Running one Table Storage call per partition (or chunk) a few at once.

Table Storage scales by partition, so readers and writers that touch several partitions ask them in
parallel, but boundedly: the Functions host runs 32 events at once already, and one process shares
one connection pool.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

FAN_OUT = 8  # calls at once


def run_bounded(function: Callable[[T], R], items: list[T], *, name: str = "audit") -> list[R]:
    """function(item) for each item, at most FAN_OUT at once, results in order (threads named `name`)."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(FAN_OUT, len(items)), thread_name_prefix=name) as pool:
        return list(pool.map(function, items))
