"""Does a transcript read as a finished thought? Cheap text heuristics on Whisper's output.

Whisper punctuates: a finished sentence ends in . ? or !, an unfinished one tends to end in a
comma, an ellipsis or a bare word. A statement that ends on a conjunction, preposition, article
or filler ("I'd like to.") is treated as unfinished even when Whisper put a period after it.
"""

from __future__ import annotations

import re

CONTINUATION_WORDS = frozenset(
    {
        "and", "or", "but", "so", "because", "then", "to", "the", "a", "an", "of", "for",
        "with", "from", "my", "your", "our", "their", "i'd", "i'm", "like", "um", "uh",
        "er", "if", "that", "which", "about", "also", "maybe", "by", "into", "than",
    }
)  # fmt: skip
_FINAL = re.compile(r"[.?!。？！]$")
_WORD = re.compile(r"[\w']+")


def looks_complete(text: str) -> bool:
    stripped = text.strip()
    if not stripped or stripped.endswith(("...", "…", ",", "-", "—")):
        return False
    if not _FINAL.search(stripped):
        return False
    if stripped[-1] in "?!？！":
        return True  # a question or exclamation is a thought of its own
    words = _WORD.findall(stripped.lower())
    return bool(words) and words[-1] not in CONTINUATION_WORDS
