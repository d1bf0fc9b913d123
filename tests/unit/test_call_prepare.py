"""The next prompt's start is read ahead while the answer still plays, so a cut-back history
window (hundreds of tokens on a small CPU) is not read after the caller's next words. No models:
the call runs on fake stages (as in ``test_call_languages``)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from pathlib import Path

import msgspec

from gateway.llm.base import ChatMessage
from gateway.metrics import TurnRecord
from gateway.pipeline.call import CallSession
from gateway.scheduling import Job
from gateway.twilio.messages import OutboundMark, OutboundMessage
from tests.unit.test_call_languages import Chat, Line, Voice, load, make_engines, quick, start_call

TURN_END = re.compile(r"turn\d+-end")


class PreparingChat(Chat):
    """Answers as ``Chat`` does, and records each prompt start it is asked to read ahead, with
    whether the answer was over then (heard, or given up waiting for its last mark)."""

    def __init__(self, line: HeldEnds) -> None:
        super().__init__()
        self._line = line
        self.prepared: list[tuple[list[ChatMessage], bool]] = []
        self.asked = asyncio.Event()
        self.jobs: list[Job] = []

    async def prepare(self, messages: Sequence[ChatMessage], job: Job | None = None) -> None:
        session = self._line.session
        assert session is not None
        speaking = session._speaking
        over = self._line.ends_echoed or speaking is None or speaking.task_done
        self.prepared.append((list(messages), over))
        self.jobs.append(job or Job())
        self.asked.set()


class HeldEnds(Line):
    """Echoes a reply's ``-end`` mark only when told: until then its answer is still playing."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[str] = []
        self.ends_echoed = True

    async def send(self, message: OutboundMessage) -> None:
        if isinstance(message, OutboundMark) and TURN_END.fullmatch(message.mark.name):
            self.marks.append(message.mark.name)
            self.held.append(message.mark.name)
            self.ends_echoed = False
            return
        await super().send(message)

    def echo_held(self) -> None:
        assert self.session is not None
        for name in self.held:
            self.session.on_mark(name)
        self.held.clear()
        self.ends_echoed = True


async def greeted_call(
    tmp_path: Path, max_history_messages: int
) -> tuple[CallSession, HeldEnds, PreparingChat, list[TurnRecord]]:
    """A call on fake stages whose greeting has been heard."""
    settings = quick(load(tmp_path, ""))
    settings = msgspec.structs.replace(
        settings,
        llm=msgspec.structs.replace(settings.llm, max_history_messages=max_history_messages),
    )
    engines = await make_engines(settings, {"": Voice("english", 100)})
    line, records = HeldEnds(), list[TurnRecord]()
    chat = PreparingChat(line)
    engines.chat = chat
    session = start_call(settings, engines, line, records)
    session.greet()
    await line.wait_for_mark("greeting-end")
    return session, line, chat, records


async def answer_playing(
    session: CallSession, line: HeldEnds, chat: PreparingChat, turn: int
) -> None:
    """The caller speaks; the call answers, and reads the next prompt ahead, while its answer
    plays (its last mark held)."""
    chat.asked.clear()
    await line.say(session)
    await line.wait_for_mark(f"turn{turn}-end")
    async with asyncio.timeout(10):
        await chat.asked.wait()


async def test_the_next_prompt_is_read_while_the_answer_plays(tmp_path: Path) -> None:
    session, line, chat, records = await greeted_call(tmp_path, max_history_messages=4)
    for turn in range(1, 5):  # a window of 4 messages is cut back on the way
        await answer_playing(session, line, chat, turn)
        foreseen, over = chat.prepared[-1]
        assert not over, "read ahead only once the answer was over"
        reply = session._speaking
        assert reply is not None and reply.task is not None
        line.echo_held()
        await asyncio.wait_for(reply.task, 10)  # heard: its words go into the history
        assert session.conversation.next_prefix() == foreseen, turn
    await session.close("test over")
    assert len(records) == 4


async def test_a_hang_up_cancels_the_reading_ahead(tmp_path: Path) -> None:
    """The call ends while its next prompt is being read ahead: the model's worker thread is
    told to stop (its job is cancelled), not left to read for a call that is over."""
    session, line, chat, _records = await greeted_call(tmp_path, max_history_messages=12)
    await answer_playing(session, line, chat, 1)
    reading = chat.jobs[-1]
    assert not reading.cancelled.is_set()
    await session.close("caller hung up")
    assert reading.cancelled.is_set()
