"""Caller utterances synthesized with Piper (or, in other languages, espeak-ng), as 8 kHz mu-law
with known voiced boundaries."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gateway.audio import mulaw
from gateway.audio.frames import FRAME_BYTES, SAMPLE_RATE_HZ
from gateway.audio.resample import resample
from gateway.tts.base import Synthesizer
from tests.sim import espeak

VOICED_LEVEL = 0.02
"""Peak amplitude (of full scale) over a 20 ms frame above which the frame counts as voiced."""


@dataclass(frozen=True)
class CallerClip:
    text: str
    mulaw: bytes
    """Whole 20 ms frames; the last frame is voiced (trailing silence is trimmed)."""

    @property
    def frames(self) -> list[bytes]:
        return [self.mulaw[i : i + FRAME_BYTES] for i in range(0, len(self.mulaw), FRAME_BYTES)]

    @property
    def duration_ms(self) -> int:
        return len(self.mulaw) * 1000 // SAMPLE_RATE_HZ


def voiced_frames(pcm: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    frames = pcm[: len(pcm) - len(pcm) % FRAME_BYTES].reshape(-1, FRAME_BYTES)
    voiced: npt.NDArray[np.bool_] = np.abs(frames).max(axis=1) > VOICED_LEVEL
    return voiced


def trim(pcm: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Cut to whole frames from the first voiced frame to the last voiced one."""
    voiced = np.flatnonzero(voiced_frames(pcm))
    if len(voiced) == 0:
        return pcm[:0]
    return pcm[voiced[0] * FRAME_BYTES : (voiced[-1] + 1) * FRAME_BYTES]


async def speech_8k(synthesizer: Synthesizer, text: str) -> npt.NDArray[np.float32]:
    parts: list[npt.NDArray[np.float32]] = []
    rate = SAMPLE_RATE_HZ
    async for chunk in synthesizer.synthesize(text):
        rate = chunk.sample_rate_hz
        parts.append(chunk.samples.astype(np.float32) / 32768.0)
    audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    return resample(audio, rate, SAMPLE_RATE_HZ)


async def make_clip(
    synthesizer: Synthesizer, text: str, pause_after: dict[str, int] | None = None
) -> CallerClip:
    """Speak ``text``; ``pause_after`` maps a word to a silence (ms) inserted after it.

    Segments are synthesized separately and joined with real silence, which is how a caller who
    stops to think sounds to a VAD.
    """
    segments: list[str] = []
    pauses: list[int] = []
    current: list[str] = []
    for word in text.split():
        current.append(word)
        if pause_after and word in pause_after:
            segments.append(" ".join(current))
            pauses.append(pause_after[word])
            current = []
    if current:
        segments.append(" ".join(current))
        pauses.append(0)
    pieces: list[npt.NDArray[np.float32]] = []
    spoken = await asyncio.gather(*(speech_8k(synthesizer, s) for s in segments))
    for audio, pause_ms in zip(spoken, pauses, strict=True):
        pieces.append(trim(audio))
        pieces.append(np.zeros(pause_ms * SAMPLE_RATE_HZ // 1000, dtype=np.float32))
    pcm = trim(np.concatenate(pieces))
    return CallerClip(text, mulaw.encode((pcm * 32767).astype(np.int16)))


async def espeak_clip(text: str, voice: str, words_per_minute: int = 150) -> CallerClip:
    """``text`` spoken by espeak-ng's ``voice`` ("ko", "ja"): a caller in a language the Piper
    voice does not speak. :func:`tests.sim.espeak.unavailable` says when it cannot be made."""
    audio, rate = await espeak.speak(text, voice, words_per_minute)
    pcm = np.clip(trim(resample(audio, rate, SAMPLE_RATE_HZ)), -1.0, 1.0)
    return CallerClip(text, mulaw.encode((pcm * 32767).astype(np.int16)))
