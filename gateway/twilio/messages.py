"""Twilio Media Streams messages as typed structs (a tagged union on ``event``).

Field names follow the wire (camelCase) through ``rename="camel"``; payloads are ``bytes``, which
msgspec reads from and writes to base64. Unknown extra fields are ignored, as Twilio adds fields
over time; missing required fields or wrong types are errors.

What the gateway keeps or acts on is constrained to Twilio's formats, so a hostile client cannot
put anything else there (into logs, metrics or the conversation): the sids of ``start`` (``CA``,
``MZ``, ``AC`` and 32 hex digits) and a keypad ``digit`` (one of ``0-9*#``). The codec names
which constraint failed (:class:`gateway.twilio.codec.Problem`).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

CALL_SID_PATTERN = r"\ACA[0-9a-fA-F]{32}\Z"
STREAM_SID_PATTERN = r"\AMZ[0-9a-fA-F]{32}\Z"
ACCOUNT_SID_PATTERN = r"\AAC[0-9a-fA-F]{32}\Z"
DIGIT_PATTERN = r"\A[0-9*#]\Z"
CallSid = Annotated[str, msgspec.Meta(pattern=CALL_SID_PATTERN)]
StreamSid = Annotated[str, msgspec.Meta(pattern=STREAM_SID_PATTERN)]
AccountSid = Annotated[str, msgspec.Meta(pattern=rf"{ACCOUNT_SID_PATTERN}|\A\Z")]
"""Optional in ``start`` (empty when absent)."""
OptionalStreamSid = Annotated[str, msgspec.Meta(pattern=rf"{STREAM_SID_PATTERN}|\A\Z")]
Digit = Annotated[str, msgspec.Meta(pattern=DIGIT_PATTERN)]


class _Wire(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    pass


class MediaFormat(_Wire):
    encoding: str
    sample_rate: int
    channels: int


class StartInfo(_Wire):
    stream_sid: StreamSid
    call_sid: CallSid
    account_sid: AccountSid = ""
    tracks: list[str] = msgspec.field(default_factory=lambda: ["inbound"])
    custom_parameters: dict[str, str] = msgspec.field(default_factory=dict)
    media_format: MediaFormat | None = None


class MediaChunk(_Wire):
    payload: bytes
    track: str = "inbound"
    chunk: str = ""
    timestamp: str = ""


class MarkLabel(_Wire):
    name: str


class DtmfDigit(_Wire):
    digit: Digit
    track: str = "inbound_track"


class StopInfo(_Wire):
    account_sid: str = ""
    call_sid: str = ""


# Inbound: Twilio -> gateway.


class Connected(_Wire, tag_field="event", tag="connected"):
    protocol: str = "Call"
    version: str = ""


class Start(_Wire, tag_field="event", tag="start"):
    start: StartInfo
    stream_sid: OptionalStreamSid = ""
    sequence_number: str = ""


class Media(_Wire, tag_field="event", tag="media"):
    media: MediaChunk
    stream_sid: str = ""
    sequence_number: str = ""


class Mark(_Wire, tag_field="event", tag="mark"):
    mark: MarkLabel
    stream_sid: str = ""
    sequence_number: str = ""


class Dtmf(_Wire, tag_field="event", tag="dtmf"):
    dtmf: DtmfDigit
    stream_sid: str = ""
    sequence_number: str = ""


class Stop(_Wire, tag_field="event", tag="stop"):
    stream_sid: str = ""
    sequence_number: str = ""
    stop: StopInfo = msgspec.field(default_factory=StopInfo)


InboundMessage = Connected | Start | Media | Mark | Dtmf | Stop


# Outbound: gateway -> Twilio.


class OutboundPayload(_Wire):
    payload: bytes


class OutboundMedia(_Wire, tag_field="event", tag="media"):
    stream_sid: str
    media: OutboundPayload


class OutboundMark(_Wire, tag_field="event", tag="mark"):
    stream_sid: str
    mark: MarkLabel


class Clear(_Wire, tag_field="event", tag="clear"):
    stream_sid: str


OutboundMessage = OutboundMedia | OutboundMark | Clear
