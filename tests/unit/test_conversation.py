"""History windowing keeps the prompt's start stable between turns."""

from __future__ import annotations

from gateway.llm.base import ChatMessage
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


def test_a_long_call_keeps_twice_the_window_and_the_same_prompts() -> None:
    """A thousand turns: the history stays bounded, and every prompt is what it would have been
    with the whole history kept (the window only ever reaches back over kept messages)."""
    bounded = Conversation("sys", max_history_messages=6)
    prompts = []
    for turn in range(1000):
        prompts.append(bounded.prompt_for(f"u{turn}"))
        bounded.add_user(f"u{turn}")
        bounded.add_assistant(f"a{turn}", interrupted=turn % 7 == 0)
        assert len(bounded.messages) <= 12
    assert bounded.messages[-1].content == "a999"
    unbounded = Conversation("sys", max_history_messages=6)
    unbounded._max_kept = 10**9  # the old behaviour: everything kept
    for turn in range(1000):
        assert unbounded.prompt_for(f"u{turn}") == prompts[turn], turn
        unbounded.add_user(f"u{turn}")
        unbounded.add_assistant(f"a{turn}", interrupted=turn % 7 == 0)
    assert len(unbounded.messages) == 2000


def test_without_history_in_the_prompt_the_last_exchange_is_still_kept() -> None:
    conversation = Conversation("sys", max_history_messages=0)
    for turn in range(50):
        conversation.add_user(f"u{turn}")
        conversation.add_assistant(f"a{turn}")
    assert [m.content for m in conversation.messages] == ["u49", "a49"]


def test_words_that_were_only_the_start_of_a_turn_are_taken_back() -> None:
    conversation = Conversation("sys", max_history_messages=6)
    conversation.add_user("Hello.")
    conversation.add_assistant("Hi!")
    conversation.add_user("Can you check my package?")
    conversation.take_back_user("Something else.")
    assert len(conversation.messages) == 3, "only the last message, only if it is those words"
    conversation.take_back_user("Can you check my package?")
    assert [m.content for m in conversation.messages] == ["Hello.", "Hi!"]
    conversation.take_back_user("Hi!")
    assert len(conversation.messages) == 2, "an answer is never taken back"


def test_the_prefix_after_a_turn_is_known_before_the_turn_is_added() -> None:
    """``prefix_after`` foresees ``next_prefix`` once the turn's messages are in, across the
    window's cut-backs, and changes nothing itself."""
    conversation = Conversation("sys", max_history_messages=4)
    conversation.add_assistant("greeting")
    for turn in range(12):
        coming = [ChatMessage("user", f"u{turn}"), ChatMessage("assistant", f"a{turn}")]
        foreseen = conversation.prefix_after(coming)
        assert conversation.prefix_after(coming) == foreseen, "nothing changed"
        conversation.add_user(f"u{turn}")
        conversation.add_assistant(f"a{turn}")
        assert conversation.next_prefix() == foreseen, turn
