"""Reading call records back: the CLI, the pages and the bench read calls through this, never
through SQL of their own, so the schema can change behind it.

The file is opened read-only, so reading never takes a write lock from the gateway (WAL: readers
and the writer do not wait for each other) and never creates or migrates anything."""

from __future__ import annotations

import sqlite3
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from gateway.records.schema import SCHEMA_VERSION, RecordsError, version_of


class TurnRow(msgspec.Struct, kw_only=True):
    turn: int
    speech_end_at: float | None
    """Unix time of the caller's speech end."""
    outcome: str
    speculative: bool
    user_text: str
    reply_text: str
    heard_text: str
    filler: str
    language: str
    endpoint_reason: str
    error: str
    offsets_ms: dict[str, int | None]
    """``TurnRecord.offsets_ms()``: each stage's time after speech end."""
    durations_ms: dict[str, int | None]
    """``TurnRecord.durations_ms()``: stt, llm_first_token, llm_first_clause, tts_first_audio,
    queue."""
    voice_to_voice_ms: int | None
    """The first frame sent (a filler's, if any)."""
    answer_ms: int | None
    """The first frame of the answer itself."""
    record: dict[str, Any]
    """The whole stored JSON payload (with fields added to TurnRecord later, e.g. ``tools``)."""


class CallRow(msgspec.Struct, kw_only=True):
    call_sid: str
    stream_sid: str
    from_number: str
    to_number: str
    started_at: float
    ended_at: float | None
    end_reason: str
    language: str
    turns: int
    median_voice_to_voice_ms: int | None
    median_answer_ms: int | None


class CallDetail(msgspec.Struct, kw_only=True):
    call: CallRow
    turns: list[TurnRow]


class RecordsReader:
    """Read-only access to a records file that the gateway wrote."""

    def __init__(self, path: Path) -> None:
        """Raises :class:`RecordsError` when there is no records file at ``path`` or it is not
        one this voicegw reads."""
        self.path = path
        if not path.is_file():
            raise RecordsError(f"no call records at {path}")
        try:
            self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            version = version_of(self._db)
        except sqlite3.Error as error:
            raise RecordsError(f"cannot read call records at {path}: {error}") from None
        if version != SCHEMA_VERSION:
            self._db.close()
            raise RecordsError(
                f"{path} has records schema version {version}, this voicegw reads "
                f"{SCHEMA_VERSION} (start the gateway once to migrate it)"
            )

    def recent_calls(self, limit: int = 50) -> list[CallRow]:
        """The newest calls first."""
        rows = self._db.execute(
            f"SELECT {_CALL_COLUMNS} FROM calls ORDER BY started_at DESC, id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return self._calls(rows)

    def call(self, call_sid: str) -> CallDetail | None:
        """The call with this sid (its newest, should the sid have streamed twice), with its
        turns in order; None if there is none."""
        row = self._db.execute(
            f"SELECT {_CALL_COLUMNS} FROM calls WHERE call_sid = ? ORDER BY id DESC LIMIT 1",
            (call_sid,),
        ).fetchone()
        if row is None:
            return None
        turns = self._db.execute(
            "SELECT turn, speech_end_at, voice_to_voice_ms, answer_ms, record FROM turns"
            " WHERE call_id = ? ORDER BY turn, id",
            (row[0],),
        ).fetchall()
        return CallDetail(call=self._calls([row])[0], turns=[_turn(*turn) for turn in turns])

    def close(self) -> None:
        self._db.close()

    def _calls(self, rows: Sequence[tuple[Any, ...]]) -> list[CallRow]:
        latencies: dict[int, list[tuple[int | None, int | None]]] = {row[0]: [] for row in rows}
        if latencies:
            marks = ", ".join("?" * len(latencies))
            for call_id, v2v, answer in self._db.execute(
                "SELECT call_id, voice_to_voice_ms, answer_ms FROM turns"
                f" WHERE call_id IN ({marks})",
                tuple(latencies),
            ):
                latencies[call_id].append((v2v, answer))
        return [_call(row, latencies[row[0]]) for row in rows]


_CALL_COLUMNS = (
    "id, call_sid, stream_sid, from_number, to_number, started_at, ended_at, end_reason, language"
)


def _call(row: tuple[Any, ...], turns: list[tuple[int | None, int | None]]) -> CallRow:
    _, sid, stream, from_number, to_number, started, ended, reason, language = row
    return CallRow(
        call_sid=sid,
        stream_sid=stream,
        from_number=from_number,
        to_number=to_number,
        started_at=started,
        ended_at=ended,
        end_reason=reason,
        language=language,
        turns=len(turns),
        median_voice_to_voice_ms=_median(v2v for v2v, _ in turns),
        median_answer_ms=_median(answer for _, answer in turns),
    )


def _turn(
    turn: int, speech_end_at: float | None, v2v: int | None, answer: int | None, record: str
) -> TurnRow:
    payload: dict[str, Any] = msgspec.json.decode(record)
    return TurnRow(
        turn=turn,
        speech_end_at=speech_end_at,
        outcome=str(payload.get("outcome", "")),
        speculative=bool(payload.get("speculative", False)),
        user_text=str(payload.get("user_text", "")),
        reply_text=str(payload.get("reply_text", "")),
        heard_text=str(payload.get("heard_text", "")),
        filler=str(payload.get("filler", "")),
        language=str(payload.get("language", "")),
        endpoint_reason=str(payload.get("endpoint_reason", "")),
        error=str(payload.get("error", "")),
        offsets_ms=dict(payload.get("offsets_ms") or {}),
        durations_ms=dict(payload.get("durations_ms") or {}),
        voice_to_voice_ms=v2v,
        answer_ms=answer,
        record=payload,
    )


def _median(values: Iterable[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return round(statistics.median(known)) if known else None
