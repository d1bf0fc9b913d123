"""The barge-in detector: confident speech for long enough, nothing less."""

from __future__ import annotations

from gateway.vad.barge_in import BargeInConfig, BargeInDetector

CONFIG = BargeInConfig(speech_threshold=0.6, silence_threshold=0.35, min_speech_ms=180)


def feed(probabilities: list[float]) -> list[int]:
    detector = BargeInDetector(CONFIG, window_ms=32)
    fired = []
    for index, probability in enumerate(probabilities, start=1):
        start = detector.on_window(probability, index * 32)
        if start is not None:
            fired.append(index)
    return fired


def test_six_confident_windows_fire_once() -> None:
    assert feed([0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]) == [7]


def test_a_scrap_of_speech_does_not() -> None:
    # A 100 ms "mm" as Silero scores it: five windows over 0.6 around a dip.
    assert feed([0.66, 0.86, 0.91, 0.75, 0.48, 0.64, 0.32, 0.13]) == []


def test_middling_windows_neither_count_nor_break_the_run() -> None:
    assert feed([0.9, 0.9, 0.9, 0.5, 0.5, 0.9, 0.9, 0.9]) == [8]


def test_silence_resets_the_run() -> None:
    assert feed([0.9, 0.9, 0.9, 0.1, 0.9, 0.9, 0.9]) == []
