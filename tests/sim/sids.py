"""Twilio-shaped sids for simulated calls: ``CA``/``MZ``/``AC`` and 32 hex digits.

The gateway refuses a ``start`` whose sids are not in Twilio's format, so every simulated call
needs real-looking ones. :func:`new_call` numbers them (``CAca11000...01``, then ``...02``);
:func:`named_call` derives them from a name, so a test can refer to "the bystander's" call and
still find it in logs and records.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import NamedTuple

ACCOUNT_SID = "AC" + "0" * 31 + "1"
_numbers = itertools.count(1)


class CallSids(NamedTuple):
    call_sid: str
    stream_sid: str


def new_call() -> CallSids:
    """The next of a counter's sids (unique within the process; "ca11", then the number)."""
    number = next(_numbers)
    return CallSids(f"CAca11{number:028x}", f"MZca11{number:028x}")


def named_call(name: str) -> CallSids:
    """The same sids for the same name: ``named_call("bystander").call_sid``."""
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    return CallSids(f"CA{digest}", f"MZ{digest}")
