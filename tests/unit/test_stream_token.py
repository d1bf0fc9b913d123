"""The media socket's per-call token: bound to its CallSid, short-lived, spent once."""

from __future__ import annotations

from gateway.twilio.stream_token import LIFETIME_S, StreamTokens

CALL = "CA" + "ab" * 16
OTHER = "CA" + "cd" * 16


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_opens_its_own_call_once() -> None:
    tokens = StreamTokens("secret", Clock())
    token = tokens.mint(CALL)
    assert tokens.spend(token, CALL) == ""
    assert tokens.spend(token, CALL) == "token already used"


def test_a_token_does_not_open_another_call_nor_comes_from_another_secret() -> None:
    tokens = StreamTokens("secret", Clock())
    assert tokens.spend(tokens.mint(CALL), OTHER) == "token not for this call"
    forged = StreamTokens("guess", Clock()).mint(CALL)
    assert tokens.spend(forged, CALL) == "token not for this call"


def test_a_token_expires() -> None:
    clock = Clock()
    tokens = StreamTokens("secret", clock)
    token = tokens.mint(CALL)
    clock.now += LIFETIME_S + 1
    assert tokens.spend(token, CALL) == "token expired"


def test_garbage_is_refused_not_an_error() -> None:
    tokens = StreamTokens("secret", Clock())
    for junk in ["", "abc", "12.", "x.y", "99999999999.é", "1e9.abc"]:
        assert tokens.spend(junk, CALL) != ""


def test_spent_tokens_are_forgotten_once_expired() -> None:
    clock = Clock()
    tokens = StreamTokens("secret", clock)
    for n in range(50):
        tokens.spend(tokens.mint(f"CA{n:032x}"), f"CA{n:032x}")
    clock.now += LIFETIME_S + 1
    tokens.spend("junk", CALL)
    assert tokens._spent == {}
