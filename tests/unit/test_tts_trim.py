"""A synthesized sentence keeps a short lead before its first sound and a pause after."""

from __future__ import annotations

import numpy as np

from gateway.tts.trim import LEAD_MS, TAIL_MS, trim_silence

RATE = 24_000


def ms(samples: int) -> float:
    return samples * 1000 / RATE


def test_the_pads_around_a_sentence_are_cut_to_a_lead_and_a_tail() -> None:
    word = (np.sin(np.arange(RATE // 2) / 5) * 8000).astype(np.int16)  # 500 ms of sound
    padded = np.concatenate([np.zeros(RATE * 310 // 1000), word, np.zeros(RATE * 470 // 1000)])
    trimmed = trim_silence(padded.astype(np.int16), RATE)
    first, last = np.flatnonzero(trimmed)[[0, -1]]
    assert abs(ms(first) - LEAD_MS) <= 1
    assert abs(ms(len(trimmed) - 1 - last) - TAIL_MS) <= 1


def test_a_soft_onset_is_kept_and_a_pad_shorter_than_the_lead_is_untouched() -> None:
    breath = np.full(RATE // 100, 100, dtype=np.int16)  # 10 ms, 38 dB under the word's peak
    word = np.full(RATE // 10, 8000, dtype=np.int16)
    audio = np.concatenate([np.zeros(RATE // 200, np.int16), breath, word])  # 5 ms pad first
    assert np.array_equal(trim_silence(audio, RATE), audio)


def test_silence_stays_silence() -> None:
    quiet = np.zeros(RATE // 10, dtype=np.int16)
    assert np.array_equal(trim_silence(quiet, RATE), quiet)
