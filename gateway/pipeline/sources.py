"""What a reply answers: the caller's audio, text they keyed, or speech already rendered."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class CallerAudio:
    samples: npt.NDArray[np.float32]
    sample_rate_hz: int


@dataclass(frozen=True, slots=True)
class CallerText:
    """Input that is not speech (keypad digits), already in words for the model."""

    text: str


@dataclass(frozen=True, slots=True)
class Prepared:
    """Speech that needs no model: the greeting, or the unheard part of a cut reply."""

    sentences: list[tuple[str, list[bytes]]]


Source = CallerAudio | CallerText | Prepared
