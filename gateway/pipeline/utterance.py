"""The caller's audio for the turn in progress, with pre-roll from before speech was detected."""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

from gateway.audio.frames import FRAME_MS, SAMPLE_RATE_HZ


class UtteranceBuffer:
    """Frames are kept as a list and joined once, when a transcription asks for them."""

    def __init__(self, pre_roll_ms: int) -> None:
        self._pre_roll: deque[npt.NDArray[np.float32]] = deque(
            maxlen=max(1, pre_roll_ms // FRAME_MS)
        )
        self._frames: list[npt.NDArray[np.float32]] = []
        self.active = False

    def append(self, frame: npt.NDArray[np.float32]) -> None:
        if self.active:
            self._frames.append(frame)
        else:
            self._pre_roll.append(frame)

    def begin(self) -> None:
        """Speech was detected: the turn's audio starts with the pre-roll."""
        self._frames = list(self._pre_roll)
        self._pre_roll.clear()
        self.active = True

    def prepend(self, earlier: npt.NDArray[np.float32]) -> None:
        """Put audio from before this utterance's pre-roll in front of it."""
        self._frames.insert(0, earlier)

    @property
    def duration_ms(self) -> int:
        samples = sum(len(frame) for frame in self._frames)
        return samples * 1000 // SAMPLE_RATE_HZ

    def snapshot(self) -> npt.NDArray[np.float32]:
        if not self._frames:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._frames)

    def finish(self) -> npt.NDArray[np.float32]:
        """The whole utterance; the buffer goes back to collecting pre-roll."""
        audio = self.snapshot()
        self._frames = []
        self.active = False
        return audio
