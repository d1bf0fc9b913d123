"""The tool loop of a reply, with a scripted model (what the model says is given; the tools are
real HTTP services on 127.0.0.1), and the OpenAI stream's ``tool_calls`` read from a real
HTTP server's event stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec
import pytest

from gateway.http_api import ApiClient
from gateway.llm.base import ChatMessage, ToolCall
from gateway.llm.openai import OpenAIChat
from gateway.pipeline.tool_loop import ToolLoop, ToolTurnSettings, Voice
from gateway.scheduling import unscheduled
from gateway.settings import load_settings
from gateway.tools.config import ToolSettings, ToolsSettings, TransferSettings
from gateway.tools.toolbox import Toolbox
from tests.sim.backends import CannedAnswer, CannedServer
from tests.sim.tool_server import HttpAnswer, HttpRequest, LocalHttpServer, json_answer

Step = list[str | ToolCall]
ORDER = ToolCall(id="call_a", name="order_status", arguments='{"order_number": "4271"}')


class ScriptedChat:
    """Answers each request with the next step of a script, and keeps what it was asked."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[tuple[list[ChatMessage], str, int]] = []

    def stream_tools(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[dict[str, Any]],
        tool_choice: str = "auto",
        job: object = None,
    ) -> AsyncIterator[str | ToolCall]:
        self.requests.append((list(messages), tool_choice, len(tools)))
        return self._items(self.steps.pop(0))

    async def _items(self, step: Step) -> AsyncIterator[str | ToolCall]:
        for item in step:
            yield item

    def tool_instructions(self, tools: Sequence[dict[str, Any]]) -> str:
        return ""


class Heard:
    """What the caller would hear, in order: ("text", piece) and ("line", text)."""

    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []

    def voice(self) -> Voice:
        async def piece(text: str) -> None:
            self.said.append(("text", text))

        async def flush() -> None:
            pass

        async def line(text: str) -> None:
            self.said.append(("line", text))

        return Voice(piece, flush, line)


OPENED: list[Toolbox] = []
"""Toolboxes a test made: their HTTP clients are closed after it."""


@pytest.fixture(autouse=True)
async def close_toolboxes() -> AsyncIterator[None]:
    yield
    while OPENED:
        await OPENED.pop().aclose()


def loop_for(
    chat: ScriptedChat, url: str, heard: Heard, committed: asyncio.Event | None = None, **tools: Any
) -> ToolLoop:
    declared = ToolSettings(name="order_status", url=url, timeout_ms=tools.pop("timeout_ms", 2000))
    box = Toolbox(
        ToolsSettings(function=[declared], hang_up=True, **tools),
        TransferSettings(targets={"sales": "+15551234567"}),
    )
    OPENED.append(box)
    settings = ToolTurnSettings(
        tools=box.for_call(None),
        tool_choice="auto",
        hold_after_s=tools.get("hold_after_ms", 700) / 1000,
        hold_phrase="One moment, let me check.",
        failure_phrase="Sorry, I couldn't look that up.",
        stage_timeout_s=5,
    )
    if committed is None:
        committed = asyncio.Event()
        committed.set()
    return ToolLoop(chat, settings, heard.voice(), unscheduled(), committed)


async def shipped(_request: HttpRequest) -> HttpAnswer:
    return json_answer({"status": "shipped"})


async def test_a_result_is_fed_back_and_the_answer_continues() -> None:
    chat = ScriptedChat(["Let me see. ", ORDER], ["It has ", "shipped."])
    heard = Heard()
    async with LocalHttpServer(shipped) as service:
        loop = loop_for(chat, service.base_url, heard)
        await loop.answer([ChatMessage("user", "Where is order 4271?")])
    second, choice, offered = chat.requests[1]
    assert second[-2] == ChatMessage("assistant", "Let me see. ", tool_calls=(ORDER,))
    assert second[-1] == ChatMessage("tool", '{"status":"shipped"}', tool_call_id="call_a")
    assert (choice, offered) == ("auto", 3)
    assert heard.said == [("text", "Let me see. "), ("text", "It has "), ("text", "shipped.")]
    assert [r.status for r in loop.turn.records] == ["ok"]


async def test_a_slow_tool_gets_the_hold_phrase_and_a_timeout_the_apology() -> None:
    async def hangs(_request: HttpRequest) -> HttpAnswer:
        await service.release.wait()
        return json_answer({})

    chat = ScriptedChat([ORDER])
    heard = Heard()
    async with LocalHttpServer(hangs) as service:
        loop = loop_for(chat, service.base_url, heard, timeout_ms=300, hold_after_ms=50)
        await asyncio.wait_for(loop.answer([ChatMessage("user", "Where is it?")]), 5)
    assert heard.said == [
        ("line", "One moment, let me check."),
        ("line", "Sorry, I couldn't look that up."),
    ]
    assert [r.status for r in loop.turn.records] == ["timeout"]
    assert len(chat.requests) == 1, "a failed tool ends the turn: no second request"


async def test_a_looping_model_is_capped_and_must_answer_in_words() -> None:
    chat = ScriptedChat([ORDER], [ORDER], ["Done."])
    heard = Heard()
    async with LocalHttpServer(shipped) as service:
        loop = loop_for(chat, service.base_url, heard, max_calls_per_turn=2)
        await loop.answer([ChatMessage("user", "Where is it?")])
    assert [choice for _, choice, _ in chat.requests] == ["auto", "auto", "none"]
    assert len(service.requests) == 2


async def test_hang_up_says_goodbye_and_leaves_the_action_to_the_call() -> None:
    chat = ScriptedChat([ToolCall(id="c", name="hang_up", arguments="{}")])
    heard = Heard()
    loop = loop_for(chat, "http://127.0.0.1:9", heard)
    await loop.answer([ChatMessage("user", "Bye!")])
    assert heard.said == [("line", "Thank you for calling. Goodbye!")]
    assert loop.action is not None and loop.action.kind == "hang_up"


async def test_no_tool_runs_before_the_turn_is_committed() -> None:
    chat = ScriptedChat([ORDER], ["Shipped."])
    async with LocalHttpServer(shipped) as service:
        committed = asyncio.Event()
        loop = loop_for(chat, service.base_url, Heard(), committed)
        answering = asyncio.ensure_future(loop.answer([ChatMessage("user", "Where is it?")]))
        await asyncio.wait({answering}, timeout=0.2)  # a draft: the turn is not over yet
        assert service.requests == [] and not answering.done()
        committed.set()
        await asyncio.wait_for(answering, 5)
    assert len(service.requests) == 1


def sse(*chunks: dict[str, Any]) -> bytes:
    events = [b"data: " + msgspec.json.encode(c) + b"\n\n" for c in chunks]
    return b"".join(events) + b"data: [DONE]\n\n"


def tool_delta(index: int, **fields: Any) -> dict[str, Any]:
    return {"choices": [{"delta": {"tool_calls": [{"index": index, **fields}]}}]}


async def test_openai_tool_call_pieces_are_gathered_by_index() -> None:
    body = sse(
        {"choices": [{"delta": {"content": "Checking. "}}]},
        tool_delta(0, id="call_x", type="function", function={"name": "order_status"}),
        tool_delta(1, id="call_y", function={"name": "hang_up", "arguments": "{}"}),
        tool_delta(0, function={"name": "order_status", "arguments": '{"order_'}),
        tool_delta(0, function={"arguments": 'number": "12"}'}),
        {"choices": [{"delta": {}, "finish_reason": "tool_calls"}]},
    )
    answer = CannedAnswer(content_type="text/event-stream", body=body)
    async with CannedServer(answer) as server:
        settings = load_settings(None, environ={}).llm
        llm = msgspec.structs.replace(settings, backend="openai", base_url=server.base_url)
        chat = OpenAIChat(ApiClient("llm", llm), "m", 50, 0.0)
        items = [i async for i in chat.stream_tools([ChatMessage("user", "hi")], [{}])]
        await chat.aclose()
    assert items == [
        "Checking. ",
        ToolCall(id="call_x", name="order_status", arguments='{"order_number": "12"}'),
        ToolCall(id="call_y", name="hang_up", arguments="{}"),
    ]


def test_the_local_model_reads_its_own_calls_and_the_results_as_turns() -> None:
    from gateway.llm.local_tools import instructions, local_messages

    function = {
        "name": "order_status",
        "description": "Look it up.",
        "parameters": {"type": "object"},
    }
    listed = instructions([{"type": "function", "function": function}])
    assert 'functions.order_status: Look it up. Arguments: {"type":"object"}' in listed
    rendered = local_messages(
        [
            ChatMessage("assistant", "Let me see.", tool_calls=(ORDER,)),
            ChatMessage("tool", '{"status": "shipped"}', tool_call_id="call_a"),
        ]
    )
    assert rendered == [
        {
            "role": "assistant",
            "content": 'message:\nLet me see.\nfunctions.order_status:\n{"order_number": "4271"}',
        },
        {"role": "tool", "content": '{"status": "shipped"}'},
    ]


async def test_a_model_that_calls_tools_when_told_none_cannot_loop() -> None:
    chat = ScriptedChat(*([ORDER] for _ in range(10)))
    async with LocalHttpServer(shipped) as service:
        loop = loop_for(chat, service.base_url, Heard(), max_calls_per_turn=2)
        await asyncio.wait_for(loop.answer([ChatMessage("user", "Where is it?")]), 5)
    assert len(chat.requests) == 3
    assert [r.status for r in loop.turn.records] == ["ok", "ok", "refused"]
