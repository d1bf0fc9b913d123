"""Each turn's progress pushed to the talk page while it happens.

The call tells the feed of every reply it makes (``CallSession(on_reply=...)``); the feed only
reads them. While a reply is live the feed looks at it every ``REFRESH_S`` and sends its view
when something changed (a stage delivered, words known, the outcome), and once more when it is
over; with no reply live it waits without waking. Stage times are the reply's own clock times,
so the bars are exact whatever the refresh rate: it only sets how soon the page draws them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import msgspec

from gateway.pipeline.reply import Reply
from gateway.web.turns import TurnView, from_reply

REFRESH_S = 0.05
MAX_WATCHED = 16
"""Replies followed at once: a call has one speaking, a draft and a waiting turn at most; a
longer list means the oldest are stale."""


class TurnFeed:
    def __init__(
        self,
        send: Callable[[TurnView], Awaitable[None]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._clock = clock
        self._replies: list[Reply] = []
        self._sent: dict[int, TurnView] = {}
        """id(reply) -> the view last sent, without its clock."""
        self._woken = asyncio.Event()

    def watch(self, reply: Reply) -> None:
        self._replies.append(reply)
        if len(self._replies) > MAX_WATCHED:
            self._forget(self._replies[0])
        self._woken.set()

    async def run(self) -> None:
        """Until cancelled (when the call ends)."""
        while True:
            if not self._replies:
                self._woken.clear()
                await self._woken.wait()
            for reply in list(self._replies):
                await self._report(reply)
            await asyncio.sleep(REFRESH_S)

    async def _report(self, reply: Reply) -> None:
        if not reply.committed:
            if reply.task_done:
                self._forget(reply)  # a draft the caller talked on through
            return
        view = from_reply(reply, self._clock())
        unclocked = msgspec.structs.replace(view, now_ms=None)
        if self._sent.get(id(reply)) != unclocked:
            self._sent[id(reply)] = unclocked
            await self._send(view)
        if view.done:
            self._forget(reply)

    def _forget(self, reply: Reply) -> None:
        self._replies.remove(reply)
        self._sent.pop(id(reply), None)
