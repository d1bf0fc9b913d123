"""``WS /talk``: a call from the talk page's microphone, through the same pipeline as a phone's.

The page sends 16 kHz PCM and echoes marks once their audio has played, as Twilio does, so
turn-taking, barge-in and "what the caller heard" work as on a phone line; the audio is made
into the 8 kHz mu-law frames a phone line brings. The socket is a call like any other (see
:class:`CallSocket`): it takes a place under ``server.max_calls``, has the same audio and frame
budget and time limits, and every frame is checked (:mod:`gateway.web.talk_wire`). Each turn's
progress goes to the page as it happens (:mod:`gateway.web.turn_feed`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

from litestar import WebSocket, websocket
from litestar.di import NamedDependency

from gateway.pipeline.caller_context import CallerContext
from gateway.pipeline.profiles import requested_language
from gateway.routes.call_socket import POLICY_VIOLATION, CallSocket, admit
from gateway.runtime import Gateway
from gateway.twilio.messages import OutboundMessage
from gateway.web import talk_wire
from gateway.web.talk_wire import CallerAudio, MarkPlayed, Rejected, Stop
from gateway.web.turn_feed import TurnFeed
from gateway.web.turns import TurnView

log = logging.getLogger("voicegw.talk")
TALK_PATH = "/talk"
CALLER = "talk page"
"""Who the records say called: a browser has no number."""


@websocket(TALK_PATH)
async def talk_socket(socket: WebSocket[Any, Any, Any], gateway: NamedDependency[Gateway]) -> None:
    public = gateway.settings.server.public_url
    if not same_origin(socket.headers.get("origin"), socket.headers.get("host", ""), public):
        # Any web page the user visits could open a socket to 127.0.0.1: only ours may.
        await socket.close(code=POLICY_VIOLATION, reason="cross-origin")
        return
    if not await admit(socket, gateway, "talk"):
        return
    language = requested_language(socket.query_params.get("language"))
    await TalkSocket(socket, gateway, language or "").run()


def same_origin(origin: str | None, host: str, public_url: str = "") -> bool:
    """A browser names the page that opened the socket (a client without one is no browser):
    it must be this gateway, by the name it was reached at or its ``server.public_url``."""
    if origin is None:
        return True
    ours = {host.lower(), urlsplit(public_url).netloc.lower()} - {""}
    return urlsplit(origin).netloc.lower() in ours


class TalkSocket(CallSocket):
    """One talk-page call: binary PCM and JSON marks in; PCM, marks and turns out."""

    peer = "the browser"

    def __init__(self, socket: WebSocket[Any, Any, Any], gateway: Gateway, language: str) -> None:
        super().__init__(socket, gateway, log)
        self._language = language
        self._audio = CallerAudio()
        self._feed = TurnFeed(self._send_turn)

    async def run(self) -> None:
        call_sid, stream_sid = f"CA{uuid.uuid4().hex}", f"MZ{uuid.uuid4().hex}"
        feed = asyncio.ensure_future(self._feed.run())
        try:
            start = talk_wire.encode_json(talk_wire.Start(call_sid=call_sid))
            await self._sending(self._socket.send_text(start))
            if self._open:
                caller = CallerContext(call_sid=call_sid, from_=CALLER)
                self._open_session(call_sid, stream_sid, self._language, self._feed.watch, caller)
            await super().run()
        finally:
            feed.cancel()
            await asyncio.wait({feed})

    def _dispatch(self, frame: str | bytes) -> bool:
        session = self._session
        if session is None:
            return True
        try:
            if isinstance(frame, bytes):
                talk_wire.check_audio(frame)
                if self._audio_fits(talk_wire.mulaw_bytes(len(frame))):
                    for payload in self._audio.push(frame):
                        session.on_audio(payload)
                return True
            if not self._take_frame():
                return True
            message = talk_wire.decode_text(frame)
        except Rejected as error:
            self._take_frame()
            self._reject(error.problem.value, error.detail)
            return True
        match message:
            case MarkPlayed(name=name):
                session.on_mark(name)
            case Stop():
                return False
        return True

    async def _transmit(self, message: OutboundMessage) -> None:
        data = talk_wire.encode(message)
        if isinstance(data, bytes):
            await self._socket.send_bytes(data)
        else:
            await self._socket.send_text(data)

    async def _send_turn(self, view: TurnView) -> None:
        await self._sending(self._socket.send_text(talk_wire.encode_json(view)))
