"""The sentence splitter for any reply and any tokenization: the same sentences whatever the
token boundaries, none empty or padded, none much past the length cap."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.tts.sentences import MAX_SENTENCE_CHARS, SentenceSplitter

# Pieces that exercise every rule: terminals, clause marks, quotes, abbreviations, initials,
# decimals, Korean endings and full-width marks.
PIECES = [
    *"ab .,;!?…\"')3",
    " ",
    "Dr",
    "e.g",
    "J",
    "p.m",
    "요",
    "다",
    "습니",
    "。",
    "？",
    "，",
    "\n",
]
replies = st.lists(st.sampled_from(PIECES), max_size=120).map(
    lambda p: "".join(p)[:MAX_SENTENCE_CHARS]
)
"""At most the length cap: a cut for length is the one rule that depends on how much of the
reply has arrived, so past it the sentences may differ with the tokenization."""


def split(text: str, token_size: int, first_clause_min_words: int = 3) -> list[str]:
    splitter = SentenceSplitter(first_clause_min_words)
    out: list[str] = []
    for i in range(0, len(text), token_size):
        out += splitter.push(text[i : i + token_size])
    return out + splitter.flush()


@settings(max_examples=400, deadline=None)
@given(replies, st.integers(1, 9), st.integers(1, 9), st.integers(0, 5))
def test_token_boundaries_do_not_change_the_sentences(
    text: str, size_a: int, size_b: int, min_words: int
) -> None:
    assert split(text, size_a, min_words) == split(text, size_b, min_words)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=1500), st.integers(1, 9))
def test_sentences_are_trimmed_non_empty_and_capped(text: str, token_size: int) -> None:
    for sentence in split(text, token_size):
        assert sentence and sentence == sentence.strip()
        assert len(sentence) <= MAX_SENTENCE_CHARS + token_size
