"""When has the caller finished? A pure state machine over VAD windows, on the audio clock.

Times are milliseconds of caller audio received (stream time), so decisions do not depend on
network jitter and tests need no real clock. The machine emits events; the call session acts.

With speculation on, a short silence starts a draft reply (``DraftDue``), and how long the turn
waits depends on how the draft's transcript reads: the call tells it an :class:`EndWait`
(:func:`gateway.vad.completeness.end_wait`). Without one (no transcript yet) it waits
``incomplete_end_silence_ms``, which ends any turn. Without
speculation (the seed design) the turn ends after ``end_silence_ms`` of silence, whatever was said.
"""

from __future__ import annotations

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
    def __init__(self, config: EndpointConfig, window_ms: int) -> None:
        self._config = config
        self._window_ms = window_ms
        self.phase = Phase.IDLE
        self._run_start_ms: int | None = None
        self._run_voiced_ms = 0
        self._speech_start_ms = 0
        self._last_voiced_ms = 0
        self._draft_started = False
        self._wait: EndWait | None = None

    def on_window(self, probability: float, end_ms: int) -> list[Event]:
        voiced = probability >= self._config.speech_threshold
        silent = probability < self._config.silence_threshold
        if self.phase is Phase.IDLE:
            return self._idle(voiced, silent, end_ms)
        if self.phase is Phase.SPEAKING:
            return self._speaking(voiced, silent, end_ms)
        return self._paused(voiced, end_ms)

    def on_transcript(self, wait: EndWait, now_ms: int) -> list[Event]:
        """The draft's words are read: may end the turn at once if silence is long enough."""
        if self.phase is not Phase.PAUSED:
            return []
        self._wait = wait
        return self._maybe_end(now_ms)

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
        return [SpeechStarted(self._run_start_ms)]

    def _speaking(self, voiced: bool, silent: bool, end_ms: int) -> list[Event]:
        if voiced:
            self._last_voiced_ms = end_ms
        if end_ms - self._speech_start_ms >= self._config.max_utterance_ms:
            return [self._end(end_ms, "max_length")]
        if not silent:
            return []
        self.phase = Phase.PAUSED
        self._draft_started = False
        self._wait = None
        return [SpeechPaused(self._last_voiced_ms), *self._paused(False, end_ms)]

    def _paused(self, voiced: bool, end_ms: int) -> list[Event]:
        if voiced:
            self.phase = Phase.SPEAKING
            self._last_voiced_ms = end_ms
            self._wait = None
            return [SpeechResumed(end_ms)]
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
        return TurnEnded(self._last_voiced_ms, now_ms, reason)
