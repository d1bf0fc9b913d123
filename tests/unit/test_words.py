"""Which transcripts hold words worth answering."""

from __future__ import annotations

import pytest

from gateway.stt.words import has_words


@pytest.mark.parametrize(
    "text",
    ["", "Uh...", "uh", "ahhhh", "Hmm.", "Mm-hmm.", "uh-huh", "(coughs)", "[Music]", "Um, uh"],
)
def test_hesitation_and_noise_are_not_words(text: str) -> None:
    assert not has_words(text)


@pytest.mark.parametrize("text", ["Yes.", "No", "Uh, wait.", "Hmm, what about Paris?", "ok", "4 2"])
def test_anything_else_is(text: str) -> None:
    assert has_words(text)
