"""The streaming sentence splitter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.tts.sentences import SentenceSplitter


def split(text: str, first_clause_min_words: int = 0, token_size: int = 3) -> list[str]:
    splitter = SentenceSplitter(first_clause_min_words)
    out: list[str] = []
    for i in range(0, len(text), token_size):
        out += splitter.push(text[i : i + token_size])
    return out + splitter.flush()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello there. How are you? Fine!", ["Hello there.", "How are you?", "Fine!"]),
        ("Dr. Kim will see you now. Bye.", ["Dr. Kim will see you now.", "Bye."]),
        ("Bring ID, e.g. a passport. Thanks.", ["Bring ID, e.g. a passport.", "Thanks."]),
        ("It costs 3.50 dollars. Pi is 3.14159.", ["It costs 3.50 dollars.", "Pi is 3.14159."]),
        ("We have 1,000 seats. Book now.", ["We have 1,000 seats.", "Book now."]),
        ("Ask J. Smith at 5 p.m. today. Ok.", ["Ask J. Smith at 5 p.m. today.", "Ok."]),
        ("Well... maybe. Sure.", ["Well...", "maybe.", "Sure."]),
        ('He said "yes." Then left.', ['He said "yes."', "Then left."]),
        (
            "감사합니다. 무엇을 도와드릴까요? 네, 그렇죠.",
            ["감사합니다.", "무엇을 도와드릴까요?", "네, 그렇죠."],
        ),
        ("안녕하세요.오늘 날씨가 좋네요!", ["안녕하세요.", "오늘 날씨가 좋네요!"]),
        ("좋습니다。다음은요？", ["좋습니다。", "다음은요？"]),
        ("No punctuation at the end", ["No punctuation at the end"]),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert split(text) == expected


def test_first_clause_is_released_early_only_once() -> None:
    text = "Sure, I can help you with that, it is easy. Then, we are done."
    assert split(text, first_clause_min_words=4) == [
        "Sure, I can help you with that,",
        "it is easy.",
        "Then, we are done.",
    ]


def test_short_first_clause_waits_for_the_sentence() -> None:
    assert split("Sure, thing. Ok.", first_clause_min_words=4) == ["Sure, thing.", "Ok."]


def test_period_at_end_of_buffer_waits_for_the_next_token() -> None:
    splitter = SentenceSplitter(0)
    assert splitter.push("It costs 3.") == []
    assert splitter.push("5 dollars. ") == ["It costs 3.5 dollars."]


def test_overlong_sentence_is_cut_at_a_space() -> None:
    text = "word " * 100
    parts = split(text)
    assert len(parts) > 1 and all(len(p) <= 240 for p in parts)


@given(st.text(max_size=300), st.integers(min_value=1, max_value=7))
def test_nothing_is_lost_or_reordered(text: str, token_size: int) -> None:
    parts = split(text, first_clause_min_words=3, token_size=token_size)
    assert "".join(text.split()) == "".join("".join(parts).split())
