"""The talk page's protocol: every frame from the browser is checked, and the audio both ways
is what the pipeline and the page expect."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from gateway.audio import mulaw
from gateway.twilio.messages import (
    Clear,
    MarkLabel,
    OutboundMark,
    OutboundMedia,
    OutboundPayload,
)
from gateway.web import talk_wire
from gateway.web.talk_wire import CallerAudio, MarkPlayed, Problem, Rejected, Stop


def test_mark_and_stop_are_read() -> None:
    assert talk_wire.decode_text('{"event": "mark", "name": "turn1-s0"}') == MarkPlayed("turn1-s0")
    assert isinstance(talk_wire.decode_text('{"event": "stop"}'), Stop)


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        ("not json", Problem.INVALID),
        ('{"event": "dance"}', Problem.INVALID),
        ('{"event": "mark"}', Problem.INVALID),
        ('{"event": "mark", "name": 7}', Problem.INVALID),
        ('{"event": "mark", "name": "a", "extra": 1}', Problem.INVALID),
        ('{"event": "mark", "name": "' + "x" * 65 + '"}', Problem.INVALID),
        ('{"event": "stop", "pad": "' + "x" * 600 + '"}', Problem.TOO_LARGE),
        ("[]", Problem.INVALID),
    ],
)
def test_anything_else_in_text_is_rejected(frame: str, problem: Problem) -> None:
    with pytest.raises(Rejected) as caught:
        talk_wire.decode_text(frame)
    assert caught.value.problem is problem


@pytest.mark.parametrize("size", [0, 1, 639, talk_wire.MAX_AUDIO_BYTES + 2, 64 * 1024])
def test_audio_frames_are_whole_samples_and_bounded(size: int) -> None:
    with pytest.raises(Rejected) as caught:
        talk_wire.check_audio(b"\x00" * size)
    assert caught.value.problem is Problem.BAD_AUDIO


@pytest.mark.parametrize("size", [2, 640, talk_wire.MAX_AUDIO_BYTES])
def test_audio_frames_of_any_whole_length_up_to_the_limit_pass(size: int) -> None:
    talk_wire.check_audio(b"\x00" * size)


def test_microphone_audio_becomes_the_phone_lines_frames_at_the_same_pitch() -> None:
    rate, seconds, pitch_hz = 16_000, 1.0, 440.0
    t = np.arange(int(rate * seconds)) / rate
    tone = (0.3 * 32767 * np.sin(2 * np.pi * pitch_hz * t)).astype("<i2")
    audio = CallerAudio()
    frames: list[bytes] = []
    for start in range(0, len(tone), 320):  # the page's 20 ms frames
        frames += audio.push(tone[start : start + 320].tobytes())
    assert all(len(frame) == 160 for frame in frames)
    assert len(frames) == 50, "a second of audio, at once"
    decoded = mulaw.decode(b"".join(frames)).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(decoded[800:]))  # past the filter's start-up
    peak_hz = np.argmax(spectrum) * 8000 / len(decoded[800:])
    assert abs(peak_hz - pitch_hz) < 5
    assert talk_wire.mulaw_bytes(640) == 160


def test_each_20_ms_from_the_page_is_on_the_line_at_once_and_above_4_khz_is_cut() -> None:
    """No buffering in blocks (a block's worth of delay is later turn-taking), and a tone the
    halved rate cannot carry does not fold back into the band as a false one."""
    rate = 16_000
    t = np.arange(rate) / rate
    audio = CallerAudio()
    for pitch_hz, most in ((1_000.0, None), (6_000.0, 0.01)):
        tone = (0.5 * 32767 * np.sin(2 * np.pi * pitch_hz * t)).astype("<i2")
        out = [audio.push(tone[i : i + 320].tobytes()) for i in range(0, rate, 320)]
        assert [len(frames) for frames in out] == [1] * 50
        level = np.abs(mulaw.decode(b"".join(f[0] for f in out[5:]))).max() / 32767
        if most is None:
            assert level > 0.4
        else:
            assert level < most, f"{pitch_hz:g} Hz leaks through at {level:.3f} of full scale"


def test_the_page_gets_pcm_and_json() -> None:
    payload = mulaw.encode(np.linspace(-8000, 8000, 160).astype(np.int16))
    pcm = talk_wire.encode(OutboundMedia(stream_sid="MZ1", media=OutboundPayload(payload=payload)))
    assert isinstance(pcm, bytes) and len(pcm) == 320
    assert np.array_equal(np.frombuffer(pcm, dtype="<i2"), mulaw.decode(payload))
    mark = talk_wire.encode(OutboundMark(stream_sid="MZ1", mark=MarkLabel(name="turn2-end")))
    assert isinstance(mark, str)
    assert msgspec.json.decode(mark) == {"event": "mark", "name": "turn2-end"}
    clear = talk_wire.encode(Clear(stream_sid="MZ1"))
    assert isinstance(clear, str)
    assert msgspec.json.decode(clear) == {"event": "clear"}
