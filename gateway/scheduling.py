"""Who gets the cores next: model work ordered by how soon a caller will notice it is missing.

Every model step (a transcription, one LLM token, one synthesized chunk) runs through the gate of
the device it uses. The gate runs one step at a time and, when it frees, hands the device to the
waiting step whose *deadline* is earliest. A reply's deadline says when its caller needs it
(``Reply.deadline``): a committed turn's first clause is already late, a draft's is due when the
turn would end, a later sentence when the audio before it runs out. So one caller's long reply
never holds up another caller's first words, and no lock is held while a consumer is busy: a
step holds the device only while it computes.

All local stages on the CPU share one gate: on a small CPU each of them uses every core, and two
at once only slow each other. A stage on a GPU gets a gate of its own. Remote stages have no
gate (their server schedules), but still never start work for a cancelled job.

A job that is cancelled while it waits never reaches its model: the gate refuses it
(:class:`JobCancelled`) and counts it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

Stage = str
"""``stt``, ``llm`` or ``tts``."""

_POLL_S = 0.05
"""How often a waiting step re-checks its cancellation and deadline (it is parked, not spinning)."""


class JobCancelled(Exception):
    """The job was cancelled before this step reached its model."""


def _now_deadline() -> float:
    return time.monotonic()


@dataclass(eq=False)
class Job:
    """One reply's claim on the engines. Thread-safe to read from worker threads."""

    call_id: str = ""
    deadline: Callable[[], float] = _now_deadline
    """Clock time by which the caller needs this job's next step (earlier runs first)."""
    cancelled: threading.Event = field(default_factory=threading.Event)
    waited_s: dict[Stage, float] = field(default_factory=dict)
    """Seconds this job had work waiting while the device ran other jobs' steps, by the stage
    that waited (while ``counting_waits``). Its own steps waiting for each other (the LLM
    for the first clause's synthesis) are not queue time."""
    counting_waits: bool = True
    """Waits count towards ``waited_s`` until the job's first audio is ready (the wait a caller
    feels); later sentences wait with time to spare."""
    steps: dict[Stage, int] = field(default_factory=dict)
    """Model steps run, by stage."""

    def cancel(self) -> None:
        self.cancelled.set()

    @property
    def waited_ms(self) -> int:
        return round(sum(self.waited_s.values()) * 1000)


@dataclass(eq=False)
class _Waiter:
    job: Job
    order: int
    stage: Stage
    since: float


class GateStats:
    """What a gate counts; read by /metrics."""

    def __init__(self) -> None:
        self.refused: dict[Stage, int] = {}
        """Steps of cancelled jobs that never reached their model."""
        self.steps: dict[Stage, int] = {}
        self._counted = threading.Condition()

    def count(self, table: dict[Stage, int], stage: Stage) -> None:
        with self._counted:
            table[stage] = table.get(stage, 0) + 1
            self._counted.notify_all()

    def wait_for_refused(self, stage: Stage, count: int, timeout_s: float) -> bool:
        """Block until ``count`` steps of ``stage`` have been refused (for tests and benches:
        a cancelled job's worker thread notices at its next look, after its task has ended)."""
        with self._counted:
            return self._counted.wait_for(lambda: self.refused.get(stage, 0) >= count, timeout_s)


class ComputeGate:
    """One device's model steps, one at a time, earliest deadline first (not pre-emptive)."""

    def __init__(self, name: str, stats: GateStats | None = None) -> None:
        self.name = name
        self.stats = stats or GateStats()
        self._cond = threading.Condition()
        self._busy = False
        self._holder: Job | None = None
        self._held_since = 0.0
        self._waiting: list[_Waiter] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    @property
    def idle(self) -> bool:
        """No step holds the device and none waits for it."""
        with self._cond:
            return not self._busy and not self._waiting

    @property
    def held_for_s(self) -> float:
        """How long the step on the device now has held it (0.0 while the device is free)."""
        with self._cond:
            return time.monotonic() - self._held_since if self._busy else 0.0

    def wait_for_waiting(self, count: int, timeout_s: float) -> bool:
        """Block until at least ``count`` steps wait for the device (for tests and benches)."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._waiting) >= count, timeout_s)

    def _first(self) -> _Waiter:
        return min(self._waiting, key=lambda w: (w.job.deadline(), w.order))

    @contextmanager
    def step(self, job: Job, stage: Stage) -> Iterator[None]:
        """Hold the device for one model step of ``job``; raises :class:`JobCancelled` (and runs
        nothing) if the job is cancelled before its turn comes."""
        with self._cond:
            waiter = _Waiter(job, next(self._order), stage, time.monotonic())
            self._waiting.append(waiter)
            self._cond.notify_all()  # for wait_for_waiting
            try:
                while self._busy or self._first() is not waiter:
                    if job.cancelled.is_set():
                        break
                    self._cond.wait(_POLL_S)
            finally:
                self._waiting.remove(waiter)
                if self._waiting:
                    self._cond.notify_all()  # the next in line may now be someone else
            if job.cancelled.is_set():
                self.stats.count(self.stats.refused, stage)
                raise JobCancelled(stage)
            self._busy = True
            self._holder, self._held_since = job, time.monotonic()
        self.stats.count(self.stats.steps, stage)
        job.steps[stage] = job.steps.get(stage, 0) + 1
        try:
            yield
        finally:
            with self._cond:
                self._charge_waiters(job)
                self._busy = False
                self._holder = None
                self._cond.notify_all()

    def _charge_waiters(self, holder: Job) -> None:
        """The step of ``holder`` is over: every other job that had work waiting meanwhile
        waited this long for it (once per job, however many of its steps waited)."""
        now = time.monotonic()
        earliest: dict[int, _Waiter] = {}
        for waiter in self._waiting:
            if waiter.job is holder:
                continue
            first = earliest.get(id(waiter.job))
            if first is None or waiter.since < first.since:
                earliest[id(waiter.job)] = waiter
        for waiter in earliest.values():
            _note_wait(waiter.job, waiter.stage, now - max(waiter.since, self._held_since))


class NoGate:
    """For a stage whose server does its own scheduling: only refuses cancelled jobs."""

    name = "none"
    idle = True
    """The server's own load is unknown here."""

    def __init__(self, stats: GateStats | None = None) -> None:
        self.stats = stats or GateStats()

    @contextmanager
    def step(self, job: Job, stage: Stage) -> Iterator[None]:
        if job.cancelled.is_set():
            self.stats.count(self.stats.refused, stage)
            raise JobCancelled(stage)
        self.stats.count(self.stats.steps, stage)
        job.steps[stage] = job.steps.get(stage, 0) + 1
        yield


Gate = ComputeGate | NoGate


def _note_wait(job: Job, stage: Stage, seconds: float) -> None:
    if job.counting_waits:
        job.waited_s[stage] = job.waited_s.get(stage, 0.0) + seconds


def unscheduled() -> Job:
    """A job for work outside any call (start-up phrases, tests): due now, first come first
    served among its peers."""
    return Job(call_id="")
