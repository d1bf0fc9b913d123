"""Is the caller going on? Asked before the agent says anything first in a turn.

A turn ends on silence, but the caller may start again just after. A filler is said only if the
line has had no sound since the caller's speech ended; the answer's first frame waits for a short
quiet after any such sound, long enough for speech that goes on to be recognised and to rejoin
the turn (``CallSession._caller_went_on``), short enough that a cough only delays the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

SPEECH_TAIL_S = 0.064
"""The fading end of the caller's last word, just after Silero's last voiced window: not a new
sound."""
MAX_HOLD_S = 0.5
"""An answer held for a sounding caller goes out after this long whatever the line does. Speech
that goes on is recognised (and supersedes the answer) within about 150 ms; a noisy line must
not silence the agent, and barge-in still stops it if the caller is really talking."""


class CallerLine:
    def __init__(
        self,
        last_sound_at: Callable[[], float],
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._last_sound_at = last_sound_at
        self._clock = clock
        self._sleep = sleep

    @staticmethod
    def speech_over_at(speech_end: float) -> float:
        """A sound after this means the caller may not have finished."""
        return speech_end + SPEECH_TAIL_S

    def quiet_since(self, at: float) -> bool:
        return self._last_sound_at() < at

    async def wait_for_quiet(self, since: float, quiet_s: float) -> float:
        """If the caller made a sound after ``since``, wait until the line has been quiet for
        ``quiet_s`` (at most :data:`MAX_HOLD_S`). Returns the seconds waited."""
        started = self._clock()
        while (last := self._last_sound_at()) >= since:
            wait = min(last + quiet_s, started + MAX_HOLD_S) - self._clock()
            if wait <= 0:
                break
            await self._sleep(wait)
        return self._clock() - started
