"""Who is calling whom: the webhook's From, To and CallSid, carried into the media stream.

Twilio tells the voice webhook who called (``From``) and which number they dialled (``To``); the
media stream does not. The webhook hands them on as ``<Parameter>``s, the stream's ``start``
brings them back, and the call keeps them here: for its record, and for the system prompt's
``{from}``/``{to}``. Both are personal data: logged only with ``log.transcripts = "full"``.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

MAX_ADDRESS_CHARS = 128
"""A phone number (E.164: at most 16) or a SIP URI; anything longer is not one of them."""
FROM_PARAMETER = "from"
TO_PARAMETER = "to"
CALL_SID_PARAMETER = "callSid"


class CallerContext(msgspec.Struct, frozen=True, kw_only=True):
    call_sid: str = ""
    from_: str = ""
    """The caller: a phone number (``+15551234567``), a SIP URI, or "" when unknown."""
    to: str = ""
    """The number or SIP address the caller dialled."""

    @classmethod
    def from_parameters(cls, call_sid: str, parameters: Mapping[str, str]) -> CallerContext:
        """From a stream's ``start.customParameters`` (client-sent: each checked again)."""
        return cls(
            call_sid=call_sid,
            from_=address(parameters.get(FROM_PARAMETER)),
            to=address(parameters.get(TO_PARAMETER)),
        )


def address(value: str | None) -> str:
    """``value`` if it can be a phone number or SIP URI (printable, at most 128 characters),
    else "": a value that cannot be one is not kept in part."""
    text = (value or "").strip()
    if len(text) > MAX_ADDRESS_CHARS or not text.isprintable():
        return ""
    return text


def stream_parameters(form: Mapping[str, str]) -> dict[str, str]:
    """What the webhook hands the stream of Twilio's form: ``from``, ``to`` and ``callSid``,
    those that are there and can be what they say."""
    values = {
        FROM_PARAMETER: address(form.get("From")),
        TO_PARAMETER: address(form.get("To")),
        CALL_SID_PARAMETER: address(form.get("CallSid")),
    }
    return {name: value for name, value in values.items() if value}
