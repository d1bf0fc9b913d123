"""What the logs keep of a call: transcripts as ``log.transcripts`` says, forged requests a line
a minute."""

from __future__ import annotations

import logging
from pathlib import Path

import msgspec
import pytest

from gateway.metrics import GatewayMetrics, Transcripts, TurnRecord, read_turn_log
from gateway.settings import load_settings
from gateway.twilio.rejects import RateLimitedLog

SAID = "My card number is 4111 1111 1111 1111"
REPLIED = "Thank you, Jane Doe."
SECRET_WORDS = ("4111", "number", "Jane", "Doe")


def record() -> TurnRecord:
    return TurnRecord(
        call_sid="CA" + "0" * 32,
        turn=1,
        speculative=False,
        speech_end=10.0,
        first_media=10.5,
        user_text=SAID,
        reply_text=REPLIED,
        heard_text="Thank you,",
        outcome="interrupted",
        interrupted_at=11.0,
    )


def test_the_default_is_redacted() -> None:
    assert load_settings(None, environ={}).log.transcripts == "redacted"
    assert GatewayMetrics().transcripts == "redacted"


def test_full_keeps_the_words() -> None:
    line = record().summary("full")
    assert f"{SAID!r} -> {REPLIED!r}" in line
    payload = msgspec.json.decode(record().as_json("full"))
    assert (payload["user_text"], payload["reply_text"], payload["heard_text"]) == (
        SAID,
        REPLIED,
        "Thank you,",
    )


def test_redacted_keeps_lengths_and_word_counts_only() -> None:
    line = record().summary("redacted")
    payload = msgspec.json.decode(record().as_json("redacted"))
    for secret in SECRET_WORDS:
        assert secret not in line and secret not in str(payload), secret
    assert "said [8 words, 37 chars] -> replied [4 words, 20 chars]" in line
    assert payload["user_text"] == "[8 words, 37 chars]"
    assert payload["heard_text"] == "[2 words, 10 chars]"
    assert payload["voice_to_voice_ms"] == 500, "the figures are all there"


def test_off_says_nothing_of_what_was_said_but_keeps_the_keys() -> None:
    line = record().summary("off")
    payload = msgspec.json.decode(record().as_json("off"))
    for secret in SECRET_WORDS:
        assert secret not in line and secret not in str(payload), secret
    assert "words" not in line and "->" not in line
    assert payload["user_text"] == payload["reply_text"] == payload["heard_text"] == ""
    assert set(payload) == set(msgspec.json.decode(record().as_json("full")))


@pytest.mark.parametrize("transcripts", ["full", "redacted", "off"])
def test_the_turn_log_line_and_file_follow_the_setting(
    transcripts: Transcripts, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="voicegw.turns")
    path = tmp_path / "turns.jsonl"
    GatewayMetrics(str(path), transcripts).record_turn(record())
    (line,) = [r.getMessage() for r in caplog.records if r.name == "voicegw.turns"]
    (logged,) = read_turn_log(path)
    assert ("4111" in line) is (transcripts == "full")
    assert ("4111" in logged["user_text"]) is (transcripts == "full")
    assert (logged["user_text"] == "") is (transcripts == "off")


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def test_forged_requests_are_logged_a_line_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    limited = RateLimitedLog(logging.getLogger("test.forged"), interval_s=60, clock=clock)
    for second in range(120):
        clock.now_s = second
        for _ in range(100):
            limited.warning("rejected a request to %s", "'https://x/twilio/voice'")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "rejected a request to 'https://x/twilio/voice'",
        "rejected a request to 'https://x/twilio/voice' (and 5999 more in the last 60 s)",
    ]
    assert limited.suppressed == 5999
