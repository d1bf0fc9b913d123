"""How much caller audio one call may feed the pipeline: real time plus a burst.

Twilio sends a 20 ms frame every 20 ms; after a network stall it may deliver a few seconds of
frames at once. A client that sends faster than that for long is broken or hostile: every frame
it gets through costs VAD time on the event loop that all calls share, and speech it gets through
starts replies. So each call has a token bucket of audio milliseconds, refilled at real time and
capped at a burst; frames that do not fit are dropped (and counted) rather than queued, so a flood
can neither grow memory nor make the call lag behind real time. Dropped audio is also tallied, less
real time as it passes: a tally that keeps growing means a client sending several times faster
than real time, whose frames cost parsing time even when dropped, and whose call should end.

Every other frame (a mark echo, a keypad press, a frame that is rejected) costs a fixed
``frame_cost_ms`` of a second bucket of the same size, also refilled at real time: Twilio sends a
mark per sentence and a dtmf per key press, a flood of them (a thousand ``#`` in a second) is
dropped like audio, and its excess counts towards the same tally. A separate bucket, because
audio at real time uses up exactly its refill: other frames charged to it would, over a long
call, starve the caller's audio.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway.audio.frames import SAMPLE_RATE_HZ

BYTES_PER_MS = SAMPLE_RATE_HZ // 1000
"""8 kHz mu-law: one byte a sample."""
MIN_FRAME_COST_MS = 1.0
"""Even an empty or one-byte frame costs this much, so the frame rate is bounded too."""
_CLOCK_SLACK_MS = 1e-6
"""Seconds-to-milliseconds arithmetic is inexact: a frame exactly on time must not miss by 1e-13."""


DEFAULT_FRAME_COST_MS = 100.0
"""``twilio.frame_cost_ms``: ten frames a second that are not audio go on for ever."""


class AudioBudget:
    """Token buckets of milliseconds, for audio and for the other frames; both start full."""

    def __init__(
        self,
        burst_ms: float,
        clock: Callable[[], float] = time.monotonic,
        frame_cost_ms: float = DEFAULT_FRAME_COST_MS,
    ) -> None:
        self._burst_ms = burst_ms
        self._clock = clock
        self._frame_cost_ms = frame_cost_ms
        self._tokens_ms = burst_ms
        self._frame_tokens_ms = burst_ms
        self._refilled_at = clock()
        self.excess_ms = 0.0
        """Frames dropped (audio by its length, others by their cost), less the real time since:
        how far the client is running ahead."""

    @staticmethod
    def cost_ms(payload_bytes: int) -> float:
        return max(payload_bytes / BYTES_PER_MS, MIN_FRAME_COST_MS)

    def _refill(self) -> None:
        now = self._clock()
        elapsed_ms = max(0.0, now - self._refilled_at) * 1000
        self._tokens_ms = min(self._burst_ms, self._tokens_ms + elapsed_ms)
        self._frame_tokens_ms = min(self._burst_ms, self._frame_tokens_ms + elapsed_ms)
        self.excess_ms = max(0.0, self.excess_ms - elapsed_ms)
        self._refilled_at = now

    def take(self, payload_bytes: int) -> bool:
        """Whether a frame of this many mu-law bytes may go through (and pay for it if so)."""
        self._refill()
        cost = self.cost_ms(payload_bytes)
        if cost > self._tokens_ms + _CLOCK_SLACK_MS:
            self.excess_ms += cost
            return False
        self._tokens_ms -= cost
        return True

    def take_frame(self) -> bool:
        """Whether a frame that is not audio may go through (and pay for it if so)."""
        self._refill()
        cost = self._frame_cost_ms
        if cost > self._frame_tokens_ms + _CLOCK_SLACK_MS:
            self.excess_ms += cost
            return False
        self._frame_tokens_ms -= cost
        return True
