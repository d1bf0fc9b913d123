"""Does a transcript hold words worth answering, or only hesitation and noise?

Speech recognisers write a hesitation as "Uh..." or "Hmm", and a cough or music as "(coughs)" or
"[Music]". None of that is something to answer, and when it is what cut the agent off, the
interruption was a false alarm.
"""

from __future__ import annotations

import re

FILLER = re.compile(r"(u+h+|a+h+|e+h+|o+h+|h+m+|m+|m+h+m+|e+r+m*|u+m+|a+h*m+|uh-huh|mm-hmm|huh)")
"""Hesitations and backchannels, however many letters the recogniser stretched them to."""
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*")
_TOKEN = re.compile(r"[a-z0-9']+(?:-[a-z0-9']+)*")


def has_words(text: str) -> bool:
    spoken = _ANNOTATION.sub(" ", text.lower())
    return any(not FILLER.fullmatch(token) for token in _TOKEN.findall(spoken))
