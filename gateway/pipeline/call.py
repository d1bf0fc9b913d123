"""One phone call: caller audio in, turn-taking, replies out.

Inbound frames are decoded and run through the VAD on the event loop (about 0.1 ms a window).
The endpointer's events drive the replies: a pause starts a draft, speech cancels it, the end of
the turn commits it (or, without speculation, starts a reply that is committed at once). All of
the call's work lives in tasks owned here; ``close`` cancels every one of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.audio import mulaw
from gateway.audio.frames import SAMPLE_RATE_HZ
from gateway.engines import Engines
from gateway.metrics import GatewayMetrics, TurnRecord
from gateway.pipeline.conversation import Conversation
from gateway.pipeline.playout import Playout, Send
from gateway.pipeline.reply import Reply, ReplyStages
from gateway.pipeline.utterance import UtteranceBuffer
from gateway.settings import Settings
from gateway.stt.base import Transcript
from gateway.vad.completeness import looks_complete
from gateway.vad.endpointer import (
    DraftDue,
    EndpointConfig,
    Endpointer,
    Event,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    TurnEnded,
)
from gateway.vad.silero import SileroStream

log = logging.getLogger("voicegw.call")
CANCEL_GRACE_S = 2.0
"""How long close() waits for cancelled work; some libraries swallow CancelledError."""


def endpoint_config(settings: Settings) -> EndpointConfig:
    return EndpointConfig(
        speech_threshold=settings.vad.speech_threshold,
        silence_threshold=settings.vad.silence_threshold,
        min_speech_ms=settings.vad.min_speech_ms,
        end_silence_ms=settings.turn.end_silence_ms,
        incomplete_end_silence_ms=settings.turn.incomplete_end_silence_ms,
        speculate=settings.turn.speculate,
        speculate_after_silence_ms=settings.turn.speculate_after_silence_ms,
        max_utterance_ms=settings.turn.max_utterance_ms,
    )


class CallSession:
    def __init__(
        self,
        *,
        engines: Engines,
        settings: Settings,
        metrics: GatewayMetrics,
        send: Send,
        stream_sid: str,
        call_sid: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.call_sid = call_sid
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._engines = engines
        self._stages = ReplyStages(
            transcriber=engines.transcriber,
            chat=engines.chat,
            synthesizer=engines.synthesizer,
            apology_frames=engines.phrases.get(settings.call.apology),
            first_clause_min_words=settings.tts.first_clause_min_words,
        )
        self._playout = Playout(send, stream_sid, settings.call.playout_lead_ms, clock)
        self.conversation = Conversation(
            settings.llm.system_prompt, settings.llm.max_history_messages
        )
        self._vad = SileroStream(engines.vad_session, SAMPLE_RATE_HZ)
        self._endpointer = Endpointer(endpoint_config(settings), self._vad.window_ms)
        self._utterance = UtteranceBuffer(
            settings.vad.speech_pad_ms + settings.vad.min_speech_ms + 2 * self._vad.window_ms
        )
        self._tasks: set[asyncio.Task[object]] = set()
        self._windows = 0
        self._last_voiced_at = 0.0
        self._speech_end_at: float | None = None
        self._draft: Reply | None = None
        self._speaking: Reply | None = None
        self._drafts_discarded = 0
        self._turns = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def greet(self) -> None:
        frames = self._engines.phrases.get(self._settings.call.greeting)
        if frames:
            self.conversation.add_assistant(self._settings.call.greeting)
            self._spawn(self._play_frames(frames, "greeting"))

    async def close(self, reason: str) -> int:
        """Cancel all of the call's work and wait (bounded) for it to stop.

        Returns how many tasks were still running after the grace period.
        """
        tasks = [task for task in self._tasks if not task.done()]
        for task in tasks:
            task.cancel()
        pending: set[asyncio.Task[object]] = set()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=CANCEL_GRACE_S)
            for task in pending:
                log.warning("call=%s task %s ignored cancellation", self.call_sid, task)
        log.info("call=%s ended: %s (%d tasks cancelled)", self.call_sid, reason, len(tasks))
        return len(pending)

    def _spawn(self, coroutine: Coroutine[Any, Any, object]) -> asyncio.Task[object]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _play_frames(self, frames: list[bytes], mark: str) -> None:
        for frame in frames:
            await self._playout.frame(frame)
        await self._playout.mark(mark)

    # -- inbound -----------------------------------------------------------------------------

    def on_audio(self, payload: bytes) -> None:
        now = self._clock()
        samples = mulaw.decode(payload).astype(np.float32) / 32768.0
        self._utterance.append(samples)
        for probability in self._vad.process(samples):
            self._windows += 1
            if probability >= self._settings.vad.speech_threshold:
                self._last_voiced_at = now
            end_ms = self._windows * self._vad.window_ms
            for event in self._endpointer.on_window(probability, end_ms):
                self._handle(event, now)

    def on_mark(self, name: str) -> None:
        log.debug("call=%s mark played: %s", self.call_sid, name)

    def on_dtmf(self, digit: str) -> None:
        log.info("call=%s dtmf %s", self.call_sid, digit)

    # -- turn-taking -------------------------------------------------------------------------

    def _handle(self, event: Event, now: float) -> None:
        match event:
            case SpeechStarted():
                self._speech_end_at = None  # a turn cut by max length has no pause of its own
                self._utterance.begin()
            case SpeechPaused():
                self._speech_end_at = self._last_voiced_at
            case DraftDue():
                self._draft = self._start_reply(self._utterance.snapshot(), speculative=True)
            case SpeechResumed():
                self._discard_draft()
            case TurnEnded(reason=reason):
                self._end_turn(now, reason)

    def _discard_draft(self) -> None:
        if self._draft is not None:
            self._cancel(self._draft)
            self._draft = None
            self._drafts_discarded += 1
            self._metrics.drafts_discarded.inc()

    def _end_turn(self, now: float, reason: str) -> None:
        audio = self._utterance.finish()
        reply, self._draft = self._draft, None
        if reply is None:
            reply = self._start_reply(audio, speculative=False)
        if self._speaking is not None and not self._speaking.task_done:
            self._cancel(self._speaking)
            self._speaking.record.outcome = "superseded"
            self._spawn(self._playout.clear())
        self._turns += 1
        reply.record.speech_end = self._speech_end_at or self._last_voiced_at
        reply.record.drafts_discarded = self._drafts_discarded
        self._drafts_discarded = 0
        reply.commit(self._turns, now, reason)
        self._speaking = reply

    def _start_reply(self, audio: npt.NDArray[np.float32], *, speculative: bool) -> Reply:
        record = TurnRecord(call_sid=self.call_sid, turn=0, speculative=speculative)
        reply = Reply(
            audio=audio,
            sample_rate_hz=SAMPLE_RATE_HZ,
            stages=self._stages,
            conversation=self.conversation,
            playout=self._playout,
            record=record,
            on_transcript=self._on_draft_transcript,
            clock=self._clock,
        )
        reply.task = self._spawn(self._run_reply(reply))
        return reply

    async def _run_reply(self, reply: Reply) -> None:
        try:
            await reply.run()
        except asyncio.CancelledError:
            if reply.committed:
                if reply.record.outcome == "replied":
                    reply.record.outcome = "hung_up"
                self._metrics.record_turn(reply.record)
            raise
        self._metrics.record_turn(reply.record)

    def _on_draft_transcript(self, reply: Reply, transcript: Transcript) -> None:
        if reply is not self._draft:
            return  # a committed reply's transcript: the turn is already over
        stream_ms = self._windows * self._vad.window_ms
        complete = looks_complete(transcript.text) or not transcript.text
        for event in self._endpointer.on_transcript(complete, stream_ms):
            self._handle(event, self._clock())

    def _cancel(self, reply: Reply) -> None:
        if reply.task is not None:
            reply.task.cancel()
