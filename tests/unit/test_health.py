"""A model thread that hangs: the device's gate says how long its step has held it, and
/readyz names it once that is longer than any stage may take."""

from __future__ import annotations

import threading

from gateway.routes.health import stuck_engines
from gateway.scheduling import ComputeGate, Job


def test_a_step_that_holds_the_device_too_long_is_named() -> None:
    gate, idle = ComputeGate("cpu"), ComputeGate("llm-cuda")
    holding, release = threading.Event(), threading.Event()

    def hung_step() -> None:
        with gate.step(Job(call_id="CA1"), "llm"):
            holding.set()
            release.wait(30)

    worker = threading.Thread(target=hung_step)
    worker.start()
    try:
        assert holding.wait(10)
        assert gate.held_for_s > 0.0 and idle.held_for_s == 0.0
        assert stuck_engines([gate, idle], stage_timeout_s=3600) == []
        (problem,) = stuck_engines([gate, idle], stage_timeout_s=0.0)
        assert problem.startswith("cpu: one model step has held the device for")
        assert "call.stage_timeout_ms is 0" in problem
    finally:
        release.set()
        worker.join(10)
    assert gate.held_for_s == 0.0, "free again once the step is over"
    assert stuck_engines([gate], stage_timeout_s=0.0) == []
