"""Chat by an OpenAI-compatible server: ``POST {base_url}/chat/completions`` with ``stream: true``.

Server-sent events are read as they arrive and each ``delta.content`` is handed on at once, so
the sentence pipeline sees tokens as early as with the local model. Closing the iterator early
closes the HTTP response, and a streaming server stops generating when its client goes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import httpx
import msgspec

from gateway.http_api import ApiClient, BackendError
from gateway.llm.base import ChatMessage
from gateway.scheduling import Job

DONE = "[DONE]"
AFTER_DONE_S = 0.5
"""How long to wait for the end of the body after ``[DONE]`` (servers end it at once)."""


class _Delta(msgspec.Struct):
    content: str | None = None


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

    def stream(self, messages: Sequence[ChatMessage], job: Job | None = None) -> AsyncIterator[str]:
        """``job`` is not scheduled here: the server schedules its own slots."""
        return self._stream(
            {
                "model": self._model,
                "messages": [{"role": m.role, "content": m.content} for m in messages],
                "stream": True,
                "max_tokens": self._max_tokens,
                "temperature": self._temperature,
            }
        )

    async def _stream(self, body: dict[str, object]) -> AsyncIterator[str]:
        async with self._api.stream("chat/completions", json=body) as response:
            events = sse_data(response.aiter_lines())
            async for data in events:
                if data == DONE:
                    await _read_to_end(events)
                    return
                for content in _contents(data):
                    yield content

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


def _contents(data: str) -> list[str]:
    try:
        chunk = msgspec.json.decode(data, type=_Chunk)
    except msgspec.DecodeError as error:
        raise BackendError(f"llm: unexpected event {data[:200]!r}: {error}") from error
    if chunk.error is not None:
        error_text = bytes(chunk.error)[:300].decode(errors="replace")
        raise BackendError(f"llm: error in stream: {error_text}")
    return [c.delta.content for c in chunk.choices[:1] if c.delta.content]
