"""The whole-utterance pass: each utterance of the set transcribed once, whole, by the STT the
first configuration's gateway loads (its model, device, window and decoding), in the bench's own
process before the gateways start.

It is the reference for the gateway's transcripts. Its word error rate against the set's texts
is what the model makes of the audio at best; the gateway's WER against its transcripts is what
the gateway's way of hearing (drafts in pauses, turns split by a premature reply) costs on top.
Only the transcriber is loaded, not the LLM or TTS.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gateway.audio import mulaw
from gateway.audio.frames import SAMPLE_RATE_HZ
from gateway.lab.stats import word_error_rate
from gateway.lab.utterances import Spoken
from gateway.settings import Settings, config_file, load_settings
from gateway.stt.base import Transcriber


@dataclass(frozen=True)
class WholePass:
    stt: str
    """The transcriber's own description: ``whisper-base on cpu (int8)``."""
    transcripts: dict[str, str]
    """By the utterance's file."""

    def wer(self, spoken: list[Spoken]) -> float | None:
        """Of the transcripts against the texts, over ``spoken`` (those it has)."""
        known = [s.utterance for s in spoken if s.utterance.file in self.transcripts]
        return word_error_rate([u.text for u in known], [self.transcripts[u.file] for u in known])

    def described(self, spoken: list[Spoken]) -> str:
        """Its STT and its WER over ``spoken``, for a line of the report."""
        wer = self.wer(spoken)
        return f"{self.stt}, WER {'-' if wer is None else f'{100 * wer:.1f} %'}"


def gateway_settings(path: Path | None, env: Mapping[str, str]) -> Settings:
    """The settings a gateway started with ``path`` and ``env`` over this process's environment
    runs with (:class:`gateway.settings.ConfigError` when they are not valid)."""
    environ = {**os.environ, **env}
    return load_settings(config_file(path, environ), environ=environ)


def _load(settings: Settings) -> Transcriber:
    from gateway.engines import load_transcriber

    return load_transcriber(settings, Path(settings.models.cache_dir).expanduser(), lambda _: None)


async def whole_pass(
    spoken: list[Spoken], settings: Settings, advance: Callable[[], None] = lambda: None
) -> WholePass:
    """Each utterance as the gateway hears it (the clip's 8 kHz mu-law, decoded, after the
    silence its VAD keeps before speech, ``vad.speech_pad_ms``), transcribed once, whole.
    Without that lead Whisper base hears some espeak-ng clips much worse than the gateway does."""
    from gateway.engines import close_stage  # the models' libraries: only when needed

    transcriber = await asyncio.to_thread(_load, settings)
    lead = np.zeros(settings.vad.speech_pad_ms * SAMPLE_RATE_HZ // 1000)
    transcripts: dict[str, str] = {}
    try:
        for item in spoken:
            speech = mulaw.decode(item.clip.mulaw) / 32768
            pcm = np.concatenate([lead, speech]).astype(np.float32)
            transcript = await transcriber.transcribe(pcm, SAMPLE_RATE_HZ)
            transcripts[item.utterance.file] = transcript.text.strip()
            advance()
    finally:
        await close_stage(transcriber)
    return WholePass(transcriber.description, transcripts)
