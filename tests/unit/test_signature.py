"""X-Twilio-Signature against Twilio's published test vector."""

from __future__ import annotations

from gateway.twilio import signature

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
EXPECTED = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_twilio_documented_vector() -> None:
    assert signature.compute(TOKEN, URL, PARAMS) == EXPECTED
    assert signature.is_valid(TOKEN, EXPECTED, URL, PARAMS)


def test_default_port_is_accepted_either_way() -> None:
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert signature.is_valid(TOKEN, EXPECTED, with_port, PARAMS)


def test_tampering_is_rejected() -> None:
    assert not signature.is_valid(TOKEN, EXPECTED, URL, {**PARAMS, "Digits": "9999"})
    assert not signature.is_valid("other", EXPECTED, URL, PARAMS)
    assert not signature.is_valid(TOKEN, EXPECTED, URL.replace("foo=1", "foo=2"), PARAMS)


def test_a_non_ascii_signature_is_invalid_not_an_error() -> None:
    """``hmac.compare_digest`` raises TypeError on non-ASCII text; the header is the caller's."""
    assert not signature.is_valid(TOKEN, "ä" * 28, URL, PARAMS)
    assert not signature.is_valid(TOKEN, EXPECTED[:-1] + "\udcff", URL, PARAMS)
    assert not signature.is_valid(TOKEN, "", URL, PARAMS)
