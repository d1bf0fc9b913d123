"""Twilio's voice webhook and the bidirectional Media Streams socket."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, WebSocket, post, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect

from gateway.pipeline.call import CallSession
from gateway.runtime import CallEnded, Gateway
from gateway.twilio import signature, twiml
from gateway.twilio.codec import MalformedMessage, decode_inbound, encode_outbound
from gateway.twilio.messages import (
    Connected,
    Dtmf,
    Mark,
    Media,
    OutboundMessage,
    Start,
    Stop,
)

log = logging.getLogger("voicegw.twilio")
TRY_AGAIN_LATER = 1013
POLICY_VIOLATION = 1008


def _signed(gateway: Gateway, headers: Any, url: str, params: dict[str, str] | None) -> bool:
    if not gateway.auth_token:
        return True
    given = headers.get("x-twilio-signature", "")
    if signature.is_valid(gateway.auth_token, given, url, params):
        return True
    gateway.metrics.bad_messages.labels("bad_signature").inc()
    log.warning("rejected a request to %s with a missing or wrong X-Twilio-Signature", url)
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
    if gateway.auth_token:
        form = await request.form()
        params = {name: str(value) for name, value in form.items()}
        if not _signed(gateway, request.headers, _public_url(public, str(request.url)), params):
            return Response("forbidden", status_code=403, media_type="text/plain")
    host = request.headers.get("host", "localhost")
    url = twiml.stream_url(public, host)
    return Response(twiml.connect_stream(url), media_type="application/xml")


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
    await MediaStream(socket, gateway).run()


class MediaStream:
    """Reads one socket's frames and hands typed messages to the call session."""

    def __init__(self, socket: WebSocket[Any, Any, Any], gateway: Gateway) -> None:
        self._socket = socket
        self._gateway = gateway
        self._session: CallSession | None = None
        self._stream_sid = ""
        self._open = True

    async def run(self) -> None:
        metrics = self._gateway.metrics
        metrics.active_calls.inc()
        reason = "caller hung up"
        try:
            while True:
                event = await self._socket.receive()
                text, data = event.get("text"), event.get("bytes")
                frame = text if isinstance(text, str) else data if isinstance(data, bytes) else b""
                if not self._dispatch(frame):
                    break
        except WebSocketDisconnect:
            reason = "caller hung up (socket closed)"
        finally:
            self._open = False
            metrics.active_calls.dec()
            if self._session is not None:
                left = await self._session.close(reason)
                self._gateway.call_ended(CallEnded(self._session.call_sid, reason, left))

    def _reject(self, problem: str, detail: str) -> None:
        self._gateway.metrics.bad_messages.labels(problem).inc()
        log.warning("stream=%s rejected frame (%s): %s", self._stream_sid, problem, detail[:200])

    def _dispatch(self, frame: str | bytes) -> bool:
        """Handle one frame; False when the stream is over."""
        try:
            message = decode_inbound(frame)
        except MalformedMessage as error:
            self._reject(error.problem.value, error.detail)
            return True
        if isinstance(message, Connected):
            return True
        if isinstance(message, Start):
            self._start(message)
            return True
        session = self._session
        if session is None:
            self._reject("before_start", f"{type(message).__name__} before start")
            return True
        if message.stream_sid and message.stream_sid != self._stream_sid:
            self._reject("wrong_stream", f"streamSid {message.stream_sid!r}")
            return True
        return self._to_session(session, message)

    @staticmethod
    def _to_session(session: CallSession, message: Media | Mark | Dtmf | Stop) -> bool:
        match message:
            case Media(media=chunk):
                session.on_audio(chunk.payload)
            case Mark(mark=label):
                session.on_mark(label.name)
            case Dtmf(dtmf=digit):
                session.on_dtmf(digit.digit)
            case Stop():
                return False
        return True

    def _start(self, message: Start) -> None:
        if self._session is not None:
            self._reject("duplicate_start", message.start.stream_sid)
            return
        gateway = self._gateway
        assert gateway.engines is not None
        self._stream_sid = message.start.stream_sid or message.stream_sid
        self._session = CallSession(
            engines=gateway.engines,
            settings=gateway.settings,
            metrics=gateway.metrics,
            send=self._send,
            stream_sid=self._stream_sid,
            call_sid=message.start.call_sid,
        )
        gateway.metrics.calls.inc()
        log.info("call=%s stream=%s started", message.start.call_sid, self._stream_sid)
        self._session.greet()

    async def _send(self, message: OutboundMessage) -> None:
        if not self._open:
            return  # the caller is gone; the reader is closing the session
        try:
            await self._socket.send_text(encode_outbound(message))
        except Exception:  # a socket closing under us: the reader sees the disconnect
            self._open = False
