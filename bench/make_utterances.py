"""Make the utterance set that ships with voicegw (gateway/lab/utterances/): WAVs plus
transcripts.toml, for `voicegw bench`.

Usage: python bench/make_utterances.py [--out gateway/lab/utterances]

44 utterances: the texts of bench/utterances.toml and those of MORE below, spoken by eight voices
in turn: the embedded Piper voice at four settings of length_scale, noise_scale and noise_w, and
four espeak-ng voices (en-us+m3, en+f2 (British), en-us+f3, en-us+m7) at their own rates, through
the espeak-ng that piper-tts carries, driven as tests/sim/espeak.py does (no system package
needed).

24 are spoken whole and 20 stop once in the middle of the sentence, for 300 to 800 ms (PAUSES_MS
in turn): after a function word ("I'd like to | cancel ...", as a caller who is thinking does),
or after a clause that looks finished ("I called yesterday | about my bill."), the hard case for
a turn detector. A reply before the utterance ends is premature. The part before the pause is
synthesised on its own, and how it ends (its ``pause_style``) varies, since real pauses often
do not fall:

- ``fall``: as a sentence of its own (a full stop): the synthesiser's sentence-final fall;
- ``level``: ending in a comma: the synthesisers' non-final (continuation) tune;
- ``rise``: ending in a question mark: a rising last syllable, as in uptalk.

(espeak-ng's SSML ``<break>`` would pause inside one sentence, but tests/sim/espeak.py does not
pass SSML.) Written as 8 kHz 16-bit mono, the telephone's rate, each part trimmed to its voiced
part.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.audio.frames import SAMPLE_RATE_HZ
from gateway.audio.resample import resample
from gateway.lab.clip import trim, write_wav
from gateway.lab.utterances import DEFAULT_DIR, PAUSE_STYLES, TRANSCRIPTS
from gateway.settings import load_settings
from models.fetch import materialise
from tests.sim import espeak
from tests.sim.clips import split_for_pause

ROOT = Path(__file__).resolve().parents[1]
PAUSES_MS = (300, 400, 500, 600, 700, 800)
"""Each paused utterance's pause, in turn."""
ESPEAK_PEAK = 0.7
"""espeak-ng speaks at full scale; scaled to about Piper's level."""
MARK = " | "
"""In a text of MORE: where the caller pauses (the transcript has a plain space there)."""
MORE = (
    "Can I pay my bill with a credit card over the phone?",
    "What are your opening hours on public holidays?",
    "Do you have any vegetarian dishes on the menu?",
    "How do I reset the password for my online account?",
    "Is there parking available at the hospital?",
    "Can you tell me when the next bus to the city centre leaves?",
    "I would like to report a broken street light on my road.",
    "What documents do I need to renew my passport?",
    "How late is the supermarket open this evening?",
    "Please cancel my order from last week.",
    "Are pets allowed in the hotel rooms?",
    "I'd like to | cancel my appointment for next Tuesday.",
    "I called yesterday | about my bill.",
    "Can you send me the invoice for the | spare parts I ordered?",
    "My card was declined at the shop, | and I don't know why.",
    "I need to speak with the | manager about a refund.",
    "Could you tell me how to get to | the nearest hospital?",
    "Thank you so much, | I really appreciate your help today.",
    "I want to change my delivery address | to my office.",
    "Is it possible to | move my flight to an earlier time?",
    "The heating in my flat stopped working | this morning.",
    "I'm calling about the | job advert I saw on your website.",
)
PAUSE_WORDS = {"Thank you, that was really helpful.": "you,"}
"""Texts of bench/utterances.toml (which has no pause for them) paused after a word here."""


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


@dataclass(frozen=True)
class Planned:
    """One utterance to make: its text in parts (two when it pauses), voice and pause."""

    parts: tuple[str, ...]
    voice: Voice
    pause_ms: int = 0
    pause_style: str = "fall"

    @property
    def text(self) -> str:
        return " ".join(self.parts)

    def spoken_parts(self) -> list[str]:
        """What each part is synthesised from: the first one ends as its pause style says."""
        if len(self.parts) == 1:
            return list(self.parts)
        head = self.parts[0].rstrip(",;:.?!")
        ending = {"fall": ".", "level": ",", "rise": "?"}[self.pause_style]
        return [head + ending, *self.parts[1:]]


def texts() -> list[tuple[str, ...]]:
    """Each text in its parts: one, or two either side of its pause."""
    spec = tomllib.loads((ROOT / "bench" / "utterances.toml").read_text())["utterance"]
    found: list[tuple[str, ...]] = []
    for u in spec:
        word = next(iter(u.get("pauses", {})), None) or PAUSE_WORDS.get(u["text"])
        found.append(tuple(split_for_pause(u["text"], word)) if word else (u["text"],))
    found += [tuple(text.split(MARK)) for text in MORE]
    return found


def plan() -> list[Planned]:
    """Whole and paused utterances interleaved evenly (so that the first few, ``--limit``, hold
    both), the voices in turn; each paused one's pause length and style in turn, the styles
    shifted every round of lengths so that each length meets each style."""
    whole = [t for t in texts() if len(t) == 1]
    paused = [t for t in texts() if len(t) == 2]
    total = len(whole) + len(paused)
    planned: list[Planned] = []
    for index in range(total):
        voice = VOICES[index % len(VOICES)]
        if (index + 1) * len(paused) // total > index * len(paused) // total:
            k = len([p for p in planned if p.pause_ms])
            style = PAUSE_STYLES[(k + k // len(PAUSES_MS)) % len(PAUSE_STYLES)]
            planned.append(Planned(paused[k], voice, PAUSES_MS[k % len(PAUSES_MS)], style))
        else:
            planned.append(Planned(whole[index - len([p for p in planned if p.pause_ms])], voice))
    return planned


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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--dry-run", action="store_true", help="Print the plan, make nothing")
    args = parser.parse_args()
    planned = plan()
    if args.dry_run:
        for number, item in enumerate(planned, start=1):
            pause = f"{item.pause_ms} ms {item.pause_style:5}" if item.pause_ms else " " * 12
            print(f"{number:02} {item.voice.name:12} {pause} {' | '.join(item.spoken_parts())}")
        print(Counter(p.voice.name for p in planned))
        print(Counter((p.voice.name, p.pause_style) for p in planned if p.pause_ms))
        return
    if problem := espeak.unavailable():
        raise SystemExit(f"espeak-ng voices cannot be made here: {problem}")
    speakers = Speakers()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.wav"):
        old.unlink()
    lines = [
        "# Made by bench/make_utterances.py: what each WAV says, who says it, its",
        "# mid-sentence pause (0: none) and how the speech before the pause ends.",
        "# See gateway/lab/utterances.py.",
        "",
    ]
    for number, item in enumerate(planned, start=1):
        pieces: list[npt.NDArray[np.float32]] = []
        for part, segment in enumerate(item.spoken_parts()):
            if part:
                pieces.append(np.zeros(item.pause_ms * SAMPLE_RATE_HZ // 1000, dtype=np.float32))
            pieces.append(await speakers.speak(item.voice, segment))
        pcm = np.clip(np.concatenate(pieces), -1.0, 1.0)
        name = f"{number:02}-{item.voice.name}.wav"
        write_wav(args.out / name, (pcm * 32767).astype(np.int16), SAMPLE_RATE_HZ)
        lines += [
            "[[utterance]]",
            f"file = {json.dumps(name)}",  # a JSON string is a TOML basic string
            f"text = {json.dumps(item.text)}",
            f"voice = {json.dumps(item.voice.name)}",
            f"pause_ms = {item.pause_ms}",
            *([f"pause_style = {json.dumps(item.pause_style)}"] if item.pause_ms else []),
            "",
        ]
        paused = f"(paused {item.pause_ms} ms, {item.pause_style}) " if item.pause_ms else ""
        print(f"{name}: {len(pcm) / SAMPLE_RATE_HZ:.1f} s {paused}{item.text}")
    (args.out / TRANSCRIPTS).write_text("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
