"""Properties of the audio path for any input: mu-law's error and order, and the streaming
resampler and framer, which must not care how the synthesizer chunks its output."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gateway.audio import mulaw
from gateway.audio.frames import FRAME_BYTES, SAMPLE_RATE_HZ
from gateway.audio.resample import StreamResampler
from gateway.pipeline.speech import FrameEncoder
from gateway.tts.base import PcmChunk

pcm = hnp.arrays(np.int16, st.integers(0, 2000))
VOICE_RATES = st.sampled_from([8000, 16000, 22050, 24000, 44100])


@given(pcm)
def test_mulaw_error_is_within_half_a_step_of_its_segment(samples: npt.NDArray[np.int16]) -> None:
    """G.711 keeps about 5 % relative error: |error| <= |x| / 32 + 8 (the clip at 8159 * 4 is
    the one place it is exceeded, and is checked apart)."""
    wide = samples.astype(np.int64)
    back = mulaw.decode(mulaw.encode(samples)).astype(np.int64)
    inside = np.abs(wide) <= 32124
    assert np.all(np.abs(back - wide)[inside] <= np.abs(wide[inside]) / 32 + 8)
    assert np.all(np.abs(back[~inside]) >= 32124)


@given(pcm, pcm)
def test_mulaw_keeps_order_and_does_not_care_about_chunks(
    a: npt.NDArray[np.int16], b: npt.NDArray[np.int16]
) -> None:
    joined = np.concatenate([a, b])
    assert mulaw.encode(joined) == mulaw.encode(a) + mulaw.encode(b)
    order = np.argsort(joined, kind="stable")
    decoded = mulaw.decode(mulaw.encode(joined[order])).astype(np.int64)
    assert np.all(np.diff(decoded) >= 0), "a louder sample never decodes quieter"


def signal(length: int, seed: int) -> npt.NDArray[np.int16]:
    noise = np.random.default_rng(seed).standard_normal(length) * 8000
    return noise.clip(-32768, 32767).astype(np.int16)


def chunked(length: int, cuts: list[int]) -> list[slice]:
    edges = sorted({0, length, *(c for c in cuts if c < length)})
    return [slice(start, end) for start, end in itertools.pairwise(edges)]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 12000), VOICE_RATES, st.lists(st.integers(0, 12000), max_size=8), st.integers(0)
)
def test_streamed_resampling_does_not_depend_on_chunking(
    length: int, rate: int, cuts: list[int], seed: int
) -> None:
    samples = signal(length, seed)

    def run(pieces: list[slice]) -> npt.NDArray[np.int64]:
        stream = StreamResampler(rate, SAMPLE_RATE_HZ)
        out = [stream.process(samples[piece]) for piece in pieces] + [stream.flush()]
        return np.concatenate(out).astype(np.int64)

    whole, pieces = run(chunked(length, [])), run(chunked(length, cuts))
    assert abs(len(whole) - length * SAMPLE_RATE_HZ / rate) <= 1, "nothing lost, nothing added"
    assert len(pieces) == len(whole)
    # libsoxr dithers its int16 output, so only the last bit or two may differ.
    assert len(whole) == 0 or np.max(np.abs(pieces - whole)) <= 4


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 12000), VOICE_RATES, st.lists(st.integers(0, 12000), max_size=8), st.integers(0)
)
def test_synthesized_audio_becomes_whole_20ms_frames_however_it_is_chunked(
    length: int, rate: int, cuts: list[int], seed: int
) -> None:
    samples = signal(length, seed)
    encoder = FrameEncoder(rate)
    frames = [
        f for piece in chunked(length, cuts) for f in encoder.feed(PcmChunk(samples[piece], rate))
    ]
    frames += encoder.finish()
    assert all(len(frame) == FRAME_BYTES for frame in frames)
    expected = length * SAMPLE_RATE_HZ / rate
    assert expected - 1 <= len(frames) * FRAME_BYTES < expected + 1 + FRAME_BYTES
