"""What a caller makes of the messages a reply arrives as: first sound, answer, its turns."""

from __future__ import annotations

from gateway.lab.turn import _Heard


def test_the_answer_is_the_first_frame_after_the_filler_mark() -> None:
    heard = _Heard()
    heard.read([(1.0, "media", "sound"), (1.2, "media", "sound"), (1.3, "mark", "turn3-filler")])
    heard.read([(2.5, "media", "sound"), (2.6, "mark", "turn3-s0"), (4.0, "mark", "turn3-end")])
    assert heard.first_sound == 1.0
    assert heard.answer == 2.5
    assert heard.filler_mark == "turn3-filler"
    assert heard.turns == [3]


def test_without_a_filler_there_is_no_separate_answer_and_every_turn_heard_is_kept() -> None:
    heard = _Heard()
    heard.read([(0.5, "mark", "greeting-end"), (1.0, "media", "sound"), (1.1, "mark", "turn4-s0")])
    heard.read([(1.5, "mark", "turn4-end"), (2.0, "media", "sound"), (2.2, "mark", "turn5-s0")])
    assert (heard.first_sound, heard.answer, heard.filler_mark) == (1.0, None, "")
    assert heard.turns == [4, 5]


def test_the_first_sound_is_when_the_first_audible_frame_plays() -> None:
    """A reply arrives as a burst (the gateway sends ahead of real time); Twilio plays it frame
    by frame, and a voice's lead-in of silence is not yet an answer."""
    heard = _Heard()
    burst = [(1.0, "media", ""), (1.0, "media", ""), (1.001, "media", "sound")]
    heard.read([*burst, (1.002, "media", "sound")])
    assert heard.first_sound == 1.04, "two silent frames played first"


def test_frames_after_a_gap_play_when_they_arrive() -> None:
    heard = _Heard()
    heard.read([(1.0, "media", "")])
    heard.read([(3.0, "media", "sound")])
    assert heard.first_sound == 3.0
