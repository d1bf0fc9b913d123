"""A caller's utterance as Twilio would carry it: 8 kHz mu-law in whole 20 ms frames, trimmed to
its voiced part, so that "the caller's last voiced frame" (what latency is measured from) is the
last frame sent."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.audio import mulaw
from gateway.audio.frames import FRAME_BYTES, SAMPLE_RATE_HZ
from gateway.audio.resample import resample

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
    """Cut 8 kHz audio to whole frames from the first voiced frame to the last voiced one."""
    voiced = np.flatnonzero(voiced_frames(pcm))
    if len(voiced) == 0:
        return pcm[:0]
    return pcm[voiced[0] * FRAME_BYTES : (voiced[-1] + 1) * FRAME_BYTES]


def from_pcm(text: str, pcm: npt.NDArray[np.float32], rate_hz: int) -> CallerClip:
    """Float audio in [-1, 1] at any rate as a trimmed 8 kHz clip."""
    at_8k = np.clip(trim(resample(pcm, rate_hz, SAMPLE_RATE_HZ)), -1.0, 1.0)
    return CallerClip(text, mulaw.encode((at_8k * 32767).astype(np.int16)))


def read_wav(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    """A 16-bit PCM WAV (any rate; channels are averaged) as float mono and its rate."""
    with wave.open(str(path)) as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: {8 * wav.getsampwidth()}-bit audio; 16-bit PCM is read")
        rate, channels = wav.getframerate(), wav.getnchannels()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    mono = samples.reshape(-1, channels).mean(axis=1) if channels > 1 else samples
    return (mono / 32768.0).astype(np.float32), rate


def write_wav(path: Path, pcm: npt.NDArray[np.int16], rate_hz: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate_hz)
        wav.writeframes(pcm.astype("<i2").tobytes())


def load_clip(path: Path, text: str = "") -> CallerClip:
    """A WAV file as the caller would send it (``text``: what it says, where known)."""
    pcm, rate = read_wav(path)
    return from_pcm(text, pcm, rate)
