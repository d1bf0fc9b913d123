"""The thread bridge: bounded lookahead, errors, and stopping the worker."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from gateway.threads import iterate_in_thread


async def test_worker_never_runs_more_than_lookahead_ahead() -> None:
    consumed = 0
    gaps: list[int] = []

    def produce() -> Iterator[int]:
        for index in range(40):
            gaps.append(index - consumed)
            yield index

    received = []
    async for item in iterate_in_thread(produce, lookahead=3):
        received.append(item)
        await asyncio.to_thread(sum, range(50_000))  # a consumer with real work to do
        consumed += 1
    assert received == list(range(40))
    assert max(gaps) <= 3 + 1


async def test_stopping_early_closes_the_worker_generator() -> None:
    closed = threading.Event()

    def produce() -> Iterator[int]:
        try:
            index = 0
            while True:
                yield index
                index += 1
        finally:
            closed.set()

    stream = iterate_in_thread(produce, lookahead=2)
    async for item in stream:
        if item == 5:
            break
    await stream.aclose()
    assert await asyncio.to_thread(closed.wait, 5)


async def test_worker_errors_reach_the_consumer() -> None:
    def produce() -> Iterator[int]:
        yield 1
        raise RuntimeError("model fell over")

    with pytest.raises(RuntimeError, match="model fell over"):
        async for _ in iterate_in_thread(produce):
            pass
