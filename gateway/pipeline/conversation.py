"""One call's chat history, and the prompt built from it."""

from __future__ import annotations

from gateway.llm.base import ChatMessage


class Conversation:
    """The prompt is kept stable from turn to turn so llama.cpp's prompt cache stays warm: the
    history window does not slide one message per turn (which would change the prompt's start
    and force a full re-evaluation every turn) but, once over the limit, drops back to half."""

    def __init__(self, system_prompt: str, max_history_messages: int) -> None:
        self._system = ChatMessage("system", system_prompt)
        self._max_history = max_history_messages
        self._window_start = 0
        self.messages: list[ChatMessage] = []

    def prompt_for(self, user_text: str) -> list[ChatMessage]:
        """System prompt, recent history, then the new user text (history is not changed)."""
        if len(self.messages) - self._window_start > self._max_history:
            self._window_start = len(self.messages) - self._max_history // 2
        recent = self.messages[self._window_start :] if self._max_history else []
        return [self._system, *recent, ChatMessage("user", user_text)]

    def add_user(self, text: str) -> None:
        self.messages.append(ChatMessage("user", text))

    def add_assistant(self, text: str, *, interrupted: bool = False) -> None:
        if text:
            self.messages.append(ChatMessage("assistant", text, interrupted))
