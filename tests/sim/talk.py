"""The talk page's side of ``WS /talk``, for tests that need no browser, and the spoken WAV the
browser's fake microphone plays."""

from __future__ import annotations

import asyncio
import contextlib
import time
import wave
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import msgspec
import numpy as np
import numpy.typing as npt
import websockets
from websockets.asyncio.client import ClientConnection

from gateway.audio.resample import resample
from gateway.tts.base import Synthesizer

PAGE_RATE_HZ = 16_000
FRAME_SAMPLES = 320
"""20 ms at 16 kHz: what the page's microphone worklet sends."""
FRAME_S = 0.02


async def speech(synthesizer: Synthesizer, text: str, rate_hz: int) -> npt.NDArray[np.float32]:
    """``text`` spoken by the gateway's own voice (Piper), at ``rate_hz``, -1..1."""
    parts: list[npt.NDArray[np.float32]] = []
    native = rate_hz
    async for chunk in synthesizer.synthesize(text):
        native = chunk.sample_rate_hz
        parts.append(chunk.samples.astype(np.float32) / 32768.0)
    return resample(np.concatenate(parts), native, rate_hz)


def write_wav(path: Path, samples: npt.NDArray[np.float32], rate_hz: int) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate_hz)
        out.writeframes(pcm.tobytes())


def padded(
    samples: npt.NDArray[np.float32], rate_hz: int, before_s: float, after_s: float
) -> npt.NDArray[np.float32]:
    before = np.zeros(int(before_s * rate_hz), np.float32)
    after = np.zeros(int(after_s * rate_hz), np.float32)
    return np.concatenate([before, samples, after])


class TalkClient:
    """Connects like the page: 16 kHz PCM out at real time (silence between utterances), each
    mark echoed as it arrives (a client that plays instantly), turn events kept by label."""

    def __init__(self, url: str, origin: str | None = None) -> None:
        self._url = url
        self._origin = origin
        self._socket: ClientConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._to_say: deque[bytes] = deque()
        self.call_sid = ""
        self.audio_frames = 0
        self.marks_echoed: list[str] = []
        self.turns: dict[str, list[dict[str, Any]]] = {}
        """Every turn event, by label, in order."""
        self._changed = asyncio.Event()

    async def __aenter__(self) -> Self:
        origin = None if self._origin is None else websockets.Origin(self._origin)
        self._socket = await websockets.connect(self._url, origin=origin, max_size=2**20)
        start = msgspec.json.decode(await asyncio.wait_for(self._socket.recv(), 10))
        assert start["event"] == "start", start
        self.call_sid = start["call_sid"]
        self._tasks = [
            asyncio.create_task(self._read()),
            asyncio.create_task(self._speak()),
        ]
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._socket is not None:
            await self._socket.close()

    @property
    def socket(self) -> ClientConnection:
        assert self._socket is not None
        return self._socket

    def say(self, samples: npt.NDArray[np.float32]) -> None:
        """Queue speech (16 kHz, -1..1): it goes out at real time, after what is queued."""
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
        pcm = np.concatenate([pcm, np.zeros(-len(pcm) % FRAME_SAMPLES, "<i2")])
        for start in range(0, len(pcm), FRAME_SAMPLES):
            self._to_say.append(pcm[start : start + FRAME_SAMPLES].tobytes())

    async def turn(
        self, label: str, done: Callable[[dict[str, Any]], bool], timeout_s: float
    ) -> dict[str, Any]:
        """The first event of ``label`` for which ``done`` holds."""
        async with asyncio.timeout(timeout_s):
            while True:
                for event in self.turns.get(label, []):
                    if done(event):
                        return event
                self._changed.clear()
                await self._changed.wait()

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in self.socket:
                if isinstance(message, bytes):
                    self.audio_frames += 1
                    continue
                event = msgspec.json.decode(message)
                if event["event"] == "mark":
                    self.marks_echoed.append(event["name"])
                    await self.socket.send(msgspec.json.encode(event).decode())
                elif event["event"] == "turn":
                    self.turns.setdefault(event["label"], []).append(event)
                self._changed.set()

    async def _speak(self) -> None:
        silence = bytes(FRAME_SAMPLES * 2)
        next_at = time.monotonic()
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                frame = self._to_say.popleft() if self._to_say else silence
                await self.socket.send(frame)
                next_at += FRAME_S
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))  # real-time pacing
