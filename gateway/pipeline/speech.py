"""Synthesized PCM at the voice's rate to 20 ms frames of 8 kHz mu-law, streaming."""

from __future__ import annotations

from gateway.audio import mulaw
from gateway.audio.frames import SAMPLE_RATE_HZ, FrameAssembler
from gateway.audio.resample import StreamResampler
from gateway.tts.base import PcmChunk


class FrameEncoder:
    """One per sentence: the resampler's filter state spans the sentence's chunks."""

    def __init__(self, source_rate_hz: int) -> None:
        self._resampler = StreamResampler(source_rate_hz, SAMPLE_RATE_HZ)
        self._frames = FrameAssembler()

    def feed(self, chunk: PcmChunk) -> list[bytes]:
        if chunk.sample_rate_hz != self._resampler.from_hz:
            raise ValueError(
                f"chunk at {chunk.sample_rate_hz} Hz fed to a {self._resampler.from_hz} Hz encoder"
            )
        return list(self._frames.push(mulaw.encode(self._resampler.process(chunk.samples))))

    def finish(self) -> list[bytes]:
        tail = list(self._frames.push(mulaw.encode(self._resampler.flush())))
        return tail + list(self._frames.flush())
