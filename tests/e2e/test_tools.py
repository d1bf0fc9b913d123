"""An agent that acts, end to end: simulated Twilio calls over the real WebSocket, the tool a
real HTTP service on 127.0.0.1, the model the embedded one (in process, or behind
llama-cpp-python's own server), and Twilio's side of a transfer a local server too.

The embedded 135M model decides poorly whether to call a tool (bench/tool_calls.py measures
it), so the tests that are about what follows a call name the tool (``tools.tool_choice``): its
arguments are still the model's, generated under the tool's schema."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from gateway.engines import Engines, load_chat
from gateway.metrics import read_turn_log
from gateway.settings import Settings
from gateway.tools.config import ToolSettings
from tests.conftest import RunningGateway, running_gateway, with_changes
from tests.e2e.test_phone_turn import transcribe_mulaw, words
from tests.servers import remote_stage
from tests.sim.backends import BackendServer
from tests.sim.caller import SILENT_FRAME, SimulatedCaller
from tests.sim.clips import make_clip
from tests.sim.sids import ACCOUNT_SID
from tests.sim.tool_server import (
    HttpAnswer,
    HttpRequest,
    LocalHttpServer,
    TwilioRestShape,
    json_answer,
)

ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"order_number": {"type": "string", "pattern": "^[0-9]{1,8}$"}},
    "required": ["order_number"],
}
QUESTION = "What is the status of my order four two seven one?"
SHIPPED = "Your order shipped on Monday and arrives on Thursday."
SALES = "+15551234567"
REPLY_TIMEOUT_S = 60.0


class Caller(SimulatedCaller):
    """Twilio's side, but it can withhold the echo of chosen marks until the test releases
    them, and tells when the gateway closed the socket."""

    def __init__(
        self,
        url: str,
        withhold: Callable[[str], bool] = lambda _n: False,
        custom_parameters: dict[str, str] | None = None,
    ) -> None:
        super().__init__(url, custom_parameters=custom_parameters)
        self._withhold = withhold
        self.withheld: asyncio.Queue[str] = asyncio.Queue()
        self.closed = asyncio.Event()

    async def _echo(self, name: str) -> None:
        if self._withhold(name):
            self.withheld.put_nowait(name)
            return
        await super()._echo(name)

    async def release(self, name: str) -> None:
        await super()._echo(name)

    async def _read(self) -> None:
        try:
            await super()._read()
        finally:
            self.closed.set()


async def order_status(request: HttpRequest) -> HttpAnswer:
    arguments = request.json()["arguments"]
    return json_answer({"order": arguments.get("order_number"), "say": SHIPPED})


def order_tool(url: str, **keys: Any) -> ToolSettings:
    return ToolSettings(
        name="order_status",
        description="Look up the status of the caller's order by its number.",
        parameters=ORDER_SCHEMA,
        url=url,
        **keys,
    )


def configured(settings: Settings, **sections: dict[str, Any]) -> tuple[Settings, Path]:
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    llm = {"max_reply_tokens": 30, "temperature": 0.0, **sections.pop("llm", {})}
    changed = with_changes(settings, metrics={"turn_log_path": str(turn_log)}, llm=llm, **sections)
    return changed, turn_log


@asynccontextmanager
async def on_a_call(
    configured: Settings,
    engines: Engines,
    withhold: Callable[[str], bool] = lambda _n: False,
    parameters: dict[str, str] | None = None,
) -> AsyncIterator[tuple[RunningGateway, Caller]]:
    async with (
        running_gateway(configured, engines) as server,
        Caller(server.media_url, withhold, parameters) as caller,
    ):
        await caller.wait_for_mark("greeting", timeout_s=30)
        yield server, caller


async def line_open_until(caller: Caller, event: asyncio.Event, timeout_s: float) -> None:
    """Send silence, as a live line does, until ``event`` (TimeoutError past ``timeout_s``);
    the gateway may close the socket meanwhile (a frame then finds it closed)."""
    async with asyncio.timeout(timeout_s):
        with contextlib.suppress(websockets.ConnectionClosed):
            while not event.is_set() and not caller.closed.is_set():
                await caller.send_frame(SILENT_FRAME)
        await event.wait()


async def ask_to_be_handed_over(caller: Caller, clip: list[bytes]) -> None:
    """Speak, then stay on the line until the gateway ends the stream."""
    for frame in clip:
        await caller.send_frame(frame)
    await line_open_until(caller, caller.closed, REPLY_TIMEOUT_S)


def remote_engines(engines: Engines, changed: Settings) -> Engines:
    """The session's local STT and TTS around the chat model ``changed`` names."""
    cache = Path(changed.models.cache_dir).expanduser()
    return dataclasses.replace(engines, chat=load_chat(changed, cache, lambda _: None))


@pytest.fixture
async def question(engines: Engines) -> list[bytes]:
    return (await make_clip(engines.synthesizer, QUESTION)).frames


async def test_local_model_calls_the_tool_and_the_caller_hears_its_answer(
    engines: Engines, settings: Settings, question: list[bytes]
) -> None:
    async with LocalHttpServer(order_status) as service:
        tools = {"function": [order_tool(service.base_url)], "tool_choice": "order_status"}
        prompt = "You help callers. The caller's number is {from}; they dialled {to}. {unknown}"
        changed, turn_log = configured(settings, tools=tools, llm={"system_prompt": prompt})
        # The webhook's From and To, as the stream's start brings them back; the prompt is a
        # template (an unknown field stays as written).
        parameters = {"from": "+15550001111", "to": "+15550002222"}
        async with on_a_call(changed, engines, parameters=parameters) as (_, caller):
            result = await caller.say(question, reply_timeout_s=REPLY_TIMEOUT_S)
        posted = service.requests[0].json()
    assert posted["call"] == {
        "call_sid": caller.call_sid, "from": "+15550001111", "to": "+15550002222"
    }  # fmt: skip
    assert posted["arguments"]["order_number"].isdigit(), "the model's, under the schema"
    [record] = read_turn_log(turn_log)
    assert [t["status"] for t in record["tools"]] == ["ok"], record
    heard = words(await transcribe_mulaw(engines, result.audio))
    # Whisper hears "Sure. Your order shipped on" run together as "...orders ship on" at times.
    assert {"monday", "thursday"} <= set(heard), heard
    assert any(word.startswith("ship") for word in heard), heard


async def test_remote_model_calls_the_tool_through_llama_cpp_server(
    engines: Engines, settings: Settings, llm_server: BackendServer, question: list[bytes]
) -> None:
    """llama-cpp-python's server streams the call as OpenAI ``tool_calls`` deltas; the result
    goes back as a ``tool`` message and the model's second answer is spoken."""

    async def status(_request: HttpRequest) -> HttpAnswer:
        return HttpAnswer(200, b"The order shipped on Monday.", "text/plain")

    llm = remote_stage("llm", llm_server, max_reply_tokens=30, temperature=0.0)
    async with LocalHttpServer(status) as service:
        tools = {"function": [order_tool(service.base_url)], "tool_choice": "order_status"}
        changed, turn_log = configured(settings, tools=tools, llm=llm)
        remote = remote_engines(engines, changed)
        try:
            async with on_a_call(changed, remote) as (_, caller):
                result = await caller.say(question, reply_timeout_s=REPLY_TIMEOUT_S)
        finally:
            await remote.chat.aclose()  # type: ignore[attr-defined]
    [record] = read_turn_log(turn_log)
    assert len(service.requests) == 1, (record["tools"], record["error"], record["reply_text"])
    assert record["outcome"] == "replied", record["error"]
    [run] = record["tools"]
    assert run["status"] == "ok" and "monday" in words(run["result"]), run
    # The model's second answer is spoken. Whether the 135M model repeats the result depends on
    # how Whisper heard the question (once: "You're welcome. I'm glad to help you with your
    # order."), so only the local test, whose tool answers with words to say, checks them.
    assert record["reply_text"], record
    assert len(words(await transcribe_mulaw(engines, result.audio))) >= 2


async def test_a_tool_that_times_out_gets_the_hold_phrase_then_the_apology(
    engines: Engines, settings: Settings, question: list[bytes]
) -> None:
    async def hangs(_request: HttpRequest) -> HttpAnswer:
        await service.release.wait()
        return json_answer({})

    async with LocalHttpServer(hangs) as service:
        tool = order_tool(service.base_url, timeout_ms=1500)
        tools = {"function": [tool], "tool_choice": "order_status", "hold_after_ms": 300}
        changed, turn_log = configured(settings, tools=tools)
        async with on_a_call(changed, engines) as (_, caller):
            result = await caller.say(question, reply_timeout_s=REPLY_TIMEOUT_S)
            assert caller.close_code is None, "the call goes on"
    [record] = read_turn_log(turn_log)
    assert [t["status"] for t in record["tools"]] == ["timeout"]
    assert record["reply_text"].startswith("One moment, let me check."), record["reply_text"]
    heard = words(await transcribe_mulaw(engines, result.audio))
    assert {"moment", "sorry"} <= set(heard), heard


async def test_transfer_ends_the_stream_and_the_connect_action_dials(
    engines: Engines, settings: Settings
) -> None:
    clip = (await make_clip(engines.synthesizer, "Please put me through to sales.")).frames
    changed, turn_log = configured(
        settings, tools={"tool_choice": "transfer"}, transfer={"targets": {"sales": SALES}}
    )
    async with running_gateway(changed, engines) as server, httpx.AsyncClient() as http:
        webhook = await http.post(
            f"http://{server.host}/twilio/voice", data={"CallSid": "CA" + "1" * 32}
        )
        assert f'<Connect action="https://{server.host}/twilio/after-stream">' in webhook.text
        async with Caller(server.media_url) as caller:
            await caller.wait_for_mark("greeting", timeout_s=30)
            await ask_to_be_handed_over(caller, clip)
        assert caller.close_code == 1000
        after = f"http://{server.host}/twilio/after-stream"
        first = await http.post(after, data={"CallSid": caller.call_sid})
        again = await http.post(after, data={"CallSid": caller.call_sid})
    assert first.text.endswith(f"<Response><Dial>{SALES}</Dial></Response>")
    assert again.text.endswith("<Response><Hangup/></Response>"), "a transfer is given once"
    [record] = read_turn_log(turn_log)
    assert record["tools"][0]["name"] == "transfer" and record["tools"][0]["status"] == "ok"
    assert "transfer" in record["reply_text"]


async def test_transfer_by_rest_updates_the_call_at_twilios_rest_shape(
    engines: Engines, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "rest-token-for-tests"
    monkeypatch.setenv("VOICEGW_TEST_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("VOICEGW_TEST_REST_TOKEN", token)
    clip = (await make_clip(engines.synthesizer, "Please put me through to sales.")).frames
    async with LocalHttpServer(TwilioRestShape(ACCOUNT_SID, token)) as twilio:
        transfer = {
            "targets": {"sales": SALES},
            "method": "rest",
            "rest_base_url": twilio.base_url,
            "account_sid_env": "VOICEGW_TEST_ACCOUNT_SID",
            "rest_token_env": "VOICEGW_TEST_REST_TOKEN",
        }
        changed, _ = configured(settings, tools={"tool_choice": "transfer"}, transfer=transfer)
        async with on_a_call(changed, engines) as (_, caller):
            await ask_to_be_handed_over(caller, clip)
            request = await twilio.next_request(timeout_s=1)  # sent before the stream ended
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{caller.call_sid}.json"
    assert request.form()["Twiml"].endswith(f"<Response><Dial>{SALES}</Dial></Response>")
    assert caller.close_code == 1000


async def test_hang_up_waits_for_the_goodbyes_mark(engines: Engines, settings: Settings) -> None:
    clip = (await make_clip(engines.synthesizer, "That is all, thank you. Goodbye.")).frames
    changed, turn_log = configured(settings, tools={"hang_up": True, "tool_choice": "hang_up"})
    withheld_end = asyncio.Event()

    def withhold(name: str) -> bool:
        if name.startswith("turn") and name.endswith("-end"):
            withheld_end.set()
            return True
        return False

    async with on_a_call(changed, engines, withhold) as (_, caller):
        for frame in clip:
            await caller.send_frame(frame)
        await line_open_until(caller, withheld_end, REPLY_TIMEOUT_S)
        # Twilio has played the goodbye (its last mark is due) but has not said so: the line
        # stays open well past the 1.5 s a reply otherwise waits for its last echo.
        with pytest.raises(TimeoutError):
            await line_open_until(caller, caller.closed, 4)
        await caller.release(caller.withheld.get_nowait())
        await asyncio.wait_for(caller.closed.wait(), timeout=5)
    assert caller.close_code == 1000
    [record] = read_turn_log(turn_log)
    assert record["reply_text"] == "Thank you for calling. Goodbye!"
    assert [t["name"] for t in record["tools"]] == ["hang_up"]
