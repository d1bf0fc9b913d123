"""Cut a stream of LLM tokens into speakable sentences, as early as is safe.

A boundary is a terminal mark (. ! ? … 。 ！ ？) followed by whitespace, a closing quote or the end
of the reply. A period is not a boundary after an abbreviation ("Dr. Kim", "e.g."), an initial
("J. Smith"), or inside a number ("3.14"): a period at the very end of the buffer waits for the
next token to tell. Korean, Japanese and Chinese sentences may run straight into the next one
without a space ("알겠습니다.주문 번호를"): after a Hangul syllable, kana or ideograph any mark is a
boundary. The first clause of a reply (up to a comma-like mark: "I'm sorry," / "Sure,") is
released on its own once it has ``first_clause_min_words`` words (:func:`count_words`), so speech
starts before the first sentence is finished; without a mark, so are its first
``first_phrase_min_words`` words or more before a word that opens a phrase (the language's
``phrase_starts``: "The library is open | from nine to five."). A comma is a pause the voice
makes anyway; a phrase cut is not, hence its longer minimum ("I'd like | to" would sound
broken). A long later sentence is released clause by clause, so no synthesis step holds the CPU
long.
"""

from __future__ import annotations

import re

TERMINALS = frozenset(".!?…。！？")
CLAUSE_MARKS = frozenset(",;:—，、")
WIDE_CLAUSE_MARKS = frozenset("，、")
"""Clause marks of scripts written without spaces: no space follows them, and no number
holds them ("1,000")."""
CLOSERS = frozenset("\"'”’)]」』")
ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e",
        "no", "approx", "dept", "inc", "ltd", "co", "jan", "feb", "mar", "apr", "jun", "jul",
        "aug", "sep", "sept", "oct", "nov", "dec", "a.m", "p.m", "u.s", "u.k", "fig", "ave",
    }
)  # fmt: skip
MAX_SENTENCE_CHARS = 240
"""Past this a sentence is cut at the last space: TTS latency grows with length."""
CLAUSE_SENTENCE_CHARS = 80
"""A later sentence this long is also cut at a clause mark: each piece is one synthesis step, and
a step holds the CPU from every other call's first words (Piper takes about 5 ms a character
here: a 240-character sentence held it for 1.2 s)."""

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_CJK = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]"
)
"""Kana and ideographs: Japanese and Chinese, written without spaces between words."""


_WORD = re.compile(r"\S+")


def _runs_on(char: str) -> bool:
    """Text in this script may start the next sentence right after the mark, with no space."""
    return bool(_HANGUL.match(char) or _CJK.match(char))


def count_words(text: str) -> int:
    """Words as a listener would count them, in any script.

    Whitespace separates words in most scripts, and Korean eojeol (a word with its particles:
    "주문 번호를" is two). Japanese and Chinese write no spaces: there two kana or ideographs
    count as a word (a Chinese word is one to two characters, a Japanese one two to three), and
    a run of other letters among them ("iPhoneを") as one more.
    """
    count = 0
    for chunk in text.split():
        wide = len(_CJK.findall(chunk))
        if not wide:
            count += 1
            continue
        rest = _CJK.sub(" ", chunk).split()
        count += (wide + 1) // 2 + sum(1 for part in rest if any(c.isalnum() for c in part))
    return count


def _word_before(text: str, end: int) -> str:
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end].lstrip("\"'“‘([")


class SentenceSplitter:
    """Feed tokens with :meth:`push`; it returns the sentences that are complete."""

    def __init__(
        self,
        first_clause_min_words: int = 4,
        phrase_starts: frozenset[str] = frozenset(),
        first_phrase_min_words: int = 4,
    ) -> None:
        """``phrase_starts``: words (lower case) before which the reply's first words may be
        cut, once they are ``first_phrase_min_words`` long. Either minimum at 0: no such cut."""
        self._buffer = ""
        self._first_clause_min_words = first_clause_min_words
        self._phrase_starts = phrase_starts
        self._first_phrase_min_words = first_phrase_min_words
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
            elif char in CLAUSE_MARKS:
                cut = self._clause_cut(text, index)
                if cut is not None:
                    return cut
        if len(text) > MAX_SENTENCE_CHARS:
            space = text.rfind(" ", 0, MAX_SENTENCE_CHARS)
            return space if space > 0 else MAX_SENTENCE_CHARS
        return self._phrase_cut(text)

    def _phrase_cut(self, text: str) -> int | None:
        """Before the first phrase-opening word once the reply's first words are long enough.
        The words before it are whole (a space follows them); the opening word itself may still
        grow ("for" into "format"): the cut is before it either way."""
        if self._emitted_any or self._first_phrase_min_words <= 0 or not self._phrase_starts:
            return None
        for match in _WORD.finditer(text):
            start = match.start()
            if (
                match.group().lower() in self._phrase_starts
                and count_words(text[:start]) >= self._first_phrase_min_words
            ):
                return start
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
        # Korean, Japanese and Chinese run sentences together without a space: "감사합니다.다음은".
        # After a closing quote they do not: '"네."라고 하셨죠?' is one sentence.
        if index > 0 and _runs_on(text[index - 1]) and text[end - 1] not in CLOSERS:
            return end
        return None

    def _is_abbreviation(self, text: str, index: int) -> bool:
        word = _word_before(text, index)
        if len(word) == 1 and word.isalpha() and word.isupper():
            return True  # an initial: "J. Smith"
        return word.lower() in ABBREVIATIONS

    def _clause_cut(self, text: str, index: int) -> int | None:
        """A cut after the clause mark at ``index``: the reply's first clause, once it has its
        words (speech starts sooner), or a piece of a long later sentence (see
        :data:`CLAUSE_SENTENCE_CHARS`)."""
        if self._emitted_any:
            if index < CLAUSE_SENTENCE_CHARS:
                return None
        elif self._first_clause_min_words <= 0:
            return None
        if text[index] not in WIDE_CLAUSE_MARKS and (
            index + 1 >= len(text) or not text[index + 1].isspace()
        ):
            return None  # "1,000" or the next token is not here yet
        if not self._emitted_any and count_words(text[:index]) < self._first_clause_min_words:
            return None
        return index + 1
