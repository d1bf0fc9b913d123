"""llama-cpp-python chat, streamed token by token from a worker thread."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

from gateway.devices import llama_device
from gateway.llm.base import ChatMessage
from gateway.threads import iterate_in_thread

if TYPE_CHECKING:
    from llama_cpp import Llama


class LlamaChat:
    """One model instance for all calls.

    llama.cpp contexts are not thread-safe, so one generation runs at a time under a lock; a
    cancelled turn releases it at its next token. llama-cpp-python reuses the KV cache for the
    longest common prompt prefix, so a call's growing history stays warm between its turns.
    """

    def __init__(
        self,
        llm: Llama,
        description: str,
        max_tokens: int,
        temperature: float,
        lookahead_tokens: int = 0,
    ) -> None:
        self._llm = llm
        self.description = description
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._lookahead_tokens = lookahead_tokens
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="llm")

    @classmethod
    def load(
        cls,
        *,
        path: str,
        device: str,
        context_tokens: int,
        threads: int,
        max_tokens: int,
        temperature: float,
        lookahead_tokens: int,
        label: str,
    ) -> LlamaChat:
        from llama_cpp import Llama

        resolved = llama_device(device)
        llm = Llama(
            model_path=path,
            n_ctx=context_tokens,
            n_threads=threads,
            n_gpu_layers=-1 if resolved == "cuda" else 0,
            verbose=False,
        )
        return cls(llm, f"{label} on {resolved}", max_tokens, temperature, lookahead_tokens)

    def _generate(self, messages: list[dict[str, str]]) -> Iterator[str]:
        with self._lock:
            chunks = cast(
                Iterator[Any],
                self._llm.create_chat_completion(
                    messages=messages,  # type: ignore[arg-type]
                    stream=True,
                    max_tokens=self._max_tokens,
                    temperature=self._temperature,
                ),
            )
            try:
                for chunk in chunks:
                    content = chunk["choices"][0]["delta"].get("content")
                    if content:
                        yield content
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        payload = [{"role": m.role, "content": m.content} for m in messages]
        return iterate_in_thread(
            lambda: self._generate(payload), self._executor, lookahead=self._lookahead_tokens
        )
