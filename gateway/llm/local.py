"""llama-cpp-python chat, streamed token by token from worker threads, several calls at once.

A llama.cpp context holds one conversation's KV cache and is not thread-safe. The model is loaded
as a small pool of contexts (``llm.contexts``; the weights are memory-mapped once and shared), so
each call keeps its own conversation warm in a context of its own: llama-cpp-python reuses the
longest common prompt prefix, and the prompt is a stable prefix between a call's turns.

Generation is interleaved token by token: each token is one step through the device's compute
gate (:mod:`gateway.scheduling`), which picks the most urgent waiting step, and so is each
:data:`PROMPT_STEP_TOKENS` of a prompt (prompt evaluation runs at about 6.5 ms a token on this
2-core CPU whatever the batch: a history cut back to half its window re-evaluates ~600 tokens, 4
s, which as one step would stall every other call). So a second caller's first token waits for
one small step of the first caller's reply, not for all of it, and nothing is held while the
reply's consumer is busy speaking.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, cast

from gateway.devices import Resolved
from gateway.llm import local_tools, turn_end
from gateway.llm.base import ChatMessage, ToolCall
from gateway.scheduling import Gate, Job, JobCancelled, unscheduled
from gateway.threads import iterate_in_thread

if TYPE_CHECKING:
    from llama_cpp import Llama

_LEASE_POLL_S = 0.05
PROMPT_STEP_TOKENS = 16
"""Prompt tokens evaluated in one gate step (about 0.1 s here). A step holds the CPU from every
other call's first words, and smaller steps cost nothing: measured here, 320 tokens take the
same 2.0-2.1 s in steps of 16, 32, 64 or all at once."""
NEXT_WORDS = "\x00"
"""Stands for the caller's next words in a prompt rendered ahead of them."""
OWN_CONTEXT_WAIT_S = 0.5
"""How long a call waits for its own context, held by its previous generation (a draft being
cancelled stops within a step), before it takes another: where its prompt is not cached."""


class SteppedContext:
    """A llama.cpp context whose every evaluation (a prompt chunk, a generated token) is one
    step through the compute gate. ``Llama.generate`` calls ``self.eval``: the instance's own
    ``eval`` is replaced by ours.

    A step lasts from one evaluation to the next (or to the end of the generation), so the
    Python work between tokens (sampling, detokenising, the chat-completion chunk) is on the
    device's clock too. Measured here at 4 calls: run beside the next step's decode, that work
    and the other generations' took the GIL and a core from it, and a token cost 25-28 ms
    against 12.5 ms alone; held through, 21 ms, and every other stage's steps got faster."""

    def __init__(self, llm: Llama) -> None:
        self.llm = llm
        self._eval = llm.eval
        self._step: Callable[[], AbstractContextManager[object]] = nullcontext
        self._held: AbstractContextManager[object] | None = None
        llm.eval = self.eval  # type: ignore[method-assign]

    @contextmanager
    def scheduled(self, step: Callable[[], AbstractContextManager[object]]) -> Iterator[Llama]:
        """Run the context's evaluations as ``step``s; the last one ends with the block."""
        self._step = step
        try:
            yield self.llm
        finally:
            self._release()
            self._step = nullcontext

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.__exit__(None, None, None)

    def eval(self, tokens: Sequence[int]) -> None:
        for start in range(0, len(tokens), PROMPT_STEP_TOKENS):
            self._release()
            step = self._step()
            step.__enter__()  # may raise JobCancelled: then nothing is held
            self._held = step
            self._eval(tokens[start : start + PROMPT_STEP_TOKENS])


class ContextPool:
    """Contexts lent one at a time: a call gets back the one it used last (its prompt is cached
    there), waiting a moment for it if its previous generation still holds it, else the one
    idle longest."""

    def __init__(self, contexts: Sequence[SteppedContext]) -> None:
        self._contexts = list(contexts)
        self._busy: set[int] = set()
        self._last_call: dict[int, str] = {}
        self._last_used: dict[int, int] = dict.fromkeys(range(len(self._contexts)), 0)
        self._uses = itertools.count(1)
        self._cond = threading.Condition()

    def __len__(self) -> int:
        return len(self._contexts)

    def _pick(self, call_id: str, patient: bool) -> int | None:
        own = [i for i, user in self._last_call.items() if call_id and user == call_id]
        if own and patient:
            # The newest of the call's contexts holds its longest cached prompt.
            newest = max(own, key=lambda i: self._last_used[i])
            return None if newest in self._busy else newest
        free = [i for i in range(len(self._contexts)) if i not in self._busy]
        if not free:
            return None
        own_free = [i for i in own if i in free]
        if own_free:
            return max(own_free, key=lambda i: self._last_used[i])
        return min(free, key=lambda i: self._last_used[i])

    @contextmanager
    def lease(self, job: Job) -> Iterator[SteppedContext]:
        patient_until = time.monotonic() + OWN_CONTEXT_WAIT_S
        with self._cond:
            while (index := self._pick(job.call_id, time.monotonic() < patient_until)) is None:
                if job.cancelled.is_set():
                    raise JobCancelled("llm")
                self._cond.wait(_LEASE_POLL_S)
            self._busy.add(index)
            self._last_call[index] = job.call_id
            self._last_used[index] = next(self._uses)
        try:
            yield self._contexts[index]
        finally:
            with self._cond:
                self._busy.discard(index)
                self._cond.notify_all()


def _warm_up(llm: Llama, system_prompt: str) -> None:
    """Evaluate the system prompt into a context at load: every call's prompt starts with it,
    so a call's first turn, in whichever context it gets, reads only its own words. (The first
    chat completion in a process also pays a one-time set-up in llama-cpp-python's chat
    handling, 3-7 s measured here: better at load than in the first caller's answer.)"""
    role = "system" if system_prompt else "user"
    messages: Any = [{"role": role, "content": system_prompt or "Hi"}]
    llm.create_chat_completion(messages=messages, max_tokens=1)


class LlamaChat:
    def __init__(
        self,
        contexts: Sequence[SteppedContext],
        description: str,
        max_tokens: int,
        temperature: float,
        *,
        gate: Gate,
        workers: int = 8,
    ) -> None:
        self._pool = ContextPool(contexts)
        self.description = description
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._gate = gate
        # A thread per generation in progress: waiting ones are parked at the gate, in deadline
        # order, not queued here in arrival order.
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm")
        self._templates: dict[int, local_tools.PromptTemplate] = {}
        """Each context's chat template, rendered to text for tool calls (made on first use)."""
        self._end_tokens = turn_end.end_tokens(contexts[0].llm)
        """The tokens that end a message (:mod:`.turn_end`); every context has the same
        vocabulary."""

    @classmethod
    def load(
        cls,
        *,
        path: str,
        device: Resolved,
        contexts: int,
        context_tokens: int,
        threads: int,
        max_tokens: int,
        temperature: float,
        gate: Gate,
        workers: int,
        label: str,
        system_prompt: str = "",
    ) -> LlamaChat:
        from llama_cpp import Llama

        loaded = [
            Llama(
                model_path=path,
                n_ctx=context_tokens,
                n_threads=threads,
                n_gpu_layers=-1 if device == "cuda" else 0,
                use_mmap=True,
                verbose=False,
            )
            for _ in range(contexts)
        ]
        for llm in loaded:
            _warm_up(llm, system_prompt)
        description = f"{label} on {device}, {contexts} context{'s' * (contexts > 1)}"
        stepped = [SteppedContext(llm) for llm in loaded]
        return cls(stepped, description, max_tokens, temperature, gate=gate, workers=workers)

    def _generate(
        self,
        messages: list[ChatMessage],
        job: Job,
        on_end_probability: Callable[[float], None] | None = None,
    ) -> Iterator[str]:
        with self._scheduled(job) as llm:
            if on_end_probability is not None:
                on_end_probability(self._end_probability_in(llm, messages))
            chunks = cast(
                Iterator[Any],
                llm.create_chat_completion(
                    messages=[{"role": m.role, "content": m.content} for m in messages],  # type: ignore[misc]
                    stream=True,
                    max_tokens=self._max_tokens,
                    temperature=self._temperature,
                ),
            )
            try:
                for chunk in chunks:  # each evaluation inside is a gate step (SteppedLlama)
                    content = chunk["choices"][0]["delta"].get("content")
                    if content:
                        yield content
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()

    @contextmanager
    def _scheduled(self, job: Job) -> Iterator[Llama]:
        """A context for ``job`` (its own, where its prompt is cached), evaluating through the
        gate as ``job``'s steps."""
        with (
            self._pool.lease(job) as context,
            context.scheduled(lambda: self._gate.step(job, "llm")) as llm,
        ):
            yield llm

    def _prepare(self, messages: list[ChatMessage], job: Job) -> None:
        try:
            with self._scheduled(job) as llm:
                # The messages and the header of the user's turn that comes next: the next
                # prompt then reads only the caller's words and the assistant's header.
                upcoming = [*messages, ChatMessage("user", NEXT_WORDS)]
                self._evaluate_until(llm, upcoming, 0)
        except JobCancelled:
            pass  # the caller spoke first: their turn needs the context now

    async def prepare(self, messages: Sequence[ChatMessage], job: Job | None = None) -> None:
        """Evaluate the start of a call's next prompt into its context, ahead of its turn."""
        given, claim = list(messages), job or unscheduled()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._prepare, given, claim)

    def stream(self, messages: Sequence[ChatMessage], job: Job | None = None) -> AsyncIterator[str]:
        given, claim = list(messages), job or unscheduled()
        return iterate_in_thread(lambda: self._generate(given, claim), self._executor)

    def stream_scoring_end(
        self,
        messages: Sequence[ChatMessage],
        on_end_probability: Callable[[float], None],
        job: Job | None = None,
    ) -> AsyncIterator[str]:
        """As :meth:`stream`, first telling ``on_end_probability`` (on the event loop) how sure
        the model is that the caller's message is finished (:mod:`.turn_end`): the reply's
        prompt is evaluated in two parts, split where that is read, at no extra cost."""
        loop = asyncio.get_running_loop()

        def tell(probability: float) -> None:
            loop.call_soon_threadsafe(on_end_probability, probability)

        given, claim = list(messages), job or unscheduled()
        return iterate_in_thread(lambda: self._generate(given, claim, tell), self._executor)

    def stream_tools(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[dict[str, Any]],
        tool_choice: str = "auto",
        job: Job | None = None,
    ) -> AsyncIterator[str | ToolCall]:
        """A reply that may call one tool, chosen under a grammar (:mod:`.local_tools`)."""
        claim = job or unscheduled()
        wanted, given = list(tools), list(messages)
        return iterate_in_thread(
            lambda: self._generate_tools(given, wanted, tool_choice, claim), self._executor
        )

    def tool_instructions(self, tools: Sequence[dict[str, Any]]) -> str:
        return local_tools.instructions(tools)

    def _template(self, llm: Llama) -> local_tools.PromptTemplate:
        template = self._templates.get(id(llm))
        if template is None:
            template = self._templates[id(llm)] = local_tools.PromptTemplate(llm)
        return template

    async def score_turn_end(
        self, messages: Sequence[ChatMessage], job: Job | None = None
    ) -> float:
        """How sure the model is that the last (user) message ends where its words stop
        (:mod:`.turn_end`). Its evaluation stays in the call's context: the reply that follows
        reads only the rest of its prompt."""
        given, claim = list(messages), job or unscheduled()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._score_turn_end, given, claim)

    def _score_turn_end(self, messages: list[ChatMessage], job: Job) -> float:
        with self._scheduled(job) as llm:
            return self._end_probability_in(llm, messages)

    def _end_probability_in(self, llm: Llama, messages: list[ChatMessage]) -> float:
        """Evaluate the prompt up to the caller's last words and read how likely the message
        ends there (0.0 where there are no words)."""
        words = turn_end.words_stem(messages[-1].content)
        if not words or not self._evaluate_until(llm, messages, len(words)):
            return 0.0
        return turn_end.end_probability(llm, self._end_tokens)

    def _evaluate_until(self, llm: Llama, messages: list[ChatMessage], chars: int) -> bool:
        """Evaluate ``messages`` as the model's template renders them, up to ``chars``
        characters into the last message's content, reusing what the context holds (False:
        the content is not in the rendered prompt, nothing evaluated)."""
        prompt = self._template(llm).render(local_tools.local_messages(messages))
        start = prompt.text.rfind(messages[-1].content)
        if start < 0:
            return False
        text = prompt.text[: start + chars]
        tokens = llm.tokenize(text.encode(), add_bos=prompt.add_bos, special=True)
        turn_end.evaluate_prefix(llm, tokens)
        return True

    def _generate_tools(
        self,
        messages: list[ChatMessage],
        tools: list[dict[str, Any]],
        tool_choice: str,
        job: Job,
    ) -> Iterator[str | ToolCall]:
        with self._scheduled(job) as llm:
            template = self._template(llm)
            yield from local_tools.generate(
                llm,
                template,
                messages,
                tools,
                tool_choice=tool_choice,
                max_tokens=self._max_tokens,
                temperature=self._temperature,
            )
