"""Is the caller talking over us? A stricter speech detector, used while the agent speaks.

A cough, a click or the line's echo of our own voice must not cut the agent off, so a barge-in
needs a run of windows at a higher confidence than turn detection uses, lasting long enough to
be a word. Windows between the two thresholds neither add to the run nor end it (hysteresis);
a silent window ends it. Pure and on the audio clock, like the endpointer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BargeInConfig:
    speech_threshold: float
    """Probability a window needs to count towards a barge-in."""
    silence_threshold: float
    """Below this a window ends the run."""
    min_speech_ms: int
    """Confident speech needed, within one run, before it is a barge-in."""


class BargeInDetector:
    def __init__(self, config: BargeInConfig, window_ms: int) -> None:
        self._config = config
        self._window_ms = window_ms
        self._run_start_ms: int | None = None
        self._voiced_ms = 0
        self._fired = False

    def on_window(self, probability: float, end_ms: int) -> int | None:
        """Feed one window; returns the run's start (stream ms) the first time it qualifies."""
        if probability < self._config.silence_threshold:
            self.reset()
            return None
        if probability < self._config.speech_threshold:
            return None
        if self._run_start_ms is None:
            self._run_start_ms = end_ms - self._window_ms
        self._voiced_ms += self._window_ms
        if self._fired or self._voiced_ms < self._config.min_speech_ms:
            return None
        self._fired = True
        return self._run_start_ms

    def reset(self) -> None:
        self._run_start_ms = None
        self._voiced_ms = 0
        self._fired = False
