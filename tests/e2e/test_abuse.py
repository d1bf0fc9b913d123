"""Bad input on the media socket, over real WebSockets: every kind is counted and logged, the
call goes on or is closed cleanly, a call beside it still gets its reply, memory stays bounded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import websockets

from gateway.app import create_app
from gateway.engines import Engines
from gateway.pipeline.call import CallSession
from gateway.runtime import Gateway
from gateway.settings import Settings
from tests.conftest import with_changes
from tests.e2e.calls import EndedCalls
from tests.sim.abuse import (
    SILENCE,
    RawCall,
    bad_frames,
    connect_deaf,
    dtmf_message,
    flood,
    media_message,
    odd_payloads,
    start_message,
)
from tests.sim.caller import SimulatedCaller
from tests.sim.clips import CallerClip, make_clip
from tests.sim.sids import named_call
from tests.sim.soak import scrape

QUESTION = "Where can I park near the station?"
BYSTANDER, ABUSE, BIG, HUGE, FLOOD, DEAF, SILENT = (
    named_call(name) for name in ("bystander", "abuse", "big", "huge", "flood", "deaf", "silent")
)
FLOOD_FRAMES = 20_000
"""400 s of audio: the gateway should close the call long before the client is done."""


def rss_mb() -> float:
    """This process's resident memory (the gateway under test runs in it)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


async def drain(connection: websockets.ClientConnection) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for _ in connection:
            pass


def problems(samples: dict[str, float]) -> dict[str, float]:
    prefix = 'voicegw_bad_messages_total{problem="'
    return {k[len(prefix) : -2]: v for k, v in samples.items() if k.startswith(prefix)}


async def first_reply(caller: SimulatedCaller, clip: CallerClip) -> str:
    """Speak, then stay on the line until the reply's first sentence has played."""
    for frame in clip.frames:
        await caller.send_frame(frame)
    return await caller.wait_for_mark("turn", timeout_s=60)


async def bystander(url: str, clip: CallerClip) -> str:
    """A well-behaved call beside the bad one: it must still get its reply."""
    async with SimulatedCaller(url, *BYSTANDER) as caller:
        return await first_reply(caller, clip)


async def test_every_kind_of_bad_frame_is_counted_logged_once_and_harmless(
    engines: Engines, settings: Settings, gateway_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clip = await make_clip(engines.synthesizer, QUESTION)
    frames = bad_frames(ABUSE.stream_sid)
    async with gateway_server(settings) as server:
        ended = EndedCalls(server.gateway)

        async def abuser() -> str:
            async with websockets.connect(server.media_url) as early:  # media and mark first
                await early.send(media_message(ABUSE.stream_sid, SILENCE))
                await early.send('{"event":"mark","mark":{"name":"x"}}')
            async with SimulatedCaller(server.media_url, *ABUSE) as caller:
                for kind in frames.values():
                    for frame in kind:
                        await caller.send_raw(frame)
                for payload in odd_payloads():
                    await caller.send_raw(media_message(ABUSE.stream_sid, payload))
                return await first_reply(caller, clip)

        abused, bystanding = await asyncio.gather(abuser(), bystander(server.media_url, clip))
        await ended.count(2, timeout_s=10)
        counted = problems(await scrape(server.host))
    assert abused.startswith("turn"), "the abused call goes on and still answers"
    assert bystanding.startswith("turn"), "the call beside it is untouched"
    expected = {problem: float(len(sent)) for problem, sent in frames.items()}
    assert counted == {**expected, "before_start": 2.0}, "odd sizes are audio, not errors"
    assert {e.reason for e in ended.events} == {"caller hung up"}
    rejections = [r.getMessage() for r in caplog.records if "rejected frame" in r.getMessage()]
    for problem in counted:
        assert sum(f"rejected frame ({problem})" in line for line in rejections) == 1, problem
    assert any(
        f"stream={ABUSE.stream_sid} rejected" in r.getMessage() and "binary=2" in r.getMessage()
        for r in caplog.records
    ), "the call's rejections are summed up when it ends"


async def test_megabyte_frames_are_rejected_without_growing_memory(
    settings: Settings, gateway_server: Any
) -> None:
    huge = media_message(BIG.stream_sid, b"\xff" * (4 * 1024 * 1024))  # base64: 5.6 MB
    async with gateway_server(settings) as server:
        ended = EndedCalls(server.gateway)
        async with SimulatedCaller(server.media_url, *BIG) as caller:
            await caller.send_raw(huge)  # the first one warms allocator pools
            await caller.wait_for_mark("greeting", timeout_s=30)
            before = rss_mb()
            for _ in range(20):
                await caller.send_raw(huge)
        await ended.of(BIG.call_sid, timeout_s=10)  # the stop came after them: all were handled
        grown = rss_mb() - before
        counted = problems(await scrape(server.host))
    assert counted == {"too_large": 21.0}
    assert grown < 40, f"RSS grew {grown:.0f} MB over 112 MB of rejected frames"


async def test_a_frame_over_the_servers_limit_closes_the_call_cleanly(
    settings: Settings, gateway_server: Any
) -> None:
    async with gateway_server(settings) as server:
        ended = EndedCalls(server.gateway)
        async with websockets.connect(server.media_url, max_size=None) as connection:
            await connection.send(start_message(HUGE.stream_sid, HUGE.call_sid))
            await connection.recv()  # the greeting: the call has started
            await connection.send("x" * (17 * 1024 * 1024))  # uvicorn's limit is 16 MiB
            with pytest.raises(websockets.ConnectionClosed) as closed:
                async with asyncio.timeout(10):
                    while True:
                        await connection.recv()
        summary = await ended.of(HUGE.call_sid, timeout_s=10)
        counted = problems(await scrape(server.host))
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert summary.reason == "closed: a frame over the server's size limit (code 1009)"
    assert summary.tasks_left == 0
    assert counted == {"too_large": 1.0}


async def test_a_flood_is_dropped_not_queued_then_the_call_is_closed(
    engines: Engines, settings: Settings, gateway_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fed_ms: Counter[str] = Counter()
    on_audio = CallSession.on_audio

    def counting(session: CallSession, payload: bytes) -> None:
        fed_ms[session.call_sid] += len(payload) // 8
        on_audio(session, payload)

    monkeypatch.setattr(CallSession, "on_audio", counting)
    clip = await make_clip(engines.synthesizer, QUESTION)
    async with gateway_server(settings) as server:
        ended = EndedCalls(server.gateway)

        async def flooder() -> tuple[int, float, int | None]:
            async with websockets.connect(server.media_url) as connection:
                await connection.send(start_message(FLOOD.stream_sid, FLOOD.call_sid))
                await connection.recv()  # the greeting: the call has started
                reading = asyncio.ensure_future(drain(connection))  # to hear the close
                began = time.monotonic()
                sent = await flood(connection, FLOOD.stream_sid, max_frames=FLOOD_FRAMES)
                await ended.of(FLOOD.call_sid, timeout_s=30)
                await reading
                return sent, time.monotonic() - began, connection.close_code

        async with SimulatedCaller(server.media_url, *BYSTANDER) as caller:
            flooding = asyncio.ensure_future(flooder())
            turn = await first_reply(caller, clip)
            sent, flood_s, close_code = await flooding
        summary = await ended.of(FLOOD.call_sid, timeout_s=1)
        samples = await scrape(server.host)
    limits = settings.twilio
    assert sent > 2 * limits.flood_limit_ms / 20, "the client really flooded"
    assert sent < FLOOD_FRAMES, "the gateway closed the call before the flood was over"
    assert fed_ms[FLOOD.call_sid] <= limits.max_audio_ahead_ms + flood_s * 1000 + 20, (
        "audio beyond real time plus the burst was dropped, not queued"
    )
    assert problems(samples)["flood"] >= limits.flood_limit_ms / 20
    assert summary.reason.startswith("caller flooded"), summary.reason
    assert summary.tasks_left == 0
    assert close_code == 1008
    assert samples['voicegw_calls_dropped_total{reason="flood"}'] == 1
    assert flood_s < 5, "the flood was cut short"
    assert turn.startswith("turn"), "the call beside the flood still gets its reply"
    assert fed_ms[BYSTANDER.call_sid] > 0


LONG_GREETING = (
    "Hello and welcome to the city library help line. You can ask me about opening hours, "
    "renewing your books, booking a study room, or finding an event for children this week. "
    "You can also ask about reading groups, the music room, printing and scanning, the local "
    "history archive, parking near the main branch, and how to join the library if you are new."
)
"""About twenty seconds: its frames are some 300 kB, twice what the buffers between a gateway
and a client that does not read can hold."""


async def raw_bystander(url: str, clip: CallerClip) -> str:
    """A call that echoes marks on receipt: its reply is not queued behind the long greeting's
    playing time, as it would be with a caller that plays audio at real time."""
    call = await RawCall.open(url, *BYSTANDER)
    try:
        return await call.ask(clip.frames, timeout_s=60)
    finally:
        await call.close()


@asynccontextmanager
async def gateway_with_small_send_buffer(
    settings: Settings, engines: Engines, send_buffer_bytes: int
) -> AsyncIterator[tuple[str, Gateway]]:
    """The real app, with the kernel's send buffer of each connection capped (accepted sockets
    inherit it from the listener), so a client that does not read backs up the gateway's sends
    after kilobytes rather than the megabytes Linux would otherwise buffer."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    app = create_app(settings, engines)
    config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio", lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}", app.state.gateway
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=10)
        listener.close()


async def test_a_client_that_never_reads_is_dropped_and_others_still_answer(
    engines: Engines,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The whole greeting goes out at once, and it is larger than all the buffers on the way.
    chatty = with_changes(
        settings,
        call={"greeting": LONG_GREETING, "playout_lead_ms": 60_000},
        twilio={"send_timeout_ms": 1000},
    )
    clip = await make_clip(engines.synthesizer, QUESTION)
    async with gateway_with_small_send_buffer(chatty, engines, 8192) as (host, gateway):
        ended = EndedCalls(gateway)
        url = f"ws://{host}/twilio/media"
        deaf = await connect_deaf(url)
        try:
            await deaf.send(start_message(DEAF.stream_sid, DEAF.call_sid))
            other = asyncio.ensure_future(raw_bystander(url, clip))
            summary = await ended.of(DEAF.call_sid, timeout_s=30)
            turn = await other
        finally:
            deaf.transport.abort()  # or the server would wait for it to read, at shutdown
        counted = await scrape(host)
    assert summary.reason == "caller stopped reading (a send waited 1 s)"
    assert summary.tasks_left == 0, "every task of the call was cancelled"
    assert counted['voicegw_calls_dropped_total{reason="not_reading"}'] == 1
    assert any("ending the call: caller stopped reading" in r.getMessage() for r in caplog.records)
    assert turn.startswith("turn"), "the call beside it still gets its reply"


async def test_a_socket_that_goes_silent_is_a_dead_call_and_is_ended(
    settings: Settings, gateway_server: Any
) -> None:
    """Twilio sends a frame every 20 ms while a call lasts; a socket silent for longer than
    ``twilio.silent_socket_timeout_ms`` is a call that died without a close."""
    quick = with_changes(settings, twilio={"silent_socket_timeout_ms": 500})
    async with gateway_server(quick) as server:
        ended = EndedCalls(server.gateway)
        async with websockets.connect(server.media_url) as connection:
            await connection.send(start_message(SILENT.stream_sid, SILENT.call_sid))
            await connection.recv()  # the greeting: the call has started; now say nothing
            reading = asyncio.ensure_future(drain(connection))
            summary = await ended.of(SILENT.call_sid, timeout_s=10)
            await asyncio.wait_for(reading, timeout=10)
        counted = await scrape(server.host)
    assert summary.reason == "no frame from Twilio for 0.5 s"
    assert summary.tasks_left == 0, "every task of the call was cancelled"
    assert connection.close_code == 1001
    assert counted['voicegw_calls_dropped_total{reason="silent_socket"}'] == 1


async def test_a_start_with_forged_sids_is_refused_counted_and_not_logged_raw(
    settings: Settings, gateway_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    forged = "CA' OR 1=1; --\n\x1b[2J" + "x" * 500
    async with gateway_server(settings) as server:
        async with websockets.connect(server.media_url) as connection:
            await connection.send(start_message(named_call("forged").stream_sid, forged))
            await asyncio.wait_for(drain(connection), timeout=10)
        counted = await scrape(server.host)
        assert server.gateway.admission.live == 0, "no place was taken"
    assert connection.close_code == 1008
    assert problems(counted) == {"bad_sid": 1.0}
    assert counted['voicegw_calls_dropped_total{reason="bad_sid"}'] == 1
    assert "voicegw_calls_total" not in counted or counted["voicegw_calls_total"] == 0
    assert "OR 1=1" not in caplog.text and "xxxxxxxx" not in caplog.text


async def test_a_keypad_flood_closes_the_call_with_at_most_one_reply(
    settings: Settings, gateway_server: Any
) -> None:
    keypad = named_call("keypad flood")
    async with gateway_server(settings) as server:
        ended = EndedCalls(server.gateway)
        call = await RawCall.open(server.media_url, *keypad)
        try:
            await asyncio.wait_for(call.wait_for_mark("greeting"), timeout=30)
            sent = 0
            with contextlib.suppress(websockets.ConnectionClosed):
                for _ in range(1000):
                    await call.connection.send(dtmf_message(keypad.stream_sid, "#"))
                    sent += 1
            summary = await ended.of(keypad.call_sid, timeout_s=10)
            await asyncio.wait_for(call.connection.wait_closed(), timeout=10)
        finally:
            await call.close()
        samples = await scrape(server.host)
    assert summary.reason.startswith("caller flooded: frames"), summary.reason
    assert call.connection.close_code == 1008
    assert samples['voicegw_calls_dropped_total{reason="flood"}'] == 1
    assert problems(samples)["flood"] >= 1
    turns = sum(v for k, v in samples.items() if k.startswith("voicegw_turns_total"))
    assert turns <= 1, "at most one reply"
    assert sent <= 1000


async def test_a_call_is_ended_politely_at_its_maximum_length(
    settings: Settings, gateway_server: Any
) -> None:
    short = with_changes(settings, call={"max_call_s": 1.0})
    long_call = named_call("long call")
    async with gateway_server(short) as server:
        ended = EndedCalls(server.gateway)
        call = await RawCall.open(server.media_url, *long_call)
        try:
            summary = await ended.of(long_call.call_sid, timeout_s=10)
            await asyncio.wait_for(call.connection.wait_closed(), timeout=10)
        finally:
            await call.close()
        samples = await scrape(server.host)
    assert summary.reason == "the call reached call.max_call_s (1 s)"
    assert summary.tasks_left == 0
    assert call.connection.close_code == 1000
    assert samples['voicegw_calls_dropped_total{reason="max_call_length"}'] == 1
