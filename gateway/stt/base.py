"""The speech-to-text stage interface."""

from __future__ import annotations

from typing import Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from gateway.scheduling import Job


class Transcript(msgspec.Struct, frozen=True):
    text: str
    language: str
    """What the transcriber wrote: a Whisper code (or a name a server reports); empty: unknown."""
    audio_ms: int
    """Length of the audio that was transcribed."""


class Transcriber(Protocol):
    """Turns one utterance into text. Implementations must not block the event loop."""

    description: str
    """Model and device, for logs: ``whisper-base on cpu (int8)``."""

    async def transcribe(
        self,
        samples: npt.NDArray[np.float32],
        sample_rate_hz: int,
        job: Job | None = None,
        *,
        language: str | None = None,
    ) -> Transcript:
        """``job`` orders the work among calls (:mod:`gateway.scheduling`); None: due now.
        ``language``: the call's (a Whisper code); None: ``stt.language``, or, with ``"auto"``,
        detected (the transcript says which)."""
        ...
