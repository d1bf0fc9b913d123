"""Make the utterance set that ships with voicegw (gateway/lab/utterances/): WAVs plus
transcripts.toml, for `voicegw bench`.

Usage: python bench/make_utterances.py [--out gateway/lab/utterances]

Each utterance of bench/utterances.toml (and a few more) is spoken by one of eight voices in
turn: the embedded Piper voice at four settings of length_scale, noise_scale and noise_w, and
four espeak-ng voices (en-us+m3, en+f2 (British), en-us+f3, en-us+m7) at their own rates,
through the espeak-ng that piper-tts carries, driven as tests/sim/espeak.py does (no system
package needed). Every third utterance stops for 600 ms in the
middle of the sentence (after a function word, as a caller who is thinking does); a reply
before it ends is premature. Written as 8 kHz 16-bit mono, the telephone's rate, trimmed to
the voiced part.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.audio.frames import SAMPLE_RATE_HZ
from gateway.audio.resample import resample
from gateway.lab.clip import trim, write_wav
from gateway.lab.utterances import DEFAULT_DIR, TRANSCRIPTS
from gateway.settings import load_settings
from models.fetch import materialise
from tests.sim import espeak
from tests.sim.clips import split_for_pause

ROOT = Path(__file__).resolve().parents[1]
PAUSE_MS = 600
PAUSE_EVERY = 3
ESPEAK_PEAK = 0.7
"""espeak-ng speaks at full scale; scaled to about Piper's level."""
MORE = (
    "Can I pay my bill with a credit card over the phone?",
    "What are your opening hours on public holidays?",
)


@dataclass(frozen=True)
class Voice:
    name: str
    length_scale: float = 1.0
    noise_scale: float = 0.667
    noise_w: float = 0.8
    espeak_voice: str = ""
    """Empty for the Piper voice."""
    rate_wpm: int = 160


VOICES = (
    Voice("piper-1.00"),
    Voice("espeak-us-m3", espeak_voice="en-us+m3", rate_wpm=150),
    Voice("piper-0.85", length_scale=0.85, noise_scale=0.5, noise_w=0.6),
    Voice("espeak-gb-f2", espeak_voice="en+f2", rate_wpm=165),
    Voice("piper-1.20", length_scale=1.2, noise_scale=0.8, noise_w=1.0),
    Voice("espeak-us-f3", espeak_voice="en-us+f3", rate_wpm=140),
    Voice("piper-1.05", length_scale=1.05, noise_scale=0.75, noise_w=0.9),
    Voice("espeak-us-m7", espeak_voice="en-us+m7", rate_wpm=160),
)


class Speakers:
    def __init__(self) -> None:
        from piper import PiperVoice

        settings = load_settings(ROOT / "config.toml", environ={})
        cache = Path(settings.models.cache_dir).expanduser()
        directory = materialise(settings.tts.fallback_voice.removeprefix("embedded:"), cache)
        self._piper = PiperVoice.load(str(sorted(directory.glob("*.onnx"))[0]))

    def piper(self, voice: Voice, text: str) -> npt.NDArray[np.float32]:
        from piper import SynthesisConfig

        config = SynthesisConfig(
            length_scale=voice.length_scale,
            noise_scale=voice.noise_scale,
            noise_w_scale=voice.noise_w,
        )
        chunks = list(self._piper.synthesize(text, syn_config=config))
        audio = np.concatenate([np.asarray(c.audio_int16_array) for c in chunks])
        rate = int(chunks[0].sample_rate)
        return resample(audio.astype(np.float32) / 32768.0, rate, SAMPLE_RATE_HZ)

    async def speak(self, voice: Voice, text: str) -> npt.NDArray[np.float32]:
        """``text`` at 8 kHz, trimmed to its voiced part."""
        if not voice.espeak_voice:
            return trim(self.piper(voice, text))
        audio, rate = await espeak.speak(text, voice.espeak_voice, voice.rate_wpm)
        pcm = resample(audio, rate, SAMPLE_RATE_HZ)
        peak = float(np.abs(pcm).max()) if len(pcm) else 0.0
        return trim(pcm * (ESPEAK_PEAK / peak) if peak > 0 else pcm)


def texts() -> list[tuple[str, str | None]]:
    """Each text, and the word its pause (if it gets one) should follow."""
    spec = tomllib.loads((ROOT / "bench" / "utterances.toml").read_text())["utterance"]
    listed = [(u["text"], next(iter(u.get("pauses", {})), None)) for u in spec]
    return listed + [(text, None) for text in MORE]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    if problem := espeak.unavailable():
        raise SystemExit(f"espeak-ng voices cannot be made here: {problem}")
    speakers = Speakers()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.wav"):
        old.unlink()
    lines = [
        "# Made by bench/make_utterances.py: what each WAV says, who says it, and its",
        "# mid-sentence pause (0: none). See gateway/lab/utterances.py.",
        "",
    ]
    for index, (text, pause_word) in enumerate(texts(), start=1):
        voice = VOICES[(index - 1) % len(VOICES)]
        paused = index % PAUSE_EVERY == 0
        segments = split_for_pause(text, pause_word) if paused else [text]
        pieces: list[npt.NDArray[np.float32]] = []
        for number, segment in enumerate(segments):
            if number:
                pieces.append(np.zeros(PAUSE_MS * SAMPLE_RATE_HZ // 1000, dtype=np.float32))
            pieces.append(await speakers.speak(voice, segment))
        pcm = np.clip(np.concatenate(pieces), -1.0, 1.0)
        name = f"{index:02}-{voice.name}.wav"
        write_wav(args.out / name, (pcm * 32767).astype(np.int16), SAMPLE_RATE_HZ)
        lines += [
            "[[utterance]]",
            f"file = {json.dumps(name)}",  # a JSON string is a TOML basic string
            f"text = {json.dumps(text)}",
            f"voice = {json.dumps(voice.name)}",
            f"pause_ms = {PAUSE_MS if paused else 0}",
            "",
        ]
        print(f"{name}: {len(pcm) / SAMPLE_RATE_HZ:.1f} s {'(paused) ' if paused else ''}{text}")
    (args.out / TRANSCRIPTS).write_text("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
