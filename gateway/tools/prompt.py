"""The system prompt as a template: ``{from}``, ``{to}``, ``{time}`` and ``{language}``.

Formatted by plain replacement of those four names only, never ``str.format``: any other brace
(a JSON example in the prompt, a typo) stays as written, and a value cannot inject a field of
its own. The values come from the caller's side of the line (a SIP From can hold anything), so
each is cut short and stripped of line breaks and control characters before it goes in.
"""

from __future__ import annotations

import re
from datetime import datetime

FIELDS = ("from", "to", "time", "language")
MAX_VALUE_CHARS = 64
_FIELD = re.compile(r"\{(from|to|time|language)\}")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def clean(value: str) -> str:
    """A value fit for the prompt: one line, printable, at most 64 characters."""
    return _UNPRINTABLE.sub(" ", value).strip()[:MAX_VALUE_CHARS]


def render_prompt(
    template: str, *, from_: str = "", to: str = "", language: str = "", now: datetime
) -> str:
    """``template`` with the four fields filled in; an unknown field is left as it is."""
    values = {
        "from": clean(from_) or "unknown",
        "to": clean(to) or "unknown",
        "time": now.strftime("%A %d %B %Y, %H:%M"),
        "language": clean(language) or "unknown",
    }
    return _FIELD.sub(lambda match: values[match.group(1)], template)
