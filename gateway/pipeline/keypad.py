"""Keypad digits (Twilio ``dtmf`` events) gathered into entries the model can read."""

from __future__ import annotations

from enum import Enum, auto

SENTENCE = "The caller pressed {digits} on the keypad."


class KeyAction(Enum):
    WAIT = auto()
    """More digits may follow: submit after the gather time."""
    SUBMIT = auto()
    """The entry is complete."""
    HANG_UP = auto()


class KeypadEntry:
    def __init__(self, submit_digit: str, hangup_digit: str) -> None:
        self._submit = submit_digit
        self._hangup = hangup_digit
        self._digits: list[str] = []

    def press(self, digit: str) -> KeyAction:
        if self._hangup and digit == self._hangup:
            return KeyAction.HANG_UP
        if self._submit and digit == self._submit:
            return KeyAction.SUBMIT
        self._digits.append(digit)
        return KeyAction.WAIT

    def take(self, sentence: str = SENTENCE) -> str:
        """The entry as words for the model, in ``sentence`` (a template: ``{digits}`` is the
        digits pressed, "1 2 3"; ``call.keypad``, or the call language's); empty when no digit
        was pressed."""
        digits, self._digits = self._digits, []
        if not digits:
            return ""
        return sentence.format(digits=" ".join(digits))
