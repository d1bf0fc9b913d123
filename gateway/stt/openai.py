"""Transcription by an OpenAI-compatible server: ``POST {base_url}/audio/transcriptions``.

The utterance goes as a 16-bit WAV at its own rate (8 kHz from the phone): the server resamples
anyway, and a third of the bytes of 16 kHz travel faster. ``response_format=json`` is the one
format every server here accepts (faster-whisper-server 0.0.3 rejects ``text``).
"""

from __future__ import annotations

import io
import wave

import httpx
import msgspec
import numpy as np
import numpy.typing as npt

from gateway.http_api import BAD_ANSWER, ApiClient, BackendError, redact
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
        self._language = "" if language == "auto" else language
        """Empty: the server detects it."""
        self._model_field = model_field
        self.description = f"{model} via {api.base_url}"

    async def transcribe(
        self,
        samples: npt.NDArray[np.float32],
        sample_rate_hz: int,
        job: Job | None = None,
        *,
        language: str | None = None,
    ) -> Transcript:
        """``job`` is not scheduled here (the server does that); a cancelled turn cancels the
        request with its task. ``language`` (else ``stt.language``) goes as a form field; with
        neither, the server detects it, and the transcript's language is what it reports (a
        plain ``json`` answer may report none)."""
        language = language or self._language
        form = {self._model_field: self._model, "response_format": "json"}
        if language:
            form["language"] = language
        files = {"file": ("utterance.wav", wav_bytes(samples, sample_rate_hz), "audio/wav")}
        async with self._api.stream("audio/transcriptions", data=form, files=files) as response:
            answer = await self._read(response)
        audio_ms = len(samples) * 1000 // sample_rate_hz
        return Transcript(answer.text.strip(), answer.language or language, audio_ms)

    async def _read(self, response: httpx.Response) -> _Transcription:
        """The JSON transcript (``application/json``, or no type named), at most
        ``stt.max_response_bytes``; anything else fails the turn."""
        self._api.check_type(response, "a JSON transcript", "application/json", "")
        body = b""
        async for piece in response.aiter_bytes():
            body += piece
            self._api.check_size(response)
        try:
            return msgspec.json.decode(body, type=_Transcription)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            text = redact(body.decode(errors="replace"))
            raise BackendError(f"stt: unexpected answer {text!r}: {error}", BAD_ANSWER) from error

    @property
    def backend_errors(self) -> dict[str, int]:
        return dict(self._api.errors)

    async def aclose(self) -> None:
        await self._api.aclose()
