"""One open call of the bench: it speaks when asked, and keeps the line alive in between.

The bench alternates configurations utterance by utterance, with every configuration's call
open the whole time; a call that is not speaking sends silence, 20 ms at a time, as a phone
line does (a socket that goes quiet is a dead call to the gateway).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from types import TracebackType
from typing import Any

from gateway.lab.caller import SILENT_FRAME, TwilioCaller
from gateway.lab.clip import CallerClip
from gateway.lab.turn import TurnMeasure, speak, wait_greeting
from gateway.lab.webhook import place


class OpenLine:
    """``async with OpenLine(gateway_url, seed) as line: await line.say(clip)``"""

    def __init__(self, gateway: str, *, seed: int, late_s: float, auth_token: str = "") -> None:
        self.gateway = gateway
        self._rng = random.Random(seed)
        self._late_s = late_s
        self._auth_token = auth_token
        self._caller: TwilioCaller | None = None
        self._asks: asyncio.Queue[tuple[CallerClip, asyncio.Future[TurnMeasure]]]
        self._asks = asyncio.Queue(maxsize=1)
        self._keeper: asyncio.Task[None] | None = None

    @property
    def call_sid(self) -> str:
        assert self._caller is not None
        return self._caller.call_sid

    async def __aenter__(self) -> OpenLine:
        self._caller = await place(self.gateway, self._auth_token)
        await self._caller.__aenter__()
        try:
            await wait_greeting(self._caller)
        except BaseException:
            await self._caller.__aexit__(None, None, None)
            raise
        self._keeper = asyncio.create_task(self._keep())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._keeper
        if self._caller is not None:
            await self._caller.__aexit__(exc_type, exc, tb)

    async def _keep(self) -> None:
        assert self._caller is not None
        while True:
            if self._asks.empty():
                await self._caller.send_frame(SILENT_FRAME)
                continue
            clip, done = self._asks.get_nowait()
            try:
                done.set_result(await speak(self._caller, clip, rng=self._rng, late_s=self._late_s))
            except Exception as error:  # the caller's, handed to whoever asked
                done.set_exception(error)
                raise

    async def say(self, clip: CallerClip) -> TurnMeasure:
        """Speak ``clip`` and wait for the reply to play (or the caller to give up)."""
        assert self._keeper is not None
        done: asyncio.Future[TurnMeasure] = asyncio.get_running_loop().create_future()
        await self._asks.put((clip, done))
        either: set[asyncio.Future[Any]] = {done, self._keeper}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            done.cancel()
            self._keeper.result()  # raises what ended the line
            raise ConnectionError("the call ended")
        return done.result()
