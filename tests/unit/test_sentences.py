"""The streaming sentence splitter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.languages import phrase_starts
from gateway.settings import TtsSettings
from gateway.tts.sentences import SentenceSplitter, count_words


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


def test_a_long_later_sentence_is_spoken_clause_by_clause() -> None:
    """Each piece is one synthesis step: a long one would hold the CPU from other callers."""
    long = (
        "The library on the corner of Main Street opens at nine in the morning on weekdays, "
        "and at ten on Saturdays, but it stays closed on Sundays and public holidays."
    )
    pieces = split(f"Sure. {long}", first_clause_min_words=4)
    assert pieces[0] == "Sure."
    assert " ".join(pieces[1:]) == long
    assert len(pieces) == 3
    assert pieces[1].endswith("weekdays,")
    assert all(len(piece) < len(long) for piece in pieces)


def test_a_short_later_sentence_keeps_its_commas() -> None:
    text = "Hello there. Yes, we open at nine, and close at five."
    assert split(text, first_clause_min_words=4) == [
        "Hello there.",
        "Yes, we open at nine, and close at five.",
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


# -- Korean, Japanese and Chinese replies, streamed as a tokenizer would --------------------------

UNEVEN = (1, 4, 2, 7, 3, 1, 5, 2)


def stream(
    text: str, sizes: tuple[int, ...] = UNEVEN, first_clause_min_words: int = 0
) -> list[str]:
    """Feed ``text`` in chunks of these sizes in turn: mid-word, mid-ending, mark apart."""
    splitter = SentenceSplitter(first_clause_min_words)
    out: list[str] = []
    i = 0
    for n in range(len(text)):
        if i >= len(text):
            break
        size = sizes[n % len(sizes)]
        out += splitter.push(text[i : i + size])
        i += size
    return out + splitter.flush()


def test_tokens_that_split_hangul_words_mid_ending() -> None:
    splitter = SentenceSplitter(0)
    out: list[str] = []
    for token in ["네", ", 알", "겠습", "니다", ".주", "문 번", "호를 알려", "주세", "요", "."]:
        out += splitter.push(token)
    assert out == ["네, 알겠습니다."]
    assert splitter.flush() == ["주문 번호를 알려주세요."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("네, 알겠습니다.주문 번호를 알려주세요.", ["네, 알겠습니다.", "주문 번호를 알려주세요."]),
        (
            "고객님, 확인해 보겠습니다. 잠시만 기다려 주세요!혹시 다른 문의는 없으신가요?",
            ["고객님, 확인해 보겠습니다.", "잠시만 기다려 주세요!", "혹시 다른 문의는 없으신가요?"],
        ),
        # any Hangul before the mark, not only 요/다
        ("네.확인했습니다.", ["네.", "확인했습니다."]),
        ("그래.알았어.", ["그래.", "알았어."]),
        (
            "주문 번호는 1234번입니다.3일 안에 도착해요.",
            ["주문 번호는 1234번입니다.", "3일 안에 도착해요."],
        ),
        ("알겠습니다。주문 번호를 알려주세요。", ["알겠습니다。", "주문 번호를 알려주세요。"]),
        ("정말요?네!좋아요…그럼요.", ["정말요?", "네!", "좋아요…", "그럼요."]),
        ('"네."라고 하셨죠? 맞습니다.', ['"네."라고 하셨죠?', "맞습니다."]),  # a quote, not an end
        (
            "かしこまりました。ご注文番号を教えてください。",
            ["かしこまりました。", "ご注文番号を教えてください。"],
        ),
        ("はい？少々お待ちください！", ["はい？", "少々お待ちください！"]),
        ("好的。请告诉我您的订单号。谢谢！", ["好的。", "请告诉我您的订单号。", "谢谢！"]),
        ("好的.请稍等.", ["好的.", "请稍等."]),
        ("버전 3.5를 쓰세요. 감사합니다.", ["버전 3.5를 쓰세요.", "감사합니다."]),
    ],
)
def test_korean_japanese_chinese_in_uneven_chunks(text: str, expected: list[str]) -> None:
    assert stream(text) == expected
    for size in range(1, 8):
        assert split(text, token_size=size) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", 0),
        ("Sure, I can help", 4),
        ("주문 번호를 알려주세요", 3),  # Korean: eojeol, separated by spaces
        ("고객님께서 어제 주문하신 상품은", 4),
        ("ご注文番号", 3),  # Japanese and Chinese: two characters a word, rounded up
        ("お電話ありがとうございます", 7),
        ("您好", 1),
        ("iPhoneを買いたい", 4),  # a run of Latin letters among them is one more
        ("予約を 2 名で", 4),
    ],
)
def test_count_words_in_any_script(text: str, words: int) -> None:
    assert count_words(text) == words


def test_korean_first_clause_counts_eojeol() -> None:
    text = "고객님께서 어제 주문하신 상품은, 내일 오전에 도착할 예정입니다. 감사합니다."
    assert stream(text, first_clause_min_words=4) == [
        "고객님께서 어제 주문하신 상품은,",
        "내일 오전에 도착할 예정입니다.",
        "감사합니다.",
    ]
    short = "네, 고객님 주문하신 상품은 내일 도착합니다."
    assert stream(short, first_clause_min_words=4) == [short]


def test_japanese_and_chinese_first_clause_counts_characters() -> None:
    text = "お電話ありがとうございます、ご用件をお伺いします。"
    assert stream(text, first_clause_min_words=4) == [
        "お電話ありがとうございます、",
        "ご用件をお伺いします。",
    ]
    short = "はい、かしこまりました。"
    assert stream(short, first_clause_min_words=4) == [short]
    assert stream("您好，欢迎致电客服中心，请问有什么可以帮您？", first_clause_min_words=4) == [
        "您好，欢迎致电客服中心，",
        "请问有什么可以帮您？",
    ]


KOREAN_PIECES = [
    "네", "알겠", "습니다", "주문", " ", "번호를", "요", "다", "까", ".", "?", "!", "。", ",",
    "、", "，", "1", "3.5", "ご注文", "です", "好的", '"', "…",
]  # fmt: skip


@given(
    st.lists(st.sampled_from(KOREAN_PIECES), max_size=60).map("".join),
    st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=8).map(tuple),
    st.integers(min_value=0, max_value=4),
)
def test_cjk_sentences_do_not_depend_on_token_boundaries(
    text: str, sizes: tuple[int, ...], min_words: int
) -> None:
    whole = SentenceSplitter(min_words)
    expected = whole.push(text) + whole.flush()
    assert stream(text, sizes, min_words) == expected


ENGLISH_PHRASE_STARTS = frozenset({"from", "to", "that", "and", "for"})


def feed_tokens(splitter: SentenceSplitter, text: str) -> list[str]:
    """``text`` pushed a few characters at a time, as tokens come; then flushed."""
    out: list[str] = []
    for start in range(0, len(text), 3):
        out += splitter.push(text[start : start + 3])
    return out + splitter.flush()


def test_first_words_are_cut_before_a_phrase_opening_word() -> None:
    splitter = SentenceSplitter(4, ENGLISH_PHRASE_STARTS)
    said = feed_tokens(splitter, "The library is open from nine to five. It closes for lunch.")
    assert said == ["The library is open", "from nine to five.", "It closes for lunch."]


def test_no_phrase_cut_before_enough_words_or_after_the_first_piece() -> None:
    splitter = SentenceSplitter(4, ENGLISH_PHRASE_STARTS)
    said = feed_tokens(splitter, "Happy to help. I can check that for you and more.")
    assert said == ["Happy to help.", "I can check that for you and more."]


def test_the_cut_comes_as_soon_as_the_phrase_word_is_written() -> None:
    splitter = SentenceSplitter(4, ENGLISH_PHRASE_STARTS)
    assert splitter.push("The next train leaves fro") == []  # "fro" opens nothing
    assert splitter.push("m") == ["The next train leaves"]
    assert splitter.push(" platform two.") == []
    assert splitter.flush() == ["from platform two."]


def test_without_phrase_words_the_first_sentence_waits_for_its_mark() -> None:
    splitter = SentenceSplitter(4)
    assert feed_tokens(splitter, "The library is open from nine to five.") == [
        "The library is open from nine to five."
    ]


def test_a_short_first_clause_goes_at_its_comma_but_a_phrase_needs_its_words() -> None:
    """The defaults: a comma is a pause the voice makes anyway, so "I'm sorry," is said on its
    own; without one, two words before "to" are not a phrase ("I'd like | to" sounds broken)."""
    settings = TtsSettings()

    def splitter() -> SentenceSplitter:
        return SentenceSplitter(
            settings.first_clause_min_words, phrase_starts("en"), settings.first_phrase_min_words
        )

    said = feed_tokens(splitter(), "I'm sorry, but I can't check your package.")
    assert said == ["I'm sorry,", "but I can't check your package."]
    said = feed_tokens(splitter(), "I'd like to help you with that.")
    assert said == ["I'd like to help you", "with that."]
