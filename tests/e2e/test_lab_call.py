"""``voicegw call``: the real command calls a real gateway on 127.0.0.1 the way Twilio does,
signed, and prints what the caller went through; ``--save`` keeps what it heard."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.engines import Engines
from gateway.lab.clip import read_wav
from gateway.lab.utterances import DEFAULT_DIR, read_set
from gateway.settings import Settings

TOKEN = "lab-call-test-token"
TURN = re.compile(r"turn 1 \(.+\): first sound (\d+) ms, answer (\d+) ms.*, reply (\d+\.\d) s")


async def test_voicegw_call_prints_a_turns_latency_and_saves_the_reply(
    engines: Engines,
    settings: Settings,
    gateway_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """With the auth token set, the gateway checks the webhook's and the socket's signatures and
    the per-call token: a call that gets a reply went through all three as Twilio's would."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    plain = next(u for u in read_set(DEFAULT_DIR) if not u.pause_ms)
    async with gateway_server(settings) as server:
        assert server.gateway.auth_token == TOKEN, "the gateway checks signatures"
        command = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "call", str(DEFAULT_DIR / plain.file),
            "--gateway", f"http://{server.host}", "--save", str(tmp_path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
        out, err = await asyncio.wait_for(command.communicate(), timeout=180)
    printed = out.decode()
    assert command.returncode == 0, printed + err.decode()
    turn = TURN.search(printed)
    assert turn is not None, printed
    first_ms, answer_ms, reply_s = int(turn[1]), int(turn[2]), float(turn[3])
    assert 0 < first_ms <= answer_ms < 15_000
    assert reply_s > 0.5
    saved = tmp_path / "turn-01.wav"
    assert f"saved {saved}" in printed
    pcm, rate = read_wav(saved)
    assert rate == 8000
    assert abs(len(pcm) / rate - reply_s) < 0.1, "the saved reply is the reply measured"
    heard = await engines.transcriber.transcribe(pcm, rate)
    assert len(heard.text.split()) >= 2, f"the saved reply is speech: {heard.text!r}"
