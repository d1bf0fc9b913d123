"""The language-model stage interface."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Literal, Protocol, runtime_checkable

import msgspec

from gateway.scheduling import Job

Role = Literal["system", "user", "assistant"]


class ChatMessage(msgspec.Struct, frozen=True):
    role: Role
    content: str
    interrupted: bool = False
    """An assistant turn the caller cut off: ``content`` is only the part they heard."""


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
