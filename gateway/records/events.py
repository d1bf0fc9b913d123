"""What the writer is handed: a call began, a turn was over, a call ended.

Made on the event loop from the call's own values, with what was said already cut to
``log.transcripts``; written later, in the writer's thread.
"""

from __future__ import annotations

import msgspec


class CallBegan(msgspec.Struct, frozen=True, kw_only=True):
    call_sid: str
    stream_sid: str
    from_number: str
    to_number: str
    started_at: float
    """Unix time."""
    language: str


class TurnOver(msgspec.Struct, frozen=True, kw_only=True):
    call_sid: str
    turn: int
    speech_end_at: float | None
    """Unix time of the caller's speech end."""
    outcome: str
    voice_to_voice_ms: int | None
    answer_ms: int | None
    record: bytes
    """``TurnRecord.as_json(transcripts)``, plus anything later versions add to it."""


class CallFinished(msgspec.Struct, frozen=True, kw_only=True):
    call_sid: str
    ended_at: float
    end_reason: str
    language: str
    """The call's language at its end (``"auto"`` calls learn it on their first words)."""


RecordEvent = CallBegan | TurnOver | CallFinished
