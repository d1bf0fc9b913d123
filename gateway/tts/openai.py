"""Speech by an OpenAI-compatible server: ``POST {base_url}/audio/speech``, read as a stream.

Each piece of the body is handed on as soon as it arrives, so the first audio of a sentence
goes to the caller before the server has finished it (where the server streams at all).

The answer must be audio: ``audio/*`` or ``application/octet-stream`` (a server that names no
type is taken if its body does not start like text), a WAV header where ``wav`` was asked for,
at most ``tts.max_response_bytes``, and not empty.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from gateway.http_api import BAD_ANSWER, CONTENT_TYPE, EMPTY, ApiClient, BackendError
from gateway.scheduling import Job
from gateway.tts.base import PcmChunk
from gateway.tts.pcm_stream import AudioFormatError, PcmStream, announced_rate

ResponseFormat = Literal["pcm", "wav"]
AUDIO_TYPES = ("audio/", "application/octet-stream", "")
_TEXT_STARTS = (b"<", b"{", b"[")


class OpenAISynthesizer:
    def __init__(
        self,
        api: ApiClient,
        *,
        model: str,
        voice: str,
        response_format: ResponseFormat,
        pcm_sample_rate_hz: int,
        speed: float = 1.0,
    ) -> None:
        self._api = api
        self._model = model
        self._voice = voice
        self._format = response_format
        self._pcm_rate = pcm_sample_rate_hz
        self._speed = speed
        self.description = f"{model} voice {voice} via {api.base_url} ({response_format})"

    @property
    def backend_errors(self) -> dict[str, int]:
        return dict(self._api.errors)

    def synthesize(self, text: str, job: Job | None = None) -> AsyncIterator[PcmChunk]:
        """``job`` is not scheduled here: the server schedules its own work."""
        body: dict[str, object] = {
            "model": self._model,
            "input": text,
            "voice": self._voice,
            "response_format": self._format,
        }
        if self._speed != 1.0:
            body["speed"] = self._speed
        return self._synthesize(body)

    async def _synthesize(self, body: dict[str, object]) -> AsyncIterator[PcmChunk]:
        async with self._api.stream("audio/speech", json=body) as response:
            untyped = not self._api.check_type(response, "audio", *AUDIO_TYPES)
            stream = PcmStream(
                wav=self._format == "wav",
                sample_rate_hz=announced_rate(response.headers) or self._pcm_rate,
            )
            got_audio = False
            async for data in response.aiter_bytes():
                self._api.check_size(response)
                if untyped and data:
                    untyped = False
                    if data.lstrip()[:1] in _TEXT_STARTS:
                        raise BackendError(
                            f"tts: {response.url} sent text, not audio ({data[:20]!r})",
                            CONTENT_TYPE,
                        )
                try:
                    samples = stream.feed(data)
                except AudioFormatError as error:
                    raise BackendError(f"tts: {error}", BAD_ANSWER) from error
                if samples.size:
                    got_audio = True
                    yield PcmChunk(samples, stream.sample_rate_hz)
            if not got_audio:
                raise BackendError(f"tts: {response.url} sent no audio", EMPTY)

    async def aclose(self) -> None:
        await self._api.aclose()
