"""Fixed phrases (greeting, apology, fillers) synthesized once and kept as ready-to-send frames,
by voice: a call in another language speaks its phrases in its own voice."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.pipeline.speech import FrameEncoder
from gateway.tts.base import Synthesizer

DEFAULT_VOICE = ""
"""The key of the default voice (``tts.voice``); other voices are keyed by their spec."""


async def render(synthesizer: Synthesizer, text: str) -> list[bytes]:
    frames: list[bytes] = []
    encoder: FrameEncoder | None = None
    async for chunk in synthesizer.synthesize(text):
        encoder = encoder or FrameEncoder(chunk.sample_rate_hz)
        frames += encoder.feed(chunk)
    return frames + (encoder.finish() if encoder else [])


class PhraseCache:
    def __init__(
        self, synthesizer: Synthesizer, voices: Mapping[str, Synthesizer] | None = None
    ) -> None:
        """``synthesizer`` renders the default voice's phrases, ``voices`` the others' (by key;
        a key not there is the default voice)."""
        self._voices = {DEFAULT_VOICE: synthesizer, **(voices or {})}
        self._frames: dict[tuple[str, str], list[bytes]] = {}

    def _key(self, voice: str, text: str) -> tuple[str, str]:
        return (voice if voice in self._voices else DEFAULT_VOICE, text)

    async def prepare(self, *texts: str, voice: str = DEFAULT_VOICE) -> None:
        for text in texts:
            key = self._key(voice, text)
            if text and key not in self._frames:
                self._frames[key] = await render(self._voices[key[0]], text)

    def get(self, text: str, voice: str = DEFAULT_VOICE) -> list[bytes]:
        """Frames for a prepared phrase (empty for an empty or unknown phrase)."""
        return self._frames.get(self._key(voice, text), [])
