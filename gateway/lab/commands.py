"""What ``voicegw call`` and ``voicegw bench`` do, behind their options in :mod:`gateway.cli`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import websockets
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gateway.lab.bench import BenchPlan, configurations, parse_levels, run_bench
from gateway.lab.call import CallPlan, place_call
from gateway.lab.output import summaries, whole_pass_line, write_report
from gateway.lab.report import table
from gateway.lab.serve import GatewayStartError
from gateway.lab.utterances import DEFAULT_DIR, UtteranceError
from gateway.lab.webhook import Refused
from gateway.settings import ConfigError

__all__ = ["bench", "call", "parse_levels"]


def call(gateway: str, wavs: list[Path], save: Path | None, console: Console) -> int:
    """The exit status: 0 when every turn was answered."""
    try:
        measures = asyncio.run(place_call(CallPlan(gateway, wavs, save), console.print))
    except (OSError, ValueError, Refused, websockets.WebSocketException, TimeoutError) as error:
        console.print(f"[red]call failed:[/red] {type(error).__name__}: {error}")
        return 1
    return 0 if all(m.answered for m in measures) else 1


def bench(
    configs: list[Path],
    utterances: Path | None,
    out: Path | None,
    *,
    levels: list[int],
    turns: int,
    limit: int,
    warmup: bool,
    whole_pass: bool = True,
    turns_per_call: int = 5,
    console: Console,
) -> int:
    plan = BenchPlan(
        configs=configurations(configs),
        utterances=utterances or DEFAULT_DIR,
        out=out or Path("bench") / "results" / time.strftime("%Y%m%d-%H%M%S"),
        limit=limit,
        warmup=warmup,
        levels=levels,
        turns=turns,
        whole_pass=whole_pass,
        turns_per_call=turns_per_call,
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    try:
        with Progress(*columns, console=console) as progress:
            run = asyncio.run(run_bench(plan, progress, progress.console.print))
    except (
        UtteranceError, GatewayStartError, Refused, OSError, TimeoutError, ConfigError,
        websockets.WebSocketException,
    ) as error:  # fmt: skip
        console.print(f"[red]bench failed:[/red] {type(error).__name__}: {error}")
        return 1
    found = summaries(run)
    header, rows = table(found)
    shown = Table(title="voicegw bench (the gateways' records; ratios to the first)")
    for column in header:
        shown.add_column(column, justify="right")
    for row in rows:
        shown.add_row(*row)
    console.print(shown)
    if line := whole_pass_line(run):
        console.print(line)
    for problem in run.problems:
        console.print(f"[yellow]{problem}[/yellow]")
    for kind, path in write_report(plan, run, found).items():
        console.print(f"{kind}: {path}")
    return 0
