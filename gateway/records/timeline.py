"""Call records as text: the list of recent calls, and one call's turns as a waterfall.

Pure functions from reader rows to lines, so the command line only prints them. Each turn's
waterfall is drawn on its own scale, milliseconds after the caller's speech end: a bar runs
from when a stage started to when it delivered (the endpoint's from the speech end itself), a
dot marks when a frame first left.
"""

from __future__ import annotations

from datetime import datetime

from gateway.records.reader import CallDetail, CallRow, TurnRow

BAR_CHARS = 40
LABEL_CHARS = 20
_STAGES = (
    # label, delivered (an offsets_ms key), how long it took (a durations_ms key, or None: it
    # starts at the speech end)
    ("endpoint", "endpoint", None),
    ("stt", "transcript", "stt"),
    ("llm first token", "first_token", "llm_first_token"),
    ("llm first clause", "first_sentence", "llm_first_clause"),
    ("tts first audio", "first_audio", "tts_first_audio"),
)
_MEDIA = (("first media", "first_media"), ("answer media", "first_answer_media"))


def local_time(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def duration(call: CallRow) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour), or ``-`` for a call with no end recorded."""
    if call.ended_at is None:
        return "-"
    seconds = max(round(call.ended_at - call.started_at), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


def _ms(value: int | None) -> str:
    return "-" if value is None else f"{value} ms"


def calls_table(calls: list[CallRow]) -> list[str]:
    """One line per call, newest first as given, under a header."""
    lines = [
        f"{'CALL SID':<34}  {'STARTED':<19}  {'LENGTH':>7}  {'TURNS':>5}  "
        f"{'VOICE-TO-VOICE':>14}  ENDED"
    ]
    for call in calls:
        lines.append(
            f"{call.call_sid:<34}  {local_time(call.started_at):<19}  {duration(call):>7}  "
            f"{call.turns:>5}  {_ms(call.median_voice_to_voice_ms):>14}  "
            f"{call.end_reason or ('in progress' if call.ended_at is None else '-')}"
        )
    return lines


def call_timeline(detail: CallDetail) -> list[str]:
    """The call's head, then each turn: what was said, and its waterfall."""
    call = detail.call
    parties = ""
    if call.from_number or call.to_number:
        parties = f" from {call.from_number or '?'} to {call.to_number or '?'}"
    lines = [
        f"call {call.call_sid}{parties}" + (f" ({call.language})" if call.language else ""),
        f"  stream {call.stream_sid}, started {local_time(call.started_at)}, "
        f"lasted {duration(call)}, {call.turns} turn{'s' if call.turns != 1 else ''}",
        f"  median voice-to-voice {_ms(call.median_voice_to_voice_ms)}, "
        f"answer {_ms(call.median_answer_ms)}",
        f"  ended: {call.end_reason or ('still in progress' if call.ended_at is None else '-')}",
    ]
    for turn in detail.turns:
        lines += ["", *turn_lines(turn)]
    return lines


def turn_lines(turn: TurnRow) -> list[str]:
    head = f"turn {turn.turn}: {turn.outcome}"
    if turn.endpoint_reason:
        head += f", ended by {turn.endpoint_reason}"
    end_probability = turn.record.get("end_probability")
    if isinstance(end_probability, float):
        head += f" (model: finished {end_probability:.2f})"
    if turn.speculative:
        head += ", drafted early"
    if turn.speech_end_at is not None:
        head += f", at {local_time(turn.speech_end_at)}"
    lines = [head, f"  caller: {turn.user_text or '-'}"]
    if turn.filler:
        lines.append(f"  filler: {turn.filler}")
    lines.append(f"  agent:  {turn.reply_text or '-'}")
    if turn.outcome == "interrupted" or turn.heard_text:
        cut_ms = turn.record.get("interrupted_after_ms")
        after = f", cut {cut_ms} ms in" if cut_ms is not None else ""
        lines.append(f"  heard:  {turn.heard_text or '-'}{after}")
    if turn.error:
        lines.append(f"  error:  {turn.error}")
    return lines + waterfall(turn)


def waterfall(turn: TurnRow) -> list[str]:
    """The stages as bars on one scale, ms after the caller's speech end; a stage whose start
    is not known (a record from before durations were kept) is a mark where it delivered."""
    offsets, durations = turn.offsets_ms, turn.durations_ms
    rows: list[tuple[str, int | None, int]] = []
    for label, delivered, took in _STAGES:
        end = offsets.get(delivered)
        length = durations.get(took) if took else end
        if end is not None:
            rows.append((label, None if length is None else max(end - length, 0), max(end, 0)))
    for label, key in _MEDIA:
        if (at := offsets.get(key)) is not None:
            rows.append((label, None, max(at, 0)))
    if not rows:
        return ["  (not timed: no speech end)"]
    scale_ms = max([end for _, _, end in rows] + [1])
    scale = f"{scale_ms} ms"
    lines = [f"  {'ms after speech end':<{LABEL_CHARS}} 0{scale:>{BAR_CHARS - 1}}"]
    for label, start, end in rows:
        if start is None:
            column = _column(end, scale_ms)
            bar = " " * column + "*" + " " * (BAR_CHARS - column - 1)
            said = " (filler)" if label == "first media" and turn.filler else ""
            lines.append(f"  {label:<{LABEL_CHARS}}|{bar}| +{end}{said}")
        else:
            bar = _bar(start, end, scale_ms)
            lines.append(f"  {label:<{LABEL_CHARS}}|{bar}| +{start}..+{end} ({end - start} ms)")
    queue_ms = durations.get("queue")
    if queue_ms:
        by_stage = turn.record.get("queue_by_stage_ms") or {}
        parts = ", ".join(f"{stage} {ms}" for stage, ms in sorted(by_stage.items()) if ms)
        detail = f" ({parts})" if parts else ""
        lines.append(f"  queued {queue_ms} ms for other calls' work{detail}")
    return lines


def _column(ms: int, scale_ms: int) -> int:
    return min(round(ms / scale_ms * (BAR_CHARS - 1)), BAR_CHARS - 1)


def _bar(start: int, end: int, scale_ms: int) -> str:
    first, last = _column(start, scale_ms), _column(end, scale_ms)
    return " " * first + "#" * (last - first + 1) + " " * (BAR_CHARS - last - 1)
