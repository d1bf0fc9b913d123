"""The bench's report on disk: ``report.json`` (every number, every turn), ``report.html`` (one
self-contained file), and the charts as PNGs beside it."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from gateway.lab.bench import BenchPlan, BenchRun
from gateway.lab.charts import SweepPoint, sweep_png, waterfall_png
from gateway.lab.html import report_html
from gateway.lab.report import ConfigSummary, add_ratios, summarise, table
from gateway.lab.stats import percentile
from gateway.lab.sweep import SweepResult

NOTES = [
    "First sound: the caller's last voiced frame sent to the first reply frame received (a "
    "filler's, if one was said); answer: to the first frame of the answer itself, both timed by "
    "the caller over the WebSocket. The gateway's own records count from the last loud frame it "
    "heard; the stages are on its clock. p50 is the median. Ratios are to the first "
    "configuration.",
    "The waterfall is one turn's time line from the caller's voice end, in medians: each "
    "stage's bar ends when it delivered (transcript, the LLM's first token and first clause, the "
    "first synthesized audio) and is as long as the stage took, so work done during the "
    "caller's silence, before the endpoint (the gateway deciding the turn is over), shows "
    "there. The hatched bars are what the caller waits: the endpoint, the first sound, the "
    "answer.",
    "Premature: a reply that began before the caller had finished (in a mid-sentence pause). "
    "WER: word error rate of the gateway's transcripts against the utterance texts.",
    "WER whole pass: the same utterances transcribed once each, whole, by the first "
    "configuration's STT before the gateways started, against the texts: what the model makes of "
    "the audio at best. WER vs whole pass: the gateway's transcripts against the whole pass's, "
    "what the gateway's way of hearing (drafts, turns split in a pause) changes.",
]


def sweep_points(levels: list[SweepResult]) -> list[SweepPoint]:
    points = []
    for level in levels:
        first = [r.measure.first_sound_ms for r in level.results]  # as the callers timed it
        answer = [r.measure.answer_ms for r in level.results]
        points.append(
            SweepPoint(
                level.config,
                level.calls,
                first_sound_p50_ms=percentile(first, 50),
                first_sound_p95_ms=percentile(first, 95),
                answer_p50_ms=percentile(answer, 50),
                answer_p95_ms=percentile(answer, 95),
            )
        )
    return points


def summaries(run: BenchRun) -> list[ConfigSummary]:
    whole = run.whole.transcripts if run.whole is not None else None
    found = [summarise(name, results, whole) for name, results in run.results.items()]
    add_ratios(found)
    return found


def whole_pass_line(run: BenchRun) -> str:
    """What the whole-utterance pass was and its WER over the whole set (empty: no pass)."""
    if run.whole is None:
        return ""
    described = run.whole.described(run.spoken)
    return f"Whole-utterance pass: {described} over {len(run.spoken)} utterances."


def write_report(plan: BenchPlan, run: BenchRun, found: list[ConfigSummary]) -> dict[str, Path]:
    """Write every file of the report; their paths by kind."""
    out = plan.out
    written: dict[str, Path] = {}
    xmax = max((v or 0.0 for s in found for v in s.offsets_p50_ms.values()), default=0.0)
    charts: list[tuple[str, bytes]] = []
    for summary in found:
        png = waterfall_png(summary.name, summary.offsets_p50_ms, summary.durations_p50_ms, xmax)
        path = out / f"waterfall-{summary.name}.png"
        path.write_bytes(png)
        written[f"waterfall {summary.name}"] = path
        charts.append((f"{summary.name}: waterfall", png))
    points = sweep_points(run.sweep)
    if points:
        png = sweep_png(points)
        (out / "sweep.png").write_bytes(png)
        written["sweep"] = out / "sweep.png"
        charts.append(("first sound and answer against calls at once", png))
    header, rows = table(found)
    title = f"voicegw bench, {time.strftime('%Y-%m-%d %H:%M')}"
    notes = [*NOTES, *filter(None, [whole_pass_line(run)])]
    notes += [f"Problem: {p}" for p in run.problems]
    written["html"] = out / "report.html"
    written["html"].write_text(report_html(title, notes, header, rows, charts))
    written["json"] = out / "report.json"
    written["json"].write_text(json.dumps(raw(plan, run, found, points), indent=2))
    return written


def raw(
    plan: BenchPlan, run: BenchRun, found: list[ConfigSummary], points: list[SweepPoint]
) -> dict[str, Any]:
    paths = {c.name: c.path for c in plan.configs}
    return {
        "utterances": str(plan.utterances),
        "problems": run.problems,
        "whole_pass": None
        if run.whole is None
        else {
            "stt": run.whole.stt,
            "wer": run.whole.wer(run.spoken),
            "utterances": [
                {
                    "file": s.utterance.file,
                    "text": s.utterance.text,
                    "transcript": run.whole.transcripts.get(s.utterance.file),
                }
                for s in run.spoken
            ],
        },
        "configs": [
            {
                "name": s.name,
                "config": str(paths[s.name]) if paths[s.name] else None,
                "records": str(Path("records") / f"{s.name}.sqlite3"),
                "summary": dataclasses.asdict(s),
                "utterances": [r.as_json() for r in run.results[s.name]],
            }
            for s in found
        ],
        "sweep": [
            {
                **dataclasses.asdict(point),
                "rejected": level.rejected,
                "turns": [r.as_json() for r in level.results],
            }
            for point, level in zip(points, run.sweep, strict=True)
        ],
    }
