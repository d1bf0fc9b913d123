"""A ``voicegw serve`` subprocess on a free loopback port, for the bench.

A subprocess, not an app in the bench's own process: each configuration gets the process a user
would run (its own models, threads and settings), and several can run side by side. Its call
records go to a file of the bench's own, and its log to a file next to the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import TextIO

STARTUP_TIMEOUT_S = 240.0
"""Loading the models on a busy two-core machine takes a minute or more."""
STOP_TIMEOUT_S = 15.0
READY_LINE = "listening on"
TAIL_LINES = 15


class GatewayStartError(RuntimeError):
    def __init__(self, output: list[str]) -> None:
        super().__init__("gateway exited during start-up:\n" + "\n".join(output[-TAIL_LINES:]))
        self.output = output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GatewayProcess:
    """``async with GatewayProcess(config, env, log_path) as gateway: gateway.url``"""

    def __init__(self, config: Path | None, env: dict[str, str], log_path: Path) -> None:
        self.config = config
        self.env = env
        """Overrides on top of this process's environment (``VOICEGW_RECORDS__PATH``, ...)."""
        self.log_path = log_path
        self.port = 0
        self._process: asyncio.subprocess.Process | None = None
        self._copier: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "gateway", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port)]
        if self.config is not None:
            command += ["--config", str(self.config)]
        process = await asyncio.create_subprocess_exec(
            *command,
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._process = process
        assert process.stderr is not None
        log = self.log_path.open("a")
        output: list[str] = []
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT_S):
                while READY_LINE not in (line := await self._line(process.stderr, log)):
                    output.append(line.rstrip())
                    if not line:  # stderr closed: the process has exited
                        await process.wait()
                        raise GatewayStartError(output)
        except BaseException:
            log.close()
            await self.stop()
            raise
        # Keep reading its log, or it blocks once the pipe is full.
        self._copier = asyncio.create_task(self._copy(process.stderr, log))

    @staticmethod
    async def _line(stream: asyncio.StreamReader, log: TextIO) -> str:
        line = (await stream.readline()).decode(errors="replace")
        log.write(line)
        return line

    async def _copy(self, stream: asyncio.StreamReader, log: TextIO) -> None:
        try:
            while await self._line(stream, log):
                pass
        finally:
            log.close()

    async def stop(self) -> None:
        """SIGTERM (the gateway drains, flushes its records and exits), then SIGKILL if it
        has not exited in time."""
        process = self._process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=STOP_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._copier is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._copier, timeout=5)

    async def __aenter__(self) -> GatewayProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
