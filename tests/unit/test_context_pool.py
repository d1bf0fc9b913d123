"""Which llama.cpp context a call's generation gets: its own (its prompt is cached there)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from gateway.llm.local import ContextPool
from gateway.scheduling import Job, JobCancelled

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
