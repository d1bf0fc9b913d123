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

import math
import unicodedata
from dataclasses import dataclass
from enum import Enum, auto

from gateway.languages import Ending, find, hesitation, words
from gateway.vad.endpointer import EndWait

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


class Reading(Enum):
    """How a draft's words read."""

    UNFINISHED = auto()
    FINISHED = auto()
    SURELY_FINISHED = auto()


@dataclass(frozen=True, slots=True)
class EndModelThresholds:
    """Where the chat model's end-of-message probability (:mod:`gateway.llm.turn_end`) moves
    the reading: at or above ``sure`` a finished transcript is surely finished; below
    ``unsure`` any transcript is held as unfinished."""

    sure: float
    unsure: float


def read_transcript(
    text: str,
    language: str,
    end_probability: float | None = None,
    thresholds: EndModelThresholds | None = None,
) -> Reading:
    """The text decides what is unfinished; the model, where it scored, how sure a finished
    reading is, and it may hold a text that reads as finished ("Thank you." after "How can I
    help?", a clause Whisper closed with a full stop) as unfinished."""
    if not looks_complete(text, language):
        return Reading.UNFINISHED
    if end_probability is None or thresholds is None:
        return Reading.FINISHED
    if end_probability < thresholds.unsure:
        return Reading.UNFINISHED
    if end_probability >= thresholds.sure:
        return Reading.SURELY_FINISHED
    return Reading.FINISHED


@dataclass(frozen=True, slots=True)
class EndWaits:
    """The silences that end a turn (``[turn]``), and the model's thresholds."""

    sure_ms: int
    finished_ms: int
    unfinished_ms: int
    thresholds: EndModelThresholds
    doubtful_ms: int = 0
    """Where the wait of a turn the model is not sure of starts (never before ``sure_ms``)."""


def end_wait(text: str, language: str, end_probability: float | None, waits: EndWaits) -> EndWait:
    """How long a silence ends the turn after these words. Surely finished: ``sure_ms``;
    unfinished: ``unfinished_ms``. Finished by the text alone (no model score):
    ``finished_ms``. Finished by the text with a model in between its two thresholds: the less
    sure the model, the longer, from ``doubtful_ms`` at the sure threshold to ``unfinished_ms``
    at the unsure one, on a log scale of the probability (a complete-looking clause the model
    gives 0.13 waits about 1 s, long enough for most pauses in a sentence)."""
    reading = read_transcript(text, language, end_probability, waits.thresholds)
    sure_ms = min(waits.sure_ms, waits.unfinished_ms)
    match reading:
        case Reading.UNFINISHED:
            return EndWait(waits.unfinished_ms, "silence")
        case Reading.SURELY_FINISHED:
            return EndWait(sure_ms, "sure_end")
    if end_probability is None:
        return EndWait(min(waits.finished_ms, waits.unfinished_ms), "finished_thought")
    sure, unsure = waits.thresholds.sure, waits.thresholds.unsure
    if sure <= unsure:
        return EndWait(sure_ms, "finished_thought")
    doubt = math.log(sure / end_probability) / math.log(sure / unsure)  # 0 sure .. 1 unsure
    least_ms = min(max(sure_ms, waits.doubtful_ms), waits.unfinished_ms)
    silence_ms = least_ms + doubt * (waits.unfinished_ms - least_ms)
    return EndWait(round(silence_ms), "finished_thought")
