"""The bench's charts, drawn with matplotlib's object API (no pyplot: no global figure state,
no GUI backend), as PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure

from gateway.lab.stats import WAITS, waterfall

STAGE_LABELS = {
    "endpoint": "endpoint: turn is over",
    "transcript": "STT: transcript",
    "first_token": "LLM: first token",
    "first_sentence": "LLM: first clause",
    "first_audio": "TTS: first audio",
    "first_media": "first sound sent",
    "first_answer_media": "answer sent",
}
"""Each offset's bar: the stage that ends there."""
COLOURS = {
    "endpoint": "#9e9e9e",
    "transcript": "#1f77b4",
    "first_token": "#ff7f0e",
    "first_sentence": "#ffbb78",
    "first_audio": "#2ca02c",
    "first_media": "#9467bd",
    "first_answer_media": "#d62728",
}
DPI = 100


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def waterfall_png(
    name: str,
    offsets: dict[str, float | None],
    durations: dict[str, float | None],
    xmax_ms: float = 0.0,
) -> bytes:
    """Median stage offsets after the caller's speech end as a waterfall, one bar per stage
    where it ran (:func:`gateway.lab.stats.waterfall`). ``xmax_ms`` gives every configuration's
    chart the same scale."""
    bars = waterfall(offsets, durations)
    figure = Figure(figsize=(8, 0.45 * max(len(bars), 1) + 1.2))
    axes = figure.subplots()
    for row, (stage, start, end) in enumerate(bars):
        hatch = "//" if stage in WAITS else None
        axes.barh(row, end - start, left=start, color=COLOURS[stage], height=0.6, hatch=hatch,
                  alpha=0.55 if stage in WAITS else 1.0)  # fmt: skip
        axes.text(end, row, f" {end:.0f} ms", va="center", fontsize=9)
    axes.set_yticks(range(len(bars)), [STAGE_LABELS[stage] for stage, _, _ in bars])
    axes.invert_yaxis()
    longest = max((end for _, _, end in bars), default=0.0)
    axes.set_xlim(0, max(xmax_ms, longest) * 1.15 or 1.0)
    axes.set_xlabel("ms after the caller stopped speaking (medians over turns)")
    axes.set_title(f"{name}: where a turn's time goes")
    axes.grid(axis="x", alpha=0.3)
    return _png(figure)


@dataclass(frozen=True)
class SweepPoint:
    config: str
    calls: int
    first_sound_p50_ms: float | None
    first_sound_p95_ms: float | None
    answer_p50_ms: float | None
    answer_p95_ms: float | None


def sweep_png(points: Sequence[SweepPoint]) -> bytes:
    """First sound and answer percentiles against calls at once, a line per configuration and
    percentile."""
    figure = Figure(figsize=(9, 4))
    first, answer = figure.subplots(1, 2, sharey=True)
    configs = list(dict.fromkeys(p.config for p in points))
    for config in configs:
        mine = sorted((p for p in points if p.config == config), key=lambda p: p.calls)
        calls = [p.calls for p in mine]
        for axes, p50, p95 in (
            (first, [p.first_sound_p50_ms for p in mine], [p.first_sound_p95_ms for p in mine]),
            (answer, [p.answer_p50_ms for p in mine], [p.answer_p95_ms for p in mine]),
        ):
            line = axes.plot(calls, _nan(p50), marker="o", label=f"{config} p50")[0]
            axes.plot(calls, _nan(p95), marker="o", linestyle="--", color=line.get_color(),
                      label=f"{config} p95")  # fmt: skip
    for axes, title in ((first, "first sound"), (answer, "answer")):
        axes.set_title(title)
        axes.set_xlabel("calls at once")
        axes.set_xticks(sorted({p.calls for p in points}))
        axes.grid(alpha=0.3)
    first.set_ylabel("ms after the caller stopped speaking")
    answer.legend(fontsize=8)
    return _png(figure)


def _nan(values: list[float | None]) -> list[float]:
    """Missing points as NaN, which matplotlib leaves as a gap."""
    return [float("nan") if v is None else v for v in values]
