"""Small real HTTP services on 127.0.0.1 for the tools tests: a tool endpoint (an order-status
lookup), and a server speaking the shape of Twilio's REST API for updating a live call. The
gateway reaches them over real sockets, as it would reach the operator's service or Twilio.

Every request is kept (``requests``) and also put on a queue, so a test can await the next one
with a timeout instead of polling. A handler that must be slow waits on an event the test holds
(``release``), never on a timer.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import msgspec

MAX_BODY_BYTES = 1 << 20


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return msgspec.json.decode(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class HttpAnswer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


Handler = Callable[[HttpRequest], Awaitable[HttpAnswer]]


class LocalHttpServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[HttpRequest] = []
        self.arrived: asyncio.Queue[HttpRequest] = asyncio.Queue()
        self.release = asyncio.Event()
        """Set by the test (or at exit) to let a handler that waits for it go on."""
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def next_request(self, timeout_s: float) -> HttpRequest:
        async with asyncio.timeout(timeout_s):
            return await self.arrived.get()

    async def __aenter__(self) -> LocalHttpServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.release.set()
        assert self._server is not None
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while request := await _read_request(reader):
                self.requests.append(request)
                self.arrived.put_nowait(request)
                answer = await self.handler(request)
                head = (
                    f"HTTP/1.1 {answer.status} X\r\nContent-Type: {answer.content_type}\r\n"
                    f"Content-Length: {len(answer.body)}\r\n\r\n"
                )
                writer.write(head.encode("latin-1") + answer.body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    except asyncio.IncompleteReadError:
        return None
    lines = head.split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:] if line)
    }
    length = min(int(headers.get("content-length", "0")), MAX_BODY_BYTES)
    body = await reader.readexactly(length)
    return HttpRequest(method, path, headers, body)


def json_answer(value: object, status: int = 200) -> HttpAnswer:
    return HttpAnswer(status, msgspec.json.encode(value))


class TwilioRestShape:
    """``POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`` as Twilio answers it: basic
    auth as the account, a form body, 200 and the call resource; 401 for wrong credentials, 404
    for another path (Twilio's error JSON shape)."""

    PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Calls/(CA[0-9a-f]{32})\.json$")

    def __init__(self, account_sid: str, auth_token: str) -> None:
        token = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self._expected_auth = f"Basic {token}"

    async def __call__(self, request: HttpRequest) -> HttpAnswer:
        match = self.PATH.match(request.path)
        if request.method != "POST" or match is None:
            return json_answer({"code": 20404, "message": "not found", "status": 404}, 404)
        if request.headers.get("authorization") != self._expected_auth:
            return json_answer({"code": 20003, "message": "Authenticate", "status": 401}, 401)
        account_sid, call_sid = match.groups()
        return json_answer({"sid": call_sid, "account_sid": account_sid, "status": "in-progress"})
