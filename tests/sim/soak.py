"""Many simulated calls against one gateway, and whether it is back where it started afterwards.

A leak per call (a task never cancelled, a thread or socket never closed, buffers kept) is too
small to see in one call and unmissable after hundreds. The gateway's ``/metrics`` carries the
figures (tasks, threads, open fds, RSS), so the same harness works on a ``voicegw serve``
subprocess and on a gateway inside the test process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.sim.caller import SimulatedCaller

MB = 1024 * 1024


@dataclass(frozen=True)
class Figures:
    """What must not grow with the number of calls served."""

    rss_mb: float
    tasks: float
    threads: float
    fds: float
    active_calls: float

    def minus(self, start: Figures) -> Figures:
        return Figures(
            self.rss_mb - start.rss_mb,
            self.tasks - start.tasks,
            self.threads - start.threads,
            self.fds - start.fds,
            self.active_calls - start.active_calls,
        )


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text to ``{'name{label="v"}': value}`` (no braces without labels)."""
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


async def scrape(host: str) -> dict[str, float]:
    """The gateway's metrics; ``host`` is ``127.0.0.1:PORT``."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://{host}/metrics", timeout=10)
    response.raise_for_status()
    return parse_metrics(response.text)


def figures(samples: dict[str, float]) -> Figures:
    return Figures(
        rss_mb=samples["process_resident_memory_bytes"] / MB,
        tasks=samples["voicegw_asyncio_tasks"],
        threads=samples["voicegw_threads"],
        fds=samples["process_open_fds"],
        active_calls=samples["voicegw_active_calls"],
    )


@dataclass(frozen=True)
class SoakPlan:
    sequential: int
    """Calls one after another."""
    rounds: int
    concurrent: int
    """Then ``rounds`` times, this many calls at once."""
    reply_timeout_s: float = 60.0


@dataclass
class SoakReport:
    before: Figures
    after: Figures
    calls: int = 0
    answered: int = 0
    failures: list[str] = field(default_factory=list)
    checkpoints: list[tuple[str, Figures]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def growth(self) -> Figures:
        return self.after.minus(self.before)


Settle = Callable[[int], Awaitable[None]]
"""Returns once the gateway has finished the given number of calls (all that were started)."""


async def one_call(media_url: str, frames: list[bytes], call_sid: str, timeout_s: float) -> None:
    """One short turn: speak, stay until the first sentence of the reply has played, hang up
    (usually in the middle of the reply, so cancellation is exercised too)."""
    stream_sid = "MZ" + call_sid.removeprefix("CA")
    async with SimulatedCaller(media_url, call_sid=call_sid, stream_sid=stream_sid) as caller:
        for frame in frames:
            await caller.send_frame(frame)
        await caller.wait_for_mark("turn", timeout_s=timeout_s)


class Soak:
    def __init__(self, host: str, frames: list[bytes], settle: Settle) -> None:
        self._host = host
        self._frames = frames
        self._settle = settle
        self.started = 0
        self.answered = 0
        self.failures: list[str] = []

    async def _call(self, plan: SoakPlan) -> None:
        self.started += 1
        call_sid = f"CA{0x50A4:016x}{self.started:016x}"  # "soak", then the number
        try:
            await one_call(
                f"ws://{self._host}/twilio/media", self._frames, call_sid, plan.reply_timeout_s
            )
        except (TimeoutError, OSError, ConnectionError) as error:
            self.failures.append(f"{call_sid}: {type(error).__name__}: {error}")
        else:
            self.answered += 1

    async def sequential(self, plan: SoakPlan, calls: int) -> None:
        for _ in range(calls):
            await self._call(plan)

    async def rounds(self, plan: SoakPlan, rounds: int) -> None:
        for _ in range(rounds):
            await asyncio.gather(*(self._call(plan) for _ in range(plan.concurrent)))

    async def figures(self) -> Figures:
        await self._settle(self.started)
        return figures(await scrape(self._host))


async def run_soak(
    host: str,
    frames: list[bytes],
    plan: SoakPlan,
    settle: Settle,
    *,
    checkpoint_every: tuple[int, int] = (0, 0),
    on_checkpoint: Callable[[str, Figures], None] = lambda _name, _figures: None,
) -> SoakReport:
    """Warm up (one call, one concurrent round: pools and caches reach their working size), take
    the figures, run the plan, take them again. ``checkpoint_every`` (calls, rounds) also records
    them after every so many sequential calls and concurrent rounds, to show a trend."""
    soak = Soak(host, frames, settle)
    await soak.sequential(plan, 1)
    await soak.rounds(plan, 1)
    warm_calls, warm_answered = soak.started, soak.answered
    report = SoakReport(before=await soak.figures(), after=await soak.figures())
    began = time.monotonic()

    async def checkpoint(name: str) -> None:
        report.after = await soak.figures()
        report.checkpoints.append((name, report.after))
        on_checkpoint(name, report.after)

    step = checkpoint_every[0] or max(plan.sequential, 1)
    for done in range(step, plan.sequential + step, step):
        await soak.sequential(plan, min(step, plan.sequential - done + step))
        await checkpoint(f"{min(done, plan.sequential)} sequential")
    step = checkpoint_every[1] or max(plan.rounds, 1)
    for done in range(step, plan.rounds + step, step):
        await soak.rounds(plan, min(step, plan.rounds - done + step))
        await checkpoint(f"{min(done, plan.rounds)} rounds of {plan.concurrent}")
    report.seconds = time.monotonic() - began
    report.calls = soak.started - warm_calls
    report.answered = soak.answered - warm_answered
    report.failures = soak.failures
    return report


async def poll_until_idle(host: str, timeout_s: float = 60.0, interval_s: float = 0.1) -> None:
    """Out of process there is no event to wait on: ask ``/metrics`` until no call is active."""
    # Another process: there is no event to await, so this polls (hence the noqa).
    async with asyncio.timeout(timeout_s):
        while figures(await scrape(host)).active_calls > 0:  # noqa: ASYNC110
            await asyncio.sleep(interval_s)
