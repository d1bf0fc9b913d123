"""The text-to-speech stage interface."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from gateway.scheduling import Job


class CannotSay(Exception):
    """The voice cannot read this text at all (another script than its language's): a second
    voice may (:class:`gateway.tts.fallback.FallbackSynthesizer`)."""


class PcmChunk(NamedTuple):
    samples: npt.NDArray[np.int16]
    sample_rate_hz: int


class Synthesizer(Protocol):
    """Speaks one sentence as a stream of mono int16 chunks."""

    description: str

    def synthesize(self, text: str, job: Job | None = None) -> AsyncIterator[PcmChunk]:
        """``job`` orders the work among calls (:mod:`gateway.scheduling`); None: due now."""
        ...
