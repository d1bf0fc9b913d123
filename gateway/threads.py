"""Bridges from blocking model code to the event loop.

Model calls never run on the loop. A blocking generator (llama tokens, Piper audio) runs in a
worker thread and hands items over one at a time; when the consumer stops (the turn was
cancelled), the worker sees the flag before its next item, closes the generator and returns.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
_SLOT_POLL_S = 0.05
"""How often a worker waiting for the consumer checks whether it was cancelled."""


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


async def iterate_in_thread(
    make_iterator: Callable[[], Iterator[T]],
    executor: Executor | None = None,
    lookahead: int = 0,
) -> AsyncIterator[T]:
    """Run ``make_iterator()`` in a worker thread and yield its items on the loop.

    ``lookahead`` > 0 bounds how far the worker may run ahead of the consumer: it then waits
    (off the loop) until the consumer takes an item. On a small CPU this is how the LLM yields
    the cores to speech synthesis while the consumer is busy synthesizing a sentence.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stopped = threading.Event()
    slots = threading.Semaphore(lookahead) if lookahead > 0 else None

    def wait_for_slot() -> bool:
        while slots is not None and not slots.acquire(timeout=_SLOT_POLL_S):
            if stopped.is_set():
                return False
        return not stopped.is_set()

    def hand_over(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            stopped.set()

    def work() -> None:
        try:
            iterator = make_iterator()
            try:
                for item in iterator:
                    if not wait_for_slot():
                        break
                    hand_over(item)
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except BaseException as error:
            hand_over(_Failure(error))
        else:
            hand_over(_DONE)

    loop.run_in_executor(executor, work)
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            if slots is not None:
                slots.release()
            yield item  # type: ignore[misc]
    finally:
        stopped.set()
