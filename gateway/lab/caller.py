"""A Twilio Media Streams client: what Twilio's side of a call does, over a real WebSocket.

Product code because ``voicegw call`` and ``voicegw bench`` are this client; the tests and the
developer benches use it too (``tests.sim.caller.SimulatedCaller`` numbers its sids).

It sends ``connected`` and ``start``, streams caller audio as 20 ms mu-law frames in real time
(silence between utterances, as a phone line does), records when each reply frame arrives, and
plays the reply back at real time the way Twilio does: each ``mark`` is echoed once the audio
sent before it has played, and ``clear`` drops the unplayed audio and echoes every pending mark
at once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import msgspec
import numpy as np
import websockets

from gateway.audio import mulaw
from gateway.audio.frames import FRAME_BYTES, FRAME_MS
from gateway.audio.mulaw import SILENCE_BYTE
from gateway.lab.clip import voiced_frames

SILENT_FRAME = bytes([SILENCE_BYTE]) * FRAME_BYTES


def audible(payload: bytes) -> bool:
    """Whether a mu-law frame holds sound a caller hears, not the silence before a word: voiced
    as a clip's frames are (:func:`gateway.lab.clip.voiced_frames`), so the caller times the
    reply's first sound as it times its own last."""
    pcm = mulaw.decode(payload).astype(np.float32)
    pcm /= 32768
    return bool(voiced_frames(pcm).any())


ACCOUNT_SID = "AC" + "0" * 31 + "1"
MAX_MESSAGE_BYTES = 2**22
"""The gateway's frames are small; a bigger one is not Twilio's protocol."""


def random_sids() -> tuple[str, str]:
    """A call sid and a stream sid in Twilio's format (the gateway refuses others)."""
    digits = secrets.token_hex(16)
    return f"CA{digits}", f"MZ{digits}"


@dataclass
class Received:
    at: float
    payload: bytes


@dataclass
class TurnResult:
    last_voiced_sent_at: float
    reply: list[Received] = field(default_factory=list)
    premature: list[Received] = field(default_factory=list)
    """Reply audio that arrived while the caller was still speaking the utterance."""
    marks: list[str] = field(default_factory=list)

    @property
    def voice_to_voice_ms(self) -> float | None:
        if not self.reply:
            return None
        return (self.reply[0].at - self.last_voiced_sent_at) * 1000

    @property
    def audio(self) -> bytes:
        return b"".join(r.payload for r in self.reply)


class LineNoise:
    """Stationary white noise added to mu-law frames (seeded, so runs compare)."""

    def __init__(self, dbfs: float, seed: int = 0) -> None:
        self._rms = 32768.0 * 10 ** (dbfs / 20)
        self._rng = np.random.default_rng(seed)

    def mix(self, payload: bytes) -> bytes:
        samples = mulaw.decode(payload).astype(np.float64)
        samples += self._rng.standard_normal(len(samples)) * self._rms
        return mulaw.encode(np.clip(samples, -32768, 32767).astype(np.int16))


class TwilioCaller:
    def __init__(
        self,
        url: str,
        call_sid: str = "",
        stream_sid: str = "",
        line_noise_dbfs: float | None = None,
        custom_parameters: dict[str, str] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ):
        """Sids default to random ones in Twilio's format (the gateway refuses others).
        ``line_noise_dbfs``: white noise at this RMS level is mixed into every frame sent,
        speech and silence alike, as on a noisy line. ``headers`` go with the socket upgrade
        (``X-Twilio-Signature``)."""
        self.url = url
        self._custom_parameters = dict(custom_parameters or {})
        """The ``start`` message's (TwiML ``<Parameter>`` values, e.g. ``{"language": "ko"}``)."""
        self._noise = LineNoise(line_noise_dbfs) if line_noise_dbfs is not None else None
        random_call, random_stream = random_sids()
        self.call_sid = call_sid or random_call
        self.stream_sid = stream_sid or random_stream
        self._headers = dict(headers or {})
        self._socket: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._media: asyncio.Queue[Received] = asyncio.Queue()
        self.media_arrived = asyncio.Event()
        """Set whenever reply audio arrives (clear it, then wait for the next)."""
        self.marks: asyncio.Queue[str] = asyncio.Queue()
        """Names of marks echoed (after their audio played, or at a clear), in order."""
        self._pending_marks: deque[tuple[float, str]] = deque()
        self._marks_changed = asyncio.Event()
        self._echoer: asyncio.Task[None] | None = None
        self.other_events: list[dict[str, Any]] = []
        self.foreign: list[dict[str, Any]] = []
        """Outbound messages addressed to another stream (another call's audio crossing over)."""
        self.timeline: list[tuple[float, str, str]] = []
        """Every outbound message as (received at, event, name): a mark's name; ``"sound"`` for
        a media frame the caller hears (:func:`audible`), ``""`` for one of silence."""
        self.clears: asyncio.Queue[float] = asyncio.Queue()
        """When each ``clear`` arrived."""
        self.utterance_starts: asyncio.Queue[float] = asyncio.Queue()
        """When the first frame of each ``say`` was sent."""
        self._sequence = itertools.count(1)
        self._chunk = itertools.count(1)
        self._played_until = 0.0
        self._clock = time.monotonic
        self._next_frame_at = 0.0

    async def __aenter__(self) -> Self:
        self._socket = await websockets.connect(
            self.url, max_size=MAX_MESSAGE_BYTES, additional_headers=self._headers
        )
        self._reader = asyncio.create_task(self._read())
        self._echoer = asyncio.create_task(self._echo_marks())
        await self.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send_json(
            self._envelope(
                "start",
                start={
                    "accountSid": ACCOUNT_SID,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "customParameters": self._custom_parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            )
        )
        self._next_frame_at = self._clock()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            await self.send_json({"event": "stop", "streamSid": self.stream_sid, "stop": {}})
        await self._socket.close()
        for task in (self._reader, self._echoer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _envelope(self, event: str, **body: Any) -> dict[str, Any]:
        """An inbound message as Twilio frames it: event, sequence number, stream, body."""
        return {
            "event": event,
            "sequenceNumber": str(next(self._sequence)),
            "streamSid": self.stream_sid,
            **body,
        }

    async def send_json(self, message: dict[str, Any]) -> None:
        await self._socket.send(msgspec.json.encode(message).decode())

    async def press(self, digit: str) -> None:
        """A keypad press, as Twilio reports it."""
        await self.send_json(
            self._envelope("dtmf", dtmf={"track": "inbound_track", "digit": digit})
        )

    async def send_raw(self, frame: str | bytes) -> None:
        await self._socket.send(frame)

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await self._read_messages()

    async def _read_messages(self) -> None:
        async for raw in self._socket:
            message = msgspec.json.decode(raw)
            now = self._clock()
            event = message.get("event")
            name = message["mark"]["name"] if event == "mark" else ""
            if event == "media":
                payload = base64.b64decode(message["media"]["payload"])
                name = "sound" if audible(payload) else ""
            self.timeline.append((now, str(event), name))
            if message.get("streamSid") != self.stream_sid:
                self.foreign.append(message)
            if event == "media":
                self._media.put_nowait(Received(now, payload))
                self.media_arrived.set()
                start = max(self._played_until, now)
                self._played_until = start + len(payload) / 8000
            elif event == "mark":
                self._pending_marks.append((self._played_until, name))
                self._marks_changed.set()
            elif event == "clear":
                self.clears.put_nowait(now)
                self._played_until = now
                while self._pending_marks:
                    await self._echo(self._pending_marks.popleft()[1])
            else:
                self.other_events.append(message)

    async def _echo(self, name: str) -> None:
        self.marks.put_nowait(name)
        await self.send_json(self._envelope("mark", mark={"name": name}))

    async def _echo_marks(self) -> None:
        """Echo each mark, in order, once the audio sent before it has played."""
        while True:
            self._marks_changed.clear()
            if not self._pending_marks:
                await self._marks_changed.wait()
                continue
            played_at, name = self._pending_marks[0]
            delay = played_at - self._clock()
            if delay > 0:
                # Playback of the buffered audio at real time; a clear ends it early.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._marks_changed.wait()
                continue
            self._pending_marks.popleft()
            await self._echo(name)

    async def send_frame(self, payload: bytes) -> float:
        """Send one 20 ms frame at its real-time slot; returns when it was sent."""
        delay = self._next_frame_at - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the caller's audio at real time
        self._next_frame_at = max(self._next_frame_at, self._clock() - 0.1) + FRAME_MS / 1000
        chunk = next(self._chunk)
        if self._noise is not None:
            payload = self._noise.mix(payload)
        await self.send_json(
            self._envelope(
                "media",
                media={
                    "track": "inbound",
                    "chunk": str(chunk),
                    "timestamp": str((chunk - 1) * FRAME_MS),
                    "payload": base64.b64encode(payload).decode(),
                },
            )
        )
        return self._clock()

    def forget_timeline(self) -> None:
        """Drop the timeline so far: a long call's measurer reads one turn at a time, and the
        list would otherwise grow by 50 entries a second of reply for the whole call."""
        self.timeline.clear()

    def drain_media(self) -> list[Received]:
        items = []
        while not self._media.empty():
            items.append(self._media.get_nowait())
        return items

    async def wait_for_mark(self, prefix: str, timeout_s: float, keep_talking: bool = True) -> str:
        """Send silence (as a live line does) until a mark starting with ``prefix`` is echoed."""

        async def next_mark() -> str:
            while True:
                name = await self.marks.get()
                if name.startswith(prefix):
                    return name

        waiter = asyncio.create_task(next_mark())
        try:
            async with asyncio.timeout(timeout_s):
                while not waiter.done():
                    if keep_talking:
                        await self.send_frame(SILENT_FRAME)
                    else:
                        await asyncio.wait({waiter})
                return await waiter
        finally:
            waiter.cancel()

    async def say(self, frames: list[bytes], reply_timeout_s: float = 20.0) -> TurnResult:
        """Speak an utterance, then stay on the line in silence until the reply has played."""
        self.drain_media()
        last_sent = 0.0
        for index, frame in enumerate(frames):
            last_sent = await self.send_frame(frame)
            if index == 0:
                self.utterance_starts.put_nowait(last_sent)
        result = TurnResult(last_voiced_sent_at=last_sent)
        result.premature = self.drain_media()
        while not (result.marks and result.marks[-1].endswith("-end")):
            result.marks.append(await self.wait_for_mark("turn", reply_timeout_s))
        result.reply = self.drain_media()
        return result

    @property
    def played_until(self) -> float:
        """When the reply audio received so far will have finished playing (clock seconds); in
        the past when nothing is playing. A caller who waits "until they hear something" counts
        from here."""
        return self._played_until

    @property
    def close_code(self) -> int | None:
        """The WebSocket close code once the socket has closed (None while it is open)."""
        code: int | None = None if self._socket is None else self._socket.close_code
        return code
