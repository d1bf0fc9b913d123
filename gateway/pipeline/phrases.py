"""Fixed phrases (greeting, apology) synthesized once and kept as ready-to-send frames."""

from __future__ import annotations

from gateway.pipeline.speech import FrameEncoder
from gateway.tts.base import Synthesizer


async def render(synthesizer: Synthesizer, text: str) -> list[bytes]:
    frames: list[bytes] = []
    encoder: FrameEncoder | None = None
    async for chunk in synthesizer.synthesize(text):
        encoder = encoder or FrameEncoder(chunk.sample_rate_hz)
        frames += encoder.feed(chunk)
    return frames + (encoder.finish() if encoder else [])


class PhraseCache:
    def __init__(self, synthesizer: Synthesizer) -> None:
        self._synthesizer = synthesizer
        self._frames: dict[str, list[bytes]] = {}

    async def prepare(self, *texts: str) -> None:
        for text in texts:
            if text and text not in self._frames:
                self._frames[text] = await render(self._synthesizer, text)

    def get(self, text: str) -> list[bytes]:
        """Frames for a prepared phrase (empty for an empty or unknown phrase)."""
        return self._frames.get(text, [])
