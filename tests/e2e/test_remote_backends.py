"""Simulated Twilio calls with stages on real third-party OpenAI-compatible servers.

All three stages remote; a mix (local STT and TTS, remote LLM); and the LLM server killed in the
middle of a call: the caller hears the apology, and the call works again once the server is back.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from gateway.engines import Engines, load_engines_sync
from gateway.metrics import STAGES, read_turn_log
from gateway.settings import Settings
from tests.conftest import running_gateway, with_changes
from tests.e2e.test_phone_turn import UTTERANCE, transcribe_mulaw, words
from tests.servers import remote_stage
from tests.sim.backends import BackendServer
from tests.sim.caller import SimulatedCaller, TurnResult
from tests.sim.clips import CallerClip, make_clip

SHORT_REPLY: dict[str, Any] = {"max_reply_tokens": 30}
"""A sentence or two: each turn waits until the caller has heard all of the reply."""


def logged(settings: Settings, **stages: dict[str, Any]) -> tuple[Settings, Path]:
    """``settings`` with these stage sections changed and a turn log, and the log's path."""
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    return with_changes(settings, metrics={"turn_log_path": str(turn_log)}, **stages), turn_log


@pytest.fixture
async def clip(engines: Engines) -> CallerClip:
    return await make_clip(engines.synthesizer, UTTERANCE)


@asynccontextmanager
async def call(configured: Settings) -> AsyncIterator[tuple[SimulatedCaller, Engines]]:
    """A gateway loaded from ``configured`` as `voicegw serve` would, and a caller on it."""
    engines = await asyncio.to_thread(load_engines_sync, configured)
    try:
        async with (
            running_gateway(configured, engines) as server,
            SimulatedCaller(server.media_url) as caller,
        ):
            await caller.wait_for_mark("greeting", timeout_s=15)
            yield caller, engines
    finally:
        await engines.aclose()


async def assert_spoken_reply(local: Engines, result: TurnResult) -> None:
    assert not result.premature, "reply audio started before the caller finished"
    heard = await transcribe_mulaw(local, result.audio)
    assert len(words(heard)) >= 3, f"reply should be real speech, got {heard!r}"


@pytest.fixture
def all_remote(
    stt_server: BackendServer, llm_server: BackendServer, tts_server: BackendServer
) -> dict[str, dict[str, Any]]:
    """Settings sections that put every stage on its server."""
    return {
        "stt": remote_stage("stt", stt_server),
        "llm": remote_stage("llm", llm_server, **SHORT_REPLY),
        "tts": remote_stage("tts", tts_server),
    }


async def test_call_with_every_stage_remote(
    engines: Engines,
    settings: Settings,
    all_remote: dict[str, dict[str, Any]],
    clip: CallerClip,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configured, turn_log = logged(settings, **all_remote)
    async with call(configured) as (caller, remote):
        greeting = b"".join(r.payload for r in caller.drain_media())
        result = await caller.say(clip.frames, reply_timeout_s=30)
    assert all(" via http://127.0.0.1:" in line for line in remote.describe()[:3])
    assert "help" in words(await transcribe_mulaw(engines, greeting))
    assert "fallback voice" not in caplog.text, "the greeting was the speech server's"
    await assert_spoken_reply(engines, result)
    [record] = read_turn_log(turn_log)
    assert record["outcome"] == "replied", record["error"]
    assert "library" in record["user_text"].lower()
    assert all(record["offsets_ms"][stage] is not None for stage in STAGES)


async def test_call_with_local_stt_and_tts_around_a_remote_llm(
    engines: Engines, settings: Settings, llm_server: BackendServer, clip: CallerClip
) -> None:
    configured, turn_log = logged(settings, llm=remote_stage("llm", llm_server, **SHORT_REPLY))
    async with call(configured) as (caller, mixed):
        result = await caller.say(clip.frames, reply_timeout_s=30)
    assert mixed.chat.description.endswith(f" via {llm_server.base_url}")
    assert " via " not in mixed.transcriber.description + mixed.synthesizer.description
    await assert_spoken_reply(engines, result)
    [record] = read_turn_log(turn_log)
    assert record["outcome"] == "replied", record["error"]
    assert "library" in record["user_text"].lower()


async def test_llm_server_killed_mid_call_gets_an_apology_then_recovers(
    engines: Engines, settings: Settings, llm_server: BackendServer, clip: CallerClip
) -> None:
    configured, turn_log = logged(settings, llm=remote_stage("llm", llm_server, **SHORT_REPLY))
    async with call(configured) as (caller, _):
        before = await caller.say(clip.frames, reply_timeout_s=30)
        llm_server.kill()
        try:
            apology = await caller.say(clip.frames, reply_timeout_s=30)
        finally:
            llm_server.start()
            await llm_server.wait_ready()
        after = await caller.say(clip.frames, reply_timeout_s=30)

    await assert_spoken_reply(engines, before)
    assert "sorry" in words(await transcribe_mulaw(engines, apology.audio))
    await assert_spoken_reply(engines, after)
    records = read_turn_log(turn_log)
    assert [r["outcome"] for r in records] == ["replied", "failed", "replied"]
    failed = records[1]
    assert failed["error"].startswith("BackendError: llm: "), failed["error"]
    assert "ConnectError" in failed["error"]
    assert failed["offsets_ms"]["first_media"] is not None, "the apology went out"
