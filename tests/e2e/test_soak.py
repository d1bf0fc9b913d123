"""A short soak: sequential and concurrent calls against one gateway leave nothing behind.

The long version (200 sequential calls, 20 rounds of 4) is ``bench/soak.py``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from typing import Any

from gateway.engines import Engines
from gateway.settings import Settings
from tests.e2e.calls import EndedCalls
from tests.sim.clips import make_clip
from tests.sim.soak import SoakPlan, run_soak

PLAN = SoakPlan(sequential=10, rounds=2, concurrent=3)
# Bounds, start to end. A leak of one task, thread or socket per call would exceed them (16
# calls); threads have room for the stage pools, which may still grow to their caps after the
# warm-up. Memory is measured after freed heap is trimmed; even so the model runtimes' native
# memory grows in steps as it meets a new peak (measured: 80 MB at once, then flat for dozens of
# calls), so this bound only catches a gross leak, some 8 MB a call; bench/soak.py shows trends.
MAX_TASKS, MAX_THREADS, MAX_FDS, MAX_RSS_MB = 2, 4, 4, 128


def release_freed_memory() -> None:
    """Hand freed heap back to the OS before measuring, so RSS shows memory still in use: glibc
    keeps what the model threads free in per-thread arenas, tens of MB that come and go with
    timing (measured: RSS +34 MB over 40 calls, and 100 MB below the start after a trim)."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if name is not None:
        ctypes.CDLL(name).malloc_trim(0)


async def test_a_short_soak_leaves_no_tasks_threads_sockets_or_memory_behind(
    engines: Engines, settings: Settings, gateway_server: Any
) -> None:
    clip = await make_clip(engines.synthesizer, "What time do you open tomorrow?")
    async with gateway_server(settings) as server:
        ended = EndedCalls(server.gateway)

        async def settle(calls: int) -> None:
            await ended.count(calls, timeout_s=60)
            release_freed_memory()

        report = await run_soak(server.host, clip.frames, PLAN, settle)
    growth = report.growth
    print(
        f"soak: {report.calls} calls in {report.seconds:.0f} s; start {report.before}; "
        f"end {report.after}"
    )
    assert report.calls == PLAN.sequential + PLAN.rounds * PLAN.concurrent
    assert report.answered == report.calls, report.failures
    assert all(event.tasks_left == 0 for event in ended.events)
    assert growth.tasks <= MAX_TASKS, growth
    assert growth.threads <= MAX_THREADS, growth
    assert growth.fds <= MAX_FDS, growth
    assert growth.rss_mb <= MAX_RSS_MB, growth
    assert report.after.active_calls == 0
