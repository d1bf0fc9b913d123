"""One call over one WebSocket, whoever is on the other end: what every transport shares.

Twilio's Media Streams (:mod:`gateway.routes.twilio`) and the browser's talk page
(:mod:`gateway.web.talk`) differ only in how a frame reads and how a message to the client is
written. The rest is the same and lives here: the reader task, the silent-socket and call-length
limits, the audio and frame budget, admission, the session's start, sends bounded in time, and
the one place a call ends (its work cancelled, its place given back, its end reported).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from gateway.pipeline.call import CallSession
from gateway.pipeline.caller_context import CallerContext
from gateway.pipeline.reply import Reply
from gateway.runtime import CallEnded, CallStarted, Gateway
from gateway.twilio.flood import AudioBudget
from gateway.twilio.messages import OutboundMessage
from gateway.twilio.rejects import RejectLog

NORMAL_CLOSURE = 1000
GOING_AWAY = 1001
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
SERVICE_RESTART = 1012
TRY_AGAIN_LATER = 1013
CLOSE_TIMEOUT_S = 2.0
"""How long ending a call waits to tell the client (one that does not read never hears)."""
CLOSE_REASON_CHARS = 120
"""A close frame's reason is at most 123 bytes."""


async def admit(socket: WebSocket[Any, Any, Any], gateway: Gateway, where: str) -> bool:
    """Accept the socket if the gateway can take a call now; otherwise close it with 1013 (the
    models are still loading, the gateway is full or draining), counted by ``where``."""
    await socket.accept()
    if gateway.engines is None:
        await socket.close(code=TRY_AGAIN_LATER, reason="models are still loading")
        return False
    if not gateway.admission.may_connect():
        reason = "draining" if gateway.admission.draining else "at_capacity"
        gateway.metrics.calls_rejected.labels(where, reason).inc()
        await socket.close(code=TRY_AGAIN_LATER, reason=reason.replace("_", " "))
        return False
    return True


class CallSocket(ABC):
    """Reads one socket's frames and hands them to the call session.

    Reading runs in a task of its own, so that the call can also be ended from the sending side
    (a client that stopped reading, a socket the server gave up on) or by :meth:`end`. However it
    ends, the session is closed, which cancels all of the call's work.
    """

    peer: ClassVar[str] = "the client"
    """Who sends the frames, as the log and the close reason name them."""

    def __init__(
        self, socket: WebSocket[Any, Any, Any], gateway: Gateway, log: logging.Logger
    ) -> None:
        self._socket = socket
        self._gateway = gateway
        self._log = log
        self._session: CallSession | None = None
        self._stream_sid = ""
        self._open = True
        self._limits = gateway.settings.twilio
        self._budget = AudioBudget(
            self._limits.max_audio_ahead_ms, frame_cost_ms=self._limits.frame_cost_ms
        )
        self._rejects = RejectLog(log)
        self._reader: asyncio.Task[None] | None = None
        self._reason = ""
        self._close_code: int | None = None
        self._admitted = False
        self._dropped = ""
        """Why the gateway ended the call itself, if it did (``calls_dropped``'s reason)."""

    @abstractmethod
    def _dispatch(self, frame: str | bytes) -> bool:
        """Handle one frame; False when the client says the call is over."""

    @abstractmethod
    async def _transmit(self, message: OutboundMessage) -> None:
        """Write one message to the client, in the client's format."""

    async def run(self) -> None:
        self._gateway.metrics.active_calls.inc()
        reader = self._reader = asyncio.ensure_future(self._read())
        max_call_s = self._gateway.settings.call.max_call_s
        too_long = asyncio.get_running_loop().call_later(max_call_s, self._too_long, max_call_s)
        try:
            await asyncio.wait({reader})
        finally:
            too_long.cancel()
            reader.cancel()
            await asyncio.wait({reader})
            self._open = False
            await self._finish()

    def end(self, reason: str, close_code: int | None = NORMAL_CLOSURE) -> None:
        """End the call (the first reason wins); with a ``close_code``, tell the client."""
        self._open = False
        if not self._reason:
            self._reason, self._close_code = reason, close_code
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()

    async def _read(self) -> None:
        try:
            silent_s = self._limits.silent_socket_timeout_ms / 1000
            while not self._reason:
                try:
                    async with asyncio.timeout(silent_s):
                        event = await self._socket.receive()
                except TimeoutError:
                    reason = f"no frame from {self.peer} for {silent_s:g} s"
                    self._drop("silent_socket", reason, GOING_AWAY)
                    return
                if event["type"] == "websocket.disconnect":
                    self._disconnected(event.get("code"))
                elif not self._dispatch(_frame(event)):
                    self.end("caller hung up")
        except WebSocketDisconnect:
            self.end("caller hung up (socket closed)", None)
        except Exception as error:  # a bug must end this call cleanly, not leave it half alive
            self._log.exception("stream=%s failed on an inbound frame", self._stream_sid)
            self._drop("internal_error", f"internal error: {type(error).__name__}", INTERNAL_ERROR)

    def _too_long(self, max_call_s: float) -> None:
        reason = f"the call reached call.max_call_s ({max_call_s:g} s)"
        self._drop("max_call_length", reason, NORMAL_CLOSURE)

    def _disconnected(self, code: object) -> None:
        if code == SERVICE_RESTART:  # our own server closing its connections
            self.end("gateway shutting down", None)
        elif code == MESSAGE_TOO_BIG:  # the server refused a frame before we could see it
            self._reject("too_large", "a frame over the server's WebSocket size limit")
            self.end(f"closed: a frame over the server's size limit (code {code})", None)
        else:
            self.end(f"caller hung up (socket closed, code {code})", None)

    def _drop(self, kind: str, reason: str, close_code: int | None) -> None:
        """The gateway ends the call itself: counted, and logged as a warning."""
        if self._reason:
            return
        self._gateway.metrics.calls_dropped.labels(kind).inc()
        self._dropped = kind
        call = self._session.call_sid if self._session is not None else ""
        self._log.warning("call=%s stream=%s ending the call: %s", call, self._stream_sid, reason)
        self.end(reason, close_code)

    async def _finish(self) -> None:
        reason = self._reason or "gateway shutting down"
        if summary := self._rejects.summary():
            self._log.warning("stream=%s rejected %s", self._stream_sid, summary)
        session, left = self._session, 0
        try:
            if session is not None:
                left = await session.close(reason)
            if self._close_code is not None:
                await self._close(self._close_code, reason)
        finally:
            self._gateway.metrics.active_calls.dec()
            if self._admitted:
                self._gateway.admission.leave()
        if session is not None:
            history = tuple(session.conversation.messages)
            language, dropped = session.language or "", self._dropped
            self._gateway.call_ended(
                CallEnded(session.call_sid, reason, left, history, language, dropped)
            )

    async def _close(self, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._socket.close(code=code, reason=reason[:CLOSE_REASON_CHARS])
        except (TimeoutError, OSError, RuntimeError, WebSocketDisconnect):
            pass  # the client is gone or not reading: there is no one to tell

    def _reject(self, problem: str, detail: str) -> None:
        self._gateway.metrics.bad_messages.labels(problem).inc()
        self._rejects.reject(self._stream_sid, problem, detail)

    def _take_frame(self) -> bool:
        """A frame that is not audio pays its cost; past the budget it is dropped (flooding)."""
        if self._budget.take_frame():
            return True
        self._flooded("frames")
        return False

    def _audio_fits(self, mulaw_bytes: int) -> bool:
        """Caller audio of this length (as 8 kHz mu-law) is within real time plus the burst;
        past it, it is dropped (flooding)."""
        if self._budget.take(mulaw_bytes):
            return True
        self._flooded("caller audio")
        return False

    def _flooded(self, what: str) -> None:
        limits = self._limits
        self._reject("flood", f"{what} more than {limits.max_audio_ahead_ms} ms ahead of real time")
        if self._budget.excess_ms > limits.flood_limit_ms:
            ahead_s = limits.flood_limit_ms / 1000
            reason = f"caller flooded: {what} over {ahead_s:g} s beyond real time dropped"
            self._drop("flood", reason, POLICY_VIOLATION)

    def _open_session(
        self,
        call_sid: str,
        stream_sid: str,
        language: str,
        on_reply: Callable[[Reply], None] | None = None,
        caller: CallerContext | None = None,
    ) -> bool:
        """Admit the call and start its session (greeted at once); False when there is no place
        for it (the call is then ended, 1013). ``on_reply``: see :class:`CallSession`;
        ``caller``: From and To, where the client passed them."""
        gateway = self._gateway
        assert gateway.engines is not None
        self._stream_sid = stream_sid
        if not gateway.admission.admit(call_sid):
            gateway.metrics.calls_rejected.labels("socket", "at_capacity").inc()
            self.end("at capacity", TRY_AGAIN_LATER)
            return False
        self._admitted = True
        self._session = CallSession(
            engines=gateway.engines,
            settings=gateway.settings,
            metrics=gateway.metrics,
            send=self._send,
            stream_sid=stream_sid,
            call_sid=call_sid,
            hang_up=self.end,
            language=language,
            on_reply=on_reply,
            caller=caller or CallerContext(call_sid=call_sid),
            toolbox=gateway.toolbox,
        )
        gateway.metrics.calls.inc()
        session = self._session
        gateway.call_started(CallStarted(session.caller, stream_sid, session.language or ""))
        self._log.info("call=%s stream=%s started (language %s)", call_sid, stream_sid,
                       self._session.language or "to be detected")  # fmt: skip
        self._session.greet()
        return True

    async def _send(self, message: OutboundMessage) -> None:
        await self._sending(self._transmit(message))

    async def _sending(self, write: Coroutine[Any, Any, None]) -> None:
        """Run one write to the client, bounded in time; a client that does not read, or a
        socket that failed, ends the call."""
        if not self._open:
            write.close()
            return  # the call is ending: its tasks are about to be cancelled
        timeout_s = self._limits.send_timeout_ms / 1000
        try:
            async with asyncio.timeout(timeout_s):
                await write
        except TimeoutError:
            reason = f"caller stopped reading (a send waited {timeout_s:g} s)"
            self._drop("not_reading", reason, POLICY_VIOLATION)
        except (OSError, WebSocketDisconnect):
            self._open = False  # the caller is gone: the reader sees the disconnect
        except Exception as error:  # e.g. the server failed the socket on a keepalive timeout
            self._drop("socket_error", f"socket failed: {type(error).__name__}: {error}", None)


def _frame(event: Any) -> str | bytes:
    text, data = event.get("text"), event.get("bytes")
    return text if isinstance(text, str) else data if isinstance(data, bytes) else b""
