"""What ``stt.language = "auto"`` costs: the transcript stage of each turn with the language fixed
("ko", "en") and detected ("auto": on the call's first turn, then kept), from the turn log.

Each mode is a few calls of a few turns over the real media socket, in-process (one set of
engines, loaded with ``"auto"`` and ``detect_languages = ["en", "ko"]``: a call with a fixed
language tells Whisper its language, exactly as with that ``stt.language``). Korean callers are
espeak-ng's Korean voice, English ones Piper. Modes alternate call by call, so drift on a shared
machine falls on all of them alike.

Usage: python bench/language_detection.py [--calls 2] [--turns 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway.engines import load_engines_sync
from gateway.metrics import read_turn_log
from gateway.settings import Settings, load_settings
from tests.conftest import running_gateway, with_changes
from tests.sim.caller import SimulatedCaller
from tests.sim.clips import CallerClip, espeak_clip, make_clip

ROOT = Path(__file__).resolve().parents[1]
KOREAN = [
    "주문한 물건이 아직 안 왔어요.",
    "배송 조회를 하고 싶어요.",
    "환불은 언제 되나요?",
    "감사합니다. 안녕히 계세요.",
    "내일 몇 시에 문을 여나요?",
]
ENGLISH = [
    "What time do you open tomorrow?",
    "Do you deliver on weekends?",
    "How much is the delivery fee?",
    "Can I pay by card at the door?",
    "Thank you, that is all.",
]
MODES = {"ko": ("ko", "korean"), "auto-ko": ("auto", "korean"), "en": ("en", "english"),
         "auto-en": ("auto", "english")}  # fmt: skip


async def one_call(
    settings: Settings, engines: Any, clips: list[CallerClip]
) -> list[dict[str, Any]]:
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    configured = with_changes(settings, metrics={"turn_log_path": str(turn_log)})
    async with (
        running_gateway(configured, engines) as server,
        SimulatedCaller(server.media_url) as caller,
    ):
        await caller.wait_for_mark("greeting-end", timeout_s=30)
        for clip in clips:
            await caller.say(clip.frames, reply_timeout_s=60)
    return read_turn_log(turn_log) if turn_log.exists() else []


def median(values: list[int]) -> float | None:
    return statistics.median(values) if values else None


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2, help="calls per mode")
    parser.add_argument("--turns", type=int, default=4, help="turns per call")
    args = parser.parse_args()
    base = load_settings(ROOT / "config.toml", environ={})
    base = with_changes(base, log={"transcripts": "full"})
    detecting = with_changes(base, stt={"language": "auto", "detect_languages": ["en", "ko"]})
    engines = await asyncio.to_thread(load_engines_sync, detecting)
    await engines.phrases.prepare(base.call.greeting, base.call.apology, *base.call.fillers)
    clips = {
        "korean": [await espeak_clip(text, "ko") for text in KOREAN[: args.turns]],
        "english": [await make_clip(engines.synthesizer, text) for text in ENGLISH[: args.turns]],
    }
    records: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for call in range(args.calls):
        for mode, (language, speaker) in MODES.items():
            settings = with_changes(base, stt={"language": language})
            started = time.monotonic()
            got = await one_call(settings, engines, clips[speaker])
            records[mode] += got
            print(f"call {call + 1} {mode}: {len(got)} turns in {time.monotonic() - started:.0f} s")
    summary: dict[str, Any] = {}
    for mode, turns in records.items():
        replied = [r for r in turns if r["outcome"] == "replied"]
        first = [r["offsets_ms"]["transcript"] for r in replied if r["turn"] == 1]
        later = [r["offsets_ms"]["transcript"] for r in replied if r["turn"] >= 2]
        queued = [r["queue_by_stage_ms"].get("stt", 0) for r in replied if r["turn"] >= 2]
        summary[mode] = {
            "turns": len(turns),
            "replied": len(replied),
            "languages": sorted({r["language"] for r in turns}),
            "first_turn_transcript_ms": first,
            "later_turns_transcript_ms": later,
            "first_turn_median_ms": median(first),
            "later_turns_median_ms": median(later),
            "later_turns_stt_queue_median_ms": median(queued),
            "user_texts": [r["user_text"] for r in turns],
        }
        print(
            f"{mode:8} turns={len(turns):2} replied={len(replied):2} "
            f"languages={summary[mode]['languages']} "
            f"transcript: turn 1 median={median(first)} ms, turns 2+ median={median(later)} ms "
            f"(n={len(later)})"
        )
    out = ROOT / "bench" / "results" / f"language-detection-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main())
