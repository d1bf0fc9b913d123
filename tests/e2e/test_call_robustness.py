"""A call survives bad frames, and a hang-up cancels all of the call's work."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import msgspec

from gateway.engines import Engines
from gateway.runtime import CallEnded
from gateway.settings import Settings
from tests.sim.caller import SimulatedCaller
from tests.sim.clips import make_clip


def media_message(stream_sid: str, payload: str) -> str:
    """A media frame whose payload text is sent as it is (valid base64 or not)."""
    return msgspec.json.encode(
        {"event": "media", "streamSid": stream_sid, "media": {"payload": payload}}
    ).decode()


async def test_bad_frames_are_counted_and_the_call_goes_on(
    engines: Engines, settings: Settings, gateway_server: Any
) -> None:
    clip = await make_clip(engines.synthesizer, "Where can I park near the station?")
    async with gateway_server(settings) as server:
        async with SimulatedCaller(server.media_url) as caller:
            for frame in (
                b"\x00\x01binary",
                "not json at all",
                '{"event":"dance"}',
                '{"event":"media","streamSid":"MZother","media":{"payload":"/w=="}}',
                media_message(caller.stream_sid, "%%%"),
                "{" + '"x":"' + "y" * 70_000 + '"}',
            ):
                await caller.send_raw(frame)
            odd = base64.b64encode(b"\xff" * 7).decode()  # not a whole frame: still audio
            await caller.send_raw(media_message(caller.stream_sid, odd))
            await caller.wait_for_mark("greeting", timeout_s=15)
            result = await caller.say(clip.frames, reply_timeout_s=30)
            assert result.reply, "the call still answers after bad frames"
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"http://{server.host}/metrics")).text
    for problem in ("binary", "not_json", "unknown_event", "wrong_stream", "invalid", "too_large"):
        assert f'voicegw_bad_messages_total{{problem="{problem}"}} 1.0' in text, problem


async def test_media_before_start_is_rejected_not_fatal(
    settings: Settings, gateway_server: Any
) -> None:
    async with gateway_server(settings) as server:
        caller = SimulatedCaller(server.media_url)
        async with caller:
            await caller.wait_for_mark("greeting", timeout_s=15)
        # A fresh socket that sends media first, then a proper start.
        import websockets

        async with websockets.connect(server.media_url) as socket:
            await socket.send('{"event":"media","media":{"payload":"/w=="}}')
            await socket.send('{"event":"mark","mark":{"name":"x"}}')
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"http://{server.host}/metrics")).text
        assert 'voicegw_bad_messages_total{problem="before_start"} 2.0' in text


async def test_hang_up_mid_reply_cancels_every_task_of_the_call(
    engines: Engines, settings: Settings, gateway_server: Any
) -> None:
    clip = await make_clip(engines.synthesizer, "Tell me a long story about the sea.")
    async with gateway_server(settings) as server:
        ended: asyncio.Future[CallEnded] = asyncio.get_running_loop().create_future()
        server.gateway.call_ended_listeners.append(ended.set_result)
        async with SimulatedCaller(server.media_url) as caller:
            await caller.wait_for_mark("greeting", timeout_s=15)
            for frame in clip.frames:
                await caller.send_frame(frame)
            # Stay until the reply has started to play, then hang up in the middle of it.
            await caller.wait_for_mark("turn1-s0", timeout_s=30)
        summary = await asyncio.wait_for(ended, timeout=10)
    assert summary.call_sid == caller.call_sid
    assert summary.reason.startswith("caller hung up")
    assert summary.tasks_left == 0
