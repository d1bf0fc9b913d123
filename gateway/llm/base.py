"""The language-model stage interface."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from gateway.scheduling import Job

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(msgspec.Struct, frozen=True):
    """A tool call as the model wrote it: untrusted until the toolbox has checked it."""

    id: str
    name: str
    arguments: str
    """JSON text, as generated (may be cut short, or not JSON at all)."""


class ChatMessage(msgspec.Struct, frozen=True):
    role: Role
    content: str
    interrupted: bool = False
    """An assistant turn the caller cut off: ``content`` is only the part they heard."""
    tool_calls: tuple[ToolCall, ...] = ()
    """An assistant turn that called tools (within one reply; never kept in the history)."""
    tool_call_id: str = ""
    """A ``tool`` message: the call it answers."""


def wire(message: ChatMessage) -> dict[str, Any]:
    """A message as OpenAI's chat API takes it. An assistant turn that only called tools keeps
    ``content: ""`` rather than null: chat templates that concatenate it (llama.cpp servers
    rendering a model's own template) fail on null."""
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    payload: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        payload["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return payload


class ChatModel(Protocol):
    """Streams a reply to a conversation, token text by token text.

    Closing the iterator early (the turn was cancelled) must stop generation promptly.
    """

    description: str

    def stream(self, messages: Sequence[ChatMessage], job: Job | None = None) -> AsyncIterator[str]:
        """``job`` orders the work among calls (:mod:`gateway.scheduling`); None: due now."""
        ...


@runtime_checkable
class PreparesPrompts(Protocol):
    """A chat model with a prompt cache (llama.cpp in process) can evaluate the start of the
    next prompt ahead, while the caller listens to the answer, so that the next turn only
    evaluates the caller's new words. Remote models do not offer it."""

    async def prepare(self, messages: Sequence[ChatMessage], job: Job | None = None) -> None: ...


@runtime_checkable
class ScoresTurnEnd(Protocol):
    """A chat model in this process can say how sure it is that the caller's message is
    finished (:mod:`gateway.llm.turn_end`), at no cost beyond the prompt the draft reads anyway.
    The endpoint then ends a clearly finished turn sooner and holds an unsure pause longer."""

    async def score_turn_end(
        self, messages: Sequence[ChatMessage], job: Job | None = None
    ) -> float: ...

    def stream_scoring_end(
        self,
        messages: Sequence[ChatMessage],
        on_end_probability: Callable[[float], None],
        job: Job | None = None,
    ) -> AsyncIterator[str]:
        """The reply, as ``stream``; the score is told first, from within its evaluation."""
        ...


@runtime_checkable
class CallsTools(Protocol):
    """A chat model that can call tools (OpenAI's protocol): the stream holds text pieces and,
    at its end, the tool calls the model made. ``tools`` are OpenAI tool declarations;
    ``tool_choice`` is ``auto``, ``required`` or a tool's name."""

    def stream_tools(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[dict[str, Any]],
        tool_choice: str = "auto",
        job: Job | None = None,
    ) -> AsyncIterator[str | ToolCall]: ...

    def tool_instructions(self, tools: Sequence[dict[str, Any]]) -> str:
        """Text appended to the system prompt when tools are on ("" where the server is told
        of the tools by the request): kept in the system prompt, the prompt cache holds it."""
        ...
