"""What one tool call did, as the turn record keeps it (and so the call records)."""

from __future__ import annotations

from typing import Literal

import msgspec

ToolStatus = Literal["ok", "error", "timeout", "refused"]
"""``refused``: never run (not declared, arguments against the schema, over a cap, a transfer
target not on the allow-list); ``error``: ran and failed; ``timeout``: no answer in time."""


class ToolRecord(msgspec.Struct, kw_only=True):
    name: str
    """The tool's name as the model wrote it (cut to 64 characters: it is untrusted)."""
    arguments: str
    """The arguments as the model wrote them (cut): caller data, shown as ``log.transcripts``
    allows."""
    status: ToolStatus
    duration_ms: int = 0
    result: str = ""
    """What the tool answered (cut), or why it failed: also shown as ``log.transcripts``
    allows, since it may hold the caller's data."""
