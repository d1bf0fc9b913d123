"""The bench's table: per configuration, what callers waited and where the time went, with each
figure's ratio to the first configuration's.

First sound and answer are the caller's own measure: from its last voiced frame sent to the
first frame it received, over the real WebSocket. The gateway's records (``voice_to_voice_ms``,
``answer_ms``, the numbers ``voicegw calls`` shows; counted from the last loud frame it heard)
are in the rows beside, and the stages' offsets are on the gateway's clock.

With the whole-utterance pass (each utterance transcribed once, whole, by the same STT), each
configuration's WER against the set's texts stands next to the pass's own over the same
utterances (what the model makes of the audio at best), and the configuration's transcripts are
also scored against the pass's (what the gateway's way of hearing changes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gateway.lab.results import UtteranceResult
from gateway.lab.stats import (
    STAGE_DURATIONS,
    STAGE_OFFSETS,
    percentile,
    ratio,
    word_error_rate,
)


@dataclass
class ConfigSummary:
    name: str
    utterances: int
    answered: int
    first_sound_p50_ms: float | None
    first_sound_p95_ms: float | None
    answer_p50_ms: float | None
    answer_p95_ms: float | None
    gateway_first_sound_p50_ms: float | None
    gateway_answer_p50_ms: float | None
    """The same, from the gateway's records."""
    durations_p50_ms: dict[str, float | None]
    offsets_p50_ms: dict[str, float | None]
    """Median of each stage's offset after speech end: the waterfall."""
    wer: float | None
    """Of the answered utterances' transcripts against the set's texts."""
    wer_whole_pass: float | None
    """Of the whole-utterance pass's transcripts of the same utterances against their texts
    (``None``: no pass)."""
    wer_vs_whole_pass: float | None
    """Of the answered utterances' transcripts against the whole-utterance pass's."""
    premature: int
    """Utterances the gateway began to answer before the caller had finished (in a pause)."""
    fillers_per_turn: float | None
    ratios: dict[str, float | None] = field(default_factory=dict)
    """Each row of the table over the first configuration's."""


def summarise(
    name: str, results: list[UtteranceResult], whole: Mapping[str, str] | None = None
) -> ConfigSummary:
    """``whole``: the whole-utterance pass's transcripts, by file."""
    answers = [r.answer for r in results if r.answer is not None]
    heard = [r for r in results if r.rows]
    passed = [r for r in heard if whole is not None and r.utterance.file in whole]
    reference = [whole[r.utterance.file] for r in passed] if whole is not None else []
    return ConfigSummary(
        name=name,
        utterances=len(results),
        answered=sum(r.measure.answered for r in results),
        first_sound_p50_ms=percentile((r.measure.first_sound_ms for r in results), 50),
        first_sound_p95_ms=percentile((r.measure.first_sound_ms for r in results), 95),
        answer_p50_ms=percentile((r.measure.answer_ms for r in results), 50),
        answer_p95_ms=percentile((r.measure.answer_ms for r in results), 95),
        gateway_first_sound_p50_ms=percentile((a.voice_to_voice_ms for a in answers), 50),
        gateway_answer_p50_ms=percentile((a.answer_ms for a in answers), 50),
        durations_p50_ms={
            stage: percentile((a.durations_ms.get(stage) for a in answers), 50)
            for stage in STAGE_DURATIONS
        },
        offsets_p50_ms={
            stage: percentile((a.offsets_ms.get(stage) for a in answers), 50)
            for stage in STAGE_OFFSETS
        },
        wer=word_error_rate([r.utterance.text for r in heard], [r.heard_text for r in heard]),
        wer_whole_pass=word_error_rate([r.utterance.text for r in passed], reference),
        wer_vs_whole_pass=word_error_rate(reference, [r.heard_text for r in passed]),
        premature=sum(r.measure.premature for r in results),
        fillers_per_turn=sum(bool(a.filler) for a in answers) / len(answers) if answers else None,
    )


Row = tuple[str, Callable[[ConfigSummary], float | None], str]
"""A table row: its label, its value in a summary, and how the value is shown."""
WHOLE_PASS_ROWS = ("WER whole pass", "WER vs whole pass")
"""Left out of the table when no configuration has them (no whole-utterance pass)."""
ROWS: tuple[Row, ...] = (
    ("first sound p50", lambda s: s.first_sound_p50_ms, "ms"),
    ("first sound p95", lambda s: s.first_sound_p95_ms, "ms"),
    ("answer p50", lambda s: s.answer_p50_ms, "ms"),
    ("answer p95", lambda s: s.answer_p95_ms, "ms"),
    ("gateway's first sound p50", lambda s: s.gateway_first_sound_p50_ms, "ms"),
    ("gateway's answer p50", lambda s: s.gateway_answer_p50_ms, "ms"),
    *(
        (f"{stage.replace('_', ' ')} p50", lambda s, k=stage: s.durations_p50_ms[k], "ms")
        for stage in STAGE_DURATIONS
    ),
    ("WER", lambda s: s.wer, "%"),
    ("WER whole pass", lambda s: s.wer_whole_pass, "%"),
    ("WER vs whole pass", lambda s: s.wer_vs_whole_pass, "%"),
    ("premature", lambda s: s.premature, "count"),
    ("fillers per turn", lambda s: s.fillers_per_turn, "fraction"),
)


def add_ratios(summaries: list[ConfigSummary]) -> None:
    """Each summary's rows over the first summary's (the first gets 1.0 where it has a value)."""
    if not summaries:
        return
    first = summaries[0]
    for summary in summaries:
        summary.ratios = {label: ratio(get(summary), get(first)) for label, get, _ in ROWS}


def shown(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "%":
        return f"{100 * value:.1f} %"
    if unit == "count":
        return f"{value:.0f}"
    return f"{value:.2f}"


def table(summaries: list[ConfigSummary]) -> tuple[list[str], list[list[str]]]:
    """Header and rows, each configuration a column; after the first, ``value (x ratio)``."""
    header = ["", *(f"{s.name} ({s.answered}/{s.utterances} answered)" for s in summaries)]
    rows = []
    for label, get, unit in ROWS:
        if label in WHOLE_PASS_ROWS and all(get(s) is None for s in summaries):
            continue
        cells = [label]
        for index, summary in enumerate(summaries):
            cell = shown(get(summary), unit)
            factor = summary.ratios.get(label)
            if index and factor is not None:
                cell += f" (x{factor:.2f})"
            cells.append(cell)
        rows.append(cells)
    return header, rows
