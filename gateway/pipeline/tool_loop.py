"""A reply that may call tools: ask the model, run what it calls, feed the results back, and
ask again, until it answers in words (OpenAI's tool-calling protocol, on either backend).

What the caller hears meanwhile: the model's own words before a call; the hold phrase if a
tool is still running after ``tools.hold_after_ms`` (never silence); the failure phrase if a
tool fails or times out (then the turn ends there, and the call goes on); a built-in action's
line (the goodbye, the transfer line), after which the call does the action; or a tool's own
``say`` words, spoken as they are. A tool runs only once the turn is committed: a draft the
caller talks on through must not have looked anything up, or changed anything, on their behalf.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from gateway.llm.base import CallsTools, ChatMessage, ToolCall
from gateway.pipeline.deadlines import each_within
from gateway.scheduling import Job
from gateway.tools.actions import CallAction
from gateway.tools.toolbox import CallTools, ToolOutcome, TurnTools


@dataclass(frozen=True, slots=True)
class Voice:
    """What the loop does with words: the reply's speech pipeline."""

    piece: Callable[[str], Awaitable[None]]
    """A piece of the model's text: into the sentence splitter, spoken sentence by sentence."""
    flush: Callable[[], Awaitable[None]]
    """Say what the splitter still holds (before a tool runs: the model's "let me see")."""
    line: Callable[[str], Awaitable[None]]
    """A whole line of our own (pre-rendered where it can be)."""


@dataclass(frozen=True, slots=True)
class ToolTurnSettings:
    tools: CallTools
    tool_choice: str
    hold_after_s: float
    hold_phrase: str
    failure_phrase: str
    stage_timeout_s: float


class ToolLoop:
    def __init__(
        self,
        chat: CallsTools,
        settings: ToolTurnSettings,
        voice: Voice,
        job: Job,
        committed: asyncio.Event,
    ) -> None:
        self._chat = chat
        self._settings = settings
        self._voice = voice
        self._job = job
        self._committed = committed
        self.turn: TurnTools = settings.tools.turn()
        self.action: CallAction | None = None
        """A built-in action the model called: the call does it once its line was heard."""
        self._held = False

    async def answer(self, prompt: Sequence[ChatMessage]) -> None:
        messages = list(prompt)
        declarations = self._settings.tools.toolbox.declarations
        choice = self._settings.tool_choice
        # One request per allowed call, and one more for the words: a server that calls tools
        # even when told "none" cannot keep the turn going.
        for _ in range(self._settings.tools.toolbox.settings.max_calls_per_turn + 1):
            if not self.turn.may_call:
                choice = "none"  # over a cap: the model must answer in words now
            text, calls = await self._ask(messages, declarations, choice)
            if not calls:
                return
            await self._voice.flush()
            outcomes = [await self._run(call) for call in calls]
            if await self._ends_turn(outcomes):
                return
            messages += [
                ChatMessage("assistant", text, tool_calls=tuple(calls)),
                *(
                    ChatMessage("tool", o.content, tool_call_id=c.id)
                    for c, o in zip(calls, outcomes, strict=True)
                ),
            ]
            choice = "auto"

    async def _ask(
        self, messages: list[ChatMessage], declarations: list[dict[str, object]], choice: str
    ) -> tuple[str, list[ToolCall]]:
        items = self._chat.stream_tools(messages, declarations, choice, self._job)
        text: list[str] = []
        calls: list[ToolCall] = []
        async for item in each_within(items, self._settings.stage_timeout_s, "llm"):
            if isinstance(item, ToolCall):
                calls.append(item)
            else:
                text.append(item)
                await self._voice.piece(item)
        return "".join(text), calls

    async def _ends_turn(self, outcomes: list[ToolOutcome]) -> bool:
        """A failure, an action or a tool's own words end the turn with a line of ours."""
        if any(o.failed for o in outcomes):
            await self._voice.line(self._settings.failure_phrase)
            return True
        action = next((o.action for o in outcomes if o.action is not None), None)
        if action is not None:
            self.action = action
            await self._voice.line(action.line)
            return True
        said = [o.say for o in outcomes if o.say]
        if said and len(said) == len(outcomes):
            for words in said:
                await self._voice.line(words)
            return True
        return False

    async def _run(self, call: ToolCall) -> ToolOutcome:
        await self._committed.wait()
        running = asyncio.ensure_future(self.turn.run(call))
        try:
            done, _ = await asyncio.wait({running}, timeout=self._settings.hold_after_s)
            if not done and not self._held and self._settings.hold_phrase:
                self._held = True
                await self._voice.line(self._settings.hold_phrase)
            return await running
        finally:
            running.cancel()  # the reply was cancelled: so is the tool's request
