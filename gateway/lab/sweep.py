"""``voicegw bench --calls 1,2,4``: N callers at once, per level and configuration.

Each caller speaks ``turns`` utterances of the set, from an offset of its own (callers at the
same turn say different things), and behaves like a patient human (:mod:`gateway.lab.turn`):
it speaks again once the reply has played and it has thought a moment, or gives up after
hearing nothing for a while. Levels run one after another, each level's configurations side by
side in turn, on the gateways the bench already started (``server.max_calls`` set to the top
level), as ``bench/capacity.py`` does with a fresh process per level.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import websockets
from rich.progress import Progress

from gateway.lab.results import UtteranceResult
from gateway.lab.serve import GatewayProcess
from gateway.lab.turn import speak, wait_greeting
from gateway.lab.utterances import Spoken
from gateway.lab.webhook import Refused, place

AUTH_TOKEN_ENV = "TWILIO_AUTH_TOKEN"
OFFSET_PER_CALLER = 5
"""Caller ``c`` starts at utterance ``5c``: callers at the same turn say different things."""


@dataclass
class SweepResult:
    config: str
    calls: int
    results: list[UtteranceResult] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    """Why each call that never got going did not (busy, refused, no greeting)."""


async def _caller(
    level: SweepResult, url: str, index: int, *, lines: list[Spoken], seed: int
) -> None:
    config = level.config
    rng = random.Random(seed * 1000 + index)
    try:
        caller = await place(url, os.environ.get(AUTH_TOKEN_ENV, ""))
        async with caller:
            await wait_greeting(caller)
            answered = 0
            for item in lines:
                measure = await speak(caller, item.clip, rng=rng)
                level.results.append(
                    UtteranceResult(config, item.utterance, measure, caller.call_sid, answered)
                )
                answered = max([answered, *measure.turns])
    except (Refused, OSError, TimeoutError, websockets.WebSocketException) as error:
        level.rejected.append(f"caller {index}: {type(error).__name__}: {error}")


async def sweep(
    levels: list[int],
    turns: int,
    spoken: list[Spoken],
    *,
    gateways: dict[str, GatewayProcess],
    progress: Progress,
    say: Callable[[str], None],
    seed: int = 1,
) -> list[SweepResult]:
    done: list[SweepResult] = []
    for calls in sorted(set(levels)):
        for config, gateway in gateways.items():
            level = SweepResult(config, calls)
            bar = progress.add_task(f"{config}: {calls} call(s) at once", total=None)
            plans = [
                [spoken[(c * OFFSET_PER_CALLER + t) % len(spoken)] for t in range(turns)]
                for c in range(calls)
            ]
            await asyncio.gather(
                *(_caller(level, gateway.url, c, lines=plans[c], seed=seed) for c in range(calls))
            )
            progress.remove_task(bar)
            say(
                f"{config}: {calls} call(s) at once: {len(level.results)} turns"
                + (f", {len(level.rejected)} call(s) refused" if level.rejected else "")
            )
            done.append(level)
    return done
