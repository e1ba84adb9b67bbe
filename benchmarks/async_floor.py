"""The floor again with the async Table client (azure.data.tables.aio over aiohttp).

Measured to settle whether an `async def` trigger on the async client could lift the concurrent
figure: if plain async upserts, 32 in flight on one event loop, scale no better than the threaded
floor, no async version of the app can. aiohttp is a benchmark-only dependency (requirements-dev).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableServiceClient

from benchmarks.harness import Run, Stopwatch
from eventaudit.storage.client import RETRY_OPTIONS, TIMEOUTS


def async_floor_runs(connection_string: str, table: str, chunks: list[list[dict[str, Any]]],
                     in_flight: int) -> tuple[list[Run], list[Run]]:
    """Plain async upserts of each chunk, one at a time and then `in_flight` at once, alternately."""
    return asyncio.run(_runs(connection_string, table, chunks, in_flight))


async def _runs(connection_string: str, table: str, chunks: list[list[dict[str, Any]]],
                in_flight: int) -> tuple[list[Run], list[Run]]:
    async with TableServiceClient.from_connection_string(connection_string, **RETRY_OPTIONS,
                                                         **TIMEOUTS) as service:
        client = service.get_table_client(table)
        gate = asyncio.Semaphore(in_flight)

        async def upsert(entity: dict[str, Any]) -> None:
            async with gate:
                await client.upsert_entity(entity, mode=UpdateMode.REPLACE)

        async def one_at_a_time(entities: list[dict[str, Any]]) -> None:
            for entity in entities:
                await client.upsert_entity(entity, mode=UpdateMode.REPLACE)

        async def all_at_once(entities: list[dict[str, Any]]) -> None:
            await asyncio.gather(*(upsert(entity) for entity in entities))

        await all_at_once(chunks[0][:in_flight])  # warm: the pool's connections are open
        sequential, concurrent = [], []
        for entities in chunks:
            sequential.append(await _timed(len(entities), one_at_a_time(entities)))
            concurrent.append(await _timed(len(entities), all_at_once(entities)))
        return sequential, concurrent


async def _timed(count: int, work: Awaitable[None]) -> Run:
    watch = Stopwatch()
    await work
    return watch.stop(count)
