"""The bench report's arithmetic, against figures worked out by hand."""

from __future__ import annotations

import pytest

from gateway.lab.stats import percentile, premature, ratio, waterfall, word_error_rate


def test_percentiles_interpolate_between_ranks_and_skip_missing_values() -> None:
    values = [400, None, 100, 300, 200]
    assert percentile(values, 50) == 250.0  # between 200 and 300
    assert percentile(values, 95) == pytest.approx(385.0)  # 300 + 0.85 * 100
    assert percentile([700], 95) == 700.0
    assert percentile([None, None], 50) is None
    assert percentile([], 50) is None


def test_ratios_to_the_first_configuration() -> None:
    assert ratio(500.0, 1000.0) == 0.5
    assert ratio(1500, 1000) == 1.5
    assert ratio(None, 1000.0) is None
    assert ratio(500.0, None) is None
    assert ratio(3.0, 0.0) is None, "no ratio to nothing"


def test_word_error_rate_counts_errors_over_the_whole_sets_reference_words() -> None:
    assert word_error_rate(["What time is it?"], ["what time is it"]) == 0.0
    # one substitution in three words, one deletion in two: 2 errors over 5 words
    rate = word_error_rate(["the cat sat", "hello there"], ["The bat sat.", "hello"])
    assert rate == pytest.approx(2 / 5)
    assert word_error_rate(["nothing was heard"], [""]) == 1.0
    assert word_error_rate([], []) is None
    with pytest.raises(ValueError, match="references"):
        word_error_rate(["a b"], [])


def test_a_reply_before_the_utterance_ended_is_premature() -> None:
    assert premature(first_reply_at=10.2, utterance_end_at=11.0)
    assert not premature(first_reply_at=11.6, utterance_end_at=11.0)
    assert not premature(first_reply_at=None, utterance_end_at=11.0)


def test_waterfall_bars_sit_where_each_stage_ran_on_the_callers_time_line() -> None:
    offsets: dict[str, float | None] = {
        "endpoint": 600,
        "transcript": 330,  # a draft during the caller's silence: before the endpoint
        "first_token": 540,
        "first_sentence": 840,
        "first_audio": None,  # a stage not reached
        "first_media": 920,
        "first_answer_media": 1180,
    }
    durations: dict[str, float | None] = {"stt": 200, "llm_first_token": 190}
    assert waterfall(offsets, durations) == [
        ("endpoint", 0.0, 600),
        ("transcript", 130, 330),
        ("first_token", 350, 540),
        ("first_sentence", 540, 840),  # from the first token
        ("first_media", 0.0, 920),
        ("first_answer_media", 0.0, 1180),
    ]
    early = waterfall({"transcript": 100, "first_audio": 900}, {"stt": 250})
    assert early == [("transcript", 0.0, 100), ("first_audio", 900, 900)], (
        "nothing before zero; without a duration, a point"
    )
    assert waterfall({}, {}) == []
