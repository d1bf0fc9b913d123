"""Finished-thought rules per language: English by default, Japanese and Russian from their
files, and the conservative fallback for a language without rules."""

from __future__ import annotations

import pytest

from gateway.vad.completeness import looks_complete


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("I want to book a table for.", False),
        ("I want to book a table for two.", True),
        ("I want to book a table for two", False),  # English needs its final mark
        ("Can I pay with my card?", True),
        ("I’d like to.", False),  # a typographic apostrophe is the same word
        ("Could you help me because？", False),  # full-width marks are the ASCII ones
    ],
)
def test_english_is_the_default(text: str, complete: bool) -> None:
    assert looks_complete(text) is complete
    assert looks_complete(text, "en") is complete
    assert looks_complete(text, "english") is complete


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("予約をお願いします。", True),
        ("明日の午後に届きますか?", True),
        ("はい", True),
        ("注文番号は1234です", True),
        ("えっと、明日の", False),
        ("昨日お店に行ったんですけど。", False),
        ("注文をキャンセルしたいので。", False),
        ("私の?", True),
        ("注文番号は。", False),
        ("えっと、あの…", False),
    ],
)
def test_japanese(text: str, complete: bool) -> None:
    assert looks_complete(text, "ja") is complete


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("Я хочу заказать пиццу.", True),
        ("Я хочу заказать пиццу и.", False),
        ("Можно оплатить картой?", True),
        ("Я звоню по поводу заказа, потому что.", False),
        ("Что?", True),
        ("Я думаю, что.", False),
        ("Ну...", False),
    ],
)
def test_russian(text: str, complete: bool) -> None:
    assert looks_complete(text, "ru") is complete


@pytest.mark.parametrize(
    ("text", "language", "complete"),
    [
        ("Ich möchte einen Tisch reservieren.", "de", True),  # a file with hesitations only
        ("Ich möchte, äh.", "de", False),  # a hesitation of any known language
        ("Quiero una mesa para dos.", "es", True),
        ("Quiero una mesa y.", "es", False),  # a one-letter last word: y, e, o, à, и, z
        ("Voglio prenotare un tavolo", "it", False),  # no file: the mark decides
        ("Voglio prenotare un tavolo.", "it", True),
        ("Voglio prenotare, ehm.", "it", False),
        ("Hello.", "", True),
        ("Hello", "", False),
        ("Merhaba, bir masa ayırtmak istiyorum...", "tr", False),
    ],
)
def test_a_language_without_rules_falls_back_to_punctuation_conservatively(
    text: str, language: str, complete: bool
) -> None:
    assert looks_complete(text, language) is complete
