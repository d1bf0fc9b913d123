"""Media Streams message parsing and encoding, and TwiML."""

from __future__ import annotations

import base64
import contextlib
import xml.etree.ElementTree as ET

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.twilio import twiml
from gateway.twilio.codec import MalformedMessage, Problem, decode_inbound, encode_outbound
from gateway.twilio.messages import (
    Clear,
    Connected,
    Dtmf,
    Mark,
    MarkLabel,
    Media,
    OutboundMark,
    OutboundMedia,
    OutboundPayload,
    Start,
    Stop,
)

# Verbatim shapes from Twilio's Media Streams documentation.
CALL_SID = "CA" + "0123456789abcdef" * 2
STREAM_SID = "MZ" + "fedcba9876543210" * 2
ACCOUNT_SID = "AC" + "0" * 31 + "1"
START = (
    f'{{"event":"start","sequenceNumber":"1","streamSid":"{STREAM_SID}","start":{{"accountSid":'
    f'"{ACCOUNT_SID}","streamSid":"{STREAM_SID}","callSid":"{CALL_SID}","tracks":["inbound"],'
    '"customParameters":{"k":"v"},'
    '"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}'
)
PAYLOAD = base64.b64encode(b"\xff" * 160).decode()
MEDIA = (
    '{"event":"media","sequenceNumber":"4","streamSid":"MZ1","media":{"track":"inbound",'
    f'"chunk":"2","timestamp":"5","payload":"{PAYLOAD}"}}}}'
)


def test_parses_every_inbound_event() -> None:
    connected = decode_inbound('{"event":"connected","protocol":"Call","version":"1.0.0"}')
    assert isinstance(connected, Connected) and connected.version == "1.0.0"
    start = decode_inbound(START)
    assert isinstance(start, Start)
    assert start.start.call_sid == CALL_SID and start.start.custom_parameters == {"k": "v"}
    assert start.start.media_format is not None and start.start.media_format.sample_rate == 8000
    media = decode_inbound(MEDIA)
    assert isinstance(media, Media) and media.media.payload == b"\xff" * 160
    mark = decode_inbound(
        '{"event":"mark","sequenceNumber":"6","streamSid":"MZ1","mark":{"name":"a b"}}'
    )
    assert isinstance(mark, Mark) and mark.mark.name == "a b"
    dtmf = decode_inbound(
        '{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"1"}}'
    )
    assert isinstance(dtmf, Dtmf) and dtmf.dtmf.digit == "1"
    stop = decode_inbound(
        '{"event":"stop","sequenceNumber":"7","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA1"}}'
    )
    assert isinstance(stop, Stop) and stop.stop.call_sid == "CA1"


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        (b"\x00\x01", Problem.BINARY),
        ("not json", Problem.NOT_JSON),
        ('{"event":"dance"}', Problem.UNKNOWN_EVENT),
        ('{"no_event":1}', Problem.UNKNOWN_EVENT),
        ('{"event":"media","media":{"payload":"%%%not base64"}}', Problem.INVALID),
        ('{"event":"media"}', Problem.INVALID),
        ('{"event":"start","start":{"streamSid":5}}', Problem.INVALID),
        ("x" * 70_000, Problem.TOO_LARGE),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(frame: str | bytes, problem: Problem) -> None:
    with pytest.raises(MalformedMessage) as caught:
        decode_inbound(frame)
    assert caught.value.problem is problem


def start_with(**sids: str) -> str:
    info = {"streamSid": STREAM_SID, "callSid": CALL_SID, "accountSid": ACCOUNT_SID}
    envelope = sids.pop("envelope", STREAM_SID)
    return msgspec.json.encode(
        {"event": "start", "streamSid": envelope, "start": {**info, **sids}}
    ).decode()


@pytest.mark.parametrize(
    "sids",
    [
        {"callSid": "CA1"},
        {"callSid": "CAsimulated"},
        {"callSid": CALL_SID + "0"},
        {"callSid": CALL_SID + "\n"},
        {"callSid": "MZ" + CALL_SID[2:]},
        {"callSid": "CA" + "g" * 32},
        {"callSid": "CA" + "\u202e" * 32},
        {"streamSid": "MZsimulated"},
        {"streamSid": ""},
        {"accountSid": "ACsimulated"},
        {"envelope": "MZ" + "x" * 5000},
    ],
)
def test_a_start_with_sids_not_in_twilios_format_is_refused(sids: dict[str, str]) -> None:
    with pytest.raises(MalformedMessage) as caught:
        decode_inbound(start_with(**sids))
    assert caught.value.problem is Problem.BAD_SID
    for value in sids.values():
        assert len(value) < 6 or value[2:] not in caught.value.detail, "the value is not quoted"


def test_sids_in_twilios_format_are_taken_in_either_case_and_account_is_optional() -> None:
    upper = "CA" + CALL_SID[2:].upper()
    start = decode_inbound(start_with(callSid=upper))
    assert isinstance(start, Start) and start.start.call_sid == upper
    assert isinstance(decode_inbound(start_with(accountSid="", envelope="")), Start)


@pytest.mark.parametrize("digit", [*"0123456789", "*", "#"])
def test_keypad_digits_are_taken(digit: str) -> None:
    dtmf = decode_inbound(msgspec.json.encode({"event": "dtmf", "dtmf": {"digit": digit}}).decode())
    assert isinstance(dtmf, Dtmf) and dtmf.dtmf.digit == digit


@pytest.mark.parametrize("digit", ["", "12", "A", "a", "\n", "1\n", "٣", "#" * 1000])
def test_anything_else_as_a_digit_is_refused(digit: str) -> None:
    with pytest.raises(MalformedMessage) as caught:
        decode_inbound(msgspec.json.encode({"event": "dtmf", "dtmf": {"digit": digit}}).decode())
    assert caught.value.problem is Problem.BAD_DIGIT


def test_outbound_messages_are_exactly_twilios_shape() -> None:
    media = encode_outbound(
        OutboundMedia(stream_sid="MZ1", media=OutboundPayload(payload=b"\x00\xff"))
    )
    assert msgspec.json.decode(media) == {
        "event": "media",
        "streamSid": "MZ1",
        "media": {"payload": base64.b64encode(b"\x00\xff").decode()},
    }
    mark = encode_outbound(OutboundMark(stream_sid="MZ1", mark=MarkLabel(name="utt-7")))
    assert msgspec.json.decode(mark) == {
        "event": "mark",
        "streamSid": "MZ1",
        "mark": {"name": "utt-7"},
    }
    assert msgspec.json.decode(encode_outbound(Clear(stream_sid="MZ1"))) == {
        "event": "clear",
        "streamSid": "MZ1",
    }


@given(st.text(max_size=200))
def test_arbitrary_text_never_raises_anything_but_malformed(frame: str) -> None:
    with contextlib.suppress(MalformedMessage):
        decode_inbound(frame)


def test_twiml_connects_stream_with_parameters() -> None:
    url = twiml.stream_url("", "abc.ngrok.app")
    document = ET.fromstring(twiml.connect_stream(url, {"tenant": 'a"<b'}))
    stream = document.find("./Connect/Stream")
    assert stream is not None and stream.get("url") == "wss://abc.ngrok.app/twilio/media"
    parameter = stream.find("Parameter")
    assert parameter is not None and parameter.get("value") == 'a"<b'


@pytest.mark.parametrize(
    ("public_url", "expected"),
    [
        ("https://voice.example.com", "wss://voice.example.com/twilio/media"),
        ("https://voice.example.com/gw/", "wss://voice.example.com/gw/twilio/media"),
        ("voice.example.com:8443", "wss://voice.example.com:8443/twilio/media"),
    ],
)
def test_public_url_wins_over_host(public_url: str, expected: str) -> None:
    assert twiml.stream_url(public_url, "internal:8080") == expected


def test_busy_twiml_says_the_message_escaped_and_hangs_up() -> None:
    document = ET.fromstring(twiml.say_and_hang_up("Busy <now> & later"))
    assert [child.tag for child in document] == ["Say", "Hangup"]
    assert document.findtext("./Say") == "Busy <now> & later"


def test_reject_twiml_gives_a_busy_tone() -> None:
    reject = ET.fromstring(twiml.reject_busy()).find("./Reject")
    assert reject is not None and reject.get("reason") == "busy"
