"""Each remote stage against a real third-party OpenAI-compatible server on the embedded models.

faster-whisper-server transcribes, llama-cpp-python's server chats, local-tts-studio speaks; the
failure cases use a port with nothing behind it and a socket that never answers.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest

from gateway.audio.resample import resample
from gateway.engines import (
    Engines,
    close_stage,
    load_chat,
    load_synthesizer,
    load_transcriber,
    phrase_synthesizer,
)
from gateway.http_api import BackendError
from gateway.llm.base import ChatMessage, ChatModel
from gateway.pipeline.phrases import PhraseCache
from gateway.settings import ConfigError, Settings
from gateway.tts.base import PcmChunk
from tests.conftest import with_changes
from tests.servers import LLM_KEY, remote_stage
from tests.sim.backends import BackendServer, CannedAnswer, CannedServer, free_port
from tests.sim.clips import speech_8k

PROMPT = [
    ChatMessage("system", "You are a helpful assistant. Answer briefly."),
    ChatMessage("user", "What is the capital of France?"),
]
LONG_PROMPT = [ChatMessage("user", "Count from one to two hundred in words, one per line.")]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def cache(settings: Settings) -> Path:
    return Path(settings.models.cache_dir).expanduser()


def remote_chat(settings: Settings, llm_server: BackendServer, **extra: object) -> ChatModel:
    keys = remote_stage("llm", llm_server, **extra)
    return load_chat(with_changes(settings, llm=keys), cache(settings), lambda _: None)


async def collect(stream: AsyncIterator[str]) -> list[str]:
    return [token async for token in stream]


async def test_remote_transcription_hears_the_words(
    engines: Engines, settings: Settings, stt_server: BackendServer
) -> None:
    remote = with_changes(settings, stt=remote_stage("stt", stt_server))
    transcriber = load_transcriber(remote, cache(settings), lambda _: None)
    audio = await speech_8k(engines.synthesizer, "Please book a table for four at seven.")
    try:
        transcript = await transcriber.transcribe(audio, 8000)  # sent as an 8 kHz WAV
    finally:
        await close_stage(transcriber)
    assert {"book", "table"} <= set(words(transcript.text)), transcript.text
    assert transcript.language == "en"
    assert 1500 < transcript.audio_ms < 5000


async def test_remote_chat_streams_token_by_token_with_the_key(
    settings: Settings, llm_server: BackendServer
) -> None:
    chat = remote_chat(settings, llm_server, max_reply_tokens=24, temperature=0.0)
    try:
        tokens = await asyncio.wait_for(collect(chat.stream(PROMPT)), timeout=30)
    finally:
        await close_stage(chat)
    assert len(tokens) > 3, tokens  # one event per token, not one lump
    assert "paris" in "".join(tokens).lower()
    assert LLM_KEY not in chat.description


async def test_replies_read_to_the_end_keep_their_connection(
    settings: Settings, llm_server: BackendServer
) -> None:
    chat = remote_chat(settings, llm_server, max_reply_tokens=8)
    try:
        for _ in range(2):
            assert await collect(chat.stream(PROMPT))
    finally:
        await close_stage(chat)
    ports = re.findall(r'127\.0\.0\.1:(\d+) - "POST /v1/chat/completions', llm_server.log_tail())
    assert ports[-1] == ports[-2], "the second reply came over the first one's connection"


async def test_remote_chat_without_the_key_is_refused_with_the_status(
    settings: Settings, llm_server: BackendServer
) -> None:
    chat = remote_chat(settings, llm_server, api_key_env="")
    try:
        with pytest.raises(BackendError, match="HTTP 401"):
            await collect(chat.stream(PROMPT))
    finally:
        await close_stage(chat)


def test_a_key_variable_that_is_not_set_is_a_config_error(settings: Settings) -> None:
    keys = {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"}
    unset = with_changes(settings, llm={**keys, "api_key_env": "VOICEGW_TEST_NO_SUCH_KEY"})
    with pytest.raises(ConfigError, match=r"llm\.api_key_env: .*VOICEGW_TEST_NO_SUCH_KEY"):
        load_chat(unset, cache(settings), lambda _: None)


async def test_closing_the_remote_chat_early_frees_the_server(
    settings: Settings, llm_server: BackendServer
) -> None:
    # Short replies: should the server finish the abandoned one anyway, the next still fits in
    # the read timeout. What is tested is that closing does not wait for the rest.
    chat = remote_chat(settings, llm_server, max_reply_tokens=100, temperature=0.0)
    try:
        stream = chat.stream(LONG_PROMPT)
        assert await anext(stream)
        await asyncio.wait_for(stream.aclose(), timeout=2)  # type: ignore[attr-defined]
        reply = await asyncio.wait_for(collect(chat.stream(PROMPT)), timeout=30)
    finally:
        await close_stage(chat)
    assert "paris" in "".join(reply).lower()


async def test_a_reply_cut_mid_stream_fails_and_is_not_re_run(
    settings: Settings, llm_server: BackendServer
) -> None:
    chat = remote_chat(settings, llm_server, max_reply_tokens=400, temperature=0.0)
    tokens: list[str] = []
    try:
        with pytest.raises(BackendError, match=r"llm: .*chat/completions"):
            async for token in chat.stream(LONG_PROMPT):
                tokens.append(token)
                if len(tokens) == 1:
                    llm_server.kill()
    finally:
        await close_stage(chat)
        llm_server.start()
        await llm_server.wait_ready()
    assert 1 <= len(tokens) < 400


async def synthesized(chunks: AsyncIterator[PcmChunk]) -> tuple[np.ndarray, set[int], int]:
    parts = [chunk async for chunk in chunks]
    audio = np.concatenate([p.samples for p in parts]).astype(np.float32) / 32768
    return audio, {p.sample_rate_hz for p in parts}, len(parts)


@pytest.mark.parametrize("response_format", ["pcm", "wav"])
async def test_remote_speech_takes_its_rate_from_the_server(
    engines: Engines, settings: Settings, tts_server: BackendServer, response_format: str
) -> None:
    keys = remote_stage("tts", tts_server, response_format=response_format)
    remote = with_changes(settings, tts={**keys, "pcm_sample_rate_hz": 24_000})
    synthesizer = load_synthesizer(remote, cache(settings), lambda _: None)
    try:
        audio, rates, _ = await synthesized(synthesizer.synthesize("The museum opens at nine."))
    finally:
        await close_stage(synthesizer)
    assert rates == {22_050}, "pcm: from X-Sample-Rate, wav: from its header"
    assert 1.0 < len(audio) / 22_050 < 4.0
    heard = await engines.transcriber.transcribe(resample(audio, 22_050, 8000), 8000)
    assert {"museum", "nine"} <= set(words(heard.text.replace("9", "nine"))), heard.text


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers (a hung process)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def dead_stages(settings: Settings, base_url: str, **timeouts: int) -> Settings:
    common = {"backend": "openai", "base_url": base_url, **timeouts}
    return with_changes(
        settings,
        stt={**common, "model": "whisper-1"},
        llm={**common, "model": "gpt"},
        tts={**common, "voice": "alloy"},
    )


async def use_stage(stage: str, configured: Settings) -> None:
    where = cache(configured)
    if stage == "stt":
        transcriber = load_transcriber(configured, where, lambda _: None)
        try:
            await transcriber.transcribe(np.zeros(8000, dtype=np.float32), 8000)
        finally:
            await close_stage(transcriber)
    elif stage == "llm":
        chat = load_chat(configured, where, lambda _: None)
        try:
            await collect(chat.stream(PROMPT))
        finally:
            await close_stage(chat)
    else:
        synthesizer = load_synthesizer(configured, where, lambda _: None)
        try:
            await synthesized(synthesizer.synthesize("Hello."))
        finally:
            await close_stage(synthesizer)


@pytest.mark.parametrize("stage", ["stt", "llm", "tts"])
async def test_a_server_that_is_down_fails_fast_naming_the_stage(
    settings: Settings, stage: str
) -> None:
    nothing_there = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    with pytest.raises(BackendError, match=rf"^{stage}: .*ConnectError"):
        await use_stage(stage, dead_stages(settings, nothing_there))
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("stage", ["stt", "llm", "tts"])
async def test_a_server_that_never_answers_times_out(
    settings: Settings, silent_server: str, stage: str
) -> None:
    configured = dead_stages(settings, silent_server, read_timeout_ms=300)
    started = time.monotonic()
    with pytest.raises(BackendError, match=rf"^{stage}: .*timed out"):
        await use_stage(stage, configured)
    assert time.monotonic() - started < 2.0


async def test_phrases_fall_back_to_the_local_voice_when_the_speech_server_is_down(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    down = dead_stages(settings, f"http://127.0.0.1:{free_port()}/v1")
    synthesizer = load_synthesizer(down, cache(settings), lambda _: None)
    phrases = PhraseCache(phrase_synthesizer(down, synthesizer, cache(settings), lambda _: None))
    try:
        with caplog.at_level(logging.WARNING, logger="voicegw.tts"):
            await phrases.prepare(settings.call.apology)
    finally:
        await close_stage(synthesizer)
    assert len(phrases.get(settings.call.apology)) * 0.02 > 1.5  # seconds of real speech
    assert "fallback voice" in caplog.text and "ConnectError" in caplog.text


async def test_without_a_fallback_voice_a_down_speech_server_fails_start_up(
    settings: Settings,
) -> None:
    down = dead_stages(settings, f"http://127.0.0.1:{free_port()}/v1")
    down = with_changes(down, tts={"fallback_voice": ""})
    synthesizer = load_synthesizer(down, cache(settings), lambda _: None)
    phrases = PhraseCache(phrase_synthesizer(down, synthesizer, cache(settings), lambda _: None))
    try:
        with pytest.raises(BackendError, match="tts: "):
            await phrases.prepare(settings.call.apology)
    finally:
        await close_stage(synthesizer)


EVENT = b'data: {"choices":[{"index":0,"delta":{"content":"Hi "},"finish_reason":null}]}\n\n'


async def failure(stage: str, answer: CannedAnswer, settings: Settings, **keys: object) -> str:
    """What a stage says when its server gives ``answer``; checks it was counted once."""
    async with CannedServer(answer) as server:
        configured = dead_stages(settings, server.base_url)
        configured = with_changes(configured, **{stage: {**keys}}) if keys else configured
        where = cache(configured)
        loader = {"stt": load_transcriber, "llm": load_chat, "tts": load_synthesizer}[stage]
        engine = loader(configured, where, lambda _: None)
        try:
            with pytest.raises(BackendError) as caught:
                if stage == "stt":
                    await engine.transcribe(np.zeros(8000, dtype=np.float32), 8000)  # type: ignore[union-attr]
                elif stage == "llm":
                    await collect(engine.stream(PROMPT))  # type: ignore[union-attr]
                else:
                    await synthesized(engine.synthesize("Hello."))  # type: ignore[union-attr]
        finally:
            await close_stage(engine)
    assert engine.backend_errors == {caught.value.reason: 1}  # type: ignore[union-attr]
    message = str(caught.value)
    assert message.startswith(f"{stage}: "), message
    return f"{caught.value.reason}: {message}"


HTML = CannedAnswer()
JSON_ERROR = CannedAnswer(content_type="application/json", body=b'{"detail":"not here"}')


@pytest.mark.parametrize(
    ("stage", "answer", "reason"),
    [
        ("llm", HTML, "content_type"),
        ("llm", JSON_ERROR, "content_type"),
        ("llm", CannedAnswer(content_type="text/event-stream", body=b"data: [DONE]\n\n"), "empty"),
        (
            "llm",
            CannedAnswer(content_type="text/event-stream", body=b"data: <html>\n\n"),
            "bad_answer",
        ),
        ("stt", HTML, "content_type"),
        ("stt", CannedAnswer(content_type="application/json", body=b'{"txt": 1}'), "bad_answer"),
        ("tts", HTML, "content_type"),
        ("tts", JSON_ERROR, "content_type"),
        ("tts", CannedAnswer(content_type="", body=b"  <html>oops</html>"), "content_type"),
        ("tts", CannedAnswer(content_type="audio/pcm", body=b""), "empty"),
        ("tts", CannedAnswer(status=500, body=b"boom"), "http_status"),
    ],
)
async def test_a_wrong_answer_is_a_backend_error_counted_by_reason(
    settings: Settings, stage: str, answer: CannedAnswer, reason: str
) -> None:
    assert (await failure(stage, answer, settings)).startswith(f"{reason}: ")


async def test_a_wav_that_is_a_web_page_is_refused(settings: Settings) -> None:
    page = CannedAnswer(content_type="audio/wav", body=HTML.body)
    said = await failure("tts", page, settings, response_format="wav")
    assert said.startswith("bad_answer: ") and "not a WAV file" in said


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("stage", ["stt", "llm", "tts"])
async def test_an_answer_over_max_response_bytes_is_cut_off(
    settings: Settings, stage: str, chunked: bool
) -> None:
    long_event = EVENT.replace(b"Hi ", b"Hi " * 1000)  # a few pieces are enough
    body = {"stt": b'{"text":"' + b"a" * 300_000 + b'"}', "llm": long_event * 100}.get(
        stage, bytes(300_000)
    )
    kind = {"stt": "application/json", "llm": "text/event-stream"}.get(stage, "audio/pcm")
    answer = CannedAnswer(content_type=kind, body=body, chunked=chunked)
    said = await failure(stage, answer, settings, max_response_bytes=100_000)
    assert said.startswith("too_large: ") and "over 100000 bytes" in said, said


async def test_a_server_that_ignores_max_tokens_is_cut_off(settings: Settings) -> None:
    stream = CannedAnswer(content_type="text/event-stream", body=EVENT * 1000 + b"data: [DONE]\n\n")
    async with CannedServer(stream) as server:
        configured = with_changes(
            dead_stages(settings, server.base_url), llm={"max_reply_tokens": 20}
        )
        chat = load_chat(configured, cache(configured), lambda _: None)
        try:
            tokens = await collect(chat.stream(PROMPT))
        finally:
            await close_stage(chat)
    assert len(tokens) == 40, "twice max_reply_tokens pieces at most"


async def test_an_error_body_is_quoted_short_and_without_keys(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEGW_TEST_KEY", "my-very-own-key-0042")
    body = (
        b'{"error":{"message":"Incorrect API key provided: my-very-own-key-0042 '
        b"(also sk-proj-ABCDEFGHIJKLMNOPQRSTUV). Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig\\n"
        + b"x" * 20_000
        + b'"}}'
    )
    answer = CannedAnswer(status=401, content_type="application/json", body=body)
    said = await failure("llm", answer, settings, api_key_env="VOICEGW_TEST_KEY")
    assert said.startswith("http_status: ") and "HTTP 401" in said
    for secret in ("my-very-own-key", "sk-proj", "eyJ", "ABCDEFGHIJ"):
        assert secret not in said, said
    assert "Incorrect API key provided" in said and "\n" not in said
    assert len(said) < 400, len(said)
