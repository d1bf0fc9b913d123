"""Waiting for calls to end, in-process: the gateway tells its listeners when a call is over."""

from __future__ import annotations

import asyncio

from gateway.runtime import CallEnded, Gateway


class EndedCalls:
    """Collects the gateway's ``CallEnded`` events, to await one call or a number of them."""

    def __init__(self, gateway: Gateway) -> None:
        self.events: list[CallEnded] = []
        self._changed = asyncio.Event()
        gateway.call_ended_listeners.append(self._on_ended)

    def _on_ended(self, event: CallEnded) -> None:
        self.events.append(event)
        self._changed.set()

    async def of(self, call_sid: str, timeout_s: float) -> CallEnded:
        async with asyncio.timeout(timeout_s):
            while True:
                for event in self.events:
                    if event.call_sid == call_sid:
                        return event
                self._changed.clear()
                await self._changed.wait()

    async def count(self, calls: int, timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.events) < calls:
                self._changed.clear()
                await self._changed.wait()
