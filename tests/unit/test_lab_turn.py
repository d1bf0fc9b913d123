"""What a caller makes of the messages a reply arrives as: first sound, answer, its turns."""

from __future__ import annotations

from gateway.lab.turn import _Heard


def test_the_answer_is_the_first_frame_after_the_filler_mark() -> None:
    heard = _Heard()
    heard.read([(1.0, "media", ""), (1.2, "media", ""), (1.3, "mark", "turn3-filler")])
    heard.read([(2.5, "media", ""), (2.6, "mark", "turn3-s0"), (4.0, "mark", "turn3-end")])
    assert heard.first_sound == 1.0
    assert heard.answer == 2.5
    assert heard.filler_mark == "turn3-filler"
    assert heard.turns == [3]


def test_without_a_filler_there_is_no_separate_answer_and_every_turn_heard_is_kept() -> None:
    heard = _Heard()
    heard.read([(0.5, "mark", "greeting-end"), (1.0, "media", ""), (1.1, "mark", "turn4-s0")])
    heard.read([(1.5, "mark", "turn4-end"), (2.0, "media", ""), (2.2, "mark", "turn5-s0")])
    assert (heard.first_sound, heard.answer, heard.filler_mark) == (1.0, None, "")
    assert heard.turns == [4, 5]
