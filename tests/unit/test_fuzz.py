"""The media-socket parser against anything a client can send, and the codec's round trips.

The fuzz runs are derandomized (the same examples on every run, so CI cannot flake) and sized to
take a few seconds; raise ``FUZZ_EXAMPLES`` locally to search further.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.twilio.codec import (
    MAX_MESSAGE_BYTES,
    MalformedMessage,
    Problem,
    decode_inbound,
    encode_outbound,
)
from gateway.twilio.messages import (
    Clear,
    Connected,
    Dtmf,
    DtmfDigit,
    InboundMessage,
    Mark,
    MarkLabel,
    Media,
    MediaChunk,
    MediaFormat,
    OutboundMark,
    OutboundMedia,
    OutboundPayload,
    Start,
    StartInfo,
    Stop,
    StopInfo,
)

FUZZ_EXAMPLES = 1500
fuzz = settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
INBOUND_TYPES = (Connected, Start, Media, Mark, Dtmf, Stop)

# Valid Twilio messages, as dicts, for the mutations to start from.
TEMPLATES: list[dict[str, Any]] = [
    {"event": "connected", "protocol": "Call", "version": "1.0.0"},
    {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": "MZ1",
        "start": {
            "accountSid": "AC1",
            "streamSid": "MZ1",
            "callSid": "CA1",
            "tracks": ["inbound"],
            "customParameters": {"k": "v"},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    },
    {
        "event": "media",
        "sequenceNumber": "4",
        "streamSid": "MZ1",
        "media": {"track": "inbound", "chunk": "2", "timestamp": "5", "payload": "/w=="},
    },
    {"event": "mark", "sequenceNumber": "6", "streamSid": "MZ1", "mark": {"name": "a b"}},
    {"event": "dtmf", "streamSid": "MZ1", "dtmf": {"track": "inbound_track", "digit": "1"}},
    {"event": "stop", "sequenceNumber": "7", "streamSid": "MZ1", "stop": {"callSid": "CA1"}},
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)


def parses_or_is_rejected(frame: str | bytes) -> None:
    """The only outcomes: a typed message, or :class:`MalformedMessage` with a reason."""
    try:
        message = decode_inbound(frame)
    except MalformedMessage as error:
        assert isinstance(error.problem, Problem)
        return
    assert isinstance(message, INBOUND_TYPES)
    # What was accepted survives a round trip unchanged.
    assert decode_inbound(msgspec.json.encode(message).decode()) == message


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A real message with a field replaced, removed or added, at any depth."""
    message = json.loads(json.dumps(draw(st.sampled_from(TEMPLATES))))
    target = message
    while True:
        keys = list(target)
        key = draw(st.sampled_from(keys))
        if isinstance(target[key], dict) and target[key] and draw(st.booleans()):
            target = target[key]
            continue
        break
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if action == "replace":
        target[key] = draw(json_values)
    elif action == "remove":
        del target[key]
    else:
        target[draw(st.text(max_size=12))] = draw(json_values)
    return json.dumps(message, allow_nan=True)


@st.composite
def corrupted(draw: st.DrawFn) -> str:
    """A real message's text with characters cut, inserted or swapped."""
    text = json.dumps(draw(st.sampled_from(TEMPLATES)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=3)) + text[at + draw(st.integers(0, 3)) :]
    return text


@fuzz
@given(
    st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v, allow_nan=True)),
        mutated(),
        corrupted(),
    )
)
def test_fuzz_the_parser_only_parses_or_rejects(frame: str | bytes) -> None:
    parses_or_is_rejected(frame)


def test_every_problem_is_reachable_and_oversize_is_cut_before_parsing() -> None:
    assert decode_inbound(json.dumps(TEMPLATES[2]))  # a valid frame, for contrast
    for frame, problem in [
        (b"{}", Problem.BINARY),
        ("{", Problem.NOT_JSON),
        ('{"event":"jump"}', Problem.UNKNOWN_EVENT),
        ('{"event":"mark"}', Problem.INVALID),
        ("[" * (MAX_MESSAGE_BYTES + 1), Problem.TOO_LARGE),
    ]:
        try:
            decode_inbound(frame)
        except MalformedMessage as error:
            assert error.problem is problem
        else:
            raise AssertionError(f"{frame[:20]!r} was accepted")


# Well-formed messages of every kind, built from their fields.
texts = st.text(max_size=30)


def sids(prefix: str) -> st.SearchStrategy[str]:
    return st.from_regex(rf"\A{prefix}[0-9a-fA-F]{{32}}\Z")


inbound_messages: st.SearchStrategy[InboundMessage] = st.one_of(
    st.builds(Connected, protocol=texts, version=texts),
    st.builds(
        Start,
        start=st.builds(
            StartInfo,
            stream_sid=sids("MZ"),
            call_sid=sids("CA"),
            account_sid=sids("AC") | st.just(""),
            tracks=st.lists(texts, max_size=3),
            custom_parameters=st.dictionaries(texts, texts, max_size=3),
            media_format=st.none()
            | st.builds(
                MediaFormat, encoding=texts, sample_rate=st.integers(), channels=st.integers()
            ),
        ),
        stream_sid=sids("MZ") | st.just(""),
        sequence_number=texts,
    ),
    st.builds(
        Media,
        media=st.builds(MediaChunk, payload=st.binary(max_size=1000), track=texts, chunk=texts),
        stream_sid=texts,
    ),
    st.builds(Mark, mark=st.builds(MarkLabel, name=texts), stream_sid=texts),
    st.builds(
        Dtmf,
        dtmf=st.builds(DtmfDigit, digit=st.sampled_from("0123456789*#"), track=texts),
        stream_sid=texts,
    ),
    st.builds(Stop, stop=st.builds(StopInfo, call_sid=texts), stream_sid=texts),
)


@given(inbound_messages)
def test_every_well_formed_inbound_message_parses_back_to_itself(message: InboundMessage) -> None:
    assert decode_inbound(msgspec.json.encode(message).decode()) == message


@given(st.text(max_size=40), st.binary(max_size=2000), st.text(max_size=40))
def test_outbound_messages_are_valid_json_of_twilios_shape(
    stream_sid: str, payload: bytes, mark: str
) -> None:
    media = json.loads(
        encode_outbound(OutboundMedia(stream_sid=stream_sid, media=OutboundPayload(payload)))
    )
    assert media == {
        "event": "media",
        "streamSid": stream_sid,
        "media": {"payload": base64.b64encode(payload).decode()},
    }
    named = json.loads(encode_outbound(OutboundMark(stream_sid=stream_sid, mark=MarkLabel(mark))))
    assert named == {"event": "mark", "streamSid": stream_sid, "mark": {"name": mark}}
    assert json.loads(encode_outbound(Clear(stream_sid=stream_sid)))["streamSid"] == stream_sid
