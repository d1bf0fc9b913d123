"""Caller utterances synthesized with Piper (or, in other languages, espeak-ng), as 8 kHz mu-law
with known voiced boundaries. The clip and its trimming are the lab's (:mod:`gateway.lab.clip`)."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt

from gateway.audio import mulaw
from gateway.audio.frames import SAMPLE_RATE_HZ
from gateway.audio.resample import resample
from gateway.lab.clip import VOICED_LEVEL, CallerClip, trim, voiced_frames
from gateway.tts.base import Synthesizer
from tests.sim import espeak

__all__ = [
    "PAUSE_AFTER",
    "VOICED_LEVEL",
    "CallerClip",
    "espeak_clip",
    "make_clip",
    "speech_8k",
    "split_for_pause",
    "trim",
    "voiced_frames",
]

PAUSE_AFTER = {
    "the", "a", "an", "to", "for", "my", "about", "and", "with", "of", "on", "at", "near",
    "is", "if", "because", "me", "does",
}  # fmt: skip
"""Words a mid-sentence pause may follow (the caller stops where a thought is unfinished)."""


def split_for_pause(text: str, pause_word: str | None) -> list[str]:
    """Two segments: after ``pause_word``'s first use, or a function word near the middle."""
    words = text.split()
    if pause_word is not None and pause_word in words[:-1]:
        cut = words.index(pause_word) + 1
    else:
        middle = (len(words) - 1) / 2
        inner = range(1, len(words) - 1)
        candidates = [i for i in inner if words[i].strip(",.?!").lower() in PAUSE_AFTER]
        cut = min(candidates or list(inner), key=lambda i: abs(i - middle)) + 1
    return [" ".join(words[:cut]), " ".join(words[cut:])]


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
