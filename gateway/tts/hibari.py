"""hibari synthesis in a worker thread, in process: a Kokoro-82M voice distilled to an 8 MB
network with a host-side vocoder (``hibari-tts``, Apache-2.0, English only).

Why beside Piper: the caller hears nothing until the first phrase is synthesized, and Piper's
medium voice takes about 100 ms for a 1.5 s phrase on this 2-core CPU where hibari takes about 20
ms (UTMOS 4.4 by its authors' measure). Its phonemiser is pure Python, in the package (no
espeak-ng), and reads numbers, times and units itself.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from gateway.scheduling import Gate, Job
from gateway.tts.base import CannotSay, PcmChunk
from gateway.tts.local import quiet_cpu_options
from gateway.tts.stepped import SteppedVoice

if TYPE_CHECKING:
    from hibari import Hibari

THREADS = 1
"""onnxruntime threads: a phrase costs the same 15-25 ms here on one thread as on two, and one
leaves the other core to the model writing the rest of the reply."""


def readable(text: str) -> bool:
    """Whether hibari can read ``text``: its letters are Latin (it skips any other script's
    without a sound: a Korean sentence comes out silent)."""
    return all(not c.isalpha() or unicodedata.name(c, "").startswith("LATIN") for c in text)


def _int16(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.int16]:
    scaled: npt.NDArray[np.int16] = (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)
    return scaled


class HibariSynthesizer(SteppedVoice):
    """A hibari voice: each sentence is one step."""

    def __init__(
        self,
        tts: Hibari,
        description: str,
        speed: float,
        *,
        gate: Gate | None = None,
        workers: int = 2,
    ) -> None:
        super().__init__(description, gate=gate, workers=workers)
        self._tts = tts
        self.sample_rate_hz: int = tts.sample_rate
        self._speed = speed

    @classmethod
    def load(
        cls,
        path: str,
        length_scale: float,
        label: str,
        *,
        gate: Gate | None = None,
        workers: int = 2,
    ) -> HibariSynthesizer:
        """``path``: the voice's ONNX file. CPU only: a phrase costs less than a GPU round trip."""
        import onnxruntime
        from hibari import Hibari

        tts = Hibari(model=path, threads=THREADS)
        tts.sess = onnxruntime.InferenceSession(
            path, sess_options=quiet_cpu_options(THREADS), providers=["CPUExecutionProvider"]
        )
        tts("Ready.")  # loads the phonemiser (0.3 s) now rather than in the first call's answer
        return cls(tts, f"{label} on cpu", 1 / length_scale, gate=gate, workers=workers)

    def _sentences(self, text: str) -> Iterator[PcmChunk]:
        for audio in self._tts.stream(text, speed=self._speed):
            yield PcmChunk(_int16(audio), self.sample_rate_hz)

    def synthesize(self, text: str, job: Job | None = None) -> AsyncIterator[PcmChunk]:
        """Raises :class:`CannotSay` for text it cannot read (another script)."""
        if not readable(text):
            raise CannotSay(f"{self.description} reads Latin script only")
        return super().synthesize(text, job)
