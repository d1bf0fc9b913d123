"""History windowing keeps the prompt's start stable between turns."""

from __future__ import annotations

from gateway.pipeline.conversation import Conversation


def test_history_window_drops_to_half_instead_of_sliding() -> None:
    conversation = Conversation("sys", max_history_messages=4)
    starts = []
    for turn in range(6):
        prompt = conversation.prompt_for(f"u{turn}")
        assert prompt[0].role == "system" and prompt[-1].content == f"u{turn}"
        assert len(prompt) - 2 <= 4
        starts.append(prompt[1].content if len(prompt) > 2 else None)
        conversation.add_user(f"u{turn}")
        conversation.add_assistant(f"a{turn}")
    # The first history message changes only when the window is cut back, not every turn.
    assert starts == [None, "u0", "u0", "u2", "u2", "u4"]


def test_empty_assistant_text_is_not_recorded() -> None:
    conversation = Conversation("sys", 10)
    conversation.add_assistant("")
    assert conversation.messages == []
