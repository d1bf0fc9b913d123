"""faster-whisper transcription in a worker thread."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from gateway.audio.resample import resample
from gateway.devices import whisper_device
from gateway.stt.base import Transcript

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

WHISPER_RATE_HZ = 16_000


class WhisperTranscriber:
    """One loaded model serves every call; CTranslate2 queues concurrent requests itself."""

    def __init__(self, model: WhisperModel, description: str, language: str, beam_size: int):
        self._model = model
        self.description = description
        self._language = language or None
        self._beam_size = beam_size
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="stt")

    @classmethod
    def load(
        cls,
        *,
        model: str,
        device: str,
        compute_type: str,
        cpu_threads: int,
        language: str,
        beam_size: int,
        label: str,
    ) -> WhisperTranscriber:
        from faster_whisper import WhisperModel

        resolved = whisper_device(device)
        compute = (
            compute_type
            if compute_type != "auto"
            else ("float16" if resolved == "cuda" else "int8")
        )
        loaded = WhisperModel(model, device=resolved, compute_type=compute, cpu_threads=cpu_threads)
        return cls(loaded, f"{label} on {resolved} ({compute})", language, beam_size)

    def _run(self, samples: npt.NDArray[np.float32], sample_rate_hz: int) -> Transcript:
        audio = resample(samples, sample_rate_hz, WHISPER_RATE_HZ)
        segments, info = self._model.transcribe(
            audio,
            language=self._language,
            beam_size=self._beam_size,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        # The generator does the decoding: consume it here, in the worker thread.
        text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcript(
            text=text,
            language=str(info.language),
            audio_ms=len(samples) * 1000 // sample_rate_hz,
        )

    async def transcribe(self, samples: npt.NDArray[np.float32], sample_rate_hz: int) -> Transcript:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, samples, sample_rate_hz)
