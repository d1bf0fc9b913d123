"""The report's arithmetic, kept pure so that it can be checked by hand (and is, in the tests).

Percentiles interpolate linearly between the two nearest ranks (numpy's default, what most
people compute by hand); ``None`` where there is nothing to take one of, never a made-up zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import jiwer
import numpy as np

STAGE_OFFSETS = (
    "endpoint", "transcript", "first_token", "first_sentence", "first_audio", "first_media",
    "first_answer_media",
)  # fmt: skip
"""The records' offsets (ms after the caller's speech end), in the order a turn reaches them."""
STAGE_DURATIONS = ("stt", "llm_first_token", "llm_first_clause", "tts_first_audio", "queue")
"""The records' durations: how long each stage itself took."""


def percentile(values: Iterable[float | None], q: float) -> float | None:
    """The ``q``-th percentile of the values that are there (``None`` ones are skipped)."""
    present = [float(v) for v in values if v is not None]
    return float(np.percentile(present, q)) if present else None


def ratio(value: float | None, baseline: float | None) -> float | None:
    """``value / baseline``; ``None`` when either is missing or the baseline is zero."""
    if value is None or baseline is None or baseline == 0:
        return None
    return value / baseline


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float | None:
    """Word error rate over the whole set (errors over reference words), case and punctuation
    ignored; ``None`` for an empty set."""
    if not references:
        return None
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references, {len(hypotheses)} hypotheses")
    normalize = jiwer.Compose(
        [
            jiwer.ToLowerCase(),
            jiwer.RemovePunctuation(),  # type: ignore[no-untyped-call]  # jiwer's own gap
            jiwer.RemoveMultipleSpaces(),
            jiwer.Strip(),
            jiwer.ReduceToListOfListOfWords(),
        ]
    )
    return float(
        jiwer.wer(
            list(references),
            list(hypotheses),
            reference_transform=normalize,
            hypothesis_transform=normalize,
        )
    )


def premature(first_reply_at: float | None, utterance_end_at: float) -> bool:
    """A reply whose first frame arrived before the caller had sent the utterance's last voiced
    frame answered a caller who had only paused."""
    return first_reply_at is not None and first_reply_at < utterance_end_at


STAGE_TIMED_BY = {
    "transcript": "stt",
    "first_token": "llm_first_token",
    "first_sentence": "llm_first_clause",
    "first_audio": "tts_first_audio",
}
"""The duration that ends at each offset: a stage's bar starts that long before it ends."""
WAITS = ("endpoint", "first_media", "first_answer_media")
"""Offsets the caller waits for from their speech end: bars from zero."""


def waterfall(
    offsets: dict[str, float | None], durations: dict[str, float | None]
) -> list[tuple[str, float, float]]:
    """Median offsets and durations as bars ``(stage, start_ms, end_ms)`` on one time line from
    the caller's speech end, in the order a turn reaches them. A stage's bar ends at its offset
    and is as long as its own duration, so work done while the caller was still silent (a
    speculative draft) shows where it happened: before the endpoint. The LLM's first clause is
    drawn from its first token; the endpoint, first sound and answer from zero (what the caller
    waits). A stage without a duration is a point; nothing starts before zero."""
    bars = []
    for stage in STAGE_OFFSETS:
        end = offsets.get(stage)
        if end is None:
            continue
        if stage in WAITS:
            start = 0.0
        elif stage == "first_sentence" and offsets.get("first_token") is not None:
            start = float(offsets["first_token"] or 0.0)
        else:
            took = durations.get(STAGE_TIMED_BY[stage])
            start = end - took if took is not None else end
        bars.append((stage, max(0.0, min(start, end)), end))
    return bars
