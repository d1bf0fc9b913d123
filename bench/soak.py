"""Soak: hundreds of simulated calls against one `voicegw serve`, then compare what it holds.

Usage: python bench/soak.py [--sequential 200] [--rounds 20] [--concurrent 4]

Each call speaks one short question, stays until the first sentence of the reply has played, and
hangs up. Before (after a warm-up) and after the run, and at checkpoints between, the gateway's
own /metrics give its RSS, open file descriptors, threads and asyncio tasks; they should end where
they started, give or take allocator noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from gateway.engines import load_engines_sync
from gateway.settings import load_settings
from tests.sim.clips import make_clip
from tests.sim.soak import Figures, SoakPlan, SoakReport, poll_until_idle, run_soak

ROOT = Path(__file__).resolve().parents[1]
console = Console(width=140)
QUESTION = "What time do you open tomorrow?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_gateway(port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", "--port", str(port),
        "--config", str(ROOT / "config.toml"),
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    async with asyncio.timeout(180):
        while b"listening on" not in await process.stderr.readline():
            if process.returncode is not None:
                raise RuntimeError("gateway exited during start-up")
    return process


async def drain(stream: asyncio.StreamReader) -> None:
    """Keep reading the gateway's log, or it blocks once the pipe is full."""
    while await stream.readline():
        pass


def table(report: SoakReport) -> Table:
    out = Table(title=f"soak: {report.calls} calls in {report.seconds:.0f} s")
    for column in ("point", "RSS MB", "tasks", "threads", "fds"):
        out.add_column(column, justify="right")

    def row(name: str, f: Figures) -> None:
        out.add_row(name, f"{f.rss_mb:.1f}", f"{f.tasks:.0f}", f"{f.threads:.0f}", f"{f.fds:.0f}")

    row("start (after warm-up)", report.before)
    for name, measured in report.checkpoints:
        row(name, measured)
    row("growth", report.growth)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--checkpoint-every", type=int, default=25, help="sequential calls")
    parser.add_argument("--checkpoint-rounds", type=int, default=5, help="concurrent rounds")
    args = parser.parse_args()
    plan = SoakPlan(args.sequential, args.rounds, args.concurrent)
    settings = load_settings(ROOT / "config.toml")
    engines = await asyncio.to_thread(load_engines_sync, settings)
    clip = await make_clip(engines.synthesizer, QUESTION)
    port = free_port()
    process = await start_gateway(port)
    assert process.stderr is not None
    logging = asyncio.ensure_future(drain(process.stderr))
    host = f"127.0.0.1:{port}"
    try:
        report = await run_soak(
            host,
            clip.frames,
            plan,
            lambda _calls: poll_until_idle(host),
            checkpoint_every=(args.checkpoint_every, args.checkpoint_rounds),
            on_checkpoint=lambda name, f: console.print(f"{name}: {f}"),
        )
    finally:
        process.terminate()
        await process.wait()
        logging.cancel()
    console.print(table(report))
    for failure in report.failures:
        console.print(f"[yellow]{failure}[/yellow]")
    result: dict[str, Any] = {
        "plan": asdict(plan),
        "calls": report.calls,
        "answered": report.answered,
        "seconds": round(report.seconds, 1),
        "before": asdict(report.before),
        "after": asdict(report.after),
        "growth": asdict(report.growth),
        "checkpoints": [{"point": n, **asdict(f)} for n, f in report.checkpoints],
        "failures": report.failures,
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    console.print(f"results: {path}")


if __name__ == "__main__":
    asyncio.run(main())
