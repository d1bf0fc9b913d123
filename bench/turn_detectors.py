"""Which signal tells a caller's pause from the end of their turn? Measured offline on the
shipped bench set (gateway/lab/utterances: eight voices, Piper and espeak-ng, pauses of 300-800
ms whose last syllable falls, stays level or rises), or on ``--utterances DIR``.

For every utterance, the decision points are each mid-utterance pause (a gap of at least 250 ms
between voiced frames: the bench's inserted pauses and Piper's own comma pauses) and the real end.
At each point, each detector sees only the audio up to it, as the gateway would, and says
"finished" or "not yet":

- ``text``: the gateway's heuristic (``gateway.vad.completeness``) on the draft transcript,
  Whisper on the audio so far, as transcribed 100 ms into the pause;
- ``smart-turn``: smart-turn v3.2, the open audio turn model Pipecat ships in its PyPI wheel,
  on the last 8 s of audio plus 200 ms of silence (Pipecat's default wait), finished above 0.5;
- ``lm-eot``: the embedded LLM's probability that the user's message ends here
  (``<|im_end|>`` next, on the lower-cased transcript without punctuation, the technique of
  LiveKit's turn detector on the same SmolLM2-135M base, here not fine-tuned), finished above 0.1;
- ``model-end``: what the gateway uses (:mod:`gateway.llm.turn_end`): the chat model's
  probability of a sentence-final mark or the end of the message next, in the call's context
  (system prompt and greeting), Whisper's closing mark taken off; finished at or above the
  configured ``turn.sure_end_probability``;
- ``text+model``: the gateway's reading (:func:`gateway.vad.completeness.read_transcript`):
  finished unless the text reads unfinished or the model is below ``unsure_end_probability``;
  ``sure`` in the table counts the points it would end after ``turn.sure_end_silence_ms``;
- ``text+smart-turn``: both finished.

``ranking`` is threshold-free: how often a real end scores above a pause, over every pair.

A detector that says "finished" at a pause lets the gateway answer a caller who has only paused
unless it waits out the longest pause; one that says "not yet" at a real end makes the caller wait
for ``turn.incomplete_end_silence_ms``. smart-turn's weights come from the pipecat-ai wheel on
PyPI (downloaded once into the model cache, sha256-checked; nothing else of Pipecat is used).

Usage: python bench/turn_detectors.py [--limit N] [--utterances DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from faster_whisper.feature_extractor import FeatureExtractor
from rich.console import Console
from rich.table import Table

from gateway.audio import mulaw
from gateway.audio.frames import FRAME_BYTES, FRAME_MS, SAMPLE_RATE_HZ
from gateway.audio.resample import resample
from gateway.engines import Engines, load_engines_sync
from gateway.lab.utterances import DEFAULT_DIR, load_set
from gateway.llm import turn_end
from gateway.settings import Settings, load_settings
from gateway.vad.completeness import EndModelThresholds, Reading, looks_complete, read_transcript
from models.fetch import file_sha256, locate
from tests.sim.clips import voiced_frames

ROOT = Path(__file__).resolve().parents[1]
console = Console(width=160)

SMART_TURN_WHEEL = "pipecat-ai==1.14.0"
SMART_TURN_MEMBER = "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"
SMART_TURN_SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
SMART_TURN_RATE_HZ = 16000
SMART_TURN_SECONDS = 8
SMART_TURN_WAIT_MS = 200
DRAFT_AFTER_MS = 100
LM_EOT_THRESHOLD = 0.1
MIN_PAUSE_MS = 250
DETECTORS = ("text", "smart-turn", "lm-eot", "model-end", "text+model", "text+smart-turn")


def smart_turn_model(cache_dir: Path) -> Path:
    """The smart-turn ONNX file, taken once from Pipecat's wheel on PyPI."""
    target = cache_dir / "smart-turn-v3.2" / "smart-turn-v3.2-cpu.onnx"
    if target.is_file() and file_sha256(target) == SMART_TURN_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp,
             SMART_TURN_WHEEL],
            check=True,
        )  # fmt: skip
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            target.write_bytes(archive.read(SMART_TURN_MEMBER))
    if file_sha256(target) != SMART_TURN_SHA256:
        raise RuntimeError(f"{target}: sha256 does not match {SMART_TURN_SHA256}")
    return target


class SmartTurn:
    def __init__(self, path: Path) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), options)
        self._features = FeatureExtractor(feature_size=80, chunk_length=SMART_TURN_SECONDS)

    def probability(self, pcm_8k: npt.NDArray[np.float32]) -> float:
        audio = resample(pcm_8k, SAMPLE_RATE_HZ, SMART_TURN_RATE_HZ)
        size = SMART_TURN_SECONDS * SMART_TURN_RATE_HZ
        audio = audio[-size:] if len(audio) > size else np.pad(audio, (size - len(audio), 0))
        audio = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)  # as Whisper's extractor
        features = self._features(audio, padding=0)[None].astype(np.float32)
        (logits,) = self._session.run(None, {"input_features": features})
        return float(np.asarray(logits).reshape(-1)[0])


class EndOfTurnLM:
    """P(the user's message ends here) from the chat model's next-token distribution."""

    def __init__(self, gguf: Path, system_prompt: str, greeting: str) -> None:
        from llama_cpp import Llama

        self._llm = Llama(model_path=str(gguf), n_ctx=512, n_threads=2, logits_all=True,
                          verbose=False)  # fmt: skip
        self._end = self._llm.tokenize(b"<|im_end|>", add_bos=False, special=True)[-1]
        self._ends = turn_end.end_tokens(self._llm)
        self._context = (
            f"<|im_start|>system\n{system_prompt}<|im_end|>\n"
            f"<|im_start|>assistant\n{greeting}<|im_end|>\n<|im_start|>user\n"
        )

    def in_context(self, text: str) -> float:
        """As the gateway reads it: in the call's context, the closing mark taken off."""
        prompt = self._context + turn_end.words_stem(text)
        tokens = self._llm.tokenize(prompt.encode(), add_bos=False, special=True)
        turn_end.evaluate_prefix(self._llm, tokens)
        return turn_end.end_probability(self._llm, self._ends)

    def probability(self, text: str) -> float:
        words = re.sub(r"[^\w' ]+", " ", text.lower()).split()
        prompt = f"<|im_start|>user\n{' '.join(words)}"
        tokens = self._llm.tokenize(prompt.encode(), add_bos=False, special=True)
        self._llm.reset()  # type: ignore[no-untyped-call]
        self._llm.eval(tokens)
        logits = np.asarray(self._llm.scores[self._llm.n_tokens - 1], dtype=np.float64)
        exp = np.exp(logits - logits.max())
        return float(exp[self._end] / exp.sum())


@dataclass
class Point:
    utterance: int
    kind: str  # "pause" or "end"
    pause_ms: int
    text: str
    finished: dict[str, bool] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    sure: bool = False
    """``text+model`` would end here after ``turn.sure_end_silence_ms``."""


def decision_points(pcm: npt.NDArray[np.float32]) -> list[tuple[int, int]]:
    """(sample index where the voice stops, pause length in ms) for each pause, then the end."""
    voiced = [int(index) for index in np.flatnonzero(voiced_frames(pcm))]
    points = [
        ((a + 1) * FRAME_BYTES, (b - a - 1) * FRAME_MS)
        for a, b in itertools.pairwise(voiced)
        if (b - a - 1) * FRAME_MS >= MIN_PAUSE_MS
    ]
    return [*points, (len(pcm), 0)]


def silence(ms: int) -> npt.NDArray[np.float32]:
    return np.zeros(ms * SAMPLE_RATE_HZ // 1000, dtype=np.float32)


def load_detectors() -> tuple[Settings, Engines, SmartTurn, EndOfTurnLM]:
    settings = load_settings(ROOT / "config.toml", environ={})
    cache = Path(settings.models.cache_dir).expanduser()
    engines = load_engines_sync(settings)
    smart_turn = SmartTurn(smart_turn_model(cache))
    gguf = next(locate("smollm2-135m", cache).glob("*.gguf"))
    lm = EndOfTurnLM(gguf, settings.llm.system_prompt, settings.call.greeting)
    return settings, engines, smart_turn, lm


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N utterances")
    parser.add_argument("--utterances", type=Path, default=DEFAULT_DIR, help="a bench set")
    args = parser.parse_args()
    settings, engines, smart_turn, lm = load_detectors()
    turn = settings.turn
    thresholds = EndModelThresholds(turn.sure_end_probability, turn.unsure_end_probability)
    points: list[Point] = []
    timings: dict[str, list[float]] = {"smart-turn": [], "lm-eot": [], "model-end": []}
    for index, spoken in enumerate(load_set(args.utterances, args.limit)):
        pcm = mulaw.decode(spoken.clip.mulaw).astype(np.float32) / 32768.0
        for stop, pause_ms in decision_points(pcm):
            so_far = pcm[:stop]
            draft = np.concatenate([so_far, silence(DRAFT_AFTER_MS)])
            text = (await engines.transcriber.transcribe(draft, SAMPLE_RATE_HZ)).text
            point = Point(index, "pause" if pause_ms else "end", pause_ms, text)
            started = time.perf_counter()
            smart = smart_turn.probability(np.concatenate([so_far, silence(SMART_TURN_WAIT_MS)]))
            timings["smart-turn"].append(time.perf_counter() - started)
            started = time.perf_counter()
            eot = lm.probability(text)
            timings["lm-eot"].append(time.perf_counter() - started)
            started = time.perf_counter()
            model = lm.in_context(text)
            timings["model-end"].append(time.perf_counter() - started)
            reading = read_transcript(text, "en", model, thresholds)
            point.scores = {"smart-turn": smart, "lm-eot": eot, "model-end": model}
            point.finished = {
                "text": looks_complete(text),
                "smart-turn": smart > 0.5,
                "lm-eot": eot > LM_EOT_THRESHOLD,
                "model-end": model >= turn.sure_end_probability,
                "text+model": reading is not Reading.UNFINISHED,
            }
            point.sure = reading is Reading.SURELY_FINISHED
            point.finished["text+smart-turn"] = point.finished["text"] and smart > 0.5
            points.append(point)
            console.print(
                f"{index + 1:2} {point.kind:5} {pause_ms:4} ms  smart-turn={smart:.2f} "
                f"lm-eot={eot:.1e} model-end={model:.3f} {reading.name.lower():16} {text}"
            )
    await engines.aclose()
    report(points, timings)


def pair_ranking(name: str, ends: list[Point], pauses: list[Point]) -> float | None:
    """How often an end scores above a pause (ties count half), over every pair: 1.0 separates
    them at some threshold, 0.5 is chance. Threshold-free, so no cut-off is tuned on this set."""
    if name not in ends[0].scores or not pauses:
        return None
    pairs = [(e.scores[name], p.scores[name]) for e in ends for p in pauses]
    return sum(1.0 if e > p else 0.5 if e == p else 0.0 for e, p in pairs) / len(pairs)


def report(points: list[Point], timings: dict[str, list[float]]) -> None:
    ends = [p for p in points if p.kind == "end"]
    pauses = [p for p in points if p.kind == "pause"]
    table = Table(title="finished or not: each detector at every pause and every real end")
    for column in ("detector", "ends: finished", "pauses: finished (would answer early)",
                   "longest such pause", "ranking", "median ms",
                   "sure: ends / pauses"):  # fmt: skip
        table.add_column(column, justify="right")
    summary: dict[str, Any] = {"ends": len(ends), "pauses": len(pauses), "detectors": {}}
    for name in DETECTORS:
        fast_ends = sum(p.finished[name] for p in ends)
        early = [p for p in pauses if p.finished[name]]
        longest = max((p.pause_ms for p in early), default=0)
        median = f"{1000 * float(np.median(timings[name])):.0f}" if timings.get(name) else "-"
        ranking = pair_ranking(name, ends, pauses)
        sure = (
            f"{sum(p.sure for p in ends)}/{len(ends)} / {sum(p.sure for p in pauses)}/{len(pauses)}"
            if name == "text+model" else ""
        )  # fmt: skip
        table.add_row(
            name, f"{fast_ends}/{len(ends)}", f"{len(early)}/{len(pauses)}", f"{longest} ms",
            "-" if ranking is None else f"{ranking:.2f}", median, sure,
        )  # fmt: skip
        summary["detectors"][name] = {
            "ends_finished": fast_ends, "pauses_finished": len(early),
            "longest_finished_pause_ms": longest, "ranking": ranking,
            "early_at": [f"{p.text} [{p.pause_ms} ms]" for p in early],
            "sure_ends": sum(p.sure for p in ends), "sure_pauses": sum(p.sure for p in pauses),
        }  # fmt: skip
    console.print(table)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"turn-detectors-{time.strftime('%Y%m%d-%H%M%S')}.json"
    summary["points"] = [p.__dict__ for p in points]
    path.write_text(json.dumps(summary, indent=2))
    console.print(f"results: {path}")


if __name__ == "__main__":
    asyncio.run(main())
