"""Twilio's first step of a call: POST the voice webhook, read the TwiML it answers.

The gateway's answer says where the media stream goes (``<Stream url>``) and what the stream's
``start`` must carry back (``<Parameter>``s: with signatures on, the per-call ``voicegwToken``).
Twilio signs both the webhook and the socket upgrade with the account's auth token; so does this
client when it has the token, which is how a signed gateway can be called without Twilio.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx

from gateway.lab.caller import TwilioCaller, random_sids
from gateway.twilio import signature

VOICE_PATH = "/twilio/voice"
CALLER_NUMBER = "+15550100001"
CALLED_NUMBER = "+15550100002"
TIMEOUT_S = 30.0


class Refused(Exception):
    """The gateway would not take the call (busy, a bad signature, not a stream)."""


@dataclass(frozen=True)
class Dialled:
    stream_url: str
    """Where to connect: the TwiML's URL, or ``ws://`` on the gateway's address when the
    gateway was reached over plain http (a local gateway does not speak TLS)."""
    parameters: dict[str, str] = field(default_factory=dict)
    """The ``<Parameter>``s, for the ``start`` message's ``customParameters``."""
    headers: dict[str, str] = field(default_factory=dict)
    """The socket upgrade's headers (its signature, with a token)."""


def parse_twiml(xml: str) -> tuple[str, dict[str, str]]:
    """The ``<Stream url>`` and its ``<Parameter>``s; :class:`Refused` for any other answer."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as error:
        raise Refused(f"the webhook's answer is not TwiML: {error}") from None
    stream = root.find("./Connect/Stream")
    if stream is None or not stream.get("url"):
        say = root.find("Say")
        told = f': "{say.text}"' if say is not None and say.text else ""
        verbs = ", ".join(child.tag for child in root) or "nothing"
        raise Refused(f"the gateway did not connect the call ({verbs}{told})")
    parameters = {
        p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter") if p.get("name")
    }
    return str(stream.get("url")), parameters


def socket_url(gateway: str, stream_url: str) -> str:
    """The TwiML's ``wss://`` URL, or the same path as ``ws://`` on an ``http://`` gateway."""
    base = urlsplit(gateway)
    if base.scheme == "https":
        return stream_url
    path = urlsplit(stream_url)
    return urlunsplit(("ws", base.netloc, path.path, path.query, ""))


async def dial(
    gateway: str, call_sid: str, *, caller: str, called: str, auth_token: str = ""
) -> Dialled:
    """POST the webhook as Twilio does (form fields ``CallSid``, ``From``, ``To``, signed with
    ``auth_token`` when one is given) and read where to stream."""
    url = gateway.rstrip("/") + VOICE_PATH
    form = {"CallSid": call_sid, "From": caller, "To": called, "Direction": "inbound"}
    headers = {"X-Twilio-Signature": signature.compute(auth_token, url, form)} if auth_token else {}
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        response = await client.post(url, data=form, headers=headers)
    if response.status_code != 200:
        raise Refused(f"the webhook answered {response.status_code}: {response.text[:200]}")
    stream_url, parameters = parse_twiml(response.text)
    socket_headers = (
        {"X-Twilio-Signature": signature.compute(auth_token, stream_url)} if auth_token else {}
    )
    return Dialled(socket_url(gateway, stream_url), parameters, socket_headers)


async def place(gateway: str, auth_token: str = "") -> TwilioCaller:
    """A call the gateway has answered: a client for its stream, to enter (``async with``)."""
    call_sid, stream_sid = random_sids()
    dialled = await dial(
        gateway, call_sid, caller=CALLER_NUMBER, called=CALLED_NUMBER, auth_token=auth_token
    )
    return TwilioCaller(
        dialled.stream_url,
        call_sid,
        stream_sid,
        custom_parameters=dialled.parameters,
        headers=dialled.headers,
    )
