"""Third-party OpenAI-compatible servers on the embedded models, run on 127.0.0.1.

The remote backends are tested and benchmarked against real servers, not mocks: llama-cpp-python's
own server for chat, faster-whisper-server for transcription, and local-tts-studio (a Piper speech
server) for speech, each on the same model files the local backends load. They live in a virtual
environment of their own (``make setup-dev`` builds ``.venv/servers``), so their dependency pins
never touch the gateway's.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from gateway.stt.openai import wav_bytes
from models.fetch import materialise

SERVERS_PYTHON_ENV = "VOICEGW_SERVERS_PYTHON"
DEFAULT_PYTHON = Path(__file__).resolve().parents[2] / ".venv" / "servers" / "bin" / "python"
LLM_ALIAS = "smollm2-135m"
WHISPER_NAME = "whisper-base"
POLL_S = 0.1
"""Readiness is polled: none of these servers says on its own when its model is loaded."""
STOP_GRACE_S = 10.0

Probe = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]


def servers_python() -> str:
    path = Path(os.environ.get(SERVERS_PYTHON_ENV) or DEFAULT_PYTHON)
    if not path.is_file():
        raise FileNotFoundError(f"no servers environment at {path}: run `make setup-dev`")
    return str(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BackendServer:
    """One server process; it can be killed and started again on the same port."""

    name: str
    argv: list[str]
    port: int
    probe: Probe
    """A request that succeeds once the server can serve (and that loads its model)."""
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    api_key: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **self.env},
            )

    async def wait_ready(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        async with httpx.AsyncClient(headers=headers, timeout=timeout_s) as client:
            while True:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} is not running:\n{self.log_tail()}")
                try:
                    if (await self.probe(client, self.base_url)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    tail = self.log_tail()
                    raise TimeoutError(f"{self.name} not ready in {timeout_s} s:\n{tail}")
                await asyncio.sleep(POLL_S)

    def kill(self) -> None:
        """As a crash would: no chance to finish what it was sending."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_GRACE_S)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def llama_server(gguf: Path, workdir: Path, api_key: str = "", threads: int = 2) -> BackendServer:
    """``python -m llama_cpp.server``: chat completions, streamed."""
    port = free_port()
    argv = [
        servers_python(), "-m", "llama_cpp.server", "--model", str(gguf),
        "--model_alias", LLM_ALIAS, "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", str(threads), "--n_threads_batch", str(threads),
    ]  # fmt: skip
    if api_key:
        argv += ["--api_key", api_key]

    async def probe(client: httpx.AsyncClient, base_url: str) -> httpx.Response:
        hello = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
        return await client.post(f"{base_url}/chat/completions", json=hello)

    return BackendServer("llama_cpp.server", argv, port, probe, workdir / "llama.log", {}, api_key)


def whisper_server(model_dir: Path, workdir: Path) -> BackendServer:
    """faster-whisper-server 0.0.3 serving one CTranslate2 directory, int8 on 2 CPU threads."""
    port = free_port()
    model = {
        "name": WHISPER_NAME,
        "path": str(model_dir),
        "model_options": {"device": "cpu", "compute_type": "int8", "cpu_threads": 2},
        "transcribe_options": {
            "beam_size": 1,
            "condition_on_previous_text": False,
            "without_timestamps": True,
        },
    }
    config = workdir / "faster-whisper-server.yaml"
    config.write_text(json.dumps({"models": [model]}))  # JSON is YAML
    argv = [
        servers_python(), "-m", "faster_whisper_server", "--config", str(config),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    silence = wav_bytes(np.zeros(1600, dtype=np.float32), 8000)

    async def probe(client: httpx.AsyncClient, base_url: str) -> httpx.Response:
        return await client.post(
            f"{base_url}/audio/transcriptions",
            data={"model_name": WHISPER_NAME, "language": "en"},
            files={"file": ("probe.wav", silence, "audio/wav")},
        )

    return BackendServer("faster-whisper-server", argv, port, probe, workdir / "whisper.log")


def speech_server(voice: Path, workdir: Path) -> BackendServer:
    """local-tts-studio 1.0.0: Piper behind ``/v1/audio/speech``; the voice is its API default.

    It renders a whole sentence before answering (no streaming) and names the pcm rate in an
    ``X-Sample-Rate`` header.
    """
    port = free_port()
    data_dir = workdir / "local-tts"
    voices = data_dir / "voices"
    voices.mkdir(parents=True, exist_ok=True)
    for path in (voice, voice.with_name(voice.name + ".json")):
        link = voices / path.name
        if not link.exists():
            link.symlink_to(path)
    settings = {"voices_dir": str(voices), "device": "cpu", "api_default_voice": voice.stem}
    (data_dir / "settings.json").write_text(json.dumps(settings))
    argv = [servers_python(), "-m", "local_tts.cli", "--host", "127.0.0.1", "--port", str(port)]

    async def probe(client: httpx.AsyncClient, base_url: str) -> httpx.Response:
        return await client.post(
            f"{base_url}/audio/speech", json={"input": "Ready.", "response_format": "pcm"}
        )

    env = {"LOCAL_TTS_DATA_DIR": str(data_dir)}
    return BackendServer("local-tts-studio", argv, port, probe, workdir / "speech.log", env)


def server_for(
    stage: str, cache_dir: Path, workdir: Path, api_key: str = "", llm_threads: int = 2
) -> BackendServer:
    """The server for ``stage`` (stt, llm or tts) on the embedded model its local backend loads."""
    if stage == "stt":
        return whisper_server(materialise("whisper-base", cache_dir), workdir)
    if stage == "llm":
        gguf = next(materialise("smollm2-135m", cache_dir).glob("*.gguf"))
        return llama_server(gguf, workdir, api_key, llm_threads)
    return speech_server(next(materialise("joe-medium", cache_dir).glob("*.onnx")), workdir)


def stage_settings(stage: str, server: BackendServer, api_key_env: str = "") -> dict[str, str]:
    """The ``[stt]``/``[llm]``/``[tts]`` keys that point a gateway at ``server``."""
    names = {
        "stt": {"model": WHISPER_NAME, "model_field": "model_name"},
        "llm": {"model": LLM_ALIAS},
        "tts": {"voice": "alloy", "model": "tts-1"},  # local-tts-studio speaks its own voice
    }[stage]
    keys = {"backend": "openai", "base_url": server.base_url, **names}
    return {**keys, "api_key_env": api_key_env} if api_key_env else keys


@dataclass
class CannedAnswer:
    """What :class:`CannedServer` answers every request with."""

    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    body: bytes = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
    chunked: bool = False
    """Send the body in chunks of 1 KiB with no length announced (a stream)."""
    headers: dict[str, str] = field(default_factory=dict)


class CannedServer:
    """A real HTTP/1.1 server on 127.0.0.1 that gives every request the same answer: a proxy's
    error page, a body of the wrong type or size, an error that quotes a key. What an
    OpenAI-compatible server (or what stands in front of one) can send instead of an answer."""

    def __init__(self, answer: CannedAnswer) -> None:
        self.answer = answer
        self.paths: list[str] = []
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aenter__(self) -> CannedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            self.paths.append(head.split(" ", 2)[1])
            length = next(
                (int(line.split(":", 1)[1]) for line in head.split("\r\n")
                 if line.lower().startswith("content-length:")),
                0,
            )  # fmt: skip
            await reader.readexactly(length)
            writer.write(self._response())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _response(self) -> bytes:
        answer = self.answer
        headers = {"Connection": "close", **answer.headers}
        if answer.content_type:
            headers["Content-Type"] = answer.content_type
        if answer.chunked:
            headers["Transfer-Encoding"] = "chunked"
            pieces = [answer.body[i : i + 1024] for i in range(0, len(answer.body), 1024)]
            body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        else:
            headers["Content-Length"] = str(len(answer.body))
            body = answer.body
        lines = [f"HTTP/1.1 {answer.status} Canned"] + [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
