"""Turn-taking decisions on the audio clock, and the finished-thought heuristic."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from gateway.vad.completeness import (
    EndModelThresholds,
    EndWaits,
    Reading,
    end_wait,
    looks_complete,
    read_transcript,
)
from gateway.vad.endpointer import (
    DraftDue,
    EndpointConfig,
    Endpointer,
    EndWait,
    Event,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    TurnEnded,
)

WINDOW_MS = 32
FINISHED = EndWait(600, "finished_thought")
UNFINISHED = EndWait(1200, "silence")


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

    def transcript(self, complete: bool | EndWait) -> list[Event]:
        if isinstance(complete, bool):
            complete = FINISHED if complete else UNFINISHED
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


def test_a_surely_finished_turn_ends_after_the_short_silence() -> None:
    feed = Feed(Endpointer(config(), WINDOW_MS))
    feed.run(0.9, 640)
    feed.run(0.0, 224)
    assert feed.transcript(EndWait(384, "sure_end")) == []
    assert not any(isinstance(e, TurnEnded) for e in feed.run(0.0, 128))
    assert feed.run(0.0, 32) == [TurnEnded(640, 1024, "sure_end")]


def test_an_unfinished_reading_ends_only_at_the_longest_silence() -> None:
    feed = Feed(Endpointer(config(), WINDOW_MS))
    feed.run(0.9, 640)
    feed.run(0.0, 224)
    feed.transcript(EndWait(5000, "silence"))  # longer than incomplete_end_silence_ms
    assert not any(isinstance(e, TurnEnded) for e in feed.run(0.0, 928))
    assert feed.run(0.0, 64)[-1] == TurnEnded(640, 1856, "silence")


THRESHOLDS = EndModelThresholds(sure=0.5, unsure=0.05)
WAITS = EndWaits(sure_ms=500, finished_ms=600, unfinished_ms=1200, thresholds=THRESHOLDS)
DOUBTFUL_WAITS = dataclasses.replace(WAITS, doubtful_ms=750)


@pytest.mark.parametrize(
    ("text", "probability", "reading"),
    [
        ("What time does the library open tomorrow?", 0.9, Reading.SURELY_FINISHED),
        ("What time does the library open tomorrow?", 0.2, Reading.FINISHED),
        ("What time does the library open tomorrow?", None, Reading.FINISHED),
        # Whisper's full stop on a pause the model does not believe: held.
        ("Thank you.", 0.03, Reading.UNFINISHED),
        # The text's "unfinished" stands whatever the model says.
        ("I'd like to book a", 0.9, Reading.UNFINISHED),
        ("So I was thinking,", None, Reading.UNFINISHED),
    ],
)
def test_read_transcript_combines_the_text_and_the_model(
    text: str, probability: float | None, reading: Reading
) -> None:
    assert read_transcript(text, "en", probability, THRESHOLDS) is reading


@pytest.mark.parametrize(
    ("probability", "wait"),
    [
        (0.9, EndWait(500, "sure_end")),
        (0.5, EndWait(500, "sure_end")),
        (0.05, EndWait(1200, "finished_thought")),  # the unsure end of the scale
        (0.04, EndWait(1200, "silence")),
        (None, EndWait(600, "finished_thought")),  # no model: the text's own wait
    ],
)
def test_end_wait_by_the_models_certainty(probability: float | None, wait: EndWait) -> None:
    assert end_wait("Can you check my order?", "en", probability, WAITS) == wait


def test_a_turn_the_model_doubts_waits_longer_than_a_sure_one_from_the_start() -> None:
    """Just under the sure threshold is where mid-sentence pauses score ("I want to change my
    delivery address." 0.45, before "| to my office"): no 500 ms there."""
    sure = end_wait("I called yesterday.", "en", 0.5, DOUBTFUL_WAITS)
    assert sure == EndWait(500, "sure_end")
    doubted = [
        end_wait("I called yesterday.", "en", p, DOUBTFUL_WAITS).silence_ms
        for p in (0.49, 0.45, 0.1, 0.05)
    ]
    assert 750 <= doubted[0] <= doubted[1] < doubted[2] < doubted[3] == 1200, doubted


def test_the_less_sure_the_model_the_longer_the_wait() -> None:
    waits = [end_wait("I called yesterday.", "en", p, WAITS).silence_ms for p in (0.4, 0.2, 0.1)]
    assert 500 < waits[0] < waits[1] < waits[2] < 1200, waits
    # A complete-looking clause the model gives 0.13 outwaits an 800 ms pause.
    assert end_wait("I called yesterday.", "en", 0.13, WAITS).silence_ms > 800


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


class Line:
    """The listener's order of events: each 20 ms frame's level after the 32 ms windows it
    completed, ``probability`` being what Silero says of those windows."""

    def __init__(self, endpointer: Endpointer) -> None:
        self.endpointer = endpointer
        self.now_ms = 0
        self.events: list[Event] = []

    def run(self, loud: bool, probability: float, ms: int) -> list[Event]:
        produced: list[Event] = []
        for _ in range(ms // 20):
            before, self.now_ms = self.now_ms, self.now_ms + 20
            for window_end in range(before // WINDOW_MS + 1, self.now_ms // WINDOW_MS + 1):
                produced += self.endpointer.on_window(probability, window_end * WINDOW_MS)
            produced += self.endpointer.on_level(loud, self.now_ms)
        self.events += produced
        return produced

    def transcript(self, wait: EndWait) -> list[Event]:
        produced = self.endpointer.on_transcript(wait, self.now_ms)
        self.events += produced
        return produced


def early_line(probability: float = 0.9, device_idle: Callable[[], bool] = lambda: True) -> Line:
    return Line(
        Endpointer(
            config(speculate_after_silence_ms=40, early_draft_probability=probability),
            WINDOW_MS,
            may_draft_early=device_idle,
        )
    )


def drafts(events: list[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, DraftDue | SpeechResumed)]


def test_a_quiet_line_starts_the_draft_before_silero_calls_the_silence() -> None:
    line = early_line()
    line.run(True, 0.95, 600)
    # Silero lags: still 0.7 (speech, above its silence threshold) 40 ms into the quiet.
    assert drafts(line.run(False, 0.7, 40)) == [DraftDue(600)]
    assert not any(isinstance(e, SpeechPaused) for e in line.events), "Silero: still speech"
    assert drafts(line.run(False, 0.0, 300)) == [], "one draft for the pause, not a second"


def test_no_early_draft_while_silero_is_sure_of_speech_or_when_switched_off() -> None:
    sure = early_line()
    sure.run(True, 0.95, 600)
    assert drafts(sure.run(False, 0.95, 100)) == []
    off = early_line(probability=0.0)
    off.run(True, 0.95, 600)
    assert drafts(off.run(False, 0.7, 100)) == []
    # Silero's own pause starts it, 40 ms after its last voiced window.
    assert DraftDue(672) in off.run(False, 0.0, 100)


def test_a_busy_device_makes_the_draft_wait_for_silero() -> None:
    """A draft that may be thrown away must not take a busy device from other calls."""
    idle = [False]
    line = early_line(device_idle=lambda: idle[0])
    line.run(True, 0.95, 600)
    assert drafts(line.run(False, 0.7, 40)) == [], "busy: no early draft"
    idle[0] = True
    assert drafts(line.run(False, 0.7, 20)) == [DraftDue(600)], "idle again, still in the lag"


def test_an_early_draft_goes_when_the_line_is_loud_again() -> None:
    line = early_line()
    line.run(True, 0.95, 600)
    line.run(False, 0.8, 60)  # a stop consonant's closure
    assert drafts(line.run(True, 0.9, 20)) == [SpeechResumed(680)]
    line.run(True, 0.95, 400)
    assert drafts(line.run(False, 0.6, 40)) == [DraftDue(1080)], "the real end gets its own"


def test_an_early_draft_goes_when_silero_hears_speech_long_after_the_level_went_quiet() -> None:
    line = early_line()  # a line whose level misses this caller's voice
    line.run(True, 0.95, 600)
    line.run(False, 0.8, 60)
    assert drafts(line.run(False, 0.8, 200)) == [], "within Silero's lag"
    assert drafts(line.run(False, 0.8, 40)) == [SpeechResumed(864)]


def test_an_early_drafts_reading_waits_for_silero_to_call_the_pause() -> None:
    line = early_line()
    line.run(True, 0.95, 600)
    line.run(False, 0.7, 60)
    assert line.transcript(EndWait(200, "sure_end")) == [], "Silero still hears speech"
    ended = line.run(False, 0.0, 300)
    assert [e for e in ended if isinstance(e, TurnEnded)] == [TurnEnded(640, 864, "sure_end")]
