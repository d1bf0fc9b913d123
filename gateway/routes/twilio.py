"""Twilio's voice webhook and the bidirectional Media Streams socket."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, WebSocket, post, websocket
from litestar.di import NamedDependency

from gateway.pipeline.call import CallSession
from gateway.pipeline.caller_context import CallerContext, stream_parameters
from gateway.pipeline.profiles import call_language, profile_for, requested_language
from gateway.routes.call_socket import POLICY_VIOLATION, CallSocket, admit
from gateway.runtime import Gateway
from gateway.twilio import signature, stream_token, twiml
from gateway.twilio.codec import MalformedMessage, Problem, decode_inbound, encode_outbound
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

log = logging.getLogger("voicegw.twilio")
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
    parameters.update(stream_parameters(params))  # From, To, CallSid: the stream has none
    if gateway.stream_tokens is not None:
        parameters[stream_token.PARAMETER] = gateway.stream_tokens.mint(call_sid)
    toolbox = gateway.toolbox
    action = twiml.after_stream_url(public, host) if toolbox and toolbox.uses_connect_action else ""
    return Response(twiml.connect_stream(url, parameters, action), media_type="application/xml")


@post(twiml.AFTER_STREAM_PATH, status_code=200)
async def after_stream(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]
) -> Response[str]:
    """Twilio asks what to do once the stream has ended (the ``<Connect>`` action): ``<Dial>``
    the target of a transfer the agent made on that call, else ``<Hangup/>``. Signed like the
    webhook; a target is given out once."""
    form = await request.form()
    params = {name: str(value) for name, value in form.items()}
    url = _public_url(gateway.settings.server.public_url, str(request.url))
    if gateway.auth_token and not _signed(gateway, request.headers, url, params):
        return Response("forbidden", status_code=403, media_type="text/plain")
    call_sid = params.get("CallSid", "")[:CALL_SID_CHARS]
    toolbox = gateway.toolbox
    target = toolbox.transfers.take(call_sid) if toolbox is not None and call_sid else None
    if target is None:
        return Response(twiml.hang_up(), media_type="application/xml")
    log.info("call=%s transferred: <Dial> from the after-stream action", call_sid)
    return Response(twiml.dial(target), media_type="application/xml")


@websocket(twiml.MEDIA_PATH)
async def media_stream(socket: WebSocket[Any, Any, Any], gateway: NamedDependency[Gateway]) -> None:
    host = socket.headers.get("host", "localhost")
    stream = twiml.stream_url(gateway.settings.server.public_url, host)
    if not _signed(gateway, socket.headers, stream, None):
        await socket.close(code=POLICY_VIOLATION, reason="bad signature")
        return
    if not await admit(socket, gateway, "socket"):
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


class MediaStream(CallSocket):
    """A Twilio Media Stream: JSON frames in Twilio's format (see :class:`CallSocket`)."""

    peer = "Twilio"

    def __init__(self, socket: WebSocket[Any, Any, Any], gateway: Gateway) -> None:
        super().__init__(socket, gateway, log)

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
        return isinstance(message, Media | Stop) or self._take_frame()

    def _malformed(self, error: MalformedMessage) -> None:
        self._take_frame()
        self._reject(error.problem.value, error.detail)
        if error.problem is Problem.BAD_SID:  # nothing this client says can be trusted
            self._drop("bad_sid", "a start with sids not in Twilio's format", POLICY_VIOLATION)

    def _to_session(self, session: CallSession, message: Media | Mark | Dtmf | Stop) -> bool:
        match message:
            case Media(media=chunk):
                if self._audio_fits(len(chunk.payload)):
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
        if gateway.stream_tokens is not None:
            token = message.start.custom_parameters.get(stream_token.PARAMETER, "")
            refused = gateway.stream_tokens.spend(token, message.start.call_sid)
            if refused:
                self._reject("bad_token", refused)
                self._drop("bad_token", f"stream refused: {refused}", POLICY_VIOLATION)
                return
        parameters = message.start.custom_parameters
        language = requested_language(parameters.get("language"))
        call_sid = message.start.call_sid
        caller = CallerContext.from_parameters(call_sid, parameters)
        opened = self._open_session(call_sid, self._stream_sid, language, caller=caller)
        if opened and gateway.settings.log.transcripts == "full":  # personal data, as words are
            log.info("call=%s from %r to %r", call_sid, caller.from_, caller.to)

    async def _transmit(self, message: OutboundMessage) -> None:
        await self._socket.send_text(encode_outbound(message))
