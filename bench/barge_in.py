"""Barge-in reaction time: caller speech start to Twilio ``clear`` received, over a real socket.

One `voicegw serve` process (shipped config, a storyteller prompt so replies run long). Per trial
the caller asks for a story, lets the first sentence play, then talks over the second; the
reaction is measured from the first frame of the interruption sent to the ``clear`` received.
Interruptions start with voiced sounds ("wait", "no") and with fricatives ("so", "stop"), whose
first 100 ms a VAD scores as unvoiced.

    python bench/barge_in.py [--trials 12]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from latency import ROOT, start_gateway  # type: ignore[import-not-found]
from rich.console import Console

from gateway.engines import load_engines_sync
from gateway.settings import load_settings
from tests.sim.caller import SILENT_FRAME, SimulatedCaller
from tests.sim.clips import CallerClip, make_clip

console = Console()
RESULTS = ROOT / "bench" / "results"
STORYTELLER = (
    "You are a storyteller on the phone. Whatever the caller asks, tell a long story of at "
    "least ten sentences. Never use lists or markdown."
)
TOPICS = ("a dragon", "a lighthouse", "a lost key", "the moon", "a sailor", "a clockmaker")
INTERRUPTIONS = (
    "Wait, what is the capital of France?",
    "No, tell me about the weather instead.",
    "Hold on, how late is it?",
    "Sorry, can you repeat that?",
    "Stop, I have a question.",
    "So what happened next?",
)


async def first_sentence_mark(caller: SimulatedCaller, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not (await caller.marks.get()).endswith("-s0"):
            pass


async def one_trial(port: int, ask: CallerClip, cut: CallerClip) -> float | None:
    """Ask for a story, talk over it once its first sentence has played; ms to the clear."""
    async with SimulatedCaller(f"ws://127.0.0.1:{port}/twilio/media") as caller:
        await caller.wait_for_mark("greeting-end", timeout_s=30)
        for frame in ask.frames:
            await caller.send_frame(frame)
        waiter = asyncio.ensure_future(first_sentence_mark(caller, 30))
        while not waiter.done():  # a live line: silence while the first sentence plays
            await caller.send_frame(SILENT_FRAME)
        await waiter
        speaking = asyncio.ensure_future(caller.say(cut.frames, reply_timeout_s=40))
        start = await caller.utterance_starts.get()
        try:
            clear_at = await asyncio.wait_for(caller.clears.get(), timeout=3)
        except TimeoutError:
            clear_at = None
        await speaking
    return None if clear_at is None else (clear_at - start) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    args = parser.parse_args()
    settings = load_settings(None, environ={})
    engines = await asyncio.to_thread(load_engines_sync, settings)
    asks = [await make_clip(engines.synthesizer, f"Tell me a story about {t}.") for t in TOPICS]
    cuts = [await make_clip(engines.synthesizer, text) for text in INTERRUPTIONS]
    env = {"VOICEGW_LLM__SYSTEM_PROMPT": STORYTELLER, "VOICEGW_LLM__MAX_REPLY_TOKENS": "300"}
    turn_log = RESULTS / f"barge-in-turns-{int(time.time())}.jsonl"
    RESULTS.mkdir(exist_ok=True)
    process, port = await start_gateway(env, turn_log)
    reactions: list[tuple[str, float]] = []
    try:
        for trial in range(args.trials):  # a call per trial: a fresh history asks for a story
            reaction = await one_trial(port, asks[trial % len(asks)], cuts[trial % len(cuts)])
            cut = cuts[trial % len(cuts)].text
            if reaction is None:
                console.print(f"{trial + 1:2}/{args.trials} no clear: the reply was already over")
                continue
            reactions.append((cut, reaction))
            console.print(f"{trial + 1:2}/{args.trials} clear after {reaction:4.0f} ms  {cut}")
    finally:
        process.terminate()
        await process.wait()
    values = [ms for _, ms in reactions]
    if not values:
        raise SystemExit("no trial reached a barge-in")
    summary = {
        "trials": len(values),
        "median_ms": statistics.median(values),
        "worst_ms": max(values),
        "within_300ms": sum(ms <= 300 for ms in values),
        "per_trial": reactions,
    }
    console.print(
        f"barge-in reaction: median {statistics.median(values):.0f} ms,"
        f" worst {max(values):.0f} ms, {summary['within_300ms']}/{len(values)} within 300 ms"
    )
    out = RESULTS / f"barge-in-{int(time.time())}.json"
    out.write_text(json.dumps(summary, indent=2))
    console.print(f"written to {out}")


if __name__ == "__main__":
    asyncio.run(main())
