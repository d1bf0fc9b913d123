"""Which llama.cpp context a call's generation gets: its own (its prompt is cached there)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from gateway.llm.local import PROMPT_STEP_TOKENS, ContextPool, SteppedContext
from gateway.scheduling import ComputeGate, Job, JobCancelled

WAIT_S = 5.0


def pool(size: int) -> tuple[ContextPool, list[Any]]:
    contexts = [object() for _ in range(size)]
    return ContextPool(contexts), contexts  # type: ignore[arg-type]


def test_a_call_gets_back_its_own_context() -> None:
    contexts_pool, _ = pool(3)
    with contexts_pool.lease(Job(call_id="CA1")) as first:
        pass
    with contexts_pool.lease(Job(call_id="CA2")) as other:
        assert other is not first
    with contexts_pool.lease(Job(call_id="CA1")) as again:
        assert again is first


def test_a_call_waits_for_its_own_context_while_its_last_generation_ends() -> None:
    contexts_pool, _ = pool(3)
    with contexts_pool.lease(Job(call_id="CA1")) as first:
        pass
    got: list[object] = []
    release = threading.Event()
    held = threading.Event()

    def previous_generation() -> None:  # a cancelled draft, stopping at its next token
        with contexts_pool.lease(Job(call_id="CA1")):
            held.set()
            release.wait(WAIT_S)

    def next_draft() -> None:
        with contexts_pool.lease(Job(call_id="CA1")) as context:
            got.append(context)

    holder = threading.Thread(target=previous_generation)
    holder.start()
    assert held.wait(WAIT_S)
    waiter = threading.Thread(target=next_draft)
    waiter.start()
    release.set()
    for thread in (holder, waiter):
        thread.join(WAIT_S)
    assert got == [first], "the next draft took a context where its prompt is not cached"


def test_a_cancelled_job_waiting_for_a_context_gives_up() -> None:
    contexts_pool, _ = pool(1)
    release = threading.Event()
    held = threading.Event()

    def other_call() -> None:
        with contexts_pool.lease(Job(call_id="CA2")):
            held.set()
            release.wait(WAIT_S)

    holder = threading.Thread(target=other_call)
    holder.start()
    assert held.wait(WAIT_S)
    job = Job(call_id="CA1")
    job.cancel()
    with pytest.raises(JobCancelled), contexts_pool.lease(job):
        pytest.fail("a cancelled job got a context")
    release.set()
    holder.join(WAIT_S)


class _CountingModel:
    """Stands in for a ``Llama`` at the one method SteppedContext wraps."""

    def __init__(self) -> None:
        self.evaluated: list[int] = []

    def eval(self, tokens: list[int]) -> None:
        self.evaluated.append(len(tokens))


def test_a_step_lasts_from_one_evaluation_to_the_next_and_ends_with_the_generation() -> None:
    """The Python work between tokens (sampling) holds the device too: another call's step
    waits until this generation evaluates again or finishes."""
    gate = ComputeGate("cpu")
    model = _CountingModel()
    context = SteppedContext(model)  # type: ignore[arg-type]
    job = Job(call_id="CA1")
    other_ran = threading.Event()

    def other_call() -> None:
        with gate.step(Job(call_id="CA2"), "tts"):
            other_ran.set()

    with context.scheduled(lambda: gate.step(job, "llm")) as llm:
        llm.eval([1] * (PROMPT_STEP_TOKENS * 2 + 1))  # a prompt: three steps
        assert model.evaluated == [PROMPT_STEP_TOKENS, PROMPT_STEP_TOKENS, 1]
        assert gate.stats.steps["llm"] == 3
        worker = threading.Thread(target=other_call)
        worker.start()
        assert gate.wait_for_waiting(1, WAIT_S)
        assert not other_ran.is_set()  # "sampling": the last step is still held
        llm.eval([7])  # the next token: the held step ends, the waiting one goes first
        assert other_ran.wait(WAIT_S)
    worker.join(WAIT_S)
    assert gate.held_for_s == 0.0  # the generation is over: nothing held
    assert gate.stats.steps["llm"] == 4


def test_a_cancelled_generation_holds_nothing() -> None:
    gate = ComputeGate("cpu")
    context = SteppedContext(_CountingModel())  # type: ignore[arg-type]
    job = Job(call_id="CA1")
    with pytest.raises(JobCancelled), context.scheduled(lambda: gate.step(job, "llm")) as llm:
        llm.eval([1])
        job.cancel()
        llm.eval([2])
    assert gate.held_for_s == 0.0
    assert gate.stats.refused["llm"] == 1
