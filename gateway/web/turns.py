"""A turn as the pages draw it: its stages in ms after the caller's speech ended.

The same shape comes from a reply in progress (the talk page, live) and from a call record (the
calls page), so one waterfall drawing serves both. Each stage that ran has a start and an end:
``offsets_ms`` are when each stage delivered (``TurnRecord.offsets_ms``), ``starts_ms`` when the
stages that take time began (transcribing, asking the model, synthesizing the first clause).
"""

from __future__ import annotations

import msgspec

from gateway.pipeline.reply import Reply
from gateway.records import TurnRow

STARTS = {
    "stt": ("transcript", "stt"),
    "llm": ("first_token", "llm_first_token"),
    "tts": ("first_audio", "tts_first_audio"),
}
"""Stage -> (the offset it ends at, its duration): its start is the one less the other."""


class TurnView(msgspec.Struct, tag_field="event", tag="turn", kw_only=True):
    turn: int
    label: str = ""
    outcome: str
    done: bool = True
    user_text: str
    reply_text: str
    heard_text: str = ""
    filler: str = ""
    offsets_ms: dict[str, int | None]
    starts_ms: dict[str, int | None]
    voice_to_voice_ms: int | None
    answer_ms: int | None
    now_ms: int | None = None
    """Of a turn in progress: the gateway's clock when this was made, after speech end (the
    page extends the bars of stages still running from it)."""


def starts_from(
    offsets_ms: dict[str, int | None], durations_ms: dict[str, int | None]
) -> dict[str, int | None]:
    starts: dict[str, int | None] = {}
    for stage, (end, duration) in STARTS.items():
        end_ms, took_ms = offsets_ms.get(end), durations_ms.get(duration)
        starts[stage] = None if end_ms is None or took_ms is None else end_ms - took_ms
    return starts


def from_row(row: TurnRow) -> TurnView:
    """A turn read back from the call records."""
    return TurnView(
        turn=row.turn,
        outcome=row.outcome,
        user_text=row.user_text,
        reply_text=row.reply_text,
        heard_text=row.heard_text,
        filler=row.filler,
        offsets_ms=row.offsets_ms,
        starts_ms=starts_from(row.offsets_ms, row.durations_ms),
        voice_to_voice_ms=row.voice_to_voice_ms,
        answer_ms=row.answer_ms,
    )


def from_reply(reply: Reply, now: float) -> TurnView:
    """A committed reply as it stands now. Its origin is the caller's speech end (a keypad
    entry or the greeting has none: then offsets are None and only the words are shown)."""
    progress = reply.progress
    record = reply.record()
    origin = progress.speech_end

    def after(at: float | None) -> int | None:
        return None if origin is None or at is None else round((at - origin) * 1000)

    offsets = record.offsets_ms()
    starts = {
        "stt": after(progress.stt_started),
        "llm": after(progress.llm_started),
        "tts": after(progress.tts_started),
    }
    written = progress.reply_text or " ".join(s.text for s in reply.rendered)
    return TurnView(
        turn=progress.turn,
        label=reply.label,
        outcome=progress.outcome,
        done=reply.task_done,
        user_text=progress.user_text,
        reply_text=written,
        heard_text=progress.heard.text if progress.heard else "",
        filler=progress.filler,
        offsets_ms=offsets,
        starts_ms=starts,
        voice_to_voice_ms=offsets["first_media"],
        answer_ms=offsets["first_answer_media"],
        now_ms=after(now),
    )
