"""Resampling with a real anti-alias filter (libsoxr), one-shot and streaming."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr


def resample(samples: npt.NDArray[np.float32], from_hz: int, to_hz: int) -> npt.NDArray[np.float32]:
    """Resample a whole float32 signal at once (used for a finished utterance)."""
    if from_hz == to_hz:
        return samples
    out: npt.NDArray[np.float32] = soxr.resample(samples, from_hz, to_hz, quality="HQ")
    return out


class StreamResampler:
    """Resamples int16 audio that arrives in chunks, keeping filter state between chunks.

    The filter delays output by a few milliseconds: the first call may return nothing, and
    :meth:`flush` must be called at the end of a stream to get the tail.
    """

    def __init__(self, from_hz: int, to_hz: int) -> None:
        self.from_hz = from_hz
        self.to_hz = to_hz
        self._stream = (
            None
            if from_hz == to_hz
            else soxr.ResampleStream(from_hz, to_hz, 1, dtype="int16", quality="HQ")
        )

    def process(self, chunk: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        if self._stream is None:
            return chunk
        out: npt.NDArray[np.int16] = self._stream.resample_chunk(chunk, last=False)
        return out

    def flush(self) -> npt.NDArray[np.int16]:
        if self._stream is None:
            return np.zeros(0, dtype=np.int16)
        out: npt.NDArray[np.int16] = self._stream.resample_chunk(
            np.zeros(0, dtype=np.int16), last=True
        )
        return out
