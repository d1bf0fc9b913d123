"""Writing records: batches of events in one transaction each, and the retention sweep.

Used from the writer's thread only; the connection is made there and never leaves it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from gateway.records.events import CallBegan, CallFinished, RecordEvent, TurnOver
from gateway.records.schema import connect

_LATEST_CALL = "(SELECT max(id) FROM calls WHERE call_sid = ?)"
"""A call sid's newest call: the one its turns and its end belong to."""


class RecordsStore:
    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self._db = connect(path, busy_timeout_ms=busy_timeout_ms)

    def write(self, events: Sequence[RecordEvent]) -> None:
        """All of ``events`` or none of them (the error is raised)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for event in events:
                _apply(db, event)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def delete_before(self, cutoff: float) -> int:
        """Delete the calls started before ``cutoff`` (unix time), with their turns, and turns
        of no known call spoken before it; returns how many calls went."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            calls = db.execute("DELETE FROM calls WHERE started_at < ?", (cutoff,)).rowcount
            db.execute("DELETE FROM turns WHERE call_id IS NULL AND speech_end_at < ?", (cutoff,))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return calls

    def close(self) -> None:
        self._db.close()


def _apply(db: sqlite3.Connection, event: RecordEvent) -> None:
    match event:
        case CallBegan():
            db.execute(
                "INSERT INTO calls (call_sid, stream_sid, from_number, to_number, started_at,"
                " language) VALUES (?, ?, ?, ?, ?, ?)",
                (event.call_sid, event.stream_sid, event.from_number, event.to_number,
                 event.started_at, event.language),
            )  # fmt: skip
        case TurnOver():
            db.execute(
                "INSERT INTO turns (call_id, call_sid, turn, speech_end_at, outcome,"
                f" voice_to_voice_ms, answer_ms, record) VALUES ({_LATEST_CALL}, ?, ?, ?, ?, ?,"
                " ?, ?)",
                (event.call_sid, event.call_sid, event.turn, event.speech_end_at, event.outcome,
                 event.voice_to_voice_ms, event.answer_ms, event.record.decode()),
            )  # fmt: skip
        case CallFinished():
            db.execute(
                "UPDATE calls SET ended_at = ?, end_reason = ?,"
                " language = coalesce(nullif(?, ''), language)"
                f" WHERE id = {_LATEST_CALL}",
                (event.ended_at, event.end_reason, event.language, event.call_sid),
            )
