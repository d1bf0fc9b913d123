"""Voice-to-voice latency over real WebSockets, the gateway against seed mode, and local stages
against the same models behind OpenAI-compatible servers (modes remote, remote-stt, -llm, -tts).

Usage: python bench/latency.py [--modes gateway,seed] [--limit N]
       python bench/latency.py --modes gateway,remote,remote-llm --limit 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from gateway.audio import mulaw
from gateway.engines import load_engines_sync
from gateway.lab.stats import word_error_rate
from gateway.metrics import read_turn_log
from gateway.settings import Settings, load_settings
from tests.sim.backends import BackendServer, free_port, server_for, stage_settings
from tests.sim.caller import SILENT_FRAME, SimulatedCaller
from tests.sim.clips import CallerClip, make_clip

ROOT = Path(__file__).resolve().parents[1]
console = Console(width=160)
MODES: dict[str, dict[str, str]] = {
    "gateway": {},
    # The gateway with one latency measure turned off, to see what each pays:
    "no-speculation": {"VOICEGW_TURN__SPECULATE": "false"},
    "draft-at-200ms": {"VOICEGW_TURN__SPECULATE_AFTER_SILENCE_MS": "200"},
    "no-fillers": {"VOICEGW_CALL__FILLER_AFTER_MS": "0"},
    # Candidate settings, to measure before shipping:
    "incomplete-800ms": {"VOICEGW_TURN__INCOMPLETE_END_SILENCE_MS": "800"},
    "seed": {
        "VOICEGW_CALL__FILLER_AFTER_MS": "0",
        "VOICEGW_TURN__SPECULATE": "false",
        "VOICEGW_TURN__END_SILENCE_MS": "1000",
        "VOICEGW_TURN__INCOMPLETE_END_SILENCE_MS": "1000",
        "VOICEGW_TTS__FIRST_CLAUSE_MIN_WORDS": "0",
        "VOICEGW_STT__ENCODER_WINDOW_MS": "0",
    },
}
REMOTE_MODES: dict[str, tuple[str, ...]] = {
    # The gateway with stages on third-party OpenAI-compatible servers on this machine, serving
    # the same model files (tests/sim/backends.py): what the HTTP hop and each server cost.
    "remote": ("stt", "llm", "tts"),
    "remote-stt": ("stt",),
    "remote-llm": ("llm",),
    "remote-tts": ("tts",),
}
STAGES = (
    "endpoint", "transcript", "first_token", "first_sentence", "first_audio", "first_media",
    "first_answer_media",
)  # fmt: skip


@dataclass
class ModeResult:
    mode: str
    v2v_ms: list[float] = field(default_factory=list)
    premature: int = 0
    missing: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def start_gateway(
    env_overrides: dict[str, str], turn_log: Path, tree: Path = ROOT
) -> tuple[Any, int]:
    """``voicegw serve`` from ``tree`` (this checkout, or an earlier one for ``--baseline``)."""
    port = free_port()
    env = {**os.environ, **env_overrides, "VOICEGW_METRICS__TURN_LOG_PATH": str(turn_log)}
    if tree != ROOT:
        env["PYTHONPATH"] = str(tree)  # ahead of the editable install: that tree's gateway
    if "class LogSettings" in (tree / "gateway" / "settings.py").read_text():
        env["VOICEGW_LOG__TRANSCRIPTS"] = "full"  # the bench reads what was heard
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", "--port", str(port),
        "--config", str(tree / "config.toml"), cwd=tree,  # `-m` puts the cwd first on the path
        env=env, stdout=subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    async with asyncio.timeout(120):
        while b"listening on" not in await process.stderr.readline():
            if process.returncode is not None:
                raise RuntimeError("gateway exited during start-up")
    process.drain_task = asyncio.ensure_future(_drain(process.stderr))  # type: ignore[attr-defined]
    return process, port


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


def start_servers(settings: Settings, stages: set[str]) -> dict[str, BackendServer]:
    """The servers the remote modes need, each started once for the whole run."""
    cache = Path(settings.models.cache_dir).expanduser()
    workdir = Path(tempfile.mkdtemp(prefix="voicegw-bench-servers-"))
    servers = {stage: server_for(stage, cache, workdir) for stage in sorted(stages)}
    for server in servers.values():
        server.start()
    return servers


def mode_env(mode: str, servers: dict[str, BackendServer]) -> dict[str, str]:
    if mode in MODES:
        return MODES[mode]
    return {
        f"VOICEGW_{stage.upper()}__{key.upper()}": value
        for stage in REMOTE_MODES[mode]
        for key, value in stage_settings(stage, servers[stage]).items()
    }


async def run_mode(
    mode: str,
    clips: list[CallerClip],
    env: dict[str, str],
    line_noise_dbfs: float | None,
    tree: Path = ROOT,
) -> ModeResult:
    result = ModeResult(mode)
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    process, port = await start_gateway(env, turn_log, tree)
    try:
        url = f"ws://127.0.0.1:{port}/twilio/media"
        async with SimulatedCaller(url, line_noise_dbfs=line_noise_dbfs) as caller:
            await caller.wait_for_mark("greeting", timeout_s=30)
            for _ in range(25):  # a little line silence before the first utterance
                await caller.send_frame(SILENT_FRAME)
            for index, clip in enumerate(clips):
                try:
                    turn = await caller.say(clip.frames, reply_timeout_s=60)
                except TimeoutError:
                    result.missing += 1
                    console.print(f"[yellow]{mode}: no reply to {clip.text!r}[/yellow]")
                    continue
                result.premature += bool(turn.premature)
                if turn.voice_to_voice_ms is not None:
                    result.v2v_ms.append(turn.voice_to_voice_ms)
                v2v = turn.voice_to_voice_ms
                console.print(
                    f"{mode} {index + 1:2}/{len(clips)} v2v="
                    f"{'no audio' if v2v is None else f'{v2v:6.0f} ms'}"
                    f"{'  PREMATURE' if turn.premature else ''}  {clip.text}"
                )
    finally:
        process.terminate()
        await process.wait()
    result.records = read_turn_log(turn_log)
    return result


def wer(references: list[str], hypotheses: list[str]) -> float:
    rate = word_error_rate(references, hypotheses)  # the same measure as `voicegw bench`
    return float("nan") if rate is None else rate


def median_offset(records: list[dict[str, Any]], stage: str) -> float | None:
    values = [r["offsets_ms"][stage] for r in records if r["offsets_ms"][stage] is not None]
    return statistics.median(values) if values else None


def report(results: list[ModeResult], clips: list[CallerClip], whole_wer: float) -> dict[str, Any]:
    table = Table(title="voice-to-voice (client) and stages (gateway: median ms after speech end)")
    for column in ("mode", "n", "p50", "p95", "max", "premature", "no reply", "WER", "fillers",
                   "held", *STAGES):  # fmt: skip
        table.add_column(column, justify="right")
    summary: dict[str, Any] = {"whole_utterance_wer": whole_wer, "modes": {}}
    for r in results:
        replied = [rec for rec in r.records if rec["outcome"] == "replied"]
        stages = {stage: median_offset(replied, stage) for stage in STAGES}
        texts = [rec["user_text"] for rec in r.records if rec["outcome"] != "superseded"]
        mode_wer = wer([c.text for c in clips], texts) if len(texts) == len(clips) else float("nan")
        fillers = sum(bool(rec["filler"]) for rec in replied)
        held = sum(bool(rec.get("held_ms")) for rec in replied)
        summary["modes"][r.mode] = {
            "n": len(r.v2v_ms), "p50_ms": percentile(r.v2v_ms, 50),
            "p95_ms": percentile(r.v2v_ms, 95),
            "max_ms": max(r.v2v_ms, default=float("nan")), "premature": r.premature,
            "no_reply": r.missing, "wer": mode_wer, "fillers": fillers, "answers_held": held,
            "stages_median_ms": stages, "v2v_ms": r.v2v_ms,
        }  # fmt: skip
        table.add_row(
            r.mode, str(len(r.v2v_ms)), f"{percentile(r.v2v_ms, 50):.0f}",
            f"{percentile(r.v2v_ms, 95):.0f}", f"{max(r.v2v_ms, default=float('nan')):.0f}",
            str(r.premature), str(r.missing), f"{mode_wer:.3f}", str(fillers), str(held),
            *(f"{stages[s]:.0f}" if stages[s] is not None else "-" for s in STAGES),
        )  # fmt: skip
    console.print(table)
    modes = summary["modes"]
    if "gateway" in modes and "seed" in modes:
        ratio = modes["gateway"]["p50_ms"] / modes["seed"]["p50_ms"]
        summary["p50_ratio_gateway_to_seed"] = ratio
        console.print(f"median ratio gateway/seed: {ratio:.2f}")
    for mode in (m for m in modes if m in REMOTE_MODES and "gateway" in modes):
        extra = modes[mode]["p50_ms"] - modes["gateway"]["p50_ms"]
        summary[f"p50_ms_{mode}_minus_local"] = extra
        console.print(f"median voice-to-voice, {mode} minus all-local: {extra:+.0f} ms")
    console.print(f"whole-utterance WER on the same clips: {whole_wer:.3f}")
    return summary


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--modes", default="gateway,seed", help=f"of {', '.join([*MODES, *REMOTE_MODES])}"
    )
    parser.add_argument("--limit", type=int, default=0, help="use only the first N utterances")
    parser.add_argument(
        "--line-noise-dbfs", type=float, default=None,
        help="mix white noise at this RMS level (e.g. -45) into everything the caller sends",
    )  # fmt: skip
    parser.add_argument(
        "--baseline", type=Path, default=None,
        help="a checkout of an earlier commit (git worktree add DIR REV): adds mode 'baseline', "
        "its gateway with its config.toml, to compare in the same run",
    )  # fmt: skip
    args = parser.parse_args()
    modes = args.modes.split(",")
    if args.baseline is not None and "baseline" not in modes:
        modes.append("baseline")
    unknown = [m for m in modes if m not in MODES and m not in REMOTE_MODES and m != "baseline"]
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(unknown)}")
    settings = load_settings(ROOT / "config.toml", environ={})
    engines = load_engines_sync(settings)  # Piper for the caller's voice, Whisper for the WER pass
    spec = tomllib.loads((ROOT / "bench" / "utterances.toml").read_text())["utterance"]
    spec = spec[: args.limit] if args.limit else spec
    clips = [await make_clip(engines.synthesizer, u["text"], u.get("pauses")) for u in spec]
    whole = []
    for clip in clips:
        pcm = mulaw.decode(clip.mulaw).astype(np.float32) / 32768
        whole.append((await engines.transcriber.transcribe(pcm, 8000)).text)
    whole_wer = wer([c.text for c in clips], whole)
    del engines
    remote_stages = {stage for m in modes for stage in REMOTE_MODES.get(m, ())}
    servers = start_servers(settings, remote_stages)
    try:
        for server in servers.values():
            await server.wait_ready()
            console.print(f"{server.name} ready at {server.base_url}")
        results = [
            await run_mode(m, clips, {}, args.line_noise_dbfs, args.baseline.resolve())
            if m == "baseline"
            else await run_mode(m, clips, mode_env(m, servers), args.line_noise_dbfs)
            for m in modes
        ]
    finally:
        for server in servers.values():
            server.stop()
    summary = report(results, clips, whole_wer)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"latency-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(summary, indent=2))
    console.print(f"results: {path}")


if __name__ == "__main__":
    asyncio.run(main())
