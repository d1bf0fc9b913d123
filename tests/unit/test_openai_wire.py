"""The wire formats of the remote stages: streamed pcm/WAV bodies and server-sent events."""

from __future__ import annotations

import io
import struct
import wave
from collections.abc import AsyncIterator

import httpx
import numpy as np
import pytest

from gateway.http_api import BackendError
from gateway.llm.openai import _contents, sse_data
from gateway.stt.openai import wav_bytes
from gateway.tts.pcm_stream import AudioFormatError, PcmStream, announced_rate

TONE = (np.sin(np.arange(2205) / 7) * 12_000).astype(np.int16)


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def decode(stream: PcmStream, body: bytes, size: int) -> np.ndarray:
    return np.concatenate([stream.feed(piece) for piece in pieces(body, size)])


def wav_file(samples: np.ndarray, rate: int, channels: int = 1, width: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize("size", [1, 3, 4096])
def test_pcm_in_odd_pieces_comes_out_whole(size: int) -> None:
    stream = PcmStream(wav=False, sample_rate_hz=24_000)
    assert np.array_equal(decode(stream, TONE.astype("<i2").tobytes(), size), TONE)
    assert stream.sample_rate_hz == 24_000


@pytest.mark.parametrize("size", [1, 7, 44, 100_000])
def test_wav_header_gives_the_rate_wherever_the_body_is_cut(size: int) -> None:
    stream = PcmStream(wav=True, sample_rate_hz=24_000)
    assert np.array_equal(decode(stream, wav_file(TONE, 22_050), size), TONE)
    assert stream.sample_rate_hz == 22_050


def test_wav_chunks_before_data_are_skipped_and_its_size_is_kept() -> None:
    body = wav_file(TONE, 16_000)
    data_at = body.index(b"data")
    extra = b"LIST" + struct.pack("<I", 5) + b"abcde\x00"  # odd size: one pad byte
    body = body[:data_at] + extra + body[data_at:] + b"junk after the data chunk"
    stream = PcmStream(wav=True, sample_rate_hz=24_000)
    assert np.array_equal(decode(stream, body, 13), TONE)


def test_a_streamed_wav_with_a_placeholder_size_runs_to_the_end() -> None:
    body = bytearray(wav_file(TONE, 22_050))
    size_at = body.index(b"data") + 4
    body[size_at : size_at + 4] = struct.pack("<I", 0xFFFFFFFF)
    stream = PcmStream(wav=True, sample_rate_hz=24_000)
    more = TONE[:100].astype("<i2").tobytes()
    assert len(decode(stream, bytes(body) + more, 512)) == len(TONE) + 100


def test_stereo_wav_is_mixed_down() -> None:
    stereo = np.stack([TONE, np.zeros_like(TONE)], axis=1).reshape(-1)
    stream = PcmStream(wav=True, sample_rate_hz=24_000)
    mono = decode(stream, wav_file(stereo, 22_050, channels=2), 999)
    assert np.array_equal(mono, (TONE / 2).astype(np.int16))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"ID3\x04" + bytes(40), "not a WAV file"),
        (wav_file(np.zeros(10, dtype=np.uint8), 8000, width=1), "not 16-bit PCM"),
    ],
)
def test_audio_it_cannot_play_is_refused(body: bytes, message: str) -> None:
    with pytest.raises(AudioFormatError, match=message):
        PcmStream(wav=True, sample_rate_hz=24_000).feed(body)


def test_the_utterance_wav_round_trips() -> None:
    samples = TONE.astype(np.float32) / 32768
    stream = PcmStream(wav=True, sample_rate_hz=0)
    decoded = stream.feed(wav_bytes(samples, 8000))
    assert stream.sample_rate_hz == 8000
    assert np.abs(decoded - TONE).max() <= 1


@pytest.mark.parametrize(
    ("headers", "rate"),
    [
        ({"X-Sample-Rate": "22050"}, 22_050),
        ({"content-type": "audio/L16; rate=16000; channels=1"}, 16_000),
        ({"content-type": "audio/pcm"}, None),
        ({}, None),
    ],
)
def test_the_rate_a_server_announces(headers: dict[str, str], rate: int | None) -> None:
    assert announced_rate(httpx.Headers(headers)) == rate


async def lines(*items: str) -> AsyncIterator[str]:
    for item in items:
        yield item


async def test_server_sent_events_are_split_on_blank_lines() -> None:
    events = sse_data(
        lines(": keep-alive", "", "data: one", "", "event: x", "data:two", "data: lines", "", "")
    )
    assert [data async for data in events] == ["one", "two\nlines"]


def test_chunks_give_their_content_and_errors_raise() -> None:
    chunk = '{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}'
    assert _contents(chunk) == ["Hi"]
    assert _contents('{"choices":[{"delta":{"role":"assistant"}}]}') == []
    with pytest.raises(BackendError, match="overloaded"):
        _contents('{"error":{"message":"overloaded"}}')


class FakeRemote:
    def __init__(self, **errors: int) -> None:
        self.backend_errors = errors


def test_backend_errors_are_exported_by_stage_and_reason() -> None:
    from prometheus_client import generate_latest

    from gateway.metrics import GatewayMetrics

    metrics = GatewayMetrics()
    stages = [
        ("stt", object()),  # a local stage: no backend_errors
        ("llm", FakeRemote(content_type=2, timeout=1)),
        ("tts", FakeRemote(empty=1)),
        ("tts", FakeRemote(empty=2)),  # a language's voice on the same server
    ]
    metrics.watch_backends(lambda: stages)
    text = generate_latest(metrics.registry).decode()
    assert 'voicegw_backend_errors_total{reason="content_type",stage="llm"} 2.0' in text
    assert 'voicegw_backend_errors_total{reason="timeout",stage="llm"} 1.0' in text
    assert 'voicegw_backend_errors_total{reason="empty",stage="tts"} 3.0' in text
    assert 'stage="stt"' not in text


def test_error_text_is_quoted_short_on_one_line_without_keys() -> None:
    from gateway.http_api import redact

    text = redact(
        "bad key sk-abcdefghijklmnopqrstuvwx\nAuthorization: Bearer abc.def\r\n"
        'api_key="hunter2" ' + "z" * 1000,
        key="hunter2",
    )
    assert len(text) <= 200 and "\n" not in text and "\r" not in text
    for secret in ("sk-abc", "abc.def", "hunter2", "zzzz"):
        assert secret not in text, text
