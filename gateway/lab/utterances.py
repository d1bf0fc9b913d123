"""A set of utterances for ``voicegw bench``: a directory of WAVs and ``transcripts.toml``.

    [[utterance]]
    file = "22-espeak-us-f3.wav"
    text = "I'd like to cancel my appointment for next Tuesday."
    voice = "espeak-us-f3"      # optional: who speaks it
    pause_ms = 600              # optional: a mid-sentence pause in the recording (0: none)
    pause_style = "level"       # optional: how the speech before the pause ends (default "fall")

The texts are what the caller says: the bench's word error rate compares the gateway's
transcripts with them. A pause marks an utterance where a reply before its end is premature.
Its style says how the last syllable before it sounds: ``fall`` (sentence-final, as if the
caller had finished), ``level`` (a non-final, continuing tune) or ``rise`` (rising, as in
uptalk); a turn detector that listens for a falling end meets all three.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import msgspec

from gateway.lab.clip import CallerClip, load_clip

TRANSCRIPTS = "transcripts.toml"
DEFAULT_DIR = Path(__file__).with_name("utterances")
"""The set that ships with voicegw (``bench/make_utterances.py`` makes it)."""


PauseStyle = Literal["fall", "level", "rise"]
PAUSE_STYLES: tuple[PauseStyle, ...] = get_args(PauseStyle)


class UtteranceError(Exception):
    pass


class Utterance(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    file: str
    text: str
    voice: str = ""
    pause_ms: int = 0
    pause_style: PauseStyle = "fall"
    """How the speech before the pause ends (meaningless without one)."""


class _Set(msgspec.Struct, forbid_unknown_fields=True):
    utterance: list[Utterance]


@dataclass(frozen=True)
class Spoken:
    """An utterance with its audio, ready to send."""

    utterance: Utterance
    clip: CallerClip


def read_set(directory: Path) -> list[Utterance]:
    path = directory / TRANSCRIPTS
    try:
        raw = tomllib.loads(path.read_text())
        utterances = msgspec.convert(raw, _Set).utterance
    except FileNotFoundError:
        raise UtteranceError(f"{path} not found: a set is WAVs plus {TRANSCRIPTS}") from None
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as error:
        raise UtteranceError(f"{path}: {error}") from None
    missing = [u.file for u in utterances if not (directory / u.file).is_file()]
    if missing:
        raise UtteranceError(f"{directory}: no such WAV: {', '.join(missing)}")
    if not utterances:
        raise UtteranceError(f"{path} lists no utterance")
    return utterances


def load_set(directory: Path, limit: int = 0) -> list[Spoken]:
    """The set's utterances (the first ``limit``, if given) with their audio as 8 kHz clips."""
    utterances = read_set(directory)
    chosen = utterances[:limit] if limit else utterances
    return [Spoken(u, load_clip(directory / u.file, u.text)) for u in chosen]
