"""Clients that misbehave on the media socket: bad frames, floods, hang-ups, a deaf reader.

The well-behaved caller is :class:`tests.sim.caller.SimulatedCaller`; these are the things a
broken or hostile client (or a bad network) does to the gateway, over a real WebSocket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import time
from typing import Any

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection

from gateway.audio.frames import FRAME_BYTES, FRAME_MS
from gateway.audio.mulaw import SILENCE_BYTE
from tests.sim.sids import ACCOUNT_SID, named_call

SILENCE = bytes([SILENCE_BYTE]) * FRAME_BYTES


def start_message(stream_sid: str, call_sid: str) -> str:
    return _json(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": stream_sid,
            "start": {
                "accountSid": ACCOUNT_SID,
                "streamSid": stream_sid,
                "callSid": call_sid,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    )


def dtmf_message(stream_sid: str, digit: str) -> str:
    return _json(
        {
            "event": "dtmf",
            "streamSid": stream_sid,
            "dtmf": {"track": "inbound_track", "digit": digit},
        }
    )


def media_message(stream_sid: str, payload: bytes) -> str:
    encoded = base64.b64encode(payload).decode()
    return _json({"event": "media", "streamSid": stream_sid, "media": {"payload": encoded}})


def _json(message: dict[str, Any]) -> str:
    return msgspec.json.encode(message).decode()


def bad_frames(stream_sid: str, megabytes: int = 1) -> dict[str, list[str | bytes]]:
    """Frames a started stream must reject, by the problem they are counted under."""
    huge = media_message(stream_sid, b"\xff" * (megabytes * 1024 * 1024))
    return {
        "binary": [b"\x00\x01binary", bytes(FRAME_BYTES)],
        "not_json": ["not json at all", "{", '{"event": "media", '],
        "unknown_event": ['{"event":"dance"}', '{"no_event":1}', '{"event":null}'],
        "wrong_stream": [media_message(named_call("someone else").stream_sid, SILENCE)],
        "invalid": [
            '{"event":"media","media":{"payload":"%%%not base64"}}',
            '{"event":"media"}',
            '{"event":"media","media":{"payload":5}}',
        ],
        "too_large": [huge],
        "duplicate_start": [start_message(stream_sid, named_call("again").call_sid)],
        "bad_digit": [dtmf_message(stream_sid, digit) for digit in ("12", "A", "", "\n")],
    }


def odd_payloads() -> list[bytes]:
    """Media that is valid but not a 20 ms frame: taken as audio, not rejected."""
    return [b"", b"\xff", b"\x7f" * 7, SILENCE + b"\x00", bytes(range(256)) * 4]


async def flood(
    connection: ClientConnection,
    stream_sid: str,
    max_frames: int,
    payload: bytes = SILENCE,
    block: int = 200,
) -> int:
    """Send up to ``max_frames`` media frames as fast as the socket takes them, or until the
    gateway closes the socket; returns how many were sent. Between blocks of frames it lets the
    rest of the event loop run: the flood shares its process with the gateway and the callers."""
    message = media_message(stream_sid, payload)
    sent = 0
    with contextlib.suppress(websockets.ConnectionClosed):
        while sent < max_frames:
            for _ in range(block):
                await connection.send(message)
                sent += 1
            await asyncio.sleep(0)  # a yield, not a wait
    return sent


async def connect_deaf(url: str, receive_buffer_bytes: int = 4096) -> ClientConnection:
    """A client that never reads what the gateway sends.

    A small kernel receive buffer and a one-message queue mean the gateway's sends back up after a
    few kilobytes; no keepalive pings, so the client does not notice its own deafness.
    """
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer_bytes)
    raw.setblocking(False)
    host, port = url.removeprefix("ws://").split("/", 1)[0].rsplit(":", 1)
    await asyncio.get_running_loop().sock_connect(raw, (host, int(port)))
    return await websockets.connect(url, sock=raw, max_queue=1, ping_interval=None)


async def speak(connection: ClientConnection, stream_sid: str, frames: list[bytes]) -> None:
    """Send caller audio at real time, as Twilio does."""
    due = time.monotonic()
    for frame in frames:
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the caller's audio at real time
        due += FRAME_MS / 1000
        await connection.send(media_message(stream_sid, frame))


class RawCall:
    """A bare started call: echoes marks on receipt (it plays nothing), and can hang up the way
    a lost network does (no ``stop``, no close frame)."""

    def __init__(self, connection: ClientConnection, stream_sid: str) -> None:
        self.connection = connection
        self.stream_sid = stream_sid
        self.marks: asyncio.Queue[str] = asyncio.Queue()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, url: str, call_sid: str, stream_sid: str) -> RawCall:
        connection = await websockets.connect(url, max_size=2**22)
        await connection.send(_json({"event": "connected", "protocol": "Call", "version": "1"}))
        await connection.send(start_message(stream_sid, call_sid))
        return cls(connection, stream_sid)

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await self._read_messages()

    async def _read_messages(self) -> None:
        async for raw in self.connection:
            message = msgspec.json.decode(raw)
            if message.get("event") == "mark":
                name = message["mark"]["name"]
                await self.connection.send(
                    _json({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})
                )
                self.marks.put_nowait(name)

    async def wait_for_mark(self, prefix: str) -> str:
        while not (name := await self.marks.get()).startswith(prefix):
            pass
        return name

    async def ask(self, frames: list[bytes], timeout_s: float) -> str:
        """Speak, then send line silence (which is what ends the turn) until the reply's first
        mark; returns its name."""
        waiter = asyncio.ensure_future(self.wait_for_mark("turn"))
        try:
            async with asyncio.timeout(timeout_s):
                await speak(self.connection, self.stream_sid, frames)
                while not waiter.done():
                    await speak(self.connection, self.stream_sid, [SILENCE] * 5)
                return await waiter
        finally:
            waiter.cancel()

    def drop(self) -> None:
        """The TCP connection goes at once, as when the network is lost."""
        self.connection.transport.abort()

    async def close(self) -> None:
        self._reader.cancel()
        await asyncio.wait({self._reader})
        await self.connection.close()
