"""Outbound audio to Twilio: paced at real time with a small lead, plus marks and clear.

Twilio buffers whatever it is sent and plays it in order. Sending far ahead would make a later
``clear`` (barge-in) the only way to stop speech, and would hide how long synthesis really takes,
so frames go out no more than ``lead_ms`` ahead of what the caller has heard.

Twilio echoes each mark once the audio before it has played; the playout keeps the echo times of
the marks it sent (until their owner takes them), which is how a reply learns what was heard.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from gateway.audio.frames import FRAME_MS
from gateway.twilio.messages import (
    Clear,
    MarkLabel,
    OutboundMark,
    OutboundMedia,
    OutboundMessage,
    OutboundPayload,
)

Send = Callable[[OutboundMessage], Awaitable[None]]


class Playout:
    def __init__(
        self,
        send: Send,
        stream_sid: str,
        lead_ms: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._stream_sid = stream_sid
        self._lead_s = lead_ms / 1000
        self._clock = clock
        self._played_until = 0.0
        """Clock time at which everything sent so far will have been played."""
        self._pending: dict[str, asyncio.Event] = {}
        self._echoed_at: dict[str, float] = {}

    async def frame(self, payload: bytes) -> float:
        """Send one 20 ms frame when its turn comes; returns the clock time it was sent."""
        now = self._clock()
        ahead = self._played_until - now
        if ahead > self._lead_s:
            await asyncio.sleep(ahead - self._lead_s)
            now = self._clock()
        await self._send(
            OutboundMedia(stream_sid=self._stream_sid, media=OutboundPayload(payload=payload))
        )
        self._played_until = max(self._played_until, now) + FRAME_MS / 1000
        return now

    async def mark(self, name: str) -> None:
        self._pending[name] = asyncio.Event()
        await self._send(OutboundMark(stream_sid=self._stream_sid, mark=MarkLabel(name=name)))

    def on_echo(self, name: str, at: float) -> None:
        """Twilio echoed a mark we sent (marks we did not send are ignored)."""
        event = self._pending.pop(name, None)
        if event is not None:
            self._echoed_at[name] = at
            event.set()

    def take_echo(self, name: str) -> float | None:
        """When ``name`` was echoed (None if not yet); the playout forgets it either way."""
        self._pending.pop(name, None)
        return self._echoed_at.pop(name, None)

    async def wait_echo(self, name: str, timeout_s: float) -> bool:
        """Wait for a mark's echo: it means the audio before it has played."""
        if name in self._echoed_at:
            return True
        event = self._pending.get(name)
        if event is None:
            return False
        try:
            async with asyncio.timeout(timeout_s):
                await event.wait()
        except TimeoutError:
            return False
        return True

    def forget(self, name: str) -> None:
        """Nobody will ask for this mark's echo."""
        self._pending.pop(name, None)
        self._echoed_at.pop(name, None)

    @property
    def played_until(self) -> float:
        """Clock time at which everything sent so far will have been played."""
        return self._played_until

    def seconds_to_played(self) -> float:
        return max(0.0, self._played_until - self._clock())

    async def clear(self) -> None:
        """Drop what Twilio has buffered but not played."""
        self._played_until = self._clock()
        await self._send(Clear(stream_sid=self._stream_sid))
