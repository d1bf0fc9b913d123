"""Session fixtures: real third-party OpenAI-compatible servers, each started once, when first
needed, on the embedded models (see tests.sim.backends)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import Settings
from tests.sim.backends import BackendServer, server_for, stage_settings

LLM_KEY_ENV = "VOICEGW_TEST_LLM_API_KEY"
"""The chat server demands a key, so every test also checks that the key named in config is sent."""
LLM_KEY = "test-key-not-secret"
READ_TIMEOUT_MS = 20_000
"""The 2 cores here are shared: a server can be slow for a while without being down."""


def remote_stage(stage: str, server: BackendServer, **extra: Any) -> dict[str, Any]:
    """Settings keys that put ``stage`` on ``server``, with its key's variable and a patient
    read timeout."""
    keys = stage_settings(stage, server, LLM_KEY_ENV if server.api_key else "")
    return {**keys, "read_timeout_ms": READ_TIMEOUT_MS, **extra}


@pytest.fixture(scope="session")
def servers_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="voicegw-servers-") as directory:
        yield Path(directory)


def _server(stage: str, settings: Settings, workdir: Path, api_key: str = "") -> BackendServer:
    # One llama.cpp thread: two spin-wait on each other, and on a loaded 2-core machine (the
    # gateway's own models, other jobs) a descheduled one stalls every token for seconds.
    cache = Path(settings.models.cache_dir).expanduser()
    return server_for(stage, cache, workdir, api_key, llm_threads=1)


async def _serve(server: BackendServer) -> AsyncIterator[BackendServer]:
    server.start()
    try:
        await server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def llm_server(settings: Settings, servers_dir: Path) -> AsyncIterator[BackendServer]:
    os.environ[LLM_KEY_ENV] = LLM_KEY
    try:
        async for server in _serve(_server("llm", settings, servers_dir, LLM_KEY)):
            yield server
    finally:
        os.environ.pop(LLM_KEY_ENV, None)


@pytest.fixture(scope="session")
async def stt_server(settings: Settings, servers_dir: Path) -> AsyncIterator[BackendServer]:
    async for server in _serve(_server("stt", settings, servers_dir)):
        yield server


@pytest.fixture(scope="session")
async def tts_server(settings: Settings, servers_dir: Path) -> AsyncIterator[BackendServer]:
    async for server in _serve(_server("tts", settings, servers_dir)):
        yield server
