"""What the caller heard of a cut reply, from mark echoes and timing."""

from __future__ import annotations

from gateway.pipeline.heard import SentSentence, heard_before
from gateway.pipeline.keypad import KeyAction, KeypadEntry

FRAME = b"\xff" * 160


def sentence(text: str, seconds: float, sent_at: float, echoed_at: float | None) -> SentSentence:
    frames = [FRAME] * round(seconds * 50)
    return SentSentence(
        text, frames, "m", True, first_sent_at=sent_at, frames_sent=len(frames), echoed_at=echoed_at
    )


def test_whole_sentences_echoed_before_the_cut_are_heard_and_the_cut_one_in_part() -> None:
    sentences = [
        sentence("One two three four.", 1.0, sent_at=0.0, echoed_at=1.0),
        sentence("Five six seven eight.", 1.0, sent_at=0.6, echoed_at=None),
        sentence("Never sent.", 1.0, sent_at=9.0, echoed_at=None),
    ]
    heard = heard_before(sentences, cut_at=1.5)
    assert heard.text == "One two three four. Five six"
    assert heard.whole_sentences == 1
    assert heard.heard_ms == 1500
    assert heard.sent_ms == 3000
    assert not heard.complete


def test_an_echo_after_the_cut_does_not_count_as_heard() -> None:
    # Twilio echoes pending marks when it clears: those arrive after the cut.
    sentences = [sentence("Hello there.", 1.0, sent_at=0.0, echoed_at=0.9)]
    heard = heard_before(sentences, cut_at=0.25)
    assert heard.whole_sentences == 0
    assert heard.heard_ms == 250
    assert heard.text == ""


def test_a_cut_before_any_audio_heard_nothing() -> None:
    assert heard_before([], cut_at=1.0).text == ""


def test_keypad_gathers_digits_until_the_submit_key() -> None:
    keypad = KeypadEntry(submit_digit="#", hangup_digit="*")
    assert keypad.press("1") is KeyAction.WAIT
    assert keypad.press("2") is KeyAction.WAIT
    assert keypad.press("#") is KeyAction.SUBMIT
    assert keypad.take() == "The caller pressed 1 2 on the keypad."
    assert keypad.take() == ""
    assert keypad.press("*") is KeyAction.HANG_UP
