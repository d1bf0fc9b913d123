"""Which transcripts hold words worth answering, in any language Whisper writes."""

from __future__ import annotations

import pytest

from gateway.languages import languages, words
from gateway.stt.words import has_words


@pytest.mark.parametrize(
    "text",
    ["", "Uh...", "uh", "ahhhh", "Hmm.", "Mm-hmm.", "uh-huh", "(coughs)", "[Music]", "Um, uh"],
)
def test_hesitation_and_noise_are_not_words(text: str) -> None:
    assert not has_words(text)


@pytest.mark.parametrize("text", ["Yes.", "No", "Uh, wait.", "Hmm, what about Paris?", "ok", "4 2"])
def test_anything_else_is(text: str) -> None:
    assert has_words(text)


@pytest.mark.parametrize(
    "text",
    [
        # Korean
        "음", "음...", "어", "어...", "아", "그", "저", "으음", "음, 어...", "어어", "흠.",
        # Japanese (katakana is read as hiragana)
        "えー", "えっと", "えーっと", "あの", "あのー", "うーん", "えっと、あの…", "エート",
        # Russian
        "э", "эм", "ну", "мм", "Ну...", "Э-э", "Хм.", "угу",
        # Chinese, German, French
        "嗯", "呃……", "Äh", "ähm", "Euh...",
    ],
)  # fmt: skip
def test_hesitations_in_other_languages_are_not_words(text: str) -> None:
    assert not has_words(text)


@pytest.mark.parametrize(
    "text",
    [
        # Korean answers, and the transcript from the issue
        "네", "네.", "예", "응", "아니요", "아니요.", "음, 네.", "어... 잠시만요",
        "수금한국은 이 온개도 하하는기 알 요도세요", "1234", "주문 번호는 1234번이에요",
        # Japanese
        "はい", "ええ", "うん", "いいえ", "えっと、予約をお願いします", "予約", "ハイ",
        # Russian
        "да", "нет", "ага", "Ну, да.", "Ну хорошо", "э, а когда?",
        # Chinese and others
        "好的", "嗯，好的", "नमस्ते", "مرحبا", "Ja", "Oui.",
    ],
)  # fmt: skip
def test_answers_in_any_script_are_words(text: str) -> None:
    assert has_words(text)


@pytest.mark.parametrize(
    "text",
    [
        "(coughs)", "[Music]", "(기침)", "[음악]", "(웃음)", "♪", "♪♪", "♪ 라라라 ♪", "[拍手]",
        "（咳）", "【音楽】", "(кашель)", "[Музыка]", "*laughs*", "(기침) 음...", "[음악] 으음",
    ],
)  # fmt: skip
def test_sound_annotations_in_any_language_are_not_words(text: str) -> None:
    assert not has_words(text)


def test_an_answer_next_to_an_annotation_is_a_word() -> None:
    assert has_words("(기침) 네, 맞아요.")
    assert has_words("[Music] Yes.")


def test_words_are_runs_of_letters_digits_and_marks_in_any_script() -> None:
    assert words("I’d like 2 “pizzas”, please.") == ["i'd", "like", "2", "pizzas", "please"]
    assert words("네, 주문 번호는 1234번입니다.") == ["네", "주문", "번호는", "1234번입니다"]
    assert words("ＡＢＣ、はい。エート") == ["abc", "はい", "えーと"]
    assert words("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"]  # vowel signs are combining marks
    assert words("mm-hmm") == ["mm", "hmm"]
    assert words("mm-hmm", hyphens=True) == ["mm-hmm"]


def test_every_language_file_loads() -> None:
    loaded = languages()
    assert {"en", "ko", "ja", "ru"} <= loaded.keys()
    assert all(lang.hesitations for lang in loaded.values())
    assert all(loaded[code].turn_end is not None for code in ("en", "ko", "ja", "ru"))
