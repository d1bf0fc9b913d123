"""Several calls at once on one gateway: their own replies, a limit on calls, late answers."""

from __future__ import annotations

import asyncio
import re
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import websockets

from gateway.engines import Engines
from gateway.metrics import read_turn_log
from gateway.settings import Settings
from tests.conftest import with_changes
from tests.e2e.calls import EndedCalls
from tests.sim.caller import SILENT_FRAME, SimulatedCaller
from tests.sim.clips import make_clip
from tests.sim.load import HeldEngines
from tests.sim.soak import scrape

QUESTIONS = {
    "CA00000000000000000000000000000001": ("What is the capital city of France?", {"capital"}),
    "CA00000000000000000000000000000002": ("How many legs does a spider have?", {"legs", "spider"}),
    "CA00000000000000000000000000000003": (
        "What colour is the sky on a clear day?",
        {"sky", "clear"},
    ),
}
"""Each call's question, and words only it has (Whisper may mishear one: "France" as "friends")."""


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def stream_sid(call_sid: str) -> str:
    return "MZ" + call_sid[2:]


async def test_concurrent_calls_each_get_their_own_reply(
    engines: Engines, settings: Settings, gateway_server: Any
) -> None:
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    configured = with_changes(settings, metrics={"turn_log_path": str(turn_log)})
    clips = {sid: await make_clip(engines.synthesizer, q) for sid, (q, _) in QUESTIONS.items()}

    async def call(url: str, sid: str) -> SimulatedCaller:
        async with SimulatedCaller(url, call_sid=sid, stream_sid=stream_sid(sid)) as caller:
            await caller.wait_for_mark("greeting-end", timeout_s=30)
            result = await caller.say(clips[sid].frames, reply_timeout_s=60)
            assert not result.premature, sid
            assert result.reply, f"{sid} heard no reply"
        return caller

    async with gateway_server(configured) as server:
        ended = EndedCalls(server.gateway)
        callers = await asyncio.gather(*(call(server.media_url, sid) for sid in QUESTIONS))
        await ended.count(len(QUESTIONS), timeout_s=15)

    for caller in callers:
        assert caller.foreign == [], "another call's audio or marks reached this socket"
    records = read_turn_log(turn_log)
    for sid, (_, keywords) in QUESTIONS.items():
        (record,) = [r for r in records if r["call_sid"] == sid]
        assert record["outcome"] == "replied"
        assert keywords & words(record["user_text"]), record["user_text"]
        (summary,) = [e for e in ended.events if e.call_sid == sid]
        said = [m.content for m in summary.history if m.role == "user"]
        assert len(said) == 1 and keywords & words(said[0]), (sid, said)
        answered = [m.content for m in summary.history if m.role == "assistant"]
        assert answered[-1] == record["reply_text"], "the history holds this call's own answer"


async def post_call(client: httpx.AsyncClient, host: str, call_sid: str) -> ET.Element:
    response = await client.post(f"http://{host}/twilio/voice", data={"CallSid": call_sid})
    assert response.status_code == 200
    return ET.fromstring(response.text)


async def test_over_the_limit_calls_get_the_busy_answer_and_the_live_call_goes_on(
    engines: Engines, settings: Settings, gateway_server: Any
) -> None:
    configured = with_changes(settings, server={"max_calls": 1})
    first, second = "CA" + "1" * 32, "CA" + "2" * 32
    clip = await make_clip(engines.synthesizer, "What is the capital city of France?")
    async with gateway_server(configured) as server, httpx.AsyncClient() as client:
        ended = EndedCalls(server.gateway)
        base = f"http://{server.host}"
        assert (await post_call(client, server.host, first)).find("./Connect/Stream") is not None
        busy = await post_call(client, server.host, second)
        assert busy.findtext("./Say") == settings.call.busy_message
        assert busy.find("./Hangup") is not None and busy.find("./Connect") is None
        ready = await client.get(f"{base}/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "at_capacity"

        async with SimulatedCaller(
            server.media_url, call_sid=first, stream_sid=stream_sid(first)
        ) as caller:
            await caller.wait_for_mark("greeting-end", timeout_s=30)
            async with websockets.connect(server.media_url) as extra:
                await asyncio.wait_for(extra.wait_closed(), timeout=10)
                assert extra.close_code == 1013
            result = await caller.say(clip.frames, reply_timeout_s=60)
            assert result.reply and not result.premature

        samples = await scrape(server.host)
        rejected = 'voicegw_calls_rejected_total{reason="at_capacity",where="%s"}'
        assert samples[rejected % "webhook"] == 1
        assert samples[rejected % "socket"] == 1
        assert samples["voicegw_max_calls"] == 1
        await ended.count(1, timeout_s=15)  # the place is given back before the call is over
        assert server.gateway.admission.live == 0
        assert (await client.get(f"{base}/readyz")).status_code == 200


async def test_over_the_limit_with_reject_declines_the_call(
    settings: Settings, gateway_server: Any
) -> None:
    configured = with_changes(settings, server={"max_calls": 1, "when_full": "reject"})
    async with gateway_server(configured) as server, httpx.AsyncClient() as client:
        await post_call(client, server.host, "CA" + "1" * 32)
        busy = await post_call(client, server.host, "CA" + "2" * 32)
        reject = busy.find("./Reject")
        assert reject is not None and reject.get("reason") == "busy"


async def test_a_caller_who_speaks_into_a_late_answer_gets_that_answer_then_theirs(
    engines: Engines, settings: Settings, gateway_server: Any
) -> None:
    """The answer is late (the engines are busy): 2 s after their question the caller says
    "Hello?". That is not merged into one monologue with the question: the question's answer
    plays once the caller pauses, then the "hello" turn is answered."""
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    configured = with_changes(settings, metrics={"turn_log_path": str(turn_log)})
    question = await make_clip(engines.synthesizer, "What is the capital city of France?")
    hello = await make_clip(engines.synthesizer, "Hello? Are you there?")
    async with gateway_server(configured) as server:
        ended = EndedCalls(server.gateway)
        async with SimulatedCaller(server.media_url) as caller:
            await caller.wait_for_mark("greeting-end", timeout_s=30)
            caller.drain_media()
            async with HeldEngines(engines) as load:
                for frame in [*question.frames, *[SILENT_FRAME] * 100, *hello.frames]:
                    await caller.send_frame(frame)  # the question, 2 s of silence, "hello?"
                assert caller.drain_media() == [], "nothing could be answered yet"
                load.release()
                await caller.wait_for_mark("turn1-end", timeout_s=60)
                await caller.wait_for_mark("turn2-end", timeout_s=60)
        await ended.count(1, timeout_s=15)

    records = read_turn_log(turn_log)
    assert [r["outcome"] for r in records] == ["replied", "replied"], records
    first, second = (words(r["user_text"]) for r in records)
    assert "capital" in first and not {"hello", "there"} & first, records[0]["user_text"]
    assert {"hello", "there"} & second and "capital" not in second, records[1]["user_text"]
    said = [m.content for m in ended.events[0].history if m.role == "user"]
    assert len(said) == 2, said
