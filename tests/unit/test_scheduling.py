"""The compute gate: one step at a time, earliest deadline first, cancelled work refused."""

from __future__ import annotations

import threading
import time

import pytest

from gateway.scheduling import ComputeGate, Job, JobCancelled

WAIT_S = 5.0


def hold(gate: ComputeGate, job: Job, release: threading.Event, held: threading.Event) -> None:
    with gate.step(job, "stt"):
        held.set()
        release.wait(WAIT_S)


def test_waiting_steps_run_earliest_deadline_first() -> None:
    gate = ComputeGate("cpu")
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold, args=(gate, Job(), release, held))
    holder.start()
    assert held.wait(WAIT_S)
    order: list[str] = []
    now = time.monotonic()

    def step(name: str, due: float) -> threading.Thread:
        job = Job(call_id=name, deadline=lambda: due)

        def run() -> None:
            with gate.step(job, "llm"):
                order.append(name)

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    # Queued in the worst order: a later sentence, a draft, then a committed turn (already late).
    threads = [step("later-sentence", now + 3), step("draft", now + 0.5), step("committed", now)]
    assert gate.wait_for_waiting(3, WAIT_S)
    release.set()
    for thread in [holder, *threads]:
        thread.join(WAIT_S)
    assert order == ["committed", "draft", "later-sentence"]


def test_a_deadline_that_changes_while_waiting_is_honoured() -> None:
    gate = ComputeGate("cpu")
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold, args=(gate, Job(), release, held))
    holder.start()
    assert held.wait(WAIT_S)
    now = time.monotonic()
    due = {"draft": now + 1.0, "other": now + 0.5}
    order: list[str] = []

    def run(name: str) -> None:
        with gate.step(Job(call_id=name, deadline=lambda: due[name]), "llm"):
            order.append(name)

    threads = [threading.Thread(target=run, args=(name,)) for name in due]
    for thread in threads:
        thread.start()
    assert gate.wait_for_waiting(2, WAIT_S)
    due["draft"] = now - 1.0  # the draft's turn was committed while it waited: now it is late
    release.set()
    for thread in [holder, *threads]:
        thread.join(WAIT_S)
    assert order == ["draft", "other"]


def test_a_job_cancelled_while_waiting_never_runs_and_is_counted() -> None:
    gate = ComputeGate("cpu")
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold, args=(gate, Job(), release, held))
    holder.start()
    assert held.wait(WAIT_S)
    draft = Job(call_id="CA1")
    outcome: list[str] = []

    def run() -> None:
        try:
            with gate.step(draft, "llm"):
                outcome.append("ran")
        except JobCancelled:
            outcome.append("refused")

    waiter = threading.Thread(target=run)
    waiter.start()
    assert gate.wait_for_waiting(1, WAIT_S)
    draft.cancel()
    waiter.join(WAIT_S)  # gives up without the gate being released
    assert outcome == ["refused"]
    assert draft.steps == {}
    assert gate.stats.refused == {"llm": 1}
    release.set()
    holder.join(WAIT_S)


def queue_behind(gate: ComputeGate, holder: Job, waiter: Job, stages: list[str]) -> None:
    """``waiter`` queues a step per stage while ``holder`` has the device, then all run."""
    release, held = threading.Event(), threading.Event()
    thread = threading.Thread(target=hold, args=(gate, holder, release, held))
    thread.start()
    assert held.wait(WAIT_S)

    def run(stage: str) -> None:
        with gate.step(waiter, stage):
            pass

    threads = [threading.Thread(target=run, args=(stage,)) for stage in stages]
    for waiting in threads:
        waiting.start()
    assert gate.wait_for_waiting(len(stages), WAIT_S)
    time.sleep(0.05)  # ok-sleep: pacing (the holder's step lasts this long: the queue time)
    release.set()
    for done in [thread, *threads]:
        done.join(WAIT_S)


def test_queue_time_is_waiting_for_other_jobs_counted_once() -> None:
    gate = ComputeGate("cpu")
    other, job = Job(call_id="CA1"), Job(call_id="CA2")
    queue_behind(gate, other, job, ["llm", "tts"])  # two steps of one job wait together
    assert len(job.waited_s) == 1, "counted once, for the stage that waited first"
    assert 0.04 < sum(job.waited_s.values()) < 1.0
    assert other.waited_s == {}
    assert job.steps == {"llm": 1, "tts": 1}


def test_a_jobs_own_steps_are_not_queue_time_nor_is_waiting_after_first_audio() -> None:
    gate = ComputeGate("cpu")
    job = Job(call_id="CA1")
    queue_behind(gate, job, job, ["tts"])
    assert job.waited_s == {}
    job.counting_waits = False
    queue_behind(gate, Job(call_id="CA2"), job, ["tts"])
    assert job.waited_s == {}


def test_a_cancelled_job_is_refused_even_when_the_gate_is_free() -> None:
    gate = ComputeGate("cpu")
    job = Job()
    job.cancel()
    with pytest.raises(JobCancelled), gate.step(job, "stt"):
        pytest.fail("a cancelled job ran")


def test_the_gate_is_idle_only_with_no_step_running_or_waiting() -> None:
    gate = ComputeGate("cpu")
    assert gate.idle
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold, args=(gate, Job(), release, held))
    holder.start()
    assert held.wait(WAIT_S)
    assert not gate.idle, "a step runs"
    go_on = threading.Event()
    go_on.set()  # runs its step as soon as it has the device
    waiter = threading.Thread(target=hold, args=(gate, Job(), go_on, threading.Event()))
    waiter.start()
    assert gate.wait_for_waiting(1, WAIT_S)
    assert not gate.idle, "a step runs and one waits"
    release.set()
    holder.join(WAIT_S)
    waiter.join(WAIT_S)
    assert gate.idle
