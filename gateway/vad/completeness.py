"""Does a transcript read as a finished thought? Cheap text heuristics on Whisper's output.

Whisper punctuates: a finished sentence ends in . ? or !, an unfinished one tends to end in a
comma, an ellipsis or a bare word. A statement that ends on a conjunction, preposition, article
or filler ("I'd like to.") is treated as unfinished even when Whisper put a period after it. A
question may end on a preposition ("Who is it for?") but not on a conjunction or an article:
Whisper hears rising pitch before a pause as a question ("Could you help me because?").

``bench/turn_detectors.py`` measures this against an open audio turn model (smart-turn) and the
chat model's own end-of-message probability on the latency bench's pauses and endings.
"""

from __future__ import annotations

import re

DANGLING_WORDS = frozenset(
    {
        "and", "or", "but", "because", "the", "a", "an", "my", "your", "our", "their", "i'd",
        "i'm", "um", "uh", "er", "if", "than",
    }
)  # fmt: skip
"""No thought ends on these, whatever Whisper's punctuation says."""
CONTINUATION_WORDS = DANGLING_WORDS | frozenset(
    {
        "so", "then", "to", "of", "for", "with", "from", "like", "that", "which", "about",
        "also", "maybe", "by", "into",
    }
)  # fmt: skip
"""A statement does not end on these; a question may ("What is it for?")."""
_FINAL = re.compile(r"[.?!。？！]$")
_WORD = re.compile(r"[\w']+")


def looks_complete(text: str) -> bool:
    stripped = text.strip()
    if not stripped or stripped.endswith(("...", "…", ",", "-", "—")):
        return False
    if not _FINAL.search(stripped):
        return False
    words = _WORD.findall(stripped.lower())
    if not words:
        return False
    if stripped[-1] in "?!？！":
        return words[-1] not in DANGLING_WORDS  # a question or exclamation stands on its own
    return words[-1] not in CONTINUATION_WORDS
