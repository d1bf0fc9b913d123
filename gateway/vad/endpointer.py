"""When has the caller finished? A pure state machine over VAD windows, on the audio clock.

Times are milliseconds of caller audio received (stream time), so decisions do not depend on
network jitter and tests need no real clock. The machine emits events; the call session acts.

With speculation on, a short silence starts a draft reply (``DraftDue``), and how long the turn
waits depends on how the draft's transcript reads: the call tells it an :class:`EndWait`
(:func:`gateway.vad.completeness.end_wait`). Without one (no transcript yet) it waits
``incomplete_end_silence_ms``, which ends any turn. Without
speculation (the seed design) the turn ends after ``end_silence_ms`` of silence, whatever was said.

Silero hears the end of speech late: its probability stays up for 0-140 ms (80 at the median)
after the voice stops. The line's level sees it at once (:meth:`Endpointer.on_level`), but also
dips inside words, at every stop consonant. So the draft starts early on the level's word, once
the line has been quiet ``speculate_after_silence_ms`` and Silero's probability has begun to fall
(below ``early_draft_probability``), and goes as soon as the line is loud again or Silero still
hears speech well after (a caller who went on): it is only a draft, and only the endpoint decides
the turn, still on Silero's clock. A draft thrown away costs the device its transcription, so an
early one starts only while the device has no other work (``may_draft_early``): transcription
then starts 63 ms after the voice stops instead of 122, and 4 calls on 2 cores measured no
slower than with early drafts off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, auto
from typing import Literal


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    speech_threshold: float
    silence_threshold: float
    min_speech_ms: int
    end_silence_ms: int
    incomplete_end_silence_ms: int
    speculate: bool
    speculate_after_silence_ms: int
    max_utterance_ms: int
    early_draft_probability: float = 0.0
    """Silero's probability below which a quiet line starts the draft before Silero itself calls
    the silence (while the device is idle); 0: drafts wait for Silero."""


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechPaused:
    speech_end_ms: int


@dataclass(frozen=True, slots=True)
class DraftDue:
    speech_end_ms: int


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    at_ms: int


@dataclass(frozen=True, slots=True)
class TurnEnded:
    speech_end_ms: int
    decided_ms: int
    reason: EndReason


VAD_LAG_MS = 200
"""Silero may still call speech this long after the voice stopped (its 32 ms windows and its
recurrent state: over the shipped utterances its last voiced window ended 0-140 ms after the
last loud frame, 80 ms at the median). A voiced window later than this after the line went quiet
is the caller going on (or a line too noisy for the level); a loud frame within it of Silero's
end is when the voice really ended."""

EndReason = Literal["silence", "finished_thought", "sure_end", "max_length"]
"""``sure_end``: the words read as surely finished; ``finished_thought``: as finished;
``silence``: the longest silence passed."""


@dataclass(frozen=True, slots=True)
class EndWait:
    """How long a silence ends the turn, from how the draft's words read, and why."""

    silence_ms: int
    reason: EndReason


Event = SpeechStarted | SpeechPaused | DraftDue | SpeechResumed | TurnEnded


class Phase(Enum):
    IDLE = auto()
    SPEAKING = auto()
    PAUSED = auto()


class Endpointer:
    def __init__(
        self,
        config: EndpointConfig,
        window_ms: int,
        may_draft_early: Callable[[], bool] = lambda: True,
    ) -> None:
        """``may_draft_early``: asked when the line's level would start a draft before Silero
        calls the silence; False waits for Silero (the device is busy with others' work, which
        a draft thrown away at the caller's next sound would only delay)."""
        self._config = config
        self._may_draft_early = may_draft_early
        self._window_ms = window_ms
        self.phase = Phase.IDLE
        self._run_start_ms: int | None = None
        self._run_voiced_ms = 0
        self._speech_start_ms = 0
        self._last_voiced_ms = 0
        self._draft_started = False
        self._early_draft_ms: int | None = None
        """When a draft started on the line's level, before Silero called the silence."""
        self._wait: EndWait | None = None
        self._last_loud_ms = 0
        self._probability = 0.0

    def on_window(self, probability: float, end_ms: int) -> list[Event]:
        self._probability = probability
        voiced = probability >= self._config.speech_threshold
        silent = probability < self._config.silence_threshold
        if self.phase is Phase.IDLE:
            return self._idle(voiced, silent, end_ms)
        if self.phase is Phase.SPEAKING:
            return self._speaking(voiced, silent, end_ms)
        return self._paused(voiced, end_ms)

    def on_level(self, loud: bool, end_ms: int) -> list[Event]:
        """A 20 ms frame of the line, after the windows it completed: loud (above the line's
        noise floor) or quiet."""
        if loud:
            self._last_loud_ms = end_ms
            if self.phase is Phase.SPEAKING and self._early_draft_ms is not None:
                return [self._resume(end_ms)]  # a stop consonant, not the end: it goes on
            return []
        quiet_ms = end_ms - self._last_loud_ms
        if (
            self.phase is not Phase.IDLE
            and self._config.speculate
            and not self._draft_started
            and self._probability < self._config.early_draft_probability
            and self._config.speculate_after_silence_ms <= quiet_ms <= VAD_LAG_MS
            and self._may_draft_early()
        ):
            self._draft_started = True
            self._early_draft_ms = end_ms
            return [DraftDue(self._last_loud_ms)]
        return []

    def on_transcript(self, wait: EndWait, now_ms: int) -> list[Event]:
        """The draft's words are read: may end the turn at once if silence is long enough
        (an early draft's may come while Silero still hears speech: kept for its pause)."""
        if self.phase is Phase.IDLE or not self._draft_started:
            return []
        self._wait = wait
        return self._maybe_end(now_ms) if self.phase is Phase.PAUSED else []

    def _idle(self, voiced: bool, silent: bool, end_ms: int) -> list[Event]:
        if silent:
            self._run_start_ms, self._run_voiced_ms = None, 0
            return []
        if not voiced:
            return []
        if self._run_start_ms is None:
            self._run_start_ms = end_ms - self._window_ms
        self._run_voiced_ms += self._window_ms
        self._last_voiced_ms = end_ms
        if self._run_voiced_ms < self._config.min_speech_ms:
            return []
        self.phase = Phase.SPEAKING
        self._speech_start_ms = self._run_start_ms
        self._forget_draft()
        return [SpeechStarted(self._run_start_ms)]

    def _speaking(self, voiced: bool, silent: bool, end_ms: int) -> list[Event]:
        if voiced:
            self._last_voiced_ms = end_ms
            early = self._early_draft_ms
            if early is not None and end_ms - early > VAD_LAG_MS:
                return [self._resume(end_ms)]  # Silero hears speech the level does not
        if end_ms - self._speech_start_ms >= self._config.max_utterance_ms:
            return [self._end(end_ms, "max_length")]
        if not silent:
            return []
        self.phase = Phase.PAUSED
        return [SpeechPaused(self._last_voiced_ms), *self._paused(False, end_ms)]

    def _resume(self, end_ms: int) -> SpeechResumed:
        self.phase = Phase.SPEAKING
        self._forget_draft()
        return SpeechResumed(end_ms)

    def _forget_draft(self) -> None:
        self._draft_started = False
        self._early_draft_ms = None
        self._wait = None

    def _paused(self, voiced: bool, end_ms: int) -> list[Event]:
        if voiced:
            self._last_voiced_ms = end_ms
            return [self._resume(end_ms)]
        events: list[Event] = []
        silence_ms = end_ms - self._last_voiced_ms
        if (
            self._config.speculate
            and not self._draft_started
            and silence_ms >= self._config.speculate_after_silence_ms
        ):
            self._draft_started = True
            events.append(DraftDue(self._last_voiced_ms))
        events.extend(self._maybe_end(end_ms))
        return events

    def _maybe_end(self, now_ms: int) -> list[Event]:
        silence_ms = now_ms - self._last_voiced_ms
        if silence_ms >= self._config.incomplete_end_silence_ms:
            return [self._end(now_ms, "silence")]
        if not self._config.speculate:
            ended = silence_ms >= self._config.end_silence_ms
            return [self._end(now_ms, "silence")] if ended else []
        if self._wait is not None and silence_ms >= self._wait.silence_ms:
            return [self._end(now_ms, self._wait.reason)]
        return []

    def _end(self, now_ms: int, reason: EndReason) -> TurnEnded:
        self.phase = Phase.IDLE
        self._run_start_ms, self._run_voiced_ms = None, 0
        self._early_draft_ms = None
        return TurnEnded(self._last_voiced_ms, now_ms, reason)
