"""The inbound audio budget: a paced caller never loses a frame, a flood never gets ahead."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.audio.frames import FRAME_BYTES, FRAME_MS
from gateway.twilio.flood import AudioBudget
from gateway.twilio.rejects import RejectLog

BURST_MS = 2000


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


@given(st.lists(st.integers(0, BURST_MS - FRAME_MS), max_size=400))
def test_a_caller_never_ahead_and_never_more_than_the_burst_behind_loses_nothing(
    delays_ms: list[int],
) -> None:
    """Frame i is due at i * 20 ms; it may come late (a stalled link), by up to the burst."""
    clock = FakeClock()
    budget = AudioBudget(BURST_MS, clock)
    arrived_ms = 0
    for index, delay in enumerate(delays_ms):
        arrived_ms = max(arrived_ms, index * FRAME_MS + delay)
        clock.now_s = arrived_ms / 1000
        assert budget.take(FRAME_BYTES), f"frame {index} at {arrived_ms} ms"
    assert budget.excess_ms == 0


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 4000)), max_size=400))
def test_whatever_is_sent_no_more_than_the_burst_plus_real_time_gets_through(
    frames: list[tuple[int, int]],
) -> None:
    """Any arrival times, any sizes: accepted audio never exceeds the burst plus elapsed time."""
    clock = FakeClock()
    budget = AudioBudget(BURST_MS, clock)
    elapsed_ms = accepted_ms = 0.0
    for gap_ms, size in frames:
        elapsed_ms += gap_ms
        clock.now_s = elapsed_ms / 1000
        if budget.take(size):
            accepted_ms += AudioBudget.cost_ms(size)
        assert accepted_ms <= BURST_MS + elapsed_ms + 1e-3


@pytest.mark.parametrize(("speed", "flooding"), [(1.0, False), (2.0, False), (4.0, True)])
def test_only_a_sustained_flood_several_times_real_time_builds_up_excess(
    speed: float, flooding: bool
) -> None:
    clock = FakeClock()
    budget = AudioBudget(BURST_MS, clock)
    for index in range(3000):  # 60 s of audio
        clock.now_s = index * FRAME_MS / 1000 / speed
        budget.take(FRAME_BYTES)
    assert (budget.excess_ms > 10_000) is flooding, budget.excess_ms


def test_rejections_are_all_counted_and_logged_once_per_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rejects = RejectLog(logging.getLogger("test.rejects"))
    for _ in range(1000):
        rejects.reject("MZ1", "flood", "too fast")
    rejects.reject("MZ1", "binary", "x" * 1000)
    assert [r.getMessage()[:40] for r in caplog.records] == [
        "stream=MZ1 rejected frame (flood): too f",
        "stream=MZ1 rejected frame (binary): xxxx",
    ]
    assert len(caplog.records[1].getMessage()) < 300, "details are cut short"
    assert rejects.summary() == "1001 frames: binary=1 flood=1000"
    assert RejectLog(logging.getLogger("test.rejects")).summary() == ""


def test_a_keypad_flood_is_dropped_and_builds_up_excess_beyond_the_limit() -> None:
    """A thousand ``#`` in a second: the first burst goes through, the rest are dropped and
    count as flooding (the call is closed past ``twilio.flood_limit_ms``, 10 s)."""
    clock = FakeClock()
    budget = AudioBudget(5000, clock, frame_cost_ms=100)
    passed = 0
    for index in range(1000):
        clock.now_s = index / 1000
        passed += budget.take_frame()
    assert passed <= 5000 / 100 + 10
    assert budget.excess_ms > 10_000


def test_marks_and_key_presses_at_twilios_pace_never_starve_the_audio() -> None:
    """An hour of audio at real time with a mark a second and a burst of 20 marks (a clear)
    every minute: every frame goes through."""
    clock = FakeClock()
    budget = AudioBudget(5000, clock, frame_cost_ms=100)
    for index in range(3600 * 50):
        clock.now_s = index * FRAME_MS / 1000
        assert budget.take(FRAME_BYTES), index
        if index % 50 == 0:
            assert budget.take_frame(), index
        if index % 3000 == 0:
            assert all(budget.take_frame() for _ in range(20)), index
    assert budget.excess_ms == 0
