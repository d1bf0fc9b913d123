"""Does a transcript read as a finished thought? Cheap text heuristics on Whisper's output.

Whisper punctuates: a finished sentence ends in . ? or !, an unfinished one tends to end in a
comma, an ellipsis or a bare word. But a clause cut at a pause often gets a full stop too ("I'd
like to.", "그래서 제가 어제 가게에 갔는데."), so the last word decides as well, by rules kept per
language in ``gateway/languages/<code>.toml`` (a new language is a data file):

- a word that never ends a thought (English "and", "the"; Korean connective endings -고, -는데
  before a full stop) reads as unfinished whatever the punctuation says;
- a word a statement does not end on (English "for", Korean particles 은/는/이/가) reads as
  unfinished unless the sentence is a question or exclamation ("Who is it for?", "누가?").
  Whisper hears rising pitch before a pause as a question ("Could you help me because?"), so
  the first kind is not excused by a question mark;
- a finished ending (Korean -요, -습니다) reads as finished even without a full stop, which
  Whisper often leaves out in Korean;
- any other word: the punctuation decides. A trailing ellipsis, comma or dash is unfinished.

A language without rules (no file, or a file without ``[turn_end]``) gets the conservative
fallback: the punctuation decides, except that a transcript that ends on a hesitation of any
known language ("..., um.") or a statement that ends on a one-letter word (in European languages
a conjunction, preposition or article: "y", "à", "и", "z") reads as unfinished. Unsure means
unfinished: the turn then ends after ``turn.incomplete_end_silence_ms`` instead of
``turn.end_silence_ms``, a little later, never cutting the caller off.

``bench/turn_detectors.py`` measures this against an open audio turn model (smart-turn) and the
chat model's own end-of-message probability on the latency bench's pauses and endings.
"""

from __future__ import annotations

import unicodedata

from gateway.languages import Ending, find, hesitation, words

FINAL_MARKS = ".?!。।؟"
"""Marks that end a sentence (after NFKC normalisation: ？ and ！ are ? and !)."""
QUESTION_MARKS = "?!؟"
"""...of which these end a question or an exclamation."""
TRAILING_OFF = ("...", "…", ",", "、", "-", "—", "~")


def looks_complete(text: str, language: str = "en") -> bool:
    """``language``: a Whisper code ("en", "ko") or name ("korean"); see module doc."""
    stripped = unicodedata.normalize("NFKC", text).strip()
    if not stripped or stripped.endswith(TRAILING_OFF):
        return False
    said = words(stripped)
    if not said:
        return False
    known = find(language)
    rules = known.turn_end if known else None
    kind = _fallback_kind(said) if rules is None else rules.kind_of(said[-1])
    if stripped[-1] not in FINAL_MARKS:
        return kind is Ending.FINISHED
    match kind:
        case Ending.UNFINISHED:
            return False
        case Ending.OPEN_STATEMENT:
            return stripped[-1] in QUESTION_MARKS
        case _:
            return True


def _fallback_kind(said: list[str]) -> Ending:
    last = said[-1]
    if hesitation().fullmatch(last):
        return Ending.UNFINISHED
    if len(said) > 1 and len(last) == 1 and last.isalpha():
        return Ending.OPEN_STATEMENT
    return Ending.NONE
