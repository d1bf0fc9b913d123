"""One reply to one caller turn: transcribe, stream the LLM, speak sentence by sentence.

A reply runs as one task. It may start as a *draft* while the caller is only pausing: it does
all its work, but its audio waits behind ``commit``. If the caller goes on, the call cancels the
task and nothing was sent. Once committed, audio leaves in sentence order, paced by the playout.
A stage that fails makes the caller hear the apology instead of silence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gateway.llm.base import ChatModel
from gateway.metrics import TurnRecord
from gateway.pipeline.conversation import Conversation
from gateway.pipeline.playout import Playout
from gateway.pipeline.speech import FrameEncoder
from gateway.stt.base import Transcriber, Transcript
from gateway.tts.base import Synthesizer
from gateway.tts.sentences import SentenceSplitter

log = logging.getLogger("voicegw.reply")


@dataclass(frozen=True, slots=True)
class SentenceEnd:
    """Queued after a sentence's last frame: send a mark, count the sentence as spoken."""

    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ReplyStages:
    transcriber: Transcriber
    chat: ChatModel
    synthesizer: Synthesizer
    apology_frames: list[bytes]
    first_clause_min_words: int


_END = None
QueueItem = bytes | SentenceEnd | None


class Reply:
    def __init__(
        self,
        *,
        audio: npt.NDArray[np.float32],
        sample_rate_hz: int,
        stages: ReplyStages,
        conversation: Conversation,
        playout: Playout,
        record: TurnRecord,
        on_transcript: Callable[[Reply, Transcript], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._audio = audio
        self._rate = sample_rate_hz
        self._stages = stages
        self._conversation = conversation
        self._playout = playout
        self.record = record
        self._on_transcript = on_transcript
        self._clock = clock
        self._committed = asyncio.Event()
        self._spoken: list[str] = []
        self._spoken_all = False
        self.first_audio_ready = asyncio.Event()
        """Set when the first reply frame is ready to send (committed or not)."""
        self.task: asyncio.Task[object] | None = None
        """The task running this reply (set by whoever spawns it, so it can be cancelled)."""

    @property
    def task_done(self) -> bool:
        return self.task is None or self.task.done()

    @property
    def committed(self) -> bool:
        return self._committed.is_set()

    def commit(self, turn: int, endpoint_at: float, reason: str) -> None:
        """The caller's turn is over: this reply may speak."""
        self.record.turn = turn
        self.record.endpoint = endpoint_at
        self.record.endpoint_reason = reason
        self._committed.set()

    async def run(self) -> TurnRecord:
        queue: asyncio.Queue[QueueItem] = asyncio.Queue()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._produce(queue))
                group.create_task(self._deliver(queue))
        except asyncio.CancelledError:
            if self.committed:
                self._remember_spoken()
            raise
        self._remember_spoken()
        return self.record

    def _remember_spoken(self) -> None:
        """History gets what was sent to the caller: the exact generated text when all of it
        was (so the next prompt shares its tokens with this one), else the sentences sent."""
        if not (self.committed and self.record.user_text):
            return
        finished = self.record.reply_text and self._spoken_all
        self._conversation.add_assistant(
            self.record.reply_text if finished else " ".join(self._spoken)
        )

    async def _produce(self, queue: asyncio.Queue[QueueItem]) -> None:
        try:
            await self._produce_speech(queue)
        except Exception as error:  # any stage: the caller hears an apology, the call goes on
            log.exception("call=%s reply failed", self.record.call_sid)
            self.record.outcome = "failed"
            self.record.error = f"{type(error).__name__}: {error}"
            for frame in self._stages.apology_frames:
                queue.put_nowait(frame)
        finally:
            queue.put_nowait(_END)

    async def _produce_speech(self, queue: asyncio.Queue[QueueItem]) -> None:
        transcript = await self._stages.transcriber.transcribe(self._audio, self._rate)
        self.record.transcript = self._clock()
        self.record.user_text = transcript.text
        self._on_transcript(self, transcript)
        if not transcript.text:
            self.record.outcome = "no_speech"
            return
        prompt = self._conversation.prompt_for(transcript.text)
        splitter = SentenceSplitter(self._stages.first_clause_min_words)
        reply_parts: list[str] = []
        index = 0
        async for token in self._stages.chat.stream(prompt):
            if self.record.first_token is None:
                self.record.first_token = self._clock()
            reply_parts.append(token)
            for sentence in splitter.push(token):
                await self._speak(index, sentence, queue)
                index += 1
        for sentence in splitter.flush():
            await self._speak(index, sentence, queue)
            index += 1
        self.record.reply_text = "".join(reply_parts).strip()

    async def _speak(self, index: int, sentence: str, queue: asyncio.Queue[QueueItem]) -> None:
        if self.record.first_sentence is None:
            self.record.first_sentence = self._clock()
        encoder: FrameEncoder | None = None
        async for chunk in self._stages.synthesizer.synthesize(sentence):
            if self.record.first_audio is None:
                self.record.first_audio = self._clock()
            encoder = encoder or FrameEncoder(chunk.sample_rate_hz)
            for frame in encoder.feed(chunk):
                queue.put_nowait(frame)
                self.first_audio_ready.set()
        for frame in encoder.finish() if encoder else []:
            queue.put_nowait(frame)
        queue.put_nowait(SentenceEnd(index, sentence))

    async def _deliver(self, queue: asyncio.Queue[QueueItem]) -> None:
        await self._committed.wait()
        item = await queue.get()  # the transcript exists once anything has been produced
        if self.record.user_text:
            self._conversation.add_user(self.record.user_text)
        while item is not _END:
            if isinstance(item, bytes):
                sent_at = await self._playout.frame(item)
                if self.record.first_media is None:
                    self.record.first_media = sent_at
            elif isinstance(item, SentenceEnd):
                await self._playout.mark(f"turn{self.record.turn}-s{item.index}")
                self._spoken.append(item.text)
            item = await queue.get()
        self._spoken_all = True
        if self.record.first_media is not None:
            await self._playout.mark(f"turn{self.record.turn}-end")
