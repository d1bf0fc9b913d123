"""A real phone turn over a real WebSocket: caller speaks, hears a spoken reply."""

from __future__ import annotations

import asyncio
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateway.audio import mulaw
from gateway.engines import Engines
from gateway.lab.caller import TurnResult
from gateway.lab.utterances import DEFAULT_DIR, load_set
from gateway.metrics import STAGES, read_turn_log
from gateway.runtime import CallEnded
from gateway.settings import Settings
from tests.conftest import with_changes
from tests.sim.caller import SimulatedCaller
from tests.sim.clips import make_clip

UTTERANCE = "What time does the library open tomorrow morning?"


async def transcribe_mulaw(engines: Engines, audio: bytes) -> str:
    pcm = mulaw.decode(audio).astype(np.float32) / 32768.0
    transcript = await engines.transcriber.transcribe(pcm, 8000)
    return transcript.text


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


async def test_caller_hears_greeting_then_a_spoken_reply(
    engines: Engines, settings: Settings, gateway_server: Any
) -> None:
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    configured = with_changes(settings, metrics={"turn_log_path": str(turn_log)})
    clip = await make_clip(engines.synthesizer, UTTERANCE)
    async with (
        gateway_server(configured) as server,
        SimulatedCaller(server.media_url) as caller,
    ):
        await caller.wait_for_mark("greeting", timeout_s=15)
        greeting = caller.drain_media()
        assert "help" in words(
            await transcribe_mulaw(engines, b"".join(r.payload for r in greeting))
        )

        result = await caller.say(clip.frames, reply_timeout_s=30)

    assert not result.premature, "reply audio started before the caller finished"
    assert result.voice_to_voice_ms is not None and result.voice_to_voice_ms > 0
    assert all(len(r.payload) == 160 for r in result.reply), "20 ms frames of mu-law"
    heard = await transcribe_mulaw(engines, result.audio)
    assert len(words(heard)) >= 3, f"reply should be real speech, got {heard!r}"
    assert any(m.startswith("turn1-s") for m in result.marks), result.marks

    records = read_turn_log(turn_log)
    assert len(records) == 1
    record = records[0]
    assert record["outcome"] == "replied"
    assert "library" in record["user_text"].lower()
    offsets = record["offsets_ms"]
    for stage in STAGES:
        assert offsets[stage] is not None, stage
    assert offsets["first_answer_media"] >= offsets["first_audio"] >= offsets["first_sentence"]
    assert offsets["first_answer_media"] >= offsets["first_media"]


async def test_mid_sentence_pause_gets_no_reply_and_one_whole_turn(
    engines: Engines, settings: Settings, gateway_server: Any
) -> None:
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    configured = with_changes(settings, metrics={"turn_log_path": str(turn_log)})
    clip = await make_clip(
        engines.synthesizer,
        "I want to order a large pizza and a bottle of water.",
        pause_after={"and": 700},
    )
    async with (
        gateway_server(configured) as server,
        SimulatedCaller(server.media_url) as caller,
    ):
        await caller.wait_for_mark("greeting", timeout_s=15)
        result = await caller.say(clip.frames, reply_timeout_s=30)
    assert not result.premature, "a reply started while the caller was only pausing"
    records = read_turn_log(turn_log)
    # Whisper may close the first half ("...a large pizza in."): the turn then ends in the pause,
    # but its answer is superseded, silent, when the caller goes on, and one turn answers it all.
    answered = [r for r in records if r["outcome"] != "superseded"]
    assert len(answered) == 1, [(r["outcome"], r["user_text"]) for r in records]
    for record in records:
        if record["outcome"] == "superseded":
            assert record["offsets_ms"]["first_media"] is None, "a word was said into the pause"
    said = set(words(answered[0]["user_text"]))
    assert {"order", "water"} <= said, answered[0]["user_text"]


async def test_a_late_answer_is_preceded_by_a_filler(
    engines: Engines, settings: Settings, gateway_server: Any
) -> None:
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    configured = with_changes(
        settings,
        turn={"speculate": False},  # the answer starts only once the turn is over: always late
        call={"filler_after_ms": 20},
        metrics={"turn_log_path": str(turn_log)},
    )
    clip = await make_clip(engines.synthesizer, UTTERANCE)
    async with (
        gateway_server(configured) as server,
        SimulatedCaller(server.media_url) as caller,
    ):
        await caller.wait_for_mark("greeting-end", timeout_s=15)
        result = await caller.say(clip.frames, reply_timeout_s=30)
    (record,) = read_turn_log(turn_log)
    assert record["filler"] in settings.call.fillers
    offsets = record["offsets_ms"]
    assert offsets["first_media"] < offsets["first_answer_media"]
    heard = words(await transcribe_mulaw(engines, result.audio))
    assert heard[0] in {"okay", "ok", "sure", "right"}, heard


async def test_fillers_never_come_twice_in_a_row(
    engines: Engines, settings: Settings, gateway_server: Any
) -> None:
    """Every answer here is late, but only every other turn begins with a filler: a filler on
    every turn sounds mechanical."""
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    configured = with_changes(
        settings,
        turn={"speculate": False},
        call={"filler_after_ms": 20},
        metrics={"turn_log_path": str(turn_log)},
    )
    clip = await make_clip(engines.synthesizer, UTTERANCE)
    async with (
        gateway_server(configured) as server,
        SimulatedCaller(server.media_url) as caller,
    ):
        await caller.wait_for_mark("greeting-end", timeout_s=15)
        for _ in range(3):
            await caller.say(clip.frames, reply_timeout_s=30)
    records = read_turn_log(turn_log)
    assert [bool(r["filler"]) for r in records] == [True, False, True], records
    late = [r["offsets_ms"]["first_answer_media"] for r in records]
    assert all(offset is not None and offset > 600 for offset in late), late


@dataclass
class PausedCall:
    """One caller turn with a pause in it, as the gateway heard and answered it."""

    result: TurnResult
    records: list[dict[str, Any]]
    summary: CallEnded
    clears: int


async def pause_in_a_question(
    engines: Engines, settings: Settings, gateway_server: Any, pause_ms: int, **turn: object
) -> PausedCall:
    """ "Can you check if my package has arrived? | (pause) at the post office?", with a
    200 ms endpoint and no draft, so the pause ends the turn and its answer starts when ready."""
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    configured = with_changes(
        settings,
        turn={"speculate": False, "end_silence_ms": 200, **turn},
        call={"fillers": []},
        metrics={"turn_log_path": str(turn_log)},
    )
    clip = await make_clip(
        engines.synthesizer,
        "Can you check if my package has arrived at the post office?",
        pause_after={"arrived": pause_ms},
    )
    async with gateway_server(configured) as server:
        ended: asyncio.Future[CallEnded] = asyncio.get_running_loop().create_future()
        server.gateway.call_ended_listeners.append(ended.set_result)
        async with SimulatedCaller(server.media_url) as caller:
            await caller.wait_for_mark("greeting-end", timeout_s=15)
            result = await caller.say(clip.frames, reply_timeout_s=30)
            clears = caller.clears.qsize()
        summary = await asyncio.wait_for(ended, timeout=10)
    return PausedCall(result, read_turn_log(turn_log), summary, clears)


def assert_answered_whole(call: PausedCall) -> None:
    """One turn, the whole question, answered once and remembered once."""
    outcomes = [r["outcome"] for r in call.records]
    assert outcomes[-2:] == ["superseded", "replied"], outcomes
    assert outcomes.count("replied") == 1, outcomes
    whole = set(words(call.records[-1]["user_text"]))
    assert {"arrived", "office"} <= whole, call.records[-1]["user_text"]
    said = [m.content for m in call.summary.history if m.role == "user"]
    assert len(said) == 1 and "office" in said[0].lower(), said


async def test_a_caller_going_on_after_the_turn_ended_rejoins_it(
    engines: Engines, settings: Settings, gateway_server: Any
) -> None:
    """The endpoint is so short that the pause ends the turn; the caller goes on before any of
    the answer was sent: no answer to the first half, one whole turn answered and remembered."""
    call = await pause_in_a_question(engines, settings, gateway_server, pause_ms=400)
    assert not call.result.premature, "the answer to the first half was sent"
    assert_answered_whole(call)


async def test_an_answer_begun_inside_a_pause_is_cut_and_the_whole_turn_answered(
    engines: Engines, settings: Settings, gateway_server: Any
) -> None:
    """The pause ends the turn and its answer starts playing; the caller goes on just after
    ("| at the post office?"): the answer is cut (Twilio clear), forgotten, and the whole
    turn answered once, not the continuation alone."""
    # The answer starts 200 ms into the pause plus the chain's time; any time within the 1.4 s
    # pause counts as "just began" here (the default is 800 ms).
    call = await pause_in_a_question(
        engines,
        settings,
        gateway_server,
        pause_ms=1400,
        rejoin_within_ms=3000,
        rejoin_answer_within_ms=1600,
    )
    timings = [(r["outcome"], r["offsets_ms"]) for r in call.records]
    assert call.result.premature, f"no answer began inside the 1.4 s pause: {timings}"
    assert call.clears == 1, "the answer begun in the pause was cut off"
    assert_answered_whole(call)
    answers = [m for m in call.summary.history if m.role == "assistant"]
    assert len(answers) == 2, "the greeting and the whole turn's answer; the cut one forgotten"


async def test_no_filler_starts_inside_a_mid_sentence_pause(
    engines: Engines, settings: Settings, gateway_server: Any
) -> None:
    """The shipped set's utterances with the longest mid-sentence pauses (600-800 ms, every
    voice and pause style), as shipped: a filler comes only when a turn is over and its answer
    is late, and not after a pause the turn detector was unsure of, so none may be said into a
    pause the caller then goes on from (its turn would be superseded or cut, filler and all)."""
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    configured = with_changes(settings, metrics={"turn_log_path": str(turn_log)})
    assert configured.call.filler_after_ms > 0
    paused = [spoken for spoken in load_set(DEFAULT_DIR) if spoken.utterance.pause_ms >= 600]
    assert len(paused) >= 6
    async with (
        gateway_server(configured) as server,
        SimulatedCaller(server.media_url) as caller,
    ):
        await caller.wait_for_mark("greeting-end", timeout_s=15)
        for spoken in paused:
            await caller.say(spoken.clip.frames, reply_timeout_s=30)
    records = read_turn_log(turn_log)
    in_pauses = [
        (r["user_text"], r["outcome"])
        for r in records
        if r["filler"] and r["outcome"] in ("superseded", "interrupted")
    ]
    assert not in_pauses, in_pauses
    assert sum(r["outcome"] == "replied" for r in records) >= len(paused)
