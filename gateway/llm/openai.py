"""Chat by an OpenAI-compatible server: ``POST {base_url}/chat/completions`` with ``stream: true``.

Server-sent events are read as they arrive and each ``delta.content`` is handed on at once, so
the sentence pipeline sees tokens as early as with the local model. Closing the iterator early
closes the HTTP response, and a streaming server stops generating when its client goes.

The answer must be an event stream (an HTML page from a proxy is not), of at most
``llm.max_response_bytes`` and twice ``llm.max_reply_tokens`` pieces of text (a server that
ignores ``max_tokens`` is cut off there), and must hold some text: an empty reply would be
silence on the line, so it fails the turn (the caller hears the apology).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

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
from gateway.llm.base import ChatMessage
from gateway.scheduling import Job

log = logging.getLogger("voicegw.llm")
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
        self.max_pieces = 2 * max_tokens
        """Pieces of text read at most per reply (servers send about one a token)."""

    @property
    def backend_errors(self) -> dict[str, int]:
        return dict(self._api.errors)

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
            self._api.check_type(response, "an event stream", "text/event-stream")
            events = sse_data(response.aiter_lines())
            pieces = 0
            async for data in events:
                self._api.check_size(response)
                if data == DONE:
                    await _read_to_end(events)
                    break
                for content in _contents(data):
                    pieces += 1
                    yield content
                if pieces >= self.max_pieces:
                    log.warning("llm: %s sent over %d pieces: cut", self._api.base_url, pieces)
                    break
            if not pieces:
                raise BackendError(f"llm: {response.url} sent no text", EMPTY)

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
        raise BackendError(
            f"llm: unexpected event {redact(data)!r}: {error}", BAD_ANSWER
        ) from error
    if chunk.error is not None:
        error_text = redact(bytes(chunk.error)[:4096].decode(errors="replace"))
        raise BackendError(f"llm: error in stream: {error_text}", SERVER_ERROR)
    return [c.delta.content for c in chunk.choices[:1] if c.delta.content]
