"""One call's chat history, and the prompt built from it."""

from __future__ import annotations

from gateway.llm.base import ChatMessage


class Conversation:
    """The prompt is kept stable from turn to turn so llama.cpp's prompt cache stays warm: the
    history window does not slide one message per turn (which would change the prompt's start
    and force a full re-evaluation every turn) but, once over the limit, drops back to half.

    The call keeps no more than twice the window (``messages``, at least 2): however long it goes
    on, what it holds is bounded, and what is dropped is older than any prompt still uses."""

    def __init__(self, system_prompt: str, max_history_messages: int) -> None:
        self._system = ChatMessage("system", system_prompt)
        self._max_history = max_history_messages
        self._window_start = 0
        self._max_kept = max(2 * max_history_messages, 2)
        self.messages: list[ChatMessage] = []

    @property
    def system_prompt(self) -> str:
        return self._system.content

    @system_prompt.setter
    def system_prompt(self, text: str) -> None:
        """A call whose language is known only after its first words gets that language's."""
        self._system = ChatMessage("system", text)

    def prompt_for(self, user_text: str) -> list[ChatMessage]:
        """System prompt, recent history, then the new user text (history is not changed)."""
        return [*self.next_prefix(), ChatMessage("user", user_text)]

    def next_prefix(self) -> list[ChatMessage]:
        """What the next prompt starts with: the system prompt and the history window (cut back
        now if it is due), so it can be evaluated ahead while the caller listens."""
        self._window_start = self._window_start_for(len(self.messages))
        return self._prefix_of(self.messages)

    def prefix_after(self, coming: list[ChatMessage]) -> list[ChatMessage]:
        """What the next prompt will start with once ``coming`` is added (nothing changes now):
        evaluated while the answer still plays, a window cut back then (hundreds of tokens to
        read again) is ready before the caller's next words."""
        return self._prefix_of([*self.messages, *coming])

    def _prefix_of(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        """The system prompt and the window over ``messages``."""
        recent = messages[self._window_start_for(len(messages)) :] if self._max_history else []
        return [self._system, *recent]

    def _window_start_for(self, count: int) -> int:
        """Where the window starts over ``count`` messages: where it is, until it holds more
        than its limit, then back to half."""
        if count - self._window_start > self._max_history:
            return count - self._max_history // 2
        return self._window_start

    def add_user(self, text: str) -> None:
        self._add(ChatMessage("user", text))

    def take_back_user(self, text: str) -> None:
        """The caller's last words were only the start of a longer turn: they leave the history
        (if they are still its last message), and the longer turn's words come instead."""
        if self.messages and self.messages[-1] == ChatMessage("user", text):
            self.messages.pop()
            self._window_start = min(self._window_start, len(self.messages))

    def add_assistant(self, text: str, *, interrupted: bool = False) -> None:
        if text:
            self._add(ChatMessage("assistant", text, interrupted))

    def _add(self, message: ChatMessage) -> None:
        self.messages.append(message)
        excess = len(self.messages) - self._max_kept
        if excess > 0:
            del self.messages[:excess]
            self._window_start = max(0, self._window_start - excess)
