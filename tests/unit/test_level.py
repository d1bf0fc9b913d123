"""The per-frame level gate: sound against the line's own noise floor."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gateway.vad.level import LevelGate, LevelGateConfig, level_dbfs

RATE = 8000
FRAME = 160
CONFIG = LevelGateConfig(above_floor_db=12.0, min_dbfs=-50.0)


def tone(dbfs: float, frames: int = 1) -> npt.NDArray[np.float32]:
    amplitude = np.sqrt(2) * 10 ** (dbfs / 20)  # a sine's RMS is its peak over sqrt(2)
    t = np.arange(frames * FRAME) / RATE
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def noise(dbfs: float, frames: int, seed: int = 0) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(frames * FRAME) * 10 ** (dbfs / 20)).astype(np.float32)


def frames_of(samples: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
    return [samples[i : i + FRAME] for i in range(0, len(samples), FRAME)]


def test_level_of_a_tone_and_of_silence() -> None:
    assert abs(level_dbfs(tone(-20.0)) - -20.0) < 0.1
    assert level_dbfs(np.zeros(FRAME, dtype=np.float32)) == -120.0


def test_speech_level_after_digital_silence_is_sound_at_once() -> None:
    gate = LevelGate(CONFIG)
    assert not any(gate.loud(f) for f in frames_of(np.zeros(30 * FRAME, np.float32)))
    assert gate.loud(tone(-40.0))


def test_a_noisy_line_is_learnt_and_only_louder_audio_is_sound() -> None:
    gate = LevelGate(CONFIG)
    line = [gate.loud(f) for f in frames_of(noise(-45.0, 150))]  # 3 s
    assert not any(line[100:]), "the line's own noise, once learnt, is not a sound"
    assert not gate.loud(noise(-39.0, 1, seed=1)), "6 dB over the floor is still the line"
    assert gate.loud(tone(-25.0))


def test_long_speech_does_not_lift_the_floor_past_itself() -> None:
    gate = LevelGate(CONFIG)
    for f in frames_of(noise(-60.0, 50)):
        gate.loud(f)
    speech = [gate.loud(f) for f in frames_of(tone(-30.0, 100))]  # 2 s without a gap
    assert all(speech)
    assert gate.floor_dbfs < -55.0


def test_nothing_below_the_minimum_is_sound() -> None:
    gate = LevelGate(CONFIG)
    for f in frames_of(np.zeros(10 * FRAME, np.float32)):
        gate.loud(f)
    assert not gate.loud(tone(-55.0))
