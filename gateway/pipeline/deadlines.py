"""Bounds on how long a stage may keep the caller waiting.

A remote stage has its HTTP timeouts; an in-process one (Whisper, llama.cpp, Piper) could hang on
a bad input or a stuck thread and leave the caller in silence until they hang up. Each result of
a stage must come within the stage timeout, or the reply fails and the caller hears the apology.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

T = TypeVar("T")


class StageTimeout(TimeoutError):
    """A stage gave no result within its time: the message names the stage."""


async def within(awaitable: Awaitable[T], seconds: float, stage: str) -> T:
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise StageTimeout(f"{stage}: no result within {seconds:g} s") from None


async def each_within(items: AsyncIterator[T], seconds: float, stage: str) -> AsyncIterator[T]:
    """``items``, where each one must come within ``seconds`` of asking for it."""
    try:
        while True:
            try:
                async with asyncio.timeout(seconds):
                    item = await anext(items)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise StageTimeout(f"{stage}: nothing more within {seconds:g} s") from None
            yield item
    finally:
        close = getattr(items, "aclose", None)
        if close is not None:
            await close()
