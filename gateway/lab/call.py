"""``voicegw call WAV...``: one call to a running gateway, as Twilio would place it.

It POSTs the webhook, connects the stream the TwiML names (bringing back its ``<Parameter>``s),
waits for the greeting, then speaks each WAV as a turn and prints what the caller experienced.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gateway.audio import mulaw
from gateway.audio.frames import SAMPLE_RATE_HZ
from gateway.lab.clip import CallerClip, load_clip, write_wav
from gateway.lab.turn import TurnMeasure, speak, wait_greeting
from gateway.lab.webhook import place

AUTH_TOKEN_ENV = "TWILIO_AUTH_TOKEN"


@dataclass(frozen=True)
class CallPlan:
    gateway: str
    """``http://127.0.0.1:8080``"""
    wavs: list[Path]
    save: Path | None = None
    late_s: float = 20.0
    """Give up on a reply after this long without a sound (a slow box still answers)."""


def describe(index: int, wav: Path, measure: TurnMeasure) -> str:
    """One turn as a line: first sound, answer, the reply's length."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    parts = [f"turn {index} ({wav.name}): first sound {ms(measure.first_sound_ms)}"]
    filler = " (after a filler)" if measure.filler_mark else ""
    parts.append(f"answer {ms(measure.answer_ms)}{filler}")
    parts.append(f"reply {measure.reply_ms / 1000:.1f} s")
    if measure.premature:
        parts.append("PREMATURE: the reply began before the caller had finished")
    if measure.gave_up:
        parts.append("no reply (gave up waiting)")
    return ", ".join(parts)


def save_reply(directory: Path, index: int, measure: TurnMeasure) -> Path:
    """The reply as the caller heard it: 8 kHz 16-bit WAV, ``turn-01.wav``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"turn-{index:02}.wav"
    pcm = mulaw.decode(measure.audio) if measure.audio else np.zeros(0, dtype=np.int16)
    write_wav(path, pcm, SAMPLE_RATE_HZ)
    return path


async def place_call(plan: CallPlan, say: Callable[[str], None]) -> list[TurnMeasure]:
    """Dial, speak each WAV in turn, report each turn through ``say``; the turns measured."""
    clips: list[CallerClip] = [load_clip(path) for path in plan.wavs]
    caller = await place(plan.gateway, os.environ.get(AUTH_TOKEN_ENV, ""))
    say(f"call {caller.call_sid}: streaming to {caller.url}")
    measures = []
    async with caller:
        await wait_greeting(caller)
        for index, (wav, clip) in enumerate(zip(plan.wavs, clips, strict=True), start=1):
            measure = await speak(caller, clip, late_s=plan.late_s, keep_audio=bool(plan.save))
            measures.append(measure)
            say(describe(index, wav, measure))
            if plan.save is not None:
                say(f"  saved {save_reply(plan.save, index, measure)}")
    return measures
