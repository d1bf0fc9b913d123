"""A synthesizer that hands over to a second voice when the first cannot speak at all.

Used for the fixed phrases: with a remote TTS that is down at start-up, the greeting and the
apology are rendered by a local Piper voice instead, so the gateway still starts, and a stage
failing later still gets the caller an apology rather than silence. And behind a hibari voice,
which reads English only: a phrase in another script is said by the Piper voice (espeak-ng's
phonemes), not left silent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from gateway.http_api import BackendError
from gateway.scheduling import Job
from gateway.tts.base import CannotSay, PcmChunk, Synthesizer

log = logging.getLogger("voicegw.tts")


class FallbackSynthesizer:
    def __init__(self, primary: Synthesizer, load_fallback: Callable[[], Synthesizer]) -> None:
        self._primary = primary
        self._load_fallback = load_fallback
        self._fallback: Synthesizer | None = None
        self.description = primary.description

    def synthesize(self, text: str, job: Job | None = None) -> AsyncIterator[PcmChunk]:
        return self._synthesize(text, job)

    async def _synthesize(self, text: str, job: Job | None) -> AsyncIterator[PcmChunk]:
        spoke = False
        try:
            async for chunk in self._primary.synthesize(text, job):
                spoke = True
                yield chunk
            return
        except CannotSay as error:
            log.debug("%s: the fallback voice says a phrase of %d chars", error, len(text))
        except BackendError as error:
            if spoke:
                raise  # half a phrase in one voice: no good way to finish it in another
            # The phrase's length only: a reply's words stay out of the log (log.transcripts).
            log.warning("%s; the fallback voice says a phrase of %d chars", error, len(text))
        if self._fallback is None:
            self._fallback = await asyncio.to_thread(self._load_fallback)
            log.warning("fallback voice loaded: %s", self._fallback.description)
        async for chunk in self._fallback.synthesize(text, job):
            yield chunk
