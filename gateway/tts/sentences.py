"""Cut a stream of LLM tokens into speakable sentences, as early as is safe.

A boundary is a terminal mark (. ! ? … 。 ！ ？) followed by whitespace, a closing quote or the end
of the reply. A period is not a boundary after an abbreviation ("Dr. Kim", "e.g."), an initial
("J. Smith"), or inside a number ("3.14"): a period at the very end of the buffer waits for the
next token to tell. Korean sentences end in 요/다/죠/까 plus a mark and may run straight into the
next sentence without a space. The first clause of a reply (up to a comma-like mark) is released
on its own once it is long enough, so speech starts before the first sentence is finished.
"""

from __future__ import annotations

import re

TERMINALS = frozenset(".!?…。！？")
CLAUSE_MARKS = frozenset(",;:—，、")
CLOSERS = frozenset("\"'”’)]」』")
KOREAN_ENDINGS = frozenset("요다죠까")
ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e",
        "no", "approx", "dept", "inc", "ltd", "co", "jan", "feb", "mar", "apr", "jun", "jul",
        "aug", "sep", "sept", "oct", "nov", "dec", "a.m", "p.m", "u.s", "u.k", "fig", "ave",
    }
)  # fmt: skip
MAX_SENTENCE_CHARS = 240
"""Past this a sentence is cut at the last space: TTS latency grows with length."""

_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _is_hangul(char: str) -> bool:
    return bool(_HANGUL.match(char))


def _word_before(text: str, end: int) -> str:
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end].lstrip("\"'“‘([")


class SentenceSplitter:
    """Feed tokens with :meth:`push`; it returns the sentences that are complete."""

    def __init__(self, first_clause_min_words: int = 4) -> None:
        self._buffer = ""
        self._first_clause_min_words = first_clause_min_words
        self._emitted_any = False

    def push(self, text: str) -> list[str]:
        self._buffer += text
        sentences: list[str] = []
        while True:
            cut = self._find_cut()
            if cut is None:
                break
            sentence, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if sentence:
                sentences.append(sentence)
                self._emitted_any = True
        return sentences

    def flush(self) -> list[str]:
        """The rest of the reply, at its end."""
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []

    def _find_cut(self) -> int | None:
        text = self._buffer
        for index, char in enumerate(text):
            if char in TERMINALS:
                cut = self._terminal_cut(text, index)
                if cut is not None:
                    return cut
            elif char in CLAUSE_MARKS and not self._emitted_any:
                cut = self._clause_cut(text, index)
                if cut is not None:
                    return cut
        if len(text) > MAX_SENTENCE_CHARS:
            space = text.rfind(" ", 0, MAX_SENTENCE_CHARS)
            return space if space > 0 else MAX_SENTENCE_CHARS
        return None

    def _terminal_cut(self, text: str, index: int) -> int | None:
        end = index + 1
        while end < len(text) and (text[end] in TERMINALS or text[end] in CLOSERS):
            end += 1
        if end >= len(text):
            return None  # the next token decides (a decimal, an abbreviation, more "...")
        following = text[end]
        char = text[index]
        if char in "。！？":
            return end
        if following.isspace():
            if char == "." and end == index + 1 and self._is_abbreviation(text, index):
                return None
            return end
        # Korean runs sentences together without a space: "감사합니다.다음은"
        if index > 0 and text[index - 1] in KOREAN_ENDINGS and _is_hangul(following):
            return end
        return None

    def _is_abbreviation(self, text: str, index: int) -> bool:
        word = _word_before(text, index)
        if len(word) == 1 and word.isalpha() and word.isupper():
            return True  # an initial: "J. Smith"
        return word.lower() in ABBREVIATIONS

    def _clause_cut(self, text: str, index: int) -> int | None:
        if self._first_clause_min_words <= 0:
            return None
        if index + 1 >= len(text) or not text[index + 1].isspace():
            return None  # "1,000" or the next token is not here yet
        if len(text[:index].split()) < self._first_clause_min_words:
            return None
        return index + 1
