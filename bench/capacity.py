"""Capacity: how many simultaneous calls the gateway answers in time, on this machine.

Usage: python bench/capacity.py --calls 1,2,4,8 [--turns 10] [--config PATH] [--env KEY=VALUE ...]
       python bench/capacity.py --calls 4 --modes shipped,one-context

For each mode and level N, a fresh `voicegw serve` subprocess takes N simulated Twilio calls at
once. Each caller has a voice of its own (Piper variants and espeak-ng voices), speaks --turns
utterances in real time (every second one with a 600 ms pause mid-sentence), and behaves like a
patient human: it speaks again once the reply has played (its `turnN-end` mark echoed) and a
short think time has passed, or once it has heard nothing for 8 s (then it gives up waiting).
The knee is the highest level where every turn was answered in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import websockets
from rich.console import Console
from rich.table import Table

from gateway.audio import mulaw
from gateway.audio.frames import SAMPLE_RATE_HZ
from gateway.audio.resample import resample
from gateway.lab.turn import LATE_S, speak, wait_greeting
from gateway.metrics import read_turn_log
from gateway.settings import load_settings
from models.fetch import materialise
from tests.sim.backends import free_port
from tests.sim.caller import SimulatedCaller
from tests.sim.clips import CallerClip, split_for_pause, trim
from tests.sim.soak import poll_until_idle, scrape

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CLIP_CACHE = RESULTS / "clips-cache"
console = Console(width=200)

MODES: dict[str, dict[str, str]] = {
    "shipped": {},  # config as given (--config), plus --env
    # One llama.cpp context for every call: one reply generates at a time (the context is held
    # for a whole reply), and calls evict each other's cached prompts. What the context pool buys.
    "one-context": {"VOICEGW_LLM__CONTEXTS": "1"},
    # `--baseline DIR`: the gateway of an earlier checkout (git worktree add DIR REV), with that
    # checkout's config.toml, in the same run.
    "baseline": {},
}

PAUSE_MS = 600
"""The mid-sentence pause every second turn has."""
GREETING_TIMEOUT_S = 30.0
STARTUP_TIMEOUT_S = 240.0
WARMUP_TEXT = "Hello, can you hear me?"
KNEE = {"first_sound_p50_ms": 1000.0, "first_sound_p95_ms": 1500.0, "answer_p95_ms": 2000.0}


# -- voices ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Voice:
    name: str
    engine: str
    """``piper`` (the embedded voice, with its own synthesis parameters) or ``espeak``."""
    length_scale: float = 1.0
    noise_scale: float = 0.667
    noise_w: float = 0.8
    espeak_voice: str = ""
    pitch: int = 50
    rate_wpm: int = 175

    @property
    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


VOICES = (
    Voice("piper-1.00", "piper"),
    Voice("espeak-us-m3", "espeak", espeak_voice="en-us+m3", pitch=40, rate_wpm=150),
    Voice("piper-0.85", "piper", length_scale=0.85, noise_scale=0.5, noise_w=0.6),
    Voice("espeak-gb-f2", "espeak", espeak_voice="en-gb+f2", pitch=65, rate_wpm=165),
    Voice("piper-1.20", "piper", length_scale=1.2, noise_scale=0.8, noise_w=1.0),
    Voice("espeak-us-f3", "espeak", espeak_voice="en-us+f3", pitch=72, rate_wpm=140),
    Voice("piper-1.05", "piper", length_scale=1.05, noise_scale=0.75, noise_w=0.9),
    Voice("espeak-us-m7", "espeak", espeak_voice="en-us+m7", pitch=30, rate_wpm=160),
)


class Renderer:
    """Speaks text in a caller voice as 8 kHz float32, cached on disk as mu-law clips."""

    def __init__(self, settings_path: Path) -> None:
        self._settings = load_settings(settings_path, environ={})
        self._piper: Any = None

    def _piper_voice(self) -> Any:
        if self._piper is None:
            from piper import PiperVoice

            spec = self._settings.tts.voice
            if not spec.startswith("embedded:"):
                spec = self._settings.tts.fallback_voice or "embedded:joe-medium"
            cache = Path(self._settings.models.cache_dir).expanduser()
            directory = materialise(spec.removeprefix("embedded:"), cache)
            self._piper = PiperVoice.load(str(sorted(directory.glob("*.onnx"))[0]))
        return self._piper

    def _piper_8k(self, voice: Voice, text: str) -> npt.NDArray[np.float32]:
        from piper import SynthesisConfig

        config = SynthesisConfig(
            length_scale=voice.length_scale,
            noise_scale=voice.noise_scale,
            noise_w_scale=voice.noise_w,
        )
        piper = self._piper_voice()
        chunks = list(piper.synthesize(text, syn_config=config))
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        audio = np.concatenate([np.asarray(c.audio_int16_array) for c in chunks])
        rate = int(chunks[0].sample_rate)
        return resample(audio.astype(np.float32) / 32768.0, rate, SAMPLE_RATE_HZ)

    @staticmethod
    def _espeak_8k(voice: Voice, text: str) -> npt.NDArray[np.float32]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "speech.wav"
            subprocess.run(
                ["espeak-ng", "-v", voice.espeak_voice, "-p", str(voice.pitch),
                 "-s", str(voice.rate_wpm), "-w", str(path), text],
                check=True, capture_output=True,
            )  # fmt: skip
            with wave.open(str(path)) as wav:
                rate = wav.getframerate()
                audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        pcm = resample(audio.astype(np.float32) / 32768.0, rate, SAMPLE_RATE_HZ)
        peak = float(np.abs(pcm).max()) if len(pcm) else 0.0
        return pcm * (0.7 / peak) if peak > 0 else pcm

    def clip(self, voice: Voice, segments: list[str], pause_ms: int) -> CallerClip:
        """The segments spoken one by one, ``pause_ms`` of silence between them."""
        text = " ".join(segments)
        key = json.dumps([voice.key, segments, pause_ms])
        path = CLIP_CACHE / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.ulaw"
        if path.exists():
            return CallerClip(text, path.read_bytes())
        pieces: list[npt.NDArray[np.float32]] = []
        for index, segment in enumerate(segments):
            if index:
                pieces.append(np.zeros(pause_ms * SAMPLE_RATE_HZ // 1000, dtype=np.float32))
            if voice.engine == "piper":
                pieces.append(trim(self._piper_8k(voice, segment)))
            else:
                pieces.append(trim(self._espeak_8k(voice, segment)))
        pcm = trim(np.concatenate(pieces))
        clip = CallerClip(text, mulaw.encode((np.clip(pcm, -1, 1) * 32767).astype(np.int16)))
        CLIP_CACHE.mkdir(parents=True, exist_ok=True)
        path.write_bytes(clip.mulaw)
        return clip


def available_voices() -> list[Voice]:
    if shutil.which("espeak-ng"):
        return list(VOICES)
    console.print(
        "[yellow]warning: espeak-ng is not installed (apt-get install -y espeak-ng): "
        "callers use Piper variants only[/yellow]"
    )
    return [v for v in VOICES if v.engine == "piper"]


# -- what the callers say --------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    text: str
    segments: list[str]
    """One segment, or two with a ``PAUSE_MS`` pause between."""


def caller_lines(caller: int, turns: int) -> list[Line]:
    """Caller ``caller``'s utterances: bench/utterances.toml from an offset of its own (callers
    at the same turn say different things); every second turn pauses mid-sentence."""
    spec = tomllib.loads((ROOT / "bench" / "utterances.toml").read_text())["utterance"]
    lines = []
    for turn in range(turns):
        utterance = spec[(caller * 5 + turn) % len(spec)]
        text = utterance["text"]
        if turn % 2:
            pause_word = next(iter(utterance.get("pauses", {})), None)
            lines.append(Line(text, split_for_pause(text, pause_word)))
        else:
            lines.append(Line(text, [text]))
    return lines


# -- the callers ------------------------------------------------------------------------------


@dataclass
class TurnMeasure:
    caller: int
    turn: int
    text: str
    paused: bool
    first_sound_ms: float | None = None
    """Last voiced frame sent to the first reply frame received (a filler's, if one came)."""
    answer_ms: float | None = None
    """Last voiced frame sent to the answer's first frame (the first after a filler mark)."""
    filler_mark: str = ""
    premature_frames: int = 0
    """Reply frames received while the caller was still sending the utterance."""
    gave_up: bool = False
    """The caller heard nothing for ``LATE_S`` and spoke on."""
    after_give_up: bool = False
    """The caller gave up on its previous turn: that turn's late reply may arrive in this one
    and be counted here (as premature, or as this turn's first sound)."""

    @property
    def answered(self) -> bool:
        return self.answer_ms is not None


@dataclass
class CallMeasure:
    caller: int
    voice: str
    call_sid: str
    turns: list[TurnMeasure] = field(default_factory=list)
    rejected: str = ""
    """Why the call never got going (refused, or closed before the greeting)."""
    dropped: str = ""
    """Why the call ended before the caller hung up."""
    foreign: int = 0
    """Messages received that were addressed to another call's stream (cross-talk)."""


async def _turn(
    caller: SimulatedCaller, measure: TurnMeasure, clip: CallerClip, rng: random.Random
) -> None:
    """Speak, wait for the reply like a patient human, think, return (the lab's turn:
    gateway/lab/turn.py, which ``voicegw bench --calls`` uses too)."""
    heard = await speak(caller, clip, rng=rng, late_s=LATE_S)
    measure.first_sound_ms, measure.answer_ms = heard.first_sound_ms, heard.answer_ms
    measure.filler_mark, measure.gave_up = heard.filler_mark, heard.gave_up
    measure.premature_frames = heard.premature_frames


async def run_call(
    url: str, index: int, *, voice: Voice, lines: list[Line], clips: list[CallerClip], seed: int
) -> CallMeasure:
    rng = random.Random(seed * 1000 + index)
    call_sid, stream_sid = f"CA{secrets.token_hex(16)}", f"MZ{secrets.token_hex(16)}"
    call = CallMeasure(index, voice.name, call_sid)
    async with contextlib.AsyncExitStack() as stack:
        try:
            caller = await stack.enter_async_context(
                SimulatedCaller(url, call_sid=call_sid, stream_sid=stream_sid)
            )
        except (OSError, websockets.InvalidHandshake) as error:
            call.rejected = f"{type(error).__name__}: {error}"
            return call
        try:
            await wait_greeting(caller, GREETING_TIMEOUT_S)
        except websockets.ConnectionClosed:
            call.rejected = f"closed before the greeting (code {caller.close_code})"
            return call
        except TimeoutError:
            call.rejected = f"no greeting within {GREETING_TIMEOUT_S:.0f} s"
            return call
        for turn, (line, clip) in enumerate(zip(lines, clips, strict=True), start=1):
            measure = TurnMeasure(index, turn, line.text, len(line.segments) > 1)
            measure.after_give_up = bool(call.turns) and call.turns[-1].gave_up
            try:
                await _turn(caller, measure, clip, rng)
            except websockets.ConnectionClosed:
                call.dropped = f"socket closed in turn {turn} (code {caller.close_code})"
                break
            call.turns.append(measure)
            console.print(_turn_line(voice, measure, len(lines)))
        call.foreign = len(getattr(caller, "foreign", ()))
    return call


async def warm_up(url: str, clip: CallerClip) -> None:
    """One short call before the measured ones, so that the first turns measured do not pay for
    a process that has never run its models (pages of weights not yet read, first-run set-up)."""
    sid = f"CA{secrets.token_hex(16)}"
    measure = TurnMeasure(-1, 1, clip.text, paused=False)
    async with SimulatedCaller(url, call_sid=sid, stream_sid=f"MZ{secrets.token_hex(16)}") as call:
        await wait_greeting(call, GREETING_TIMEOUT_S)
        await _turn(call, measure, clip, random.Random(0))
    first, answer = measure.first_sound_ms, measure.answer_ms
    console.print(
        f"  warm-up call (not counted): first={'-' if first is None else f'{first:.0f}ms'}"
        f" answer={'-' if answer is None else f'{answer:.0f}ms'}"
    )


def _turn_line(voice: Voice, m: TurnMeasure, turns: int) -> str:
    def ms(value: float | None) -> str:
        return "   -   " if value is None else f"{value:5.0f}ms"

    flags = " ".join(
        flag
        for flag, on in (
            ("paused", m.paused), ("filler", bool(m.filler_mark)),
            ("PREMATURE", bool(m.premature_frames)), ("UNANSWERED", not m.answered),
            ("gave up", m.gave_up), ("after a give-up", m.after_give_up),
        )
        if on
    )  # fmt: skip
    return (
        f"  caller {m.caller} ({voice.name:12}) turn {m.turn:2}/{turns}"
        f" first={ms(m.first_sound_ms)} answer={ms(m.answer_ms)} {flags:40} {m.text}"
    )


# -- the gateway ------------------------------------------------------------------------------


class GatewayStartError(RuntimeError):
    def __init__(self, output: list[str]) -> None:
        super().__init__("gateway exited during start-up:\n" + "\n".join(output[-15:]))
        self.output = output


async def start_gateway(
    config: Path,
    env_overrides: dict[str, str],
    turn_log: Path,
    log_path: Path,
    tree: Path | None = None,
) -> tuple[asyncio.subprocess.Process, int, asyncio.Task[None]]:
    """``voicegw serve``: this checkout's, or (``tree``) an earlier checkout's gateway."""
    port = free_port()
    env = {**os.environ, **env_overrides, "VOICEGW_METRICS__TURN_LOG_PATH": str(turn_log)}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)  # ahead of the editable install: that tree's gateway
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", "--port", str(port), "--config", str(config),
        env=env, stdout=subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        cwd=tree,  # `-m` puts the working directory first on the path
    )  # fmt: skip
    assert process.stderr is not None
    output: list[str] = []
    log = log_path.open("a")
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while True:
                line = (await process.stderr.readline()).decode(errors="replace")
                log.write(line)
                output.append(line.rstrip())
                if "listening on" in line:
                    break
                if not line:  # stderr closed: the process has exited
                    await process.wait()
                    raise GatewayStartError(output)
    except BaseException:
        log.close()
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    return process, port, asyncio.ensure_future(_copy(process.stderr, log))


async def _copy(stream: asyncio.StreamReader, log: Any) -> None:
    """Keep reading the gateway's log (into a file), or it blocks once the pipe is full."""
    try:
        while line := await stream.readline():
            log.write(line.decode(errors="replace"))
    finally:
        log.close()


async def stop_gateway(process: asyncio.subprocess.Process, drain: asyncio.Task[None]) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=15)
        except TimeoutError:
            process.kill()
            await process.wait()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(drain, timeout=5)


# -- one level --------------------------------------------------------------------------------


@dataclass
class Level:
    mode: str
    calls: int
    env: dict[str, str]
    measures: list[CallMeasure] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    gateway_rejected: int | None = None
    """Calls the gateway turned away, by its own /metrics (None: not read)."""
    note: str = ""


@dataclass
class Plan:
    config: Path
    turns: int
    seed: int
    voices: list[Voice]
    lines: list[list[Line]]
    clips: list[list[CallerClip]]
    extra_env: dict[str, str]
    logs: Path
    warmup: CallerClip | None
    baseline: Path | None = None
    pass_max_calls: bool = True
    """Cleared when the gateway refuses ``server.max_calls`` (a build from before the key)."""


MAX_CALLS_KEY = "VOICEGW_SERVER__MAX_CALLS"


async def run_level(plan: Plan, mode: str, calls: int) -> Level:
    env = {MAX_CALLS_KEY: str(calls), **MODES[mode], **plan.extra_env}
    if not plan.pass_max_calls and MAX_CALLS_KEY not in plan.extra_env:
        env.pop(MAX_CALLS_KEY)
    tree = plan.baseline if mode == "baseline" else None
    config = tree / "config.toml" if tree is not None else plan.config
    if tree is not None and MAX_CALLS_KEY not in plan.extra_env:
        env.pop(MAX_CALLS_KEY, None)  # an earlier gateway may not know the key
    level = Level(mode, calls, env)
    turn_log = plan.logs / f"turns-{mode}-{calls}.jsonl"
    log_path = plan.logs / f"gateway-{mode}-{calls}.log"
    try:
        process, port, drain = await start_gateway(config, env, turn_log, log_path, tree)
    except GatewayStartError as error:
        refused = any("max_calls" in line for line in error.output)
        if not refused or MAX_CALLS_KEY in plan.extra_env or MAX_CALLS_KEY not in env:
            raise
        console.print(
            f"[yellow]warning: this gateway does not know server.max_calls; running without "
            f"{MAX_CALLS_KEY}[/yellow]"
        )
        plan.pass_max_calls = False
        env.pop(MAX_CALLS_KEY)
        process, port, drain = await start_gateway(config, env, turn_log, log_path, tree)
    if MAX_CALLS_KEY not in env:
        level.note = "server.max_calls not set (unknown to this gateway)"
    console.rule(f"{mode}: {calls} call(s) at once, {plan.turns} turns each")
    host = f"127.0.0.1:{port}"
    url = f"ws://{host}/twilio/media"
    try:
        if plan.warmup is not None:
            await warm_up(url, plan.warmup)
            await poll_until_idle(host, timeout_s=30)  # its place is free again
        began = time.monotonic()
        level.measures = list(
            await asyncio.gather(
                *(
                    run_call(
                        url, i, voice=plan.voices[i % len(plan.voices)], lines=plan.lines[i],
                        clips=plan.clips[i], seed=plan.seed + calls,
                    )
                    for i in range(calls)
                )
            )
        )  # fmt: skip
        level.seconds = time.monotonic() - began
        with contextlib.suppress(Exception):  # let the hung-up turns reach the log
            await poll_until_idle(host, timeout_s=30)
        with contextlib.suppress(Exception):
            samples = await scrape(host)
            level.gateway_rejected = int(
                sum(v for k, v in samples.items() if k.startswith("voicegw_calls_rejected_total"))
            )
    finally:
        await stop_gateway(process, drain)
    sids = {m.call_sid for m in level.measures}
    if turn_log.exists():
        level.records = [r for r in read_turn_log(turn_log) if r["call_sid"] in sids]
    return level


# -- report -----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def summarise(level: Level, turns: int) -> dict[str, Any]:
    measures = [t for call in level.measures for t in call.turns]
    first = [t.first_sound_ms for t in measures if t.first_sound_ms is not None]
    answer = [t.answer_ms for t in measures if t.answer_ms is not None]
    records = level.records
    outcomes: dict[str, int] = {}
    for record in records:
        outcomes[record["outcome"]] = outcomes.get(record["outcome"], 0) + 1
    queue = [float(r["queue_ms"]) for r in records if r.get("queue_ms") is not None]
    gw_answer = [
        float(r["offsets_ms"]["first_answer_media"])
        for r in records
        if r["outcome"] == "replied" and r["offsets_ms"].get("first_answer_media") is not None
    ]
    summary: dict[str, Any] = {
        "mode": level.mode,
        "calls": level.calls,
        "env": level.env,
        "seconds": round(level.seconds, 1),
        "rejected_calls": sum(bool(c.rejected) for c in level.measures),
        "dropped_calls": sum(bool(c.dropped) for c in level.measures),
        "foreign_messages": sum(c.foreign for c in level.measures),
        "turns_planned": level.calls * turns,
        "turns_spoken": len(measures),
        "turns_answered": sum(t.answered for t in measures),
        "unanswered": sum(not t.answered for t in measures),
        "no_sound": sum(t.first_sound_ms is None for t in measures),
        "gave_up": sum(t.gave_up for t in measures),
        "after_give_up": sum(t.after_give_up for t in measures),
        "premature": sum(bool(t.premature_frames) for t in measures),
        "fillers_heard": sum(bool(t.filler_mark) for t in measures),
        "first_sound_p50_ms": percentile(first, 50),
        "first_sound_p95_ms": percentile(first, 95),
        "answer_p50_ms": percentile(answer, 50),
        "answer_p95_ms": percentile(answer, 95),
        "gateway": {
            "records": len(records),
            "rejected_calls": level.gateway_rejected,
            "outcomes": outcomes,
            "replied": outcomes.get("replied", 0),
            "superseded": outcomes.get("superseded", 0),
            "interrupted": outcomes.get("interrupted", 0),
            "failed": outcomes.get("failed", 0),
            "fillers": sum(bool(r.get("filler")) for r in records),
            "queue_ms_n": len(queue),
            "queue_p50_ms": percentile(queue, 50),
            "queue_p95_ms": percentile(queue, 95),
            "answer_p50_ms": percentile(gw_answer, 50),
            "answer_p95_ms": percentile(gw_answer, 95),
        },
        "note": level.note,
        "calls_detail": [
            {
                "caller": c.caller, "voice": c.voice, "call_sid": c.call_sid,
                "rejected": c.rejected, "dropped": c.dropped, "foreign_messages": c.foreign,
                "turns": [{**asdict(t), "answered": t.answered} for t in c.turns],
            }
            for c in level.measures
        ],
    }  # fmt: skip
    summary["limits_missed"] = limits_missed(summary)
    summary["within_limits"] = not summary["limits_missed"]
    return summary


def limits_missed(s: dict[str, Any]) -> list[str]:
    """What keeps a level from counting: every planned turn spoken and answered (no rejected or
    dropped call, no failed turn), nothing premature, and the latency limits in ``KNEE``."""
    checks = {
        "rejected": s["rejected_calls"] > 0,
        "dropped": s["dropped_calls"] > 0,
        "not all spoken": s["turns_spoken"] < s["turns_planned"],
        "unanswered": s["turns_answered"] < s["turns_spoken"],
        "failed": s["gateway"]["failed"] > 0,
        "premature": s["premature"] > 0,
        "cross-talk": s["foreign_messages"] > 0,
    }
    missed = [name for name, bad in checks.items() if bad]
    for key, limit in KNEE.items():
        if s[key] is None or s[key] > limit:
            missed.append(key.removesuffix("_ms").replace("_", " "))
    return missed


def _rejected_cell(s: dict[str, Any]) -> str:
    cell = str(s["rejected_calls"])
    if s["gateway"]["rejected_calls"] not in (None, s["rejected_calls"]):
        cell += f" (gw {s['gateway']['rejected_calls']})"
    return cell + (f" +{s['dropped_calls']} dropped" if s["dropped_calls"] else "")


def report(summaries: list[dict[str, Any]], modes: list[str]) -> dict[str, Any]:
    table = Table(
        title="capacity: N calls at once (client-measured ms after the caller's last voiced frame;"
        " gw = the gateway's turn log)"
    )
    columns = (
        "mode", "calls", "rejected", "spoken", "answered", "unanswered", "premature",
        "gw superseded", "gw failed", "fillers", "first p50", "first p95", "answer p50",
        "answer p95", "gw queue p50", "gw queue p95", "within limits",
    )  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right", no_wrap=column in {"mode", "rejected"})

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    for s in sorted(summaries, key=lambda s: (s["calls"], modes.index(s["mode"]))):
        g = s["gateway"]
        table.add_row(
            s["mode"], str(s["calls"]),
            _rejected_cell(s),
            f"{s['turns_spoken']}/{s['turns_planned']}", str(s["turns_answered"]),
            str(s["unanswered"]), str(s["premature"]), str(g["superseded"]), str(g["failed"]),
            str(s["fillers_heard"]) if s["fillers_heard"] == g["fillers"]
            else f"{s['fillers_heard']} (gw {g['fillers']})",
            ms(s["first_sound_p50_ms"]), ms(s["first_sound_p95_ms"]), ms(s["answer_p50_ms"]),
            ms(s["answer_p95_ms"]), ms(g["queue_p50_ms"]), ms(g["queue_p95_ms"]),
            "[green]yes[/green]" if s["within_limits"] else "[red]no[/red]",
        )  # fmt: skip
    console.print(table)
    for s in summaries:
        if s["limits_missed"]:
            missed = ", ".join(s["limits_missed"])
            console.print(f"{s['mode']}, {s['calls']} call(s) at once: missed {missed}")
        if s["note"]:
            console.print(f"[yellow]{s['mode']}, {s['calls']} call(s): {s['note']}[/yellow]")
    cores = os.cpu_count() or 1
    knees: dict[str, Any] = {}
    for mode in modes:
        levels = sorted((s for s in summaries if s["mode"] == mode), key=lambda s: s["calls"])
        passing = [s["calls"] for s in levels if s["within_limits"]]
        knee = max(passing, default=0)
        knees[mode] = {"knee_calls": knee, "calls_per_core": knee / cores}
        console.print(
            f"{mode}: knee = {knee} call(s) at once ({knee / cores:.2f} calls per core, "
            f"{cores} cores); limits: every turn answered, 0 premature, first sound p50 <= "
            f"{KNEE['first_sound_p50_ms']:.0f} ms and p95 <= {KNEE['first_sound_p95_ms']:.0f} ms,"
            f" answer p95 <= {KNEE['answer_p95_ms']:.0f} ms"
        )
        failing_below = [s["calls"] for s in levels if not s["within_limits"] and s["calls"] < knee]
        if failing_below:
            console.print(
                f"[yellow]{mode}: not monotonic: {failing_below} failed below the knee "
                "(a noisy machine, or a marginal level): rerun before trusting it[/yellow]"
            )
        if any(s["gateway"]["queue_ms_n"] == 0 for s in levels):
            console.print(f"[dim]{mode}: the turn log has no queue_ms (older gateway)[/dim]")
    return knees


# -- main -------------------------------------------------------------------------------------


def parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env takes KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )  # fmt: skip
    parser.add_argument("--calls", default="1,2,4,8", help="levels: calls at once (1,2,4,8)")
    parser.add_argument("--turns", type=int, default=10, help="utterances per call (10)")
    parser.add_argument("--config", type=Path, default=ROOT / "config.toml")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE",
        help="environment override for every gateway, e.g. VOICEGW_LLM__THREADS=2 (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--modes", default="shipped",
        help=f"gateway configurations to compare at each level, of: {', '.join(MODES)}",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="think times (seeded random)")
    parser.add_argument(
        "--baseline", type=Path, default=None,
        help="a checkout of an earlier commit, served by mode 'baseline' (added to --modes)",
    )  # fmt: skip
    parser.add_argument(
        "--no-warmup", action="store_true",
        help="measure from a cold gateway (default: one uncounted call first, at every level)",
    )  # fmt: skip
    args = parser.parse_args()
    levels = sorted({int(n) for n in args.calls.split(",") if n.strip()})
    modes = args.modes.split(",")
    if args.baseline is not None and "baseline" not in modes:
        modes.append("baseline")
    if "baseline" in modes and args.baseline is None:
        parser.error("mode 'baseline' needs --baseline DIR")
    if unknown := [m for m in modes if m not in MODES]:
        parser.error(f"unknown mode(s): {', '.join(unknown)}")
    if not levels or levels[0] < 1 or args.turns < 1:
        parser.error("--calls takes positive numbers, --turns a positive number")
    extra_env = parse_env(args.env)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    logs = RESULTS / f"capacity-{stamp}-logs"
    logs.mkdir(parents=True, exist_ok=True)

    voices = available_voices()
    renderer = Renderer(ROOT / "config.toml")
    callers = max(levels)
    lines = [caller_lines(c, args.turns) for c in range(callers)]
    began = time.monotonic()
    clips = [
        [
            await asyncio.to_thread(renderer.clip, voices[c % len(voices)], line.segments, PAUSE_MS)
            for line in lines[c]
        ]
        for c in range(callers)
    ]
    console.print(
        f"{callers * args.turns} caller clips ready in {time.monotonic() - began:.1f} s "
        f"(cache: {CLIP_CACHE.relative_to(ROOT)}); voices: "
        + ", ".join(voices[c % len(voices)].name for c in range(callers))
    )
    warmup = None if args.no_warmup else renderer.clip(VOICES[0], [WARMUP_TEXT], PAUSE_MS)
    plan = Plan(args.config, args.turns, args.seed, voices, lines, clips, extra_env, logs, warmup)
    plan.baseline = args.baseline.resolve() if args.baseline is not None else None
    summaries = []
    for calls in levels:
        for mode in modes:
            level = await run_level(plan, mode, calls)
            summaries.append(summarise(level, args.turns))
    knees = report(summaries, modes)
    result = {
        "started": stamp,
        "cpu_count": os.cpu_count(),
        "config": str(args.config),
        "turns_per_call": args.turns,
        "warmup_call": not args.no_warmup,
        "late_s": LATE_S,
        "pause_ms": PAUSE_MS,
        "limits": KNEE,
        "voices": [asdict(v) for v in voices],
        "extra_env": extra_env,
        "knee": knees,
        "levels": summaries,
        "logs": str(logs.relative_to(ROOT)),
    }
    path = RESULTS / f"capacity-{stamp}.json"
    path.write_text(json.dumps(result, indent=2))
    console.print(f"results: {path.relative_to(ROOT)} (gateway logs and turn logs: {logs.name}/)")


if __name__ == "__main__":
    asyncio.run(main())
