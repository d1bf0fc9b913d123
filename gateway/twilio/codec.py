"""Pure JSON codec for Media Streams messages: no I/O, no side effects."""

from __future__ import annotations

from enum import StrEnum

import msgspec

from gateway.twilio.messages import InboundMessage, OutboundMessage

MAX_MESSAGE_BYTES = 64 * 1024
"""Twilio's frames are a few hundred bytes; anything this large is abuse or a bug."""

_decoder = msgspec.json.Decoder(InboundMessage)
_encoder = msgspec.json.Encoder()


class Problem(StrEnum):
    """Why an inbound frame was rejected; also the metrics label."""

    BINARY = "binary"
    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    UNKNOWN_EVENT = "unknown_event"
    INVALID = "invalid"
    BAD_SID = "bad_sid"
    """A ``start`` whose call, stream or account sid is not in Twilio's format: the call is
    closed (1008), as nothing it says can be trusted."""
    BAD_DIGIT = "bad_digit"
    """A ``dtmf`` whose digit is not one of ``0-9*#``: dropped, the call goes on."""


_CONSTRAINED = {
    "`$.start.callSid`": Problem.BAD_SID,
    "`$.start.streamSid`": Problem.BAD_SID,
    "`$.start.accountSid`": Problem.BAD_SID,
    "`$.streamSid`": Problem.BAD_SID,  # only a start's is constrained
    "`$.dtmf.digit`": Problem.BAD_DIGIT,
}
"""Where a value that fails its pattern (see :mod:`gateway.twilio.messages`) is a problem of
its own. msgspec's message names the pattern and the path, never the value."""


class MalformedMessage(ValueError):
    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(f"{problem.value}: {detail}")
        self.problem = problem
        self.detail = detail


def decode_inbound(frame: str | bytes) -> InboundMessage:
    """Parse one WebSocket frame. Raises :class:`MalformedMessage` with the reason."""
    if isinstance(frame, bytes):
        raise MalformedMessage(Problem.BINARY, f"binary frame of {len(frame)} bytes")
    if len(frame) > MAX_MESSAGE_BYTES:
        raise MalformedMessage(Problem.TOO_LARGE, f"{len(frame)} characters")
    try:
        message: InboundMessage = _decoder.decode(frame)
        return message
    except msgspec.ValidationError as exc:
        text = str(exc)
        if "`$.event`" in text or "Object missing required field `event`" in text:
            return _raise(Problem.UNKNOWN_EVENT, text)
        if "matching regex" in text:
            path = text.rpartition(" - at ")[2]
            return _raise(_CONSTRAINED.get(path, Problem.INVALID), text)
        return _raise(Problem.INVALID, text)
    except msgspec.DecodeError as exc:
        return _raise(Problem.NOT_JSON, str(exc))


def _raise(problem: Problem, detail: str) -> InboundMessage:
    raise MalformedMessage(problem, detail)


def encode_outbound(message: OutboundMessage) -> str:
    """JSON text for one frame. UTF-8, not ASCII: the stream SID is echoed from the caller's
    ``start``, and one with a non-ASCII character must not make every send of the call fail."""
    return _encoder.encode(message).decode()
