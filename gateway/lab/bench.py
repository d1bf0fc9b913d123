"""``voicegw bench``: a set of utterances through one or more configurations, in one run.

Each configuration gets its own ``voicegw serve`` on a free loopback port, all of them up at
once, and one long call each. Utterance by utterance, each configuration's call speaks it in
turn (the others keep their lines open in silence), so whatever else the machine is doing hits
every configuration alike: compare configurations within a run, not across runs. The numbers
come from the gateways' own call records, written to the report's folder beside the report.
Before the gateways start, the whole-utterance pass (:mod:`gateway.lab.whole`) transcribes each
utterance once, whole: the reference for the gateways' transcripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import Progress

from gateway.lab.line import OpenLine
from gateway.lab.results import UtteranceResult, attach_records
from gateway.lab.serve import GatewayProcess
from gateway.lab.sweep import SweepResult, sweep
from gateway.lab.turn import TurnMeasure
from gateway.lab.utterances import Spoken, load_set
from gateway.lab.whole import WholePass, gateway_settings, whole_pass

AUTH_TOKEN_ENV = "TWILIO_AUTH_TOKEN"
LATE_S = 20.0
"""A measured turn gives up after this long without a sound (a slow answer is still one)."""


@dataclass(frozen=True)
class Configuration:
    name: str
    path: Path | None
    """``None``: the gateway's own default (``$VOICEGW_CONFIG``, ``./config.toml``, built-in)."""


def configurations(paths: list[Path]) -> list[Configuration]:
    """Named after their files (``a.toml`` is ``a``); a name used twice gets a number."""
    if not paths:
        return [Configuration("current", None)]
    named: list[Configuration] = []
    for path in paths:
        name = path.stem
        taken = {c.name for c in named}
        number = 2
        while name in taken:
            name, number = f"{path.stem}-{number}", number + 1
        named.append(Configuration(name, path))
    return named


@dataclass
class BenchPlan:
    configs: list[Configuration]
    utterances: Path
    out: Path
    limit: int = 0
    warmup: bool = True
    levels: list[int] = field(default_factory=list)
    """``--calls``: the concurrency sweep's levels (none: no sweep)."""
    turns: int = 4
    """Utterances each caller of the sweep speaks."""
    seed: int = 1
    turns_per_call: int = 5
    """Utterances per call: a new call after this many, so the history stays as short as a
    real call's (the 135M model repeats itself over a long one); 0: the whole set in one."""
    whole_pass: bool = True
    """Transcribe each utterance once, whole, with the first configuration's STT."""


@dataclass
class BenchRun:
    spoken: list[Spoken]
    results: dict[str, list[UtteranceResult]]
    """By configuration name, in utterance order."""
    sweep: list[SweepResult]
    problems: list[str]
    whole: WholePass | None = None
    """The whole-utterance pass (``None``: not made)."""


def parse_levels(text: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``; ValueError for anything but positive whole numbers."""
    levels = [int(part) for part in text.split(",") if part.strip()]
    if any(level < 1 for level in levels):
        raise ValueError(f"calls at once must be positive: {text!r}")
    return sorted(set(levels))


def gateway_env(plan: BenchPlan, config: Configuration) -> dict[str, str]:
    env = {
        "VOICEGW_RECORDS__PATH": str(records_path(plan, config)),
        "VOICEGW_LOG__TRANSCRIPTS": "full",  # the WER needs the words
    }
    if plan.levels:
        env["VOICEGW_SERVER__MAX_CALLS"] = str(max(plan.levels))
    return env


def records_path(plan: BenchPlan, config: Configuration) -> Path:
    return plan.out / "records" / f"{config.name}.sqlite3"


async def run_bench(plan: BenchPlan, progress: Progress, say: Callable[[str], None]) -> BenchRun:
    spoken = load_set(plan.utterances, plan.limit)
    for folder in ("records", "logs"):
        (plan.out / folder).mkdir(parents=True, exist_ok=True)
    whole = await _whole_pass(plan, spoken, progress, say) if plan.whole_pass else None
    gateways = {
        c.name: GatewayProcess(c.path, gateway_env(plan, c), plan.out / "logs" / f"{c.name}.log")
        for c in plan.configs
    }
    starting = progress.add_task("starting gateways", total=None)
    try:
        await asyncio.gather(*(g.start() for g in gateways.values()))
        progress.remove_task(starting)
        results = await _alternate(plan, spoken, gateways, progress, say)
        swept = await sweep(
            plan.levels, plan.turns, spoken, gateways=gateways, progress=progress, say=say,
            seed=plan.seed,
        )  # fmt: skip
    finally:
        await asyncio.gather(*(g.stop() for g in gateways.values()))
    problems = []
    for config in plan.configs:
        measured = results[config.name] + [r for s in swept if s.config == config.name
                                           for r in s.results]  # fmt: skip
        problems += attach_records(measured, records_path(plan, config))
    return BenchRun(spoken, results, swept, problems, whole)


async def _whole_pass(
    plan: BenchPlan, spoken: list[Spoken], progress: Progress, say: Callable[[str], None]
) -> WholePass:
    """Before the gateways start, so that it competes with none of them."""
    first = plan.configs[0]
    settings = gateway_settings(first.path, gateway_env(plan, first))
    bar = progress.add_task("whole-utterance pass", total=len(spoken))
    made = await whole_pass(spoken, settings, advance=lambda: progress.advance(bar))
    say(f"whole-utterance pass ({first.name}'s STT): {made.described(spoken)}")
    return made


async def _alternate(
    plan: BenchPlan,
    spoken: list[Spoken],
    gateways: dict[str, GatewayProcess],
    progress: Progress,
    say: Callable[[str], None],
) -> dict[str, list[UtteranceResult]]:
    token = os.environ.get(AUTH_TOKEN_ENV, "")
    results: dict[str, list[UtteranceResult]] = {name: [] for name in gateways}
    bars = {name: progress.add_task(name, total=len(spoken)) for name in gateways}
    per_call = plan.turns_per_call or len(spoken)
    for call, first in enumerate(range(0, len(spoken), per_call)):
        async with contextlib.AsyncExitStack() as stack:
            lines = {
                name: await stack.enter_async_context(
                    OpenLine(g.url, seed=plan.seed + call, late_s=LATE_S, auth_token=token)
                )
                for name, g in gateways.items()
            }
            # Each call's last answered turn: the next utterance's records come after it.
            answered = dict.fromkeys(lines, 0)
            if plan.warmup and call == 0:  # a fresh process's first turn pays for cold pages
                for name, line in lines.items():
                    answered[name] = max((await line.say(spoken[0].clip)).turns, default=0)
            for index, item in enumerate(spoken[first : first + per_call], start=first + 1):
                for name, line in lines.items():
                    measure = await line.say(item.clip)
                    results[name].append(
                        UtteranceResult(
                            name, item.utterance, measure, line.call_sid, answered[name]
                        )
                    )
                    answered[name] = max([answered[name], *measure.turns])
                    progress.advance(bars[name])
                    say(turn_line(name, index, len(spoken), item, measure))
    return results


def turn_line(config: str, index: int, total: int, item: Spoken, m: TurnMeasure) -> str:
    def ms(value: float | None) -> str:
        return "   -   " if value is None else f"{value:5.0f} ms"

    flags = [flag for flag, on in (("filler", bool(m.filler_mark)), ("PREMATURE", m.premature),
             ("UNANSWERED", not m.answered)) if on]  # fmt: skip
    return (
        f"{config} {index:2}/{total} first {ms(m.first_sound_ms)} answer {ms(m.answer_ms)}"
        f" {' '.join(flags):20} {item.utterance.text}"
    )
