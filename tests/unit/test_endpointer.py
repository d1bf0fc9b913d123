"""Turn-taking decisions on the audio clock, and the finished-thought heuristic."""

from __future__ import annotations

import pytest

from gateway.vad.completeness import looks_complete
from gateway.vad.endpointer import (
    DraftDue,
    EndpointConfig,
    Endpointer,
    Event,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    TurnEnded,
)

WINDOW_MS = 32


def config(**changes: object) -> EndpointConfig:
    values: dict[str, object] = {
        "speech_threshold": 0.5,
        "silence_threshold": 0.35,
        "min_speech_ms": 96,
        "end_silence_ms": 600,
        "incomplete_end_silence_ms": 1200,
        "speculate": True,
        "speculate_after_silence_ms": 200,
        "max_utterance_ms": 30_000,
    }
    values.update(changes)
    return EndpointConfig(**values)  # type: ignore[arg-type]


class Feed:
    def __init__(self, endpointer: Endpointer) -> None:
        self.endpointer = endpointer
        self.now_ms = 0
        self.events: list[Event] = []

    def run(self, probability: float, ms: int) -> list[Event]:
        produced: list[Event] = []
        for _ in range(ms // WINDOW_MS):
            self.now_ms += WINDOW_MS
            produced += self.endpointer.on_window(probability, self.now_ms)
        self.events += produced
        return produced

    def transcript(self, complete: bool) -> list[Event]:
        produced = self.endpointer.on_transcript(complete, self.now_ms)
        self.events += produced
        return produced


def test_seed_mode_ends_after_fixed_silence_without_drafts() -> None:
    feed = Feed(Endpointer(config(speculate=False, end_silence_ms=1000), WINDOW_MS))
    feed.run(0.0, 320)
    assert feed.run(0.9, 640)[0] == SpeechStarted(320)
    assert not any(isinstance(e, TurnEnded) for e in feed.run(0.0, 960))
    ended = feed.run(0.0, 64)
    assert ended == [TurnEnded(speech_end_ms=960, decided_ms=1984, reason="silence")]
    assert not any(isinstance(e, DraftDue) for e in feed.events)


def test_click_shorter_than_min_speech_is_not_a_turn() -> None:
    feed = Feed(Endpointer(config(), WINDOW_MS))
    feed.run(0.9, 64)
    feed.run(0.0, 2000)
    assert feed.events == []


def test_draft_then_finished_thought_ends_turn_at_end_silence() -> None:
    feed = Feed(Endpointer(config(), WINDOW_MS))
    feed.run(0.9, 640)
    events = feed.run(0.0, 224)
    assert SpeechPaused(640) in events and DraftDue(640) in events
    assert feed.transcript(True) == []  # too early: only 224 ms of silence
    ended = feed.run(0.0, 384)
    assert ended == [TurnEnded(640, 1248, "finished_thought")]


def test_transcript_arriving_late_ends_the_turn_at_once() -> None:
    feed = Feed(Endpointer(config(), WINDOW_MS))
    feed.run(0.9, 640)
    assert not any(isinstance(e, TurnEnded) for e in feed.run(0.0, 800))
    assert feed.transcript(True) == [TurnEnded(640, 1440, "finished_thought")]


def test_unfinished_thought_waits_for_the_long_silence() -> None:
    feed = Feed(Endpointer(config(), WINDOW_MS))
    feed.run(0.9, 640)
    feed.run(0.0, 224)
    feed.transcript(False)
    assert not any(isinstance(e, TurnEnded) for e in feed.run(0.0, 900))
    assert feed.run(0.0, 96)[-1] == TurnEnded(640, 1856, "silence")


def test_resuming_speech_cancels_the_pause_and_needs_a_new_draft() -> None:
    feed = Feed(Endpointer(config(), WINDOW_MS))
    feed.run(0.9, 640)
    feed.run(0.0, 320)
    assert feed.run(0.9, 32) == [SpeechResumed(992)]
    feed.transcript(True)  # a stale draft's transcript: ignored while speaking
    events = feed.run(0.0, 224)
    assert DraftDue(992) in events


def test_hysteresis_between_thresholds_keeps_speaking() -> None:
    feed = Feed(Endpointer(config(), WINDOW_MS))
    feed.run(0.9, 320)
    assert feed.run(0.4, 2000) == []


def test_max_utterance_ends_a_monologue() -> None:
    feed = Feed(Endpointer(config(max_utterance_ms=2000), WINDOW_MS))
    events = feed.run(0.9, 2100)
    assert isinstance(events[-1], TurnEnded) and events[-1].reason == "max_length"


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("What time does the library open?", True),
        ("Book me a table for two.", True),
        ("Can you help me?", True),
        ("I'd like to.", False),
        ("I want to order a pizza and", False),
        ("So I was thinking,", False),
        ("Well...", False),
        ("", False),
        ("and then the", False),
        ("Who is it for?", True),
        ("Could you help me find the dentist because?", False),
        ("Is it the?", False),
    ],
)
def test_looks_complete(text: str, complete: bool) -> None:
    assert looks_complete(text) is complete
