"""Transcription by an OpenAI-compatible server: ``POST {base_url}/audio/transcriptions``.

The utterance goes as a 16-bit WAV at its own rate (8 kHz from the phone): the server resamples
anyway, and a third of the bytes of 16 kHz travel faster. ``response_format=json`` is the one
format every server here accepts (faster-whisper-server 0.0.3 rejects ``text``).
"""

from __future__ import annotations

import io
import wave

import msgspec
import numpy as np
import numpy.typing as npt

from gateway.http_api import ApiClient, BackendError
from gateway.scheduling import Job
from gateway.stt.base import Transcript


class _Transcription(msgspec.Struct):
    text: str
    language: str = ""


def wav_bytes(samples: npt.NDArray[np.float32], sample_rate_hz: int) -> bytes:
    """Mono float samples in [-1, 1] as a 16-bit PCM WAV file."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate_hz)
        wav.writeframes(pcm.tobytes())
    return buffer.getvalue()


class OpenAITranscriber:
    def __init__(self, api: ApiClient, model: str, language: str, model_field: str = "model"):
        self._api = api
        self._model = model
        self._language = language
        self._model_field = model_field
        self.description = f"{model} via {api.base_url}"

    async def transcribe(
        self, samples: npt.NDArray[np.float32], sample_rate_hz: int, job: Job | None = None
    ) -> Transcript:
        """``job`` is not scheduled here (the server does that); a cancelled turn cancels the
        request with its task."""
        form = {self._model_field: self._model, "response_format": "json"}
        if self._language:
            form["language"] = self._language
        files = {"file": ("utterance.wav", wav_bytes(samples, sample_rate_hz), "audio/wav")}
        async with self._api.stream("audio/transcriptions", data=form, files=files) as response:
            body = await response.aread()
        try:
            answer = msgspec.json.decode(body, type=_Transcription)
        except msgspec.DecodeError as error:
            raise BackendError(f"stt: unexpected answer {body[:200]!r}: {error}") from error
        audio_ms = len(samples) * 1000 // sample_rate_hz
        return Transcript(answer.text.strip(), answer.language or self._language, audio_ms)

    async def aclose(self) -> None:
        await self._api.aclose()
