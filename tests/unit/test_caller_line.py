"""Holding the answer for a caller who made a sound after their turn ended, on a fake clock."""

from __future__ import annotations

from gateway.pipeline.caller_line import MAX_HOLD_S, CallerLine, RejoinPolicy


class Line:
    """A clock that sleeping advances, and the caller's sounds at given times."""

    def __init__(self, sounds: list[float]) -> None:
        self.now = 0.0
        self._sounds = sounds
        self.sleeps: list[float] = []

    def last_sound_at(self) -> float:
        heard = [t for t in self._sounds if t <= self.now]
        return max(heard, default=float("-inf"))

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def caller_line(line: Line) -> CallerLine:
    return CallerLine(line.last_sound_at, line.clock, line.sleep)


async def test_a_quiet_caller_is_not_waited_for() -> None:
    line = Line(sounds=[-5.0])  # sound long before the speech ended
    held = await caller_line(line).wait_for_quiet(since=0.0, quiet_s=0.2)
    assert held == 0.0 and line.sleeps == []


async def test_a_cough_holds_the_answer_until_the_line_is_quiet_again() -> None:
    line = Line(sounds=[-1.0, 0.05, 0.1])
    line.now = 0.1
    held = await caller_line(line).wait_for_quiet(since=0.0, quiet_s=0.2)
    assert abs(held - 0.2) < 1e-9, "quiet for 0.2 s after the last sound at 0.1"


async def test_sound_that_goes_on_is_waited_for_at_most_the_limit() -> None:
    line = Line(sounds=[i * 0.02 for i in range(200)])  # a sound every frame for 4 s
    held = await caller_line(line).wait_for_quiet(since=0.0, quiet_s=0.2)
    assert abs(held - MAX_HOLD_S) < 1e-9


def test_quiet_since_counts_sounds_after_the_time_only() -> None:
    line = Line(sounds=[1.0])
    line.now = 2.0
    caller = caller_line(line)
    assert caller.quiet_since(1.5)
    assert not caller.quiet_since(1.0)


def rejoining_line(line: Line) -> CallerLine:
    policy = RejoinPolicy(enabled=True, within_ms=1500, max_carry_ms=12_000)
    return CallerLine(line.last_sound_at, line.clock, line.sleep, rejoin=policy)


def test_speech_soon_after_the_turn_rejoins_it() -> None:
    line = Line([])
    line.now = 10.7
    assert rejoining_line(line).rejoins(10.0, cut_at_max_length=False, carried_ms=3000)


def test_speech_after_a_long_silence_is_a_turn_of_its_own() -> None:
    line = Line([])
    line.now = 12.0  # "hello?" two seconds into a late answer's silence
    assert not rejoining_line(line).rejoins(10.0, cut_at_max_length=False, carried_ms=3000)


def test_a_turn_cut_at_its_maximum_length_is_never_rejoined() -> None:
    line = Line([])
    line.now = 10.1
    assert not rejoining_line(line).rejoins(10.0, cut_at_max_length=True, carried_ms=3000)


def test_carried_audio_is_capped() -> None:
    line = Line([])
    line.now = 10.1
    assert not rejoining_line(line).rejoins(10.0, cut_at_max_length=False, carried_ms=12_020)
    assert not CallerLine(
        line.last_sound_at, line.clock, rejoin=RejoinPolicy(enabled=False)
    ).rejoins(10.0, cut_at_max_length=False, carried_ms=0)


def test_speech_just_after_the_answer_began_rejoins_but_not_once_it_has_played_a_while() -> None:
    line = Line([])
    policy = RejoinPolicy(enabled=True, within_ms=1500, max_carry_ms=12_000, answer_within_ms=800)
    caller = CallerLine(line.last_sound_at, line.clock, line.sleep, rejoin=policy)
    line.now = 10.9  # the turn ended at 10.0 in a pause, its answer began at 10.6
    assert caller.rejoins(10.0, cut_at_max_length=False, carried_ms=3000, answer_started_at=10.6)
    line.now = 11.45  # 850 ms into the answer: the caller reacts to it, a barge-in
    assert not caller.rejoins(
        10.0, cut_at_max_length=False, carried_ms=3000, answer_started_at=10.6
    )
    assert not rejoining_line(line).rejoins(
        10.0, cut_at_max_length=False, carried_ms=3000, answer_started_at=11.4
    ), "by default only before the answer began"
