"""Twilio's voice webhook and the bidirectional Media Streams socket."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, WebSocket, post, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect

from gateway.pipeline.call import CallSession
from gateway.pipeline.profiles import call_language, profile_for, requested_language
from gateway.runtime import CallEnded, Gateway
from gateway.twilio import signature, stream_token, twiml
from gateway.twilio.codec import MalformedMessage, Problem, decode_inbound, encode_outbound
from gateway.twilio.flood import AudioBudget
from gateway.twilio.messages import (
    Connected,
    Dtmf,
    InboundMessage,
    Mark,
    Media,
    OutboundMessage,
    Start,
    Stop,
)
from gateway.twilio.rejects import RejectLog

log = logging.getLogger("voicegw.twilio")
NORMAL_CLOSURE = 1000
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
SERVICE_RESTART = 1012
TRY_AGAIN_LATER = 1013
GOING_AWAY = 1001
CLOSE_TIMEOUT_S = 2.0
"""How long ending a call waits to tell the client (one that does not read never hears)."""
CLOSE_REASON_CHARS = 120
"""A close frame's reason is at most 123 bytes."""
CALL_SID_CHARS = 64
"""Twilio's call sids are 34 characters; a longer form value is cut, not kept whole."""


def _signed(gateway: Gateway, headers: Any, url: str, params: dict[str, str] | None) -> bool:
    if not gateway.auth_token:
        return True
    given = headers.get("x-twilio-signature", "")
    if signature.is_valid(gateway.auth_token, given, url, params):
        return True
    gateway.metrics.bad_messages.labels("bad_signature").inc()
    # The URL holds the client's Host header: a cut repr, and a line a minute, not one a request.
    gateway.signature_log.warning(
        "rejected a request to %s with a missing or wrong X-Twilio-Signature", repr(url[:100])
    )
    return False


def _public_url(public_url: str, request_url: str) -> str:
    """The URL Twilio signed: behind a proxy, the configured public base plus path and query."""
    if not public_url:
        return request_url
    parts = urlsplit(request_url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{public_url.rstrip('/')}{parts.path}{query}"


@post("/twilio/voice", status_code=200)
async def voice_webhook(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]
) -> Response[str]:
    """Answer an incoming call by connecting its audio to our media socket."""
    public = gateway.settings.server.public_url
    form = await request.form()
    params = {name: str(value) for name, value in form.items()}
    if gateway.auth_token and not _signed(
        gateway, request.headers, _public_url(public, str(request.url)), params
    ):
        return Response("forbidden", status_code=403, media_type="text/plain")
    call_sid = params.get("CallSid", "")[:CALL_SID_CHARS] or f"unnamed-{id(request)}"
    language = requested_language(request.query_params.get("language") or params.get("language"))
    if not gateway.admission.reserve(call_sid):
        return _busy(gateway, "webhook", language)
    host = request.headers.get("host", "localhost")
    url = twiml.stream_url(public, host)
    parameters = {"language": language} if language else {}  # start.customParameters
    if gateway.stream_tokens is not None:
        parameters[stream_token.PARAMETER] = gateway.stream_tokens.mint(call_sid)
    return Response(twiml.connect_stream(url, parameters), media_type="application/xml")


@websocket(twiml.MEDIA_PATH)
async def media_stream(socket: WebSocket[Any, Any, Any], gateway: NamedDependency[Gateway]) -> None:
    host = socket.headers.get("host", "localhost")
    stream = twiml.stream_url(gateway.settings.server.public_url, host)
    if not _signed(gateway, socket.headers, stream, None):
        await socket.close(code=POLICY_VIOLATION, reason="bad signature")
        return
    await socket.accept()
    if gateway.engines is None:
        await socket.close(code=TRY_AGAIN_LATER, reason="models are still loading")
        return
    if not gateway.admission.may_connect():
        reason = "draining" if gateway.admission.draining else "at_capacity"
        gateway.metrics.calls_rejected.labels("socket", reason).inc()
        await socket.close(code=TRY_AGAIN_LATER, reason=reason.replace("_", " "))
        return
    await MediaStream(socket, gateway).run()


def _busy(gateway: Gateway, where: str, language: str = "") -> Response[str]:
    reason = "draining" if gateway.admission.draining else "at_capacity"
    gateway.metrics.calls_rejected.labels(where, reason).inc()
    log.warning("turned a call away: %s (%d calls)", reason, gateway.admission.live)
    settings = gateway.settings
    code = call_language(settings, language)
    message = profile_for(settings, code).busy_message
    if settings.server.when_full == "reject" or not message:
        return Response(twiml.reject_busy(), media_type="application/xml")
    return Response(twiml.say_and_hang_up(message, code or ""), media_type="application/xml")


class MediaStream:
    """Reads one socket's frames and hands typed messages to the call session.

    Reading runs in a task of its own, so that the call can also be ended from the sending side
    (a client that stopped reading, a socket the server gave up on) or by :meth:`end`. However it
    ends, the session is closed, which cancels all of the call's work.
    """

    def __init__(self, socket: WebSocket[Any, Any, Any], gateway: Gateway) -> None:
        self._socket = socket
        self._gateway = gateway
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
                    self._drop(
                        "silent_socket", f"no frame from Twilio for {silent_s:g} s", GOING_AWAY
                    )
                    return
                if event["type"] == "websocket.disconnect":
                    self._disconnected(event.get("code"))
                elif not self._dispatch(_frame(event)):
                    self.end("caller hung up")
        except WebSocketDisconnect:
            self.end("caller hung up (socket closed)", None)
        except Exception as error:  # a bug must end this call cleanly, not leave it half alive
            log.exception("stream=%s failed on an inbound frame", self._stream_sid)
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
        call = self._session.call_sid if self._session is not None else ""
        log.warning("call=%s stream=%s ending the call: %s", call, self._stream_sid, reason)
        self.end(reason, close_code)

    async def _finish(self) -> None:
        reason = self._reason or "gateway shutting down"
        if summary := self._rejects.summary():
            log.warning("stream=%s rejected %s", self._stream_sid, summary)
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
            self._gateway.call_ended(CallEnded(session.call_sid, reason, left, history))

    async def _close(self, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._socket.close(code=code, reason=reason[:CLOSE_REASON_CHARS])
        except (TimeoutError, OSError, RuntimeError, WebSocketDisconnect):
            pass  # the client is gone or not reading: there is no one to tell

    def _reject(self, problem: str, detail: str) -> None:
        self._gateway.metrics.bad_messages.labels(problem).inc()
        self._rejects.reject(self._stream_sid, problem, detail)

    def _dispatch(self, frame: str | bytes) -> bool:
        """Handle one frame; False when the stream is over."""
        try:
            message = decode_inbound(frame)
        except MalformedMessage as error:
            self._malformed(error)
            return True
        if not self._within_budget(message) or isinstance(message, Connected):
            return True
        if isinstance(message, Start):
            self._start(message)
            return True
        session = self._session
        if session is None:
            self._reject("before_start", f"{type(message).__name__} before start")
            return True
        if message.stream_sid and message.stream_sid != self._stream_sid:
            self._reject("wrong_stream", f"streamSid {message.stream_sid[:40]!r}")
            return True
        return self._to_session(session, message)

    def _within_budget(self, message: InboundMessage) -> bool:
        """Marks, key presses, starts pay a frame's cost and are dropped past their budget;
        audio pays by its length (later); a stop always ends the call."""
        if isinstance(message, Media | Stop) or self._budget.take_frame():
            return True
        self._flooded("frames")
        return False

    def _malformed(self, error: MalformedMessage) -> None:
        if not self._budget.take_frame():
            self._flooded("frames")
        self._reject(error.problem.value, error.detail)
        if error.problem is Problem.BAD_SID:  # nothing this client says can be trusted
            self._drop("bad_sid", "a start with sids not in Twilio's format", POLICY_VIOLATION)

    def _to_session(self, session: CallSession, message: Media | Mark | Dtmf | Stop) -> bool:
        match message:
            case Media(media=chunk):
                if self._budget.take(len(chunk.payload)):
                    session.on_audio(chunk.payload)
                else:
                    self._flooded("caller audio")
            case Mark(mark=label):
                session.on_mark(label.name)
            case Dtmf(dtmf=digit):
                session.on_dtmf(digit.digit)
            case Stop():
                return False
        return True

    def _flooded(self, what: str) -> None:
        limits = self._limits
        self._reject("flood", f"{what} more than {limits.max_audio_ahead_ms} ms ahead of real time")
        if self._budget.excess_ms > limits.flood_limit_ms:
            ahead_s = limits.flood_limit_ms / 1000
            reason = f"caller flooded: {what} over {ahead_s:g} s beyond real time dropped"
            self._drop("flood", reason, POLICY_VIOLATION)

    def _start(self, message: Start) -> None:
        if self._session is not None:
            self._reject("duplicate_start", message.start.stream_sid)
            return
        gateway = self._gateway
        assert gateway.engines is not None
        self._stream_sid = message.start.stream_sid or message.stream_sid
        if gateway.stream_tokens is not None:
            token = message.start.custom_parameters.get(stream_token.PARAMETER, "")
            refused = gateway.stream_tokens.spend(token, message.start.call_sid)
            if refused:
                self._reject("bad_token", refused)
                self._drop("bad_token", f"stream refused: {refused}", POLICY_VIOLATION)
                return
        if not gateway.admission.admit(message.start.call_sid):
            gateway.metrics.calls_rejected.labels("socket", "at_capacity").inc()
            self.end("at capacity", TRY_AGAIN_LATER)
            return
        self._admitted = True
        self._session = CallSession(
            engines=gateway.engines,
            settings=gateway.settings,
            metrics=gateway.metrics,
            send=self._send,
            stream_sid=self._stream_sid,
            call_sid=message.start.call_sid,
            hang_up=self.end,
            language=requested_language(message.start.custom_parameters.get("language")),
        )
        gateway.metrics.calls.inc()
        log.info("call=%s stream=%s started (language %s)", message.start.call_sid,
                 self._stream_sid, self._session.language or "to be detected")  # fmt: skip
        self._session.greet()

    async def _send(self, message: OutboundMessage) -> None:
        if not self._open:
            return  # the call is ending: its tasks are about to be cancelled
        timeout_s = self._limits.send_timeout_ms / 1000
        try:
            async with asyncio.timeout(timeout_s):
                await self._socket.send_text(encode_outbound(message))
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
