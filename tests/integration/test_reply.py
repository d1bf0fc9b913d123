"""One reply through the real stages, without a socket: ordering, marks and history."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np

from gateway.engines import Engines
from gateway.pipeline.conversation import Conversation
from gateway.pipeline.playout import Playout
from gateway.pipeline.reply import Reply, ReplyStages
from gateway.pipeline.sources import CallerAudio, CallerText
from gateway.settings import Settings
from gateway.twilio.messages import OutboundMark, OutboundMedia, OutboundMessage
from tests.sim.clips import speech_8k
from tests.sim.load import HeldEngines


def make_reply(
    engines: Engines, settings: Settings, audio: np.ndarray, sent: list[OutboundMessage]
) -> tuple[Reply, Conversation]:
    async def send(message: OutboundMessage) -> None:
        sent.append(message)
        if isinstance(message, OutboundMark):  # as if played at once
            asyncio.get_running_loop().call_soon(playout.on_echo, message.mark.name, 0.0)

    conversation = Conversation(settings.llm.system_prompt, settings.llm.max_history_messages)
    stages = ReplyStages(
        transcriber=engines.transcriber,
        chat=engines.chat,
        synthesizer=engines.synthesizer,
        apology_frames=engines.phrases.get(settings.call.apology),
        first_clause_min_words=settings.tts.first_clause_min_words,
    )
    playout = Playout(send, "MZ1", lead_ms=60_000)
    reply = Reply(
        source=CallerAudio(audio, 8000),
        stages=stages,
        conversation=conversation,
        playout=playout,
        call_sid="CA1",
        speculative=False,
        on_transcript=lambda _reply, _transcript: None,
    )
    return reply, conversation


async def test_committed_before_transcript_still_records_the_user_turn(
    engines: Engines, settings: Settings
) -> None:
    audio = await speech_8k(engines.synthesizer, "What is the capital of France?")
    sent: list[OutboundMessage] = []
    reply, conversation = make_reply(engines, settings, audio, sent)
    reply.commit(turn=1, endpoint_at=0.0, reason="silence")  # seed mode: commit, then transcribe
    record = await asyncio.wait_for(reply.run(), timeout=60)
    assert record.outcome == "replied"
    assert [m.role for m in conversation.messages] == ["user", "assistant"]
    assert "capital" in conversation.messages[0].content.lower()
    assert conversation.messages[1].content == record.reply_text
    marks = [m.mark.name for m in sent if isinstance(m, OutboundMark)]
    assert marks[-1] == "turn1-end" and marks[0] == "turn1-s0"
    # Audio before each sentence mark; no audio after the end mark.
    assert isinstance(sent[0], OutboundMedia)
    assert isinstance(sent[-1], OutboundMark)


async def test_draft_commits_after_its_audio_is_ready(engines: Engines, settings: Settings) -> None:
    audio = await speech_8k(engines.synthesizer, "Tell me a joke.")
    sent: list[OutboundMessage] = []
    reply, conversation = make_reply(engines, settings, audio, sent)
    task = asyncio.create_task(reply.run())
    await asyncio.wait_for(reply.first_audio_ready.wait(), timeout=60)
    assert sent == [], "a draft holds its audio until the turn is committed"
    reply.commit(turn=2, endpoint_at=0.0, reason="finished_thought")
    await asyncio.wait_for(task, timeout=60)
    assert [m.role for m in conversation.messages] == ["user", "assistant"]
    assert any(isinstance(m, OutboundMedia) for m in sent)


async def test_a_draft_cancelled_while_queued_never_reaches_the_llm(
    engines: Engines, settings: Settings
) -> None:
    conversation = Conversation(settings.llm.system_prompt, settings.llm.max_history_messages)
    stages = ReplyStages(
        transcriber=engines.transcriber,
        chat=engines.chat,
        synthesizer=engines.synthesizer,
        apology_frames=[],
        first_clause_min_words=4,
    )

    async def send(_message: OutboundMessage) -> None:
        pass

    stats = engines.gate_stats
    refused_before = stats.refused.get("llm", 0)
    async with HeldEngines(engines) as load:  # another call's work has the cores
        draft = Reply(
            source=CallerText("The caller pressed 4 2 on the keypad."),
            stages=stages,
            conversation=conversation,
            playout=Playout(send, "MZ1", lead_ms=400),
            call_sid="CA1",
            speculative=True,
        )
        task = asyncio.create_task(draft.run())
        await load.waiting(1)  # the draft's first LLM step (its prompt) is queued
        draft.task = task
        draft.cancel()  # the caller went on
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
    assert draft.job.steps == {}, "the cancelled draft ran a model step"
    # The task has ended; its worker thread is told at its next look at the gate.
    assert await asyncio.to_thread(stats.wait_for_refused, "llm", refused_before + 1, 10)
    assert stats.refused.get("llm", 0) == refused_before + 1
    assert conversation.messages == []
