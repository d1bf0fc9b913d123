"""What one utterance through one configuration produced: the caller's measure and the
gateway's records of its turns.

The caller knows the turn that answered (its marks: ``turn3-s0`` is turn 3). An utterance can
be more than one turn in the records: a draft thrown away because the caller went on
(``superseded``, its audio carried into the next turn), or a reply begun in a pause and cut
when the caller went on (``interrupted``, then a turn for the rest). So an utterance's rows are
every turn after the one that answered the utterance before, up to its own answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.lab.turn import TurnMeasure
from gateway.lab.utterances import Utterance
from gateway.records import RecordsReader, TurnRow

SUPERSEDED = "superseded"


def rows_for(turns: list[TurnRow], after_turn: int, heard: list[int]) -> list[TurnRow]:
    """An utterance's records: the turns after ``after_turn`` up to the last one ``heard``
    (none when nothing was heard)."""
    if not heard:
        return []
    return sorted((t for t in turns if after_turn < t.turn <= heard[-1]), key=lambda t: t.turn)


@dataclass
class UtteranceResult:
    config: str
    utterance: Utterance
    measure: TurnMeasure
    call_sid: str
    after_turn: int = 0
    """The call's last answered turn before this utterance (the warm-up's, the previous
    utterance's; 0 at the call's start)."""
    rows: list[TurnRow] = field(default_factory=list)
    """The gateway's records of the utterance's turns, in order; the answer's is the last."""

    @property
    def answer(self) -> TurnRow | None:
        """The record of the turn that answered (the last one heard)."""
        return self.rows[-1] if self.rows else None

    @property
    def heard_text(self) -> str:
        """What the gateway transcribed of the utterance: its turns' transcripts joined (one
        turn, unless a premature reply split it), a superseded draft's words only once (they
        are carried into the next turn)."""
        return " ".join(r.user_text for r in self.rows if r.user_text and r.outcome != SUPERSEDED)

    def as_json(self) -> dict[str, Any]:
        m = self.measure
        return {
            "file": self.utterance.file,
            "text": self.utterance.text,
            "voice": self.utterance.voice,
            "pause_ms": self.utterance.pause_ms,
            "pause_style": self.utterance.pause_style if self.utterance.pause_ms else None,
            "call_sid": self.call_sid,
            "client": {
                "first_sound_ms": m.first_sound_ms,
                "answer_ms": m.answer_ms,
                "reply_ms": m.reply_ms,
                "filler_mark": m.filler_mark,
                "premature_frames": m.premature_frames,
                "gave_up": m.gave_up,
                "turns": m.turns,
            },
            "records": [
                {
                    "turn": r.turn,
                    "outcome": r.outcome,
                    "user_text": r.user_text,
                    "reply_text": r.reply_text,
                    "filler": r.filler,
                    "offsets_ms": r.offsets_ms,
                    "durations_ms": r.durations_ms,
                    "voice_to_voice_ms": r.voice_to_voice_ms,
                    "answer_ms": r.answer_ms,
                }
                for r in self.rows
            ],
        }


def attach_records(results: list[UtteranceResult], records: Path) -> list[str]:
    """Fill each result's rows from the records file; what could not be found, as lines."""
    problems: list[str] = []
    reader = RecordsReader(records)
    try:
        calls = {sid: reader.call(sid) for sid in {r.call_sid for r in results}}
    finally:
        reader.close()
    for result in results:
        detail = calls[result.call_sid]
        if detail is None:
            problems.append(f"{result.config}: call {result.call_sid} is not in {records}")
            continue
        result.rows = rows_for(detail.turns, result.after_turn, result.measure.turns)
        recorded = {row.turn for row in detail.turns}
        missing = [t for t in result.measure.turns if t not in recorded]
        if missing:
            problems.append(f"{result.config}: turns {missing} of {result.call_sid} not recorded")
    return problems
