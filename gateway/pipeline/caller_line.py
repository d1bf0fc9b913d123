"""Is the caller going on? Asked before the agent says anything first in a turn.

A turn ends on silence, but the caller may start again just after. A filler is said only if the
line has had no sound since the caller's speech ended; the answer's first frame waits for a short
quiet after any such sound, long enough for speech that goes on to be recognised and to rejoin
the turn (:meth:`CallerLine.rejoins`), short enough that a cough only delays the answer. Speech
after a long silence does not rejoin: the caller is not going on, they are asking after a late
answer, which waits for them to pause and is then said.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

SPEECH_TAIL_S = 0.064
"""The fading end of the caller's last word, just after Silero's last voiced window: not a new
sound."""
MAX_HOLD_S = 0.5
"""An answer held for a sounding caller goes out after this long whatever the line does. Speech
that goes on is recognised (and supersedes the answer) within about 150 ms; a noisy line must
not silence the agent, and barge-in still stops it if the caller is really talking."""
MAX_HOLD_FOR_SPEECH_S = 5.0
"""A late answer waits this long at most for a caller who started a new utterance ("hello?")
to pause: the answer is still owed, but not over their words."""


@dataclass(frozen=True, slots=True)
class RejoinPolicy:
    """When speech after the end of a turn makes one longer turn with it (``[turn]``)."""

    enabled: bool = True
    within_ms: int = 1500
    """Only speech that starts this soon after the caller's speech ended."""
    max_carry_ms: int = 12_000
    """Only while the joined turn's audio stays this short."""
    answer_within_ms: int = 0
    """Also just after the answer began: this soon after its first frame was sent (0: only
    before)."""


class CallerLine:
    def __init__(
        self,
        last_sound_at: Callable[[], float],
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        speaking: Callable[[], bool] = lambda: False,
        rejoin: RejoinPolicy | None = None,
    ) -> None:
        """``speaking``: whether the caller is in the middle of an utterance."""
        self._speaking = speaking
        self._rejoin = rejoin or RejoinPolicy()
        self._last_sound_at = last_sound_at
        self._clock = clock
        self._sleep = sleep

    @staticmethod
    def speech_over_at(speech_end: float) -> float:
        """A sound after this means the caller may not have finished."""
        return speech_end + SPEECH_TAIL_S

    def rejoins(
        self,
        speech_end: float | None,
        cut_at_max_length: bool,
        carried_ms: int,
        answer_started_at: float | None = None,
    ) -> bool:
        """Speech just started again before the last turn's answer was heard, or just as it
        began (``answer_started_at``: when its first frame was sent): is it that turn going
        on? Not after a turn cut at its maximum length (continuous speech must not grow one
        turn without end), not past the carry limit, not after a long silence, not once the
        answer has played long enough to be what the caller reacts to."""
        policy = self._rejoin
        now = self._clock()
        answer_just_began = (
            answer_started_at is None or now - answer_started_at <= policy.answer_within_ms / 1000
        )
        return (
            policy.enabled
            and not cut_at_max_length
            and speech_end is not None
            and now - speech_end <= policy.within_ms / 1000
            and carried_ms <= policy.max_carry_ms
            and answer_just_began
        )

    def quiet_since(self, at: float) -> bool:
        return self._last_sound_at() < at

    async def wait_for_quiet(self, since: float, quiet_s: float) -> float:
        """If the caller made a sound after ``since``, wait until the line has been quiet for
        ``quiet_s`` (at most :data:`MAX_HOLD_S`, or :data:`MAX_HOLD_FOR_SPEECH_S` while they are
        in the middle of an utterance). Returns the seconds waited."""
        started = self._clock()
        while (last := self._last_sound_at()) >= since:
            longest = MAX_HOLD_FOR_SPEECH_S if self._speaking() else MAX_HOLD_S
            wait = min(last + quiet_s, started + longest) - self._clock()
            if wait <= 0:
                break
            await self._sleep(wait)
        return self._clock() - started
