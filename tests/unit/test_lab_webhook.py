"""Reading the gateway's TwiML as Twilio does, and where the client then connects."""

from __future__ import annotations

import pytest

from gateway.lab.webhook import Refused, parse_twiml, socket_url
from gateway.twilio import twiml


def test_the_stream_url_and_its_parameters_come_from_the_twiml() -> None:
    answer = twiml.connect_stream(
        "wss://gw.example.com/twilio/media", {"language": "ko", "voicegwToken": "17.abc"}
    )
    url, parameters = parse_twiml(answer)
    assert url == "wss://gw.example.com/twilio/media"
    assert parameters == {"language": "ko", "voicegwToken": "17.abc"}


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (twiml.reject_busy(), "Reject"),
        (twiml.say_and_hang_up("We are busy, call back later.", "en"), "We are busy"),
        ("forbidden", "not TwiML"),
    ],
)
def test_an_answer_that_does_not_connect_a_stream_is_a_refusal(answer: str, said: str) -> None:
    with pytest.raises(Refused, match=said):
        parse_twiml(answer)


def test_a_plain_http_gateway_is_reached_over_ws_on_its_own_address() -> None:
    stream = "wss://127.0.0.1:8080/twilio/media"
    assert socket_url("http://127.0.0.1:8080", stream) == "ws://127.0.0.1:8080/twilio/media"
    behind_proxy = "wss://voice.example.org/gw/twilio/media"
    assert socket_url("https://voice.example.org/gw", behind_proxy) == behind_proxy
