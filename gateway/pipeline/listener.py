"""The caller's side of the line: every inbound frame through the VAD, into turn events.

Frames are decoded and scored on the event loop (about 0.1 ms a 32 ms window). The endpointer
turns the scores into turn-taking events, the stricter barge-in detector into ``BargeIn``; the
listener keeps the utterance's audio (with pre-roll) and when the caller's speech last ended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gateway.audio import mulaw
from gateway.pipeline.progress import SpeechEnd
from gateway.pipeline.utterance import UtteranceBuffer
from gateway.settings import Settings
from gateway.stt.words import has_words
from gateway.vad.barge_in import BargeInConfig, BargeInDetector
from gateway.vad.completeness import EndModelThresholds, EndWaits, end_wait
from gateway.vad.endpointer import (
    VAD_LAG_MS,
    EndpointConfig,
    Endpointer,
    EndWait,
    Event,
    SpeechPaused,
    SpeechStarted,
)
from gateway.vad.level import LevelGate, LevelGateConfig
from gateway.vad.silero import SileroStream


@dataclass(frozen=True, slots=True)
class BargeIn:
    """Confident caller speech, long enough to stop the agent if it is talking."""

    start_ms: int


CallerEvent = Event | BargeIn
"""What the listener tells the call about the caller's side of the line."""


def endpoint_config(settings: Settings) -> EndpointConfig:
    return EndpointConfig(
        speech_threshold=settings.vad.speech_threshold,
        silence_threshold=settings.vad.silence_threshold,
        min_speech_ms=settings.vad.min_speech_ms,
        end_silence_ms=settings.turn.end_silence_ms,
        incomplete_end_silence_ms=settings.turn.incomplete_end_silence_ms,
        speculate=settings.turn.speculate,
        speculate_after_silence_ms=settings.turn.speculate_after_silence_ms,
        max_utterance_ms=settings.turn.max_utterance_ms,
        early_draft_probability=settings.turn.early_draft_probability,
    )


def end_waits(settings: Settings) -> EndWaits:
    turn = settings.turn
    return EndWaits(
        sure_ms=turn.sure_end_silence_ms,
        finished_ms=turn.end_silence_ms,
        unfinished_ms=turn.incomplete_end_silence_ms,
        thresholds=EndModelThresholds(turn.sure_end_probability, turn.unsure_end_probability),
        doubtful_ms=turn.doubtful_end_silence_ms,
    )


def barge_in_config(settings: Settings) -> BargeInConfig:
    return BargeInConfig(
        speech_threshold=settings.barge_in.speech_threshold,
        silence_threshold=settings.vad.silence_threshold,
        min_speech_ms=settings.barge_in.min_speech_ms,
    )


class Listener:
    def __init__(
        self,
        vad: SileroStream,
        settings: Settings,
        may_draft_early: Callable[[], bool] = lambda: True,
    ) -> None:
        """``may_draft_early``: whether a draft may start before Silero calls the silence now
        (:class:`~gateway.vad.endpointer.Endpointer`)."""
        self._vad = vad
        self._speech_threshold = settings.vad.speech_threshold
        self._endpointer = Endpointer(endpoint_config(settings), vad.window_ms, may_draft_early)
        self._end_waits = end_waits(settings)
        self._barge_in = BargeInDetector(barge_in_config(settings), vad.window_ms)
        self._utterance = UtteranceBuffer(
            settings.vad.speech_pad_ms + settings.vad.min_speech_ms + 2 * vad.window_ms
        )
        self._windows = 0
        self._samples = 0
        self._last_voiced_at = 0.0
        self._last_sound_at = 0.0
        self._last_loud_at = 0.0
        self._silence_threshold = settings.vad.silence_threshold
        self._level = LevelGate(
            LevelGateConfig(settings.vad.sound_above_floor_db, settings.vad.sound_min_dbfs)
        )
        self._speech_end_at: float | None = None
        self._voice_end_at: float | None = None

    @property
    def stream_ms(self) -> int:
        return self._windows * self._vad.window_ms

    @property
    def speech_end(self) -> SpeechEnd:
        """When the caller's speech ended (clock times): when the frame with Silero's last
        voiced window arrived, and when the frame with their last loud audio did, up to
        :data:`~gateway.vad.endpointer.VAD_LAG_MS` before that: the latency origin. Turn-taking
        keeps to Silero's end, which its waits are tuned to."""
        silero = self._speech_end_at or self._last_voiced_at
        return SpeechEnd(silero, self._voice_end_at or silero)

    def in_utterance(self) -> bool:
        """The caller is in the middle of an utterance (speech started, turn not ended)."""
        return self._utterance.active

    def carried_ms(self) -> int:
        """Audio the utterance in progress has so far, carried-over audio included."""
        return self._utterance.duration_ms

    def last_sound_at(self) -> float:
        """When the caller last made any sound: a frame above the line's noise floor, or a
        window that was even possibly speech."""
        return self._last_sound_at

    def carry_over(self, earlier: npt.NDArray[np.float32]) -> None:
        """The utterance in progress continues an earlier one: transcribe them as one."""
        self._utterance.prepend(earlier)

    def hear(self, payload: bytes, now: float) -> list[CallerEvent]:
        samples = mulaw.decode(payload).astype(np.float32) / 32768.0
        self._utterance.append(samples)
        self._samples += len(samples)
        loud = self._level.loud(samples)
        if loud:
            self._last_sound_at = self._last_loud_at = now
        heard: list[CallerEvent] = []
        for probability in self._vad.process(samples):
            self._windows += 1
            if probability >= self._speech_threshold:
                self._last_voiced_at = now
            if probability >= self._silence_threshold:
                self._last_sound_at = now
            start = self._barge_in.on_window(probability, self.stream_ms)
            if start is not None:
                heard.append(BargeIn(start))
            for event in self._endpointer.on_window(probability, self.stream_ms):
                self._note(event)
                heard.append(event)
        received_ms = self._samples * 1000 // self._vad.sample_rate_hz
        for event in self._endpointer.on_level(loud, received_ms):
            self._note(event)
            heard.append(event)
        return heard

    def on_transcript(
        self, text: str, language: str = "en", end_probability: float | None = None
    ) -> list[Event]:
        """A draft's transcript: a finished thought (or no words at all) may end the turn.
        ``language``: the transcript's (a Whisper code such as "ko", or a name), whose rules
        decide what reads as finished (``gateway/languages``). ``end_probability``: the chat
        model's, where it scored the words (:mod:`gateway.llm.turn_end`)."""
        if not has_words(text):
            wait = EndWait(self._end_waits.finished_ms, "finished_thought")
        else:
            wait = end_wait(text, language, end_probability, self._end_waits)
        events = self._endpointer.on_transcript(wait, self.stream_ms)
        for event in events:
            self._note(event)
        return events

    def _note(self, event: Event) -> None:
        match event:
            case SpeechStarted():
                # a turn cut by max length has no pause of its own
                self._speech_end_at = self._voice_end_at = None
                self._utterance.begin()
            case SpeechPaused():
                voiced = self._speech_end_at = self._last_voiced_at
                lag_s = VAD_LAG_MS / 1000
                self._voice_end_at = min(voiced, max(self._last_loud_at, voiced - lag_s))

    def utterance_so_far(self) -> npt.NDArray[np.float32]:
        return self._utterance.snapshot()

    def finish_utterance(self) -> npt.NDArray[np.float32]:
        return self._utterance.finish()
