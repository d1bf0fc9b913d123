"""The bench's table, from the records of a few turns worked out by hand."""

from __future__ import annotations

import pytest

from gateway.lab.clip import CallerClip
from gateway.lab.report import add_ratios, summarise, table
from gateway.lab.results import UtteranceResult, rows_for
from gateway.lab.stats import STAGE_DURATIONS, STAGE_OFFSETS
from gateway.lab.turn import TurnMeasure
from gateway.lab.utterances import Spoken, Utterance
from gateway.lab.whole import WholePass
from gateway.records import TurnRow


def row(
    turn: int, first: int, answer: int, *, text: str, filler: str = "", outcome: str = "replied"
) -> TurnRow:
    """A record whose every stage ends ``first`` ms after speech end, the answer at ``answer``."""
    offsets: dict[str, int | None] = {stage: first for stage in STAGE_OFFSETS}
    offsets["first_answer_media"] = answer
    return TurnRow(
        turn=turn, speech_end_at=1.0e9, outcome=outcome, speculative=False, user_text=text,
        reply_text="Sure.", heard_text="", filler=filler, language="en", endpoint_reason="",
        error="", offsets_ms=offsets,
        durations_ms={stage: first // 10 for stage in STAGE_DURATIONS},
        voice_to_voice_ms=first, answer_ms=answer, record={},
    )  # fmt: skip


def result(
    config: str, text: str, rows: list[TurnRow], *, premature_frames: int = 0, file: str = "a.wav"
) -> UtteranceResult:
    """The caller timed what the gateway's answering record says, 40 ms later (its frames)."""
    answering = rows[-1] if rows else None
    measure = TurnMeasure(
        text,
        first_sound_ms=None if answering is None else answering.voice_to_voice_ms,
        answer_ms=None if answering is None else answering.answer_ms,
        turns=[r.turn for r in rows],
    )
    if answering is not None:
        answering.voice_to_voice_ms = (answering.voice_to_voice_ms or 0) - 40
        answering.answer_ms = (answering.answer_ms or 0) - 40
    measure.premature_frames = premature_frames
    return UtteranceResult(config, Utterance(file, text), measure, "CA1", rows=rows)


def test_summary_of_records_and_ratios_to_the_first_configuration() -> None:
    fast = [
        result("fast", "What time is it", [row(2, 400, 400, text="what time is it")]),
        result("fast", "Book a table", [row(3, 600, 900, text="book a cable", filler="Okay.")]),
        # a reply in the caller's pause: two turns heard, the answer is the last
        result(
            "fast",
            "I want a pizza",
            [row(4, 800, 800, text="I want"), row(5, 1000, 1000, text="a pizza")],
            premature_frames=12,
        ),
    ]
    slow = [
        result("slow", "What time is it", [row(2, 800, 800, text="what time is it")]),
        result("slow", "Book a table", [row(3, 1200, 1800, text="book a table")]),
        result("slow", "I want a pizza", [row(4, 2000, 2000, text="I want a pizza")]),
    ]
    summaries = [summarise("fast", fast), summarise("slow", slow)]
    add_ratios(summaries)
    first, second = summaries
    assert first.first_sound_p50_ms == 600  # of 400, 600, 1000 (the answering turns)
    assert first.gateway_first_sound_p50_ms == 560, "the gateway's own records, beside"
    assert first.gateway_answer_p50_ms == 860
    assert first.answer_p50_ms == 900  # of 400, 900, 1000
    assert first.first_sound_p95_ms == pytest.approx(960)  # 600 + 0.9 * 400
    assert first.durations_p50_ms["stt"] == 60
    assert first.offsets_p50_ms["endpoint"] == 600
    assert first.premature == 1 and second.premature == 0
    assert first.fillers_per_turn == pytest.approx(1 / 3)
    assert first.wer == pytest.approx(1 / 11), "'cable' for 'table', of 11 words"
    assert second.wer == 0.0
    assert second.first_sound_p50_ms == 1200
    assert second.ratios["first sound p50"] == 2.0
    assert second.ratios["answer p50"] == 2.0
    assert first.ratios["first sound p50"] == 1.0
    header, rows = table(summaries)
    assert header == ["", "fast (3/3 answered)", "slow (3/3 answered)"]
    by_label = {cells[0]: cells[1:] for cells in rows}
    assert by_label["first sound p50"] == ["600 ms", "1200 ms (x2.00)"]
    assert by_label["WER"][0] == "9.1 %"
    assert by_label["premature"] == ["1", "0 (x0.00)"]


def test_unanswered_utterances_count_against_answered_but_not_in_percentiles() -> None:
    heard = result("only", "Hello there", [row(2, 500, 500, text="hello there")])
    silent = UtteranceResult("only", Utterance("b.wav", "Anyone"), TurnMeasure("Anyone"), "CA1")
    summary = summarise("only", [heard, silent])
    assert (summary.answered, summary.utterances) == (1, 2)
    assert summary.first_sound_p50_ms == 500
    assert summary.wer == 0.0, "WER is of what was heard"


def test_an_utterance_is_every_turn_since_the_last_answer_and_a_draft_counts_once() -> None:
    """The records of a call: turn 2 answered the utterance before; then a reply begun in the
    caller's pause (3, cut when they went on), a draft thrown away (4, its audio carried into
    5) and the answer (5). The caller heard marks of 5 only."""
    turns = [
        row(2, 700, 700, text="what time is it"),
        row(3, 500, 500, text="thank you", outcome="interrupted"),
        row(4, 400, 400, text="that was", outcome="superseded"),
        row(5, 900, 900, text="that was really helpful"),
        row(6, 800, 800, text="the next utterance's"),
    ]
    rows = rows_for(turns, after_turn=2, heard=[5])
    assert [r.turn for r in rows] == [3, 4, 5]
    spoken = UtteranceResult(
        "x", Utterance("a.wav", "Thank you, that was really helpful."),
        TurnMeasure("...", turns=[5]), "CA1", 2, rows,
    )  # fmt: skip
    assert spoken.answer is not None and spoken.answer.turn == 5
    assert spoken.heard_text == "thank you that was really helpful"
    assert rows_for(turns, after_turn=5, heard=[]) == [], "nothing heard: no answer"


def test_the_whole_utterance_pass_is_the_reference_beside_each_configurations_wer() -> None:
    results = [
        result("x", "What time is it", [row(2, 400, 400, text="what time is it")], file="1.wav"),
        result("x", "Book a table", [row(3, 600, 600, text="book a cable")], file="2.wav"),
        result(
            "x",
            "I want a pizza",
            [row(4, 800, 800, text="I want"), row(5, 900, 900, text="a pizza")],
            file="3.wav",
        ),
        result("x", "Anyone", [], file="4.wav"),  # unanswered: in no WER of the configuration
    ]
    whole = {"1.wav": "What time is it?", "2.wav": "Look, a table.", "3.wav": "I want a pizza.",
             "4.wav": "Any one?"}  # fmt: skip
    summary = summarise("x", results, whole)
    assert summary.wer == pytest.approx(1 / 11), "'cable' for 'table'"
    assert summary.wer_whole_pass == pytest.approx(1 / 11), "'look' for 'book', same 11 words"
    assert summary.wer_vs_whole_pass == pytest.approx(2 / 11), "'book' and 'cable': 2 of 11"
    _, rows = table([summary])
    by_label = {cells[0]: cells[1:] for cells in rows}
    assert by_label["WER whole pass"] == ["9.1 %"]
    assert by_label["WER vs whole pass"] == ["18.2 %"]
    # over the whole set, unanswered ones too: 'look', 'any' for 'anyone', 'one': 3 of 12 words
    spoken = [Spoken(r.utterance, CallerClip(r.utterance.text, b"")) for r in results]
    assert WholePass("whisper", whole).wer(spoken) == pytest.approx(3 / 12)
    without = summarise("x", results)
    assert without.wer_whole_pass is None and without.wer_vs_whole_pass is None
    _, rows = table([without])
    assert "WER whole pass" not in {cells[0] for cells in rows}, "no pass, no row"
