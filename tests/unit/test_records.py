"""Call records in a real SQLite file: schema migration, retention, privacy, the bounded queue,
and a write that fails (a locked file) counted and survived. No models: events are made here."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import msgspec
import pytest

from gateway.metrics import GatewayMetrics, TurnRecord
from gateway.pipeline.caller_context import CallerContext
from gateway.records import RecordsError, RecordsReader
from gateway.records.events import CallBegan, CallFinished, TurnOver
from gateway.records.recorder import CallRecorder
from gateway.records.schema import SCHEMA_VERSION, connect, migrate, version_of
from gateway.records.store import RecordsStore
from gateway.records.writer import DAY_S, RecordsWriter
from gateway.runtime import CallEnded, CallStarted

SID = "CA" + "1" * 32
STREAM = "MZ" + "1" * 32
NOW = 1_800_000_000.0


def turn_record(turn: int = 1, speech_end: float = 100.0, **fields: object) -> TurnRecord:
    """A replied turn with every stage, 100 ms apart after the speech end (monotonic times)."""
    at = {
        "speech_end": speech_end,
        "endpoint": speech_end + 0.6,
        "stt_started": speech_end + 0.6,
        "transcript": speech_end + 0.9,
        "llm_started": speech_end + 0.9,
        "first_token": speech_end + 1.1,
        "first_sentence": speech_end + 1.3,
        "tts_started": speech_end + 1.3,
        "first_audio": speech_end + 1.45,
        "first_media": speech_end + 1.5,
        "first_answer_media": speech_end + 1.5,
    }
    values: dict[str, object] = {
        "call_sid": SID,
        "turn": turn,
        "speculative": False,
        "user_text": "What time does the library open?",
        "reply_text": "It opens at nine.",
        "endpoint_reason": "silence",
        "language": "en",
        "queue_ms": 40,
        "queue_by_stage_ms": {"llm": 40},
        **at,
        **fields,
    }
    return msgspec.convert(values, TurnRecord)


def writer(path: Path, metrics: GatewayMetrics, **options: object) -> RecordsWriter:
    return RecordsWriter(
        path,
        failures=metrics.records_write_failures,
        dropped=metrics.records_dropped,
        **options,  # type: ignore[arg-type]
    )


def counted(metrics: GatewayMetrics, name: str) -> float:
    return metrics.registry.get_sample_value(f"voicegw_records_{name}_total") or 0.0


async def record_a_call(
    path: Path, transcripts: str = "full", started_at: float = NOW, turns: int = 2
) -> GatewayMetrics:
    """One call of ``turns`` turns, through the recorder and the writer, as the gateway does."""
    metrics = GatewayMetrics()
    records = writer(path, metrics)
    records.start()
    clock = 200.0
    recorder = CallRecorder(
        records.submit,
        transcripts,  # type: ignore[arg-type]
        clock=lambda: clock,
        wall_clock=lambda: started_at + 60,
    )
    caller = CallerContext(call_sid=SID, from_="+15551230000", to="sip:desk@example.com")
    recorder.call_started(CallStarted(caller, STREAM, "en", started_at))
    for turn in range(1, turns + 1):
        recorder.turn_over(turn_record(turn, speech_end=100.0 + turn * 10))
    recorder.call_ended(CallEnded(SID, "caller hung up", 0, (), "en"))
    await records.aclose()
    return metrics


def files_holding(path: Path, text: bytes) -> list[Path]:
    """The database's files (the file, its WAL) with ``text`` in them."""
    files = [f for f in path.parent.iterdir() if f.name.startswith(path.name)]
    return [f for f in files if text in f.read_bytes()]


# -- schema -----------------------------------------------------------------------------------


async def test_a_version_1_file_is_migrated_and_keeps_its_calls(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    migrate(old, to_version=1)
    assert version_of(old) == 1
    old.execute(
        "INSERT INTO calls (call_sid, stream_sid, started_at, ended_at, end_reason)"
        " VALUES (?, ?, ?, ?, ?)",
        (SID, STREAM, NOW, NOW + 30, "caller hung up"),
    )
    old.execute(
        "INSERT INTO turns (call_id, call_sid, turn, speech_end_at, outcome, voice_to_voice_ms,"
        " record) VALUES (1, ?, 1, ?, 'replied', 1500, ?)",
        (SID, NOW + 5, turn_record().as_json("full").decode()),
    )
    old.close()

    RecordsStore(path).close()  # what start-up does

    migrated = sqlite3.connect(path)
    assert version_of(migrated) == SCHEMA_VERSION == 2
    assert migrated.execute("SELECT answer_ms FROM turns").fetchone() == (1500,)
    migrated.close()
    reader = RecordsReader(path)
    detail = reader.call(SID)
    reader.close()
    assert detail is not None
    assert detail.call.end_reason == "caller hung up" and detail.call.language == ""
    assert detail.call.median_answer_ms == 1500
    assert [t.answer_ms for t in detail.turns] == [1500]


def test_a_file_from_a_newer_voicegw_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    RecordsStore(path).close()
    newer = sqlite3.connect(path)
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer.close()
    with pytest.raises(RecordsError, match="newer"):
        RecordsStore(path)
    with pytest.raises(RecordsError, match="schema version"):
        RecordsReader(path)


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    db = connect(tmp_path / "deep" / "calls.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


def test_reading_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(RecordsError, match="no call records at"):
        RecordsReader(tmp_path / "absent.sqlite3")
    assert not (tmp_path / "absent.sqlite3").exists(), "reading never creates the file"


# -- what is kept -----------------------------------------------------------------------------


async def test_a_call_and_its_turns_read_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    await record_a_call(path)
    reader = RecordsReader(path)
    (call,) = reader.recent_calls()
    detail = reader.call(SID)
    assert reader.call("CA" + "9" * 32) is None
    reader.close()
    assert call.call_sid == SID and call.stream_sid == STREAM
    assert (call.from_number, call.to_number) == ("+15551230000", "sip:desk@example.com")
    assert call.started_at == NOW and call.ended_at == NOW + 60
    assert call.end_reason == "caller hung up" and call.language == "en"
    assert call.turns == 2 and call.median_voice_to_voice_ms == call.median_answer_ms == 1500
    assert detail is not None and [t.turn for t in detail.turns] == [1, 2]
    turn = detail.turns[0]
    assert turn.user_text == "What time does the library open?"
    assert turn.reply_text == "It opens at nine." and turn.outcome == "replied"
    assert turn.offsets_ms["transcript"] == 900 and turn.offsets_ms["first_answer_media"] == 1500
    assert turn.durations_ms == {
        "stt": 300,
        "llm_first_token": 200,
        "llm_first_clause": 400,
        "tts_first_audio": 150,
        "queue": 40,
    }
    # The speech end, a monotonic time, became a unix one: 90 s before "now" (clock 200).
    assert turn.speech_end_at == pytest.approx(NOW + 60 - (200 - 110))
    assert turn.record["queue_by_stage_ms"] == {"llm": 40}
    assert files_holding(path, b"library"), "full: the words are kept"


async def test_fields_added_to_the_turn_record_later_are_kept(tmp_path: Path) -> None:
    """A later TurnRecord field (the tool runs) lands in the JSON column, no migration."""
    path = tmp_path / "calls.sqlite3"
    payload = msgspec.json.decode(turn_record().as_json("full"))
    payload["tools"] = [{"name": "opening_hours", "ms": 12}]
    store = RecordsStore(path)
    store.write(
        [
            CallBegan(call_sid=SID, stream_sid=STREAM, from_number="", to_number="",
                      started_at=NOW, language=""),
            TurnOver(call_sid=SID, turn=1, speech_end_at=NOW + 1, outcome="replied",
                     voice_to_voice_ms=1500, answer_ms=1500, record=msgspec.json.encode(payload)),
        ]
    )  # fmt: skip
    store.close()
    reader = RecordsReader(path)
    detail = reader.call(SID)
    reader.close()
    assert detail is not None
    assert detail.turns[0].record["tools"] == [{"name": "opening_hours", "ms": 12}]
    assert detail.call.ended_at is None and detail.call.end_reason == ""


@pytest.mark.parametrize("transcripts", ["redacted", "off"])
async def test_what_was_said_is_stored_as_log_transcripts_allows(
    tmp_path: Path, transcripts: str
) -> None:
    path = tmp_path / "calls.sqlite3"
    await record_a_call(path, transcripts, turns=1)
    reader = RecordsReader(path)
    detail = reader.call(SID)
    reader.close()
    assert detail is not None
    turn = detail.turns[0]
    if transcripts == "redacted":
        assert turn.user_text == "[6 words, 32 chars]"
        assert turn.reply_text == "[4 words, 17 chars]"
        assert detail.call.from_number == "+15551230000", "the operator's own data"
    else:
        assert turn.user_text == turn.reply_text == turn.record["user_text"] == ""
        assert detail.call.from_number == detail.call.to_number == ""
    assert turn.offsets_ms["first_media"] == 1500, "timings are kept either way"
    assert not files_holding(path, b"library"), "the words are nowhere in the file"


# -- retention --------------------------------------------------------------------------------


async def test_calls_past_their_retention_are_deleted_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    await record_a_call(path, started_at=NOW - 3 * DAY_S)  # old: deleted, turns and all
    store = RecordsStore(path)
    store.write(
        [
            CallBegan(call_sid="CA" + "2" * 32, stream_sid=STREAM, from_number="", to_number="",
                      started_at=NOW - DAY_S / 2, language=""),
            TurnOver(call_sid="CA" + "3" * 32, turn=1, speech_end_at=NOW - 3 * DAY_S,
                     outcome="replied", voice_to_voice_ms=None, answer_ms=None, record=b"{}"),
        ]
    )  # fmt: skip
    store.close()

    metrics = GatewayMetrics()
    sweeper = writer(path, metrics, retention_days=1, wall_clock=lambda: NOW)
    sweeper.start()
    await sweeper.flush()
    await sweeper.aclose()

    reader = RecordsReader(path)
    assert [call.call_sid for call in reader.recent_calls()] == ["CA" + "2" * 32]
    reader.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM turns").fetchone() == (0,), "no turn left behind"
    db.close()


async def test_retention_0_keeps_every_call(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    await record_a_call(path, started_at=time.time() - 10_000 * DAY_S)
    keeper = writer(path, GatewayMetrics(), retention_days=0)
    keeper.start()
    await keeper.aclose()
    reader = RecordsReader(path)
    assert len(reader.recent_calls()) == 1
    reader.close()


# -- the writer -------------------------------------------------------------------------------


async def test_a_full_queue_drops_and_counts_and_never_blocks(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    metrics = GatewayMetrics()
    records = writer(path, metrics, max_queued=2)  # not started yet: nothing drains the queue
    began = CallBegan(call_sid=SID, stream_sid=STREAM, from_number="", to_number="",
                      started_at=NOW, language="")  # fmt: skip
    ended = CallFinished(call_sid=SID, ended_at=NOW + 5, end_reason="caller hung up", language="")
    assert records.submit(began) and records.submit(ended)
    assert not records.submit(ended)
    assert counted(metrics, "dropped") == 1
    records.start()
    await records.aclose()
    assert not records.submit(ended), "after close: dropped, not queued for nobody"
    assert counted(metrics, "dropped") == 2 and counted(metrics, "write_failures") == 0
    reader = RecordsReader(path)
    (call,) = reader.recent_calls()
    reader.close()
    assert call.end_reason == "caller hung up"


async def test_a_locked_file_is_counted_logged_once_and_written_to_again_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "calls.sqlite3"
    RecordsStore(path).close()
    metrics = GatewayMetrics()
    records = writer(path, metrics, busy_timeout_ms=20)
    records.start()
    await records.flush()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the file
    caplog.set_level(logging.WARNING, "voicegw.records")
    for turn in (1, 2):
        records.submit(
            TurnOver(call_sid=SID, turn=turn, speech_end_at=NOW, outcome="replied",
                     voice_to_voice_ms=None, answer_ms=None, record=b"{}")
        )  # fmt: skip
        await records.flush()  # two batches, two failed writes
    assert counted(metrics, "write_failures") == 2
    warnings = [r.getMessage() for r in caplog.records if r.name == "voicegw.records"]
    assert len(warnings) == 1 and "locked" in warnings[0], warnings

    holder.execute("ROLLBACK")
    holder.close()
    records.submit(
        CallBegan(call_sid=SID, stream_sid=STREAM, from_number="", to_number="",
                  started_at=NOW, language="")
    )  # fmt: skip
    await records.aclose()
    assert counted(metrics, "write_failures") == 2
    reader = RecordsReader(path)
    assert [call.call_sid for call in reader.recent_calls()] == [SID]
    reader.close()


async def test_a_records_path_that_cannot_be_created_loses_events_counted(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    metrics = GatewayMetrics()
    records = writer(blocker / "calls.sqlite3", metrics)
    records.start()
    records.submit(
        CallFinished(call_sid=SID, ended_at=NOW, end_reason="caller hung up", language="")
    )
    await records.aclose()
    assert counted(metrics, "write_failures") == 1
