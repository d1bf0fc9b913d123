"""Resampling (anti-alias, streaming) and 20 ms framing."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gateway.audio.frames import FRAME_BYTES, FrameAssembler
from gateway.audio.resample import StreamResampler, resample


def tone(freq_hz: float, rate_hz: int, seconds: float) -> np.ndarray:  # type: ignore[type-arg]
    t = np.arange(int(rate_hz * seconds)) / rate_hz
    return (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def rms(x: np.ndarray) -> float:  # type: ignore[type-arg]
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_resample_keeps_passband_and_removes_what_would_alias() -> None:
    kept = resample(tone(1000, 22050, 1.0), 22050, 8000)
    # 6 kHz is above the 4 kHz Nyquist of 8 kHz: without a filter it folds to 2 kHz.
    folded = resample(tone(6000, 22050, 1.0), 22050, 8000)
    assert abs(len(kept) - 8000) <= 1
    assert rms(kept[200:-200]) > 0.3
    assert rms(folded[200:-200]) < 0.001


def test_stream_resampler_matches_length_and_content_of_one_shot() -> None:
    signal = (tone(440, 22050, 0.5) * 32767).astype(np.int16)
    stream = StreamResampler(22050, 8000)
    pieces = [stream.process(signal[i : i + 1000]) for i in range(0, len(signal), 1000)]
    pieces.append(stream.flush())
    streamed = np.concatenate(pieces)
    assert abs(len(streamed) - len(signal) * 8000 / 22050) <= 2
    one_shot = resample(signal.astype(np.float32) / 32768, 22050, 8000) * 32768
    n = min(len(streamed), len(one_shot))
    assert np.max(np.abs(streamed[:n].astype(np.float64) - one_shot[:n])) < 300


def test_same_rate_is_passthrough() -> None:
    data = np.arange(10, dtype=np.int16)
    stream = StreamResampler(8000, 8000)
    assert stream.process(data) is data
    assert len(stream.flush()) == 0


@given(st.lists(st.binary(max_size=500), max_size=20))
def test_frames_are_exact_and_lose_nothing(chunks: list[bytes]) -> None:
    assembler = FrameAssembler()
    frames = [frame for chunk in chunks for frame in assembler.push(chunk)]
    frames += list(assembler.flush())
    data = b"".join(chunks)
    assert all(len(frame) == FRAME_BYTES for frame in frames)
    joined = b"".join(frames)
    assert joined[: len(data)] == data
    assert set(joined[len(data) :]) <= {0xFF}
    assert len(joined) - len(data) < FRAME_BYTES
