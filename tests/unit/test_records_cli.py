"""``voicegw calls`` and ``voicegw calls show SID`` on a records file filled here."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.records import RecordsReader, TurnRow
from gateway.records.events import CallBegan, CallFinished, RecordEvent, TurnOver
from gateway.records.store import RecordsStore
from gateway.records.timeline import BAR_CHARS, LABEL_CHARS, local_time, waterfall
from tests.unit.test_records import NOW, SID, STREAM, turn_record

OTHER = "CA" + "2" * 32


def turn_event(turn: int, speech_end: float = 100.0, **fields: object) -> TurnOver:
    record = turn_record(turn, speech_end, **fields)
    offsets = record.offsets_ms()
    return TurnOver(
        call_sid=record.call_sid,
        turn=turn,
        speech_end_at=NOW + 10 * turn,
        outcome=record.outcome,
        voice_to_voice_ms=offsets["first_media"],
        answer_ms=offsets["first_answer_media"],
        record=record.as_json("full"),
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config whose records file holds two calls: an older one still open (no end), and one
    of two turns (the second cut off by the caller after a filler)."""
    path = tmp_path / "calls.sqlite3"
    events: list[RecordEvent] = [
        CallBegan(call_sid=OTHER, stream_sid=STREAM, from_number="", to_number="",
                  started_at=NOW - 600, language=""),
        CallBegan(call_sid=SID, stream_sid=STREAM, from_number="+15551230000",
                  to_number="+15557650000", started_at=NOW, language="en"),
        turn_event(1),
        turn_event(
            2,
            speech_end=110.0,
            outcome="interrupted",
            filler="Okay.",
            first_media=110.9,
            first_answer_media=111.7,
            reply_text="It opens at nine and closes at six.",
            heard_text="It opens at nine",
            interrupted_at=112.9,
        ),
        CallFinished(call_sid=SID, ended_at=NOW + 83, end_reason="caller hung up", language="en"),
    ]  # fmt: skip
    store = RecordsStore(path)
    store.write(events)
    store.close()
    config = tmp_path / "config.toml"
    config.write_text(f'[records]\npath = "{path}"\n')
    return config


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_calls_lists_the_newest_first_with_length_turns_and_latency(config: Path) -> None:
    code, out, _ = run("calls", "--config", str(config))
    assert code == 0
    header, newest, older = out.splitlines()
    assert "VOICE-TO-VOICE" in header
    assert newest.split()[:5] == [SID, *local_time(NOW).split(), "1:23", "2"]
    assert "1200 ms" in newest, "the median of 1500 and 900 (a filler went first)"
    assert newest.endswith("caller hung up")
    assert older.startswith(OTHER) and older.endswith("in progress")
    code, out, _ = run("calls", "--limit", "1", "--config", str(config))
    assert code == 0 and len(out.splitlines()) == 2


def test_calls_show_prints_each_turn_and_its_waterfall(config: Path) -> None:
    code, out, _ = run("calls", "show", SID, "--config", str(config))
    assert code == 0, out
    assert f"call {SID} from +15551230000 to +15557650000 (en)" in out
    assert "lasted 1:23, 2 turns" in out and "ended: caller hung up" in out
    first, second = out.split("\nturn ")[1:]
    assert first.startswith("1: replied, ended by silence")
    assert "caller: What time does the library open?" in first
    assert "agent:  It opens at nine." in first
    assert "stt" in first and "+600..+900 (300 ms)" in first
    assert "+900..+1100 (200 ms)" in first and "+900..+1300 (400 ms)" in first
    assert "+1300..+1450 (150 ms)" in first and "answer media" in first
    assert "queued 40 ms for other calls' work (llm 40)" in first
    assert "filler: Okay." in second and "+900 (filler)" in second
    assert "heard:  It opens at nine, cut 2000 ms in" in second


def test_the_waterfall_is_drawn_to_scale(config: Path) -> None:
    reader = RecordsReader(Path(config.read_text().split('"')[1]))
    detail = reader.call(SID)
    reader.close()
    assert detail is not None
    lines = waterfall(detail.turns[0])
    start = 2 + LABEL_CHARS + 1
    bars = {line[2:start].strip(" |"): line[start : start + BAR_CHARS] for line in lines[1:]}
    assert lines[0][start] == "0", "the scale starts where the bars do"
    assert bars["endpoint"].startswith("#") and bars["endpoint"].endswith(" ")
    assert bars["answer media"].endswith("*"), "the last event sets the scale"
    assert bars["stt"].index("#") > 0
    assert bars["tts first audio"].index("#") > bars["llm first token"].index("#")


def test_an_unknown_sid_or_missing_records_exit_1(config: Path, tmp_path: Path) -> None:
    code, _, err = run("calls", "show", "CA" + "9" * 32, "--config", str(config))
    assert code == 1 and "no such call" in err
    missing = tmp_path / "missing.toml"
    missing.write_text(f'[records]\npath = "{tmp_path / "none.sqlite3"}"\n')
    code, _, err = run("calls", "--config", str(missing))
    assert code == 1 and "no call records at" in err
    off = tmp_path / "off.toml"
    off.write_text('[records]\npath = ""\n')
    code, _, err = run("calls", "show", SID, "--config", str(off))
    assert code == 1 and "records are off" in err


def test_a_bad_records_setting_exits_2_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[records]\nretention_days = -1\n")
    code, _, err = run("calls", "--config", str(config))
    assert code == 2 and "records.retention_days" in err


def test_a_stage_without_a_known_start_is_a_mark_and_an_untimed_turn_says_so() -> None:
    row = TurnRow(
        turn=1, speech_end_at=None, outcome="replied", speculative=False, user_text="",
        reply_text="", heard_text="", filler="", language="", endpoint_reason="", error="",
        offsets_ms={"endpoint": 600, "transcript": 900, "first_media": 1500},
        durations_ms={}, voice_to_voice_ms=1500, answer_ms=None, record={},
    )  # fmt: skip
    lines = waterfall(row)
    assert any(line.split("|")[0].strip() == "stt" and line.endswith("| +900") for line in lines)
    assert any("+0..+600 (600 ms)" in line for line in lines), "the endpoint needs no duration"
    untimed = msgspec.structs.replace(row, offsets_ms={}, voice_to_voice_ms=None)
    assert waterfall(untimed) == ["  (not timed: no speech end)"]
