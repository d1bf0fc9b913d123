"""Shared fixtures: settings, real engines (loaded once), and the real app on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
import uvicorn

from gateway.app import create_app
from gateway.engines import Engines, load_engines_sync
from gateway.runtime import Gateway
from gateway.settings import Settings, load_settings

ServerFactory = Callable[..., Any]


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The shipped defaults, untouched by the environment of whoever runs the tests, except that
    the turn log keeps the words (``log.transcripts = "full"``): tests check what was heard; and
    no call records are kept (a test that reads them gives its own ``records.path``)."""
    return with_changes(
        load_settings(None, environ={}), log={"transcripts": "full"}, records={"path": ""}
    )


@pytest.fixture(scope="session")
async def engines(settings: Settings) -> Engines:
    loaded = await asyncio.to_thread(load_engines_sync, settings)
    await loaded.phrases.prepare(
        settings.call.greeting, settings.call.apology, *settings.call.fillers
    )
    return loaded


@dataclass
class RunningGateway:
    host: str
    """``127.0.0.1:PORT``"""
    gateway: Gateway

    @property
    def media_url(self) -> str:
        return f"ws://{self.host}/twilio/media"


@asynccontextmanager
async def running_gateway(
    settings: Settings, engines: Engines | None
) -> AsyncIterator[RunningGateway]:
    """Serve the real app with uvicorn on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # connections queue in the backlog until uvicorn starts accepting
    port = sock.getsockname()[1]
    app = create_app(settings, engines)
    config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio", lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield RunningGateway(f"127.0.0.1:{port}", app.state.gateway)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=10)
        sock.close()


@pytest.fixture
def gateway_server(engines: Engines) -> Callable[..., Any]:
    """``async with gateway_server(settings) as server:`` runs a gateway with these settings."""

    def start(settings: Settings) -> Any:
        return running_gateway(settings, engines)

    return start


def with_changes(settings: Settings, **sections: dict[str, Any]) -> Settings:
    """A copy of ``settings`` with some keys of some sections replaced."""
    replaced = {
        name: msgspec.structs.replace(getattr(settings, name), **values)
        for name, values in sections.items()
    }
    return msgspec.structs.replace(settings, **replaced)


# Real OpenAI-compatible servers for the remote backends (started on first use, once a session).
from tests.servers import llm_server, servers_dir, stt_server, tts_server  # noqa: E402, F401
