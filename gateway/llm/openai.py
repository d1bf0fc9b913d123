"""Chat by an OpenAI-compatible server: ``POST {base_url}/chat/completions`` with ``stream: true``.

Server-sent events are read as they arrive and each ``delta.content`` is handed on at once, so
the sentence pipeline sees tokens as early as with the local model. Closing the iterator early
closes the HTTP response, and a streaming server stops generating when its client goes.

The answer must be an event stream (an HTML page from a proxy is not), of at most
``llm.max_response_bytes`` and twice ``llm.max_reply_tokens`` pieces of text (a server that
ignores ``max_tokens`` is cut off there), and must hold some text: an empty reply would be
silence on the line, so it fails the turn (the caller hears the apology).

With tools (:meth:`OpenAIChat.stream_tools`), ``delta.tool_calls`` pieces are gathered by their
``index`` (the first names the call, later ones add ``arguments`` text) and handed on as
:class:`ToolCall` s once the stream ends; a reply of only tool calls is not empty. At most
:data:`MAX_TOOL_CALLS` calls and :data:`MAX_ARGUMENT_CHARS` of arguments each are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import msgspec

from gateway.http_api import (
    BAD_ANSWER,
    EMPTY,
    SERVER_ERROR,
    ApiClient,
    BackendError,
    redact,
)
from gateway.llm.base import ChatMessage, ToolCall, wire
from gateway.scheduling import Job

log = logging.getLogger("voicegw.llm")
DONE = "[DONE]"
AFTER_DONE_S = 0.5
"""How long to wait for the end of the body after ``[DONE]`` (servers end it at once)."""
MAX_TOOL_CALLS = 8
"""Tool calls kept from one answer; more are dropped (the toolbox caps what runs anyway)."""
MAX_ARGUMENT_CHARS = 8192
"""Arguments text kept per call; longer is cut (and then fails validation as broken JSON)."""


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _ToolDelta(msgspec.Struct):
    index: int = 0
    id: str | None = None
    function: _Function | None = None


class _Delta(msgspec.Struct):
    content: str | None = None
    tool_calls: list[_ToolDelta] | None = None


class _Choice(msgspec.Struct):
    delta: _Delta = msgspec.field(default_factory=_Delta)


class _Chunk(msgspec.Struct):
    choices: list[_Choice] = msgspec.field(default_factory=list)
    error: msgspec.Raw | None = None


async def sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined with newlines)."""
    data: list[str] = []
    async for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            yield "\n".join(data)
            data = []
    if data:
        yield "\n".join(data)


class OpenAIChat:
    def __init__(self, api: ApiClient, model: str, max_tokens: int, temperature: float) -> None:
        self._api = api
        self._model = model
        self._max_tokens = max_tokens
        self._temperature = temperature
        self.description = f"{model} via {api.base_url}"
        self.max_pieces = 2 * max_tokens
        """Pieces of text read at most per reply (servers send about one a token)."""

    @property
    def backend_errors(self) -> dict[str, int]:
        return dict(self._api.errors)

    def stream(self, messages: Sequence[ChatMessage], job: Job | None = None) -> AsyncIterator[str]:
        """``job`` is not scheduled here: the server schedules its own slots."""
        return self._text_only(self._stream(self._body(messages)))

    def stream_tools(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[dict[str, Any]],
        tool_choice: str = "auto",
        job: Job | None = None,
    ) -> AsyncIterator[str | ToolCall]:
        """Text pieces as they come, then the tool calls the model made (none: a plain reply)."""
        body = self._body(messages)
        if tools:
            body["tools"] = list(tools)
            body["tool_choice"] = (
                tool_choice
                if tool_choice in ("auto", "required", "none")
                else {"type": "function", "function": {"name": tool_choice}}
            )
        return self._stream(body)

    def tool_instructions(self, tools: Sequence[dict[str, Any]]) -> str:
        return ""  # the request declares them

    def _body(self, messages: Sequence[ChatMessage]) -> dict[str, Any]:
        return {
            "model": self._model,
            "messages": [wire(m) for m in messages],
            "stream": True,
            "max_tokens": self._max_tokens,
            "temperature": self._temperature,
        }

    @staticmethod
    async def _text_only(items: AsyncIterator[str | ToolCall]) -> AsyncIterator[str]:
        try:
            async for item in items:
                if isinstance(item, str):
                    yield item
        finally:
            await items.aclose()  # type: ignore[attr-defined]

    async def _stream(self, body: dict[str, object]) -> AsyncIterator[str | ToolCall]:
        async with self._api.stream("chat/completions", json=body) as response:
            self._api.check_type(response, "an event stream", "text/event-stream")
            events = sse_data(response.aiter_lines())
            pieces = 0
            calls = _ToolCalls()
            async for data in events:
                self._api.check_size(response)
                if data == DONE:
                    await _read_to_end(events)
                    break
                contents, tool_deltas = _parts(data)
                calls.add(tool_deltas)
                for content in contents:
                    pieces += 1
                    yield content
                if pieces + calls.pieces >= self.max_pieces:
                    log.warning("llm: %s sent over %d pieces: cut", self._api.base_url, pieces)
                    break
            if not pieces and not calls.calls:
                raise BackendError(f"llm: {response.url} sent no text", EMPTY)
        for call in calls.finished():
            yield call

    async def aclose(self) -> None:
        await self._api.aclose()


async def _read_to_end(events: AsyncIterator[str]) -> None:
    """Read the little that follows ``[DONE]``: a response read to its end leaves its connection
    in the pool, and the next turn skips a TCP (and TLS) handshake. Bounded, and best effort:
    the reply is complete whatever happens here."""
    with contextlib.suppress(TimeoutError, httpx.HTTPError):
        async with asyncio.timeout(AFTER_DONE_S):
            async for _ in events:
                pass


class _ToolCalls:
    """Tool-call pieces gathered by index, bounded in number and length."""

    def __init__(self) -> None:
        self.calls: dict[int, list[str]] = {}
        """index -> [id, name, arguments]"""
        self.pieces = 0

    def add(self, deltas: list[_ToolDelta]) -> None:
        for delta in deltas:
            self.pieces += 1
            call = self.calls.get(delta.index)
            if call is None:
                if len(self.calls) >= MAX_TOOL_CALLS:
                    continue
                call = self.calls[delta.index] = ["", "", ""]
            if delta.id:
                call[0] = delta.id[:64]
            if delta.function is not None:
                if delta.function.name and not call[1]:
                    # The first piece names the call; llama-cpp-python's server repeats the
                    # name in every piece, which would otherwise read as a longer name.
                    call[1] = delta.function.name[:64]
                if delta.function.arguments:
                    call[2] = (call[2] + delta.function.arguments)[:MAX_ARGUMENT_CHARS]

    def finished(self) -> list[ToolCall]:
        return [
            ToolCall(id=call_id or f"call_{index}", name=name, arguments=arguments)
            for index, (call_id, name, arguments) in sorted(self.calls.items())
        ]


def _contents(data: str) -> list[str]:
    return _parts(data)[0]


def _parts(data: str) -> tuple[list[str], list[_ToolDelta]]:
    """The text pieces and tool-call pieces of one event."""
    try:
        chunk = msgspec.json.decode(data, type=_Chunk)
    except msgspec.DecodeError as error:
        raise BackendError(
            f"llm: unexpected event {redact(data)!r}: {error}", BAD_ANSWER
        ) from error
    if chunk.error is not None:
        error_text = redact(bytes(chunk.error)[:4096].decode(errors="replace"))
        raise BackendError(f"llm: error in stream: {error_text}", SERVER_ERROR)
    choices = chunk.choices[:1]
    contents = [c.delta.content for c in choices if c.delta.content]
    return contents, [t for c in choices for t in c.delta.tool_calls or []]
