"""Faults during a call: the caller's line drops mid-reply; a stage raises or hangs."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from gateway.engines import Engines, close_stage, load_chat
from gateway.llm.base import ChatMessage
from gateway.scheduling import Job
from gateway.settings import Settings
from gateway.stt.base import Transcript
from gateway.tts.base import PcmChunk
from tests.conftest import running_gateway, with_changes
from tests.e2e.calls import EndedCalls
from tests.sim.abuse import RawCall
from tests.sim.backends import CannedAnswer, CannedServer
from tests.sim.caller import SimulatedCaller
from tests.sim.clips import make_clip
from tests.sim.sids import named_call
from tests.sim.soak import figures, scrape


async def test_a_line_dropped_mid_reply_cancels_everything_and_the_log_says_so(
    engines: Engines, settings: Settings, gateway_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clip = await make_clip(engines.synthesizer, "Tell me a long story about the sea.")
    async with gateway_server(settings) as server:
        ended = EndedCalls(server.gateway)
        before = figures(await scrape(server.host))
        drop = named_call("drop")
        call = await RawCall.open(server.media_url, *drop)
        await call.ask(clip.frames, timeout_s=60)  # the first sentence of the reply is out
        call.drop()  # no stop, no close frame: the network is gone
        await call.close()
        summary = await ended.of(drop.call_sid, timeout_s=10)
        samples = await scrape(server.host)
    assert summary.reason.startswith("caller hung up (socket closed"), summary.reason
    assert summary.tasks_left == 0, "every task of the call was cancelled in time"
    assert figures(samples).tasks <= before.tasks, "no task of the call is left on the loop"
    assert samples['voicegw_turns_total{outcome="hung_up"}'] == 1, "the reply was cut off"
    assert not any(name.startswith("voicegw_bad_messages") for name in samples), (
        "the disconnect itself is not a bad frame"
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "voicegw.call"]
    assert any(line.startswith(f"call={drop.call_sid} ended: caller hung up") for line in lines), (
        lines
    )


class Flaky:
    """A stage whose next call raises when told to; otherwise the real stage."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.description = inner.description
        self.fail_next = False

    def _maybe_fail(self) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError(f"{self.description} broke")

    async def transcribe(
        self,
        samples: npt.NDArray[np.float32],
        rate_hz: int,
        job: Job | None = None,
        *,
        language: str | None = None,
    ) -> Transcript:
        self._maybe_fail()
        result: Transcript = await self.inner.transcribe(samples, rate_hz, job, language=language)
        return result

    async def stream(
        self, messages: Sequence[ChatMessage], job: Job | None = None
    ) -> AsyncIterator[str]:
        self._maybe_fail()
        async for token in self.inner.stream(messages, job):
            yield token

    async def synthesize(self, text: str, job: Job | None = None) -> AsyncIterator[PcmChunk]:
        self._maybe_fail()
        async for chunk in self.inner.synthesize(text, job):
            yield chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_failing_stage_gets_an_apology_and_the_call_goes_on(
    engines: Engines, settings: Settings
) -> None:
    apology = "Sorry, could you say that again?"
    # No fillers: a late answer's "Okay." would come before the apology.
    quiet = with_changes(
        settings, turn={"speculate": False}, call={"apology": apology, "fillers": []}
    )
    stt, llm, tts = Flaky(engines.transcriber), Flaky(engines.chat), Flaky(engines.synthesizer)
    flaky = dataclasses.replace(engines, transcriber=stt, chat=llm, synthesizer=tts)
    clip = await make_clip(engines.synthesizer, "What time do you open tomorrow?")
    async with running_gateway(quiet, flaky) as server:
        async with SimulatedCaller(server.media_url) as caller:
            await caller.wait_for_mark("greeting", timeout_s=30)
            apology_audio = b"".join(engines.phrases.get(apology))  # rendered at start-up
            assert apology_audio
            for stage in (stt, llm, tts):
                stage.fail_next = True
                turn = await caller.say(clip.frames, reply_timeout_s=60)
                assert turn.audio == apology_audio, f"{stage.description}: the apology, exactly"
            for frame in clip.frames:
                await caller.send_frame(frame)
            mark = await caller.wait_for_mark("turn", timeout_s=60)
        samples = await scrape(server.host)
    assert mark.endswith("-s0"), "the next turn is answered as usual (an apology has no sentences)"
    assert samples['voicegw_turns_total{outcome="failed"}'] == 3
    answered = ('voicegw_turns_total{outcome="replied"}', 'voicegw_turns_total{outcome="hung_up"}')
    assert sum(samples.get(name, 0) for name in answered) == 1  # hung up as it played, or after


class StuckChat:
    """A language model whose stream never yields: a hung thread, as far as the call can tell."""

    description = "stuck llm"

    async def stream(
        self, messages: Sequence[ChatMessage], job: Job | None = None
    ) -> AsyncIterator[str]:
        await asyncio.Event().wait()
        yield ""  # pragma: no cover - never reached


async def test_a_stage_that_hangs_times_out_into_the_apology(
    engines: Engines, settings: Settings
) -> None:
    apology = "Sorry, could you say that again?"
    configured = with_changes(
        settings,
        turn={"speculate": False},
        call={"apology": apology, "fillers": [], "stage_timeout_ms": 1000},
    )
    stuck = dataclasses.replace(engines, chat=StuckChat())
    clip = await make_clip(engines.synthesizer, "What time do you open tomorrow?")
    async with running_gateway(configured, stuck) as server:
        async with SimulatedCaller(server.media_url) as caller:
            await caller.wait_for_mark("greeting", timeout_s=30)
            turn = await caller.say(clip.frames, reply_timeout_s=30)
        samples = await scrape(server.host)
    assert turn.audio == b"".join(engines.phrases.get(apology))
    assert samples['voicegw_turns_total{outcome="failed"}'] == 1


async def test_an_html_page_from_the_llm_server_gets_the_apology(
    engines: Engines, settings: Settings
) -> None:
    """A proxy's error page with status 200 is not a reply: it was once read as an empty event
    stream, and the turn recorded as replied with nothing said."""
    apology = "Sorry, could you say that again?"
    quiet = with_changes(
        settings, turn={"speculate": False}, call={"apology": apology, "fillers": []}
    )
    clip = await make_clip(engines.synthesizer, "What time do you open tomorrow?")
    async with CannedServer(CannedAnswer()) as page:
        keys = {"backend": "openai", "base_url": page.base_url, "model": "gpt"}
        remote = with_changes(quiet, llm=keys)
        chat = load_chat(remote, Path(settings.models.cache_dir), lambda _: None)
        try:
            async with running_gateway(quiet, dataclasses.replace(engines, chat=chat)) as server:
                async with SimulatedCaller(server.media_url) as caller:
                    await caller.wait_for_mark("greeting", timeout_s=30)
                    turn = await caller.say(clip.frames, reply_timeout_s=60)
                samples = await scrape(server.host)
        finally:
            await close_stage(chat)
    assert page.paths == ["/v1/chat/completions"]
    assert turn.audio == b"".join(engines.phrases.get(apology)), "the apology, exactly"
    assert samples['voicegw_turns_total{outcome="failed"}'] == 1
    assert 'voicegw_turns_total{outcome="replied"}' not in samples
    assert samples['voicegw_backend_errors_total{reason="content_type",stage="llm"}'] == 1
