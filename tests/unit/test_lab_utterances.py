"""Utterance sets for the bench: the shipped one, and WAVs as the caller sends them."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from gateway.audio import mulaw
from gateway.lab.clip import VOICED_LEVEL, load_clip, voiced_frames
from gateway.lab.utterances import (
    DEFAULT_DIR,
    PAUSE_STYLES,
    TRANSCRIPTS,
    UtteranceError,
    load_set,
    read_set,
)


def stereo_tone_wav(path: Path, rate: int = 16_000) -> None:
    """Half a second of silence, a second of 440 Hz, half a second of silence; two channels."""
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    mono = np.concatenate([np.zeros(rate // 2), tone, np.zeros(rate // 2)])
    pcm = (np.stack([mono, mono], axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())


def test_a_wav_at_any_rate_becomes_8_khz_frames_trimmed_to_its_voiced_part(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tone.wav"
    stereo_tone_wav(path)
    clip = load_clip(path, "a tone")
    assert abs(clip.duration_ms - 1000) <= 40, "the silence either side is cut"
    assert all(len(frame) == 160 for frame in clip.frames)
    last = mulaw.decode(clip.frames[-1]).astype(np.float32) / 32768
    assert np.abs(last).max() > VOICED_LEVEL, "the last frame sent is voiced"


def test_a_set_that_names_a_missing_wav_or_an_unknown_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UtteranceError, match="not found"):
        read_set(tmp_path)
    (tmp_path / TRANSCRIPTS).write_text('[[utterance]]\nfile = "gone.wav"\ntext = "Hello"\n')
    with pytest.raises(UtteranceError, match=r"no such WAV: gone\.wav"):
        read_set(tmp_path)
    (tmp_path / TRANSCRIPTS).write_text('[[utterance]]\nfile = "a.wav"\ntxt = "Hello"\n')
    with pytest.raises(UtteranceError, match="txt"):
        read_set(tmp_path)


def test_a_pause_says_how_the_speech_before_it_ends_falling_unless_told(tmp_path: Path) -> None:
    stereo_tone_wav(tmp_path / "a.wav")
    entry = '[[utterance]]\nfile = "a.wav"\ntext = "Hello there"\npause_ms = 500\n'
    (tmp_path / TRANSCRIPTS).write_text(entry + 'pause_style = "level"\n\n' + entry)
    level, plain = read_set(tmp_path)
    assert (level.pause_ms, level.pause_style) == (500, "level")
    assert plain.pause_style == "fall", "the default: a sentence-final fall"
    (tmp_path / TRANSCRIPTS).write_text(entry + 'pause_style = "wobbly"\n')
    with pytest.raises(UtteranceError, match="pause_style"):
        read_set(tmp_path)


def test_the_shipped_set_is_small_varied_and_has_mid_sentence_pauses() -> None:
    utterances = read_set(DEFAULT_DIR)
    assert 40 <= len(utterances) <= 60
    size = sum(path.stat().st_size for path in DEFAULT_DIR.iterdir())
    assert size < 3_000_000
    voices = {u.voice for u in utterances}
    assert len(voices) >= 4
    assert {v.split("-")[0] for v in voices} == {"piper", "espeak"}
    paused = [u for u in utterances if u.pause_ms]
    assert len(paused) >= 20 and len(utterances) - len(paused) >= 20
    assert all(300 <= u.pause_ms <= 800 for u in paused)
    assert min(u.pause_ms for u in paused) == 300 and max(u.pause_ms for u in paused) == 800
    assert {u.pause_style for u in paused} == set(PAUSE_STYLES), "falling, level and rising"
    assert {u.voice for u in paused} == voices, "every voice pauses"
    assert len({u.text for u in utterances}) == len(utterances)
    for u in utterances:
        with wave.open(str(DEFAULT_DIR / u.file)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
            assert wav.getframerate() in {8000, 16_000}
    for spoken in load_set(DEFAULT_DIR):
        pcm = mulaw.decode(spoken.clip.mulaw).astype(np.float32) / 32768
        voiced = voiced_frames(pcm)
        assert spoken.clip.duration_ms > 1000, spoken.utterance.file
        gaps = np.diff(np.flatnonzero(voiced))
        longest_gap_ms = 20 * (int(gaps.max()) - 1) if len(gaps) else 0
        if spoken.utterance.pause_ms:
            assert longest_gap_ms >= spoken.utterance.pause_ms - 40, spoken.utterance.file
