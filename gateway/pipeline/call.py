"""One phone call: turn-taking, replies out, barge-in.

The listener's events drive the replies: a pause starts a draft, speech cancels it, the end of
the turn commits it (or, without speculation, starts a reply that is committed at once). Speech
soon after the end of a turn (``turn.rejoin_within_ms``), before any of its answer was sent or
just as it began (``turn.rejoin_answer_within_ms``), rejoins that turn: the answer goes and the
two utterances are transcribed as one, up to
``turn.max_carry_ms`` of audio. Speech later than that, into a late answer's silence, is a turn
of its own: the late answer waits for the caller to pause, plays, and that turn is answered next.

One reply at a time holds the floor (the greeting, a turn's reply, a resumed one) until the
caller has heard it all. Confident caller speech during that time is a barge-in: the reply is
cut, Twilio's buffer cleared, and the history keeps what was heard. A turn that ends while the
agent still talks, without a barge-in, cuts it only if its transcript holds words. All of the
call's work lives in tasks owned here; ``close`` cancels every one of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from gateway.audio.frames import SAMPLE_RATE_HZ
from gateway.engines import Engines
from gateway.languages import whisper_code
from gateway.llm.base import ChatMessage, PreparesPrompts
from gateway.metrics import GatewayMetrics
from gateway.pipeline.caller_context import CallerContext
from gateway.pipeline.caller_line import CallerLine, RejoinPolicy
from gateway.pipeline.conversation import Conversation
from gateway.pipeline.keypad import KeyAction, KeypadEntry
from gateway.pipeline.language_stages import LanguageStages
from gateway.pipeline.listener import BargeIn, CallerEvent, Listener
from gateway.pipeline.playout import Playout, Send
from gateway.pipeline.profiles import call_language, profile_for
from gateway.pipeline.progress import SpeechEnd
from gateway.pipeline.reply import Reply, ReplyStages
from gateway.pipeline.sources import CallerAudio, CallerText, Prepared, Source
from gateway.scheduling import Job
from gateway.settings import Settings
from gateway.stt.base import Transcript
from gateway.stt.words import has_words
from gateway.tools.actions import CallAction
from gateway.tools.toolbox import Toolbox
from gateway.vad.endpointer import DraftDue, SpeechResumed, SpeechStarted, TurnEnded
from gateway.vad.silero import SileroStream

log = logging.getLogger("voicegw.call")
PREPARE_DUE_IN_S = 3.0
"""Preparing the next prompt is due this far ahead, always: after any work a caller waits for."""
CANCEL_GRACE_S = 2.0
"""How long close() waits for cancelled work; some libraries swallow CancelledError."""


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
        hang_up: Callable[[str], None] = lambda _reason: None,
        clock: Callable[[], float] = time.monotonic,
        language: str = "",
        on_reply: Callable[[Reply], None] | None = None,
        caller: CallerContext | None = None,
        toolbox: Toolbox | None = None,
    ) -> None:
        """``language``: forced for this call (the stream's ``language`` custom parameter), a
        Whisper code; empty: ``stt.language``, or with ``"auto"`` detected on the first turn.
        ``on_reply``: told of every reply as it is made (drafts too), for a client that shows
        a reply's progress live; it only reads the reply. ``toolbox``: the tools the agent may
        call (None or empty: none)."""
        self.call_sid = call_sid
        self.caller = caller or CallerContext(call_sid=call_sid)
        """Who called whom (From and To, where the webhook passed them on)."""
        self._on_reply = on_reply
        self._settings = settings
        self._metrics = metrics
        self._hang_up = hang_up
        self._clock = clock
        self._engines = engines
        self._languages = LanguageStages(engines, settings, self.caller, toolbox)
        self.language = call_language(settings, language)
        """The call's language once known (forced, fixed, or detected): a Whisper code."""
        self._profile = profile_for(settings, self.language)
        self._stages = self._languages.stages(self._profile)
        self._playout = Playout(send, stream_sid, settings.call.playout_lead_ms, clock)
        self.conversation = Conversation(
            self._languages.system_prompt(self._profile, self.language),
            settings.llm.max_history_messages,
        )
        self._listener = Listener(
            SileroStream(engines.vad_session, SAMPLE_RATE_HZ),
            settings,
            may_draft_early=engines.stt_is_idle,
        )
        self._caller_line = CallerLine(
            self._listener.last_sound_at,
            clock,
            speaking=self._listener.in_utterance,
            rejoin=RejoinPolicy(
                enabled=settings.turn.rejoin_on_resume,
                within_ms=settings.turn.rejoin_within_ms,
                max_carry_ms=settings.turn.max_carry_ms,
                answer_within_ms=settings.turn.rejoin_answer_within_ms,
            ),
        )
        self._keypad = KeypadEntry(settings.dtmf.submit_digit, settings.dtmf.hangup_digit)
        self._keypad_timer: asyncio.Task[object] | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self._draft: Reply | None = None
        self._speaking: Reply | None = None
        """The reply holding the floor: from its commit until the caller has heard it all."""
        self._cut: Reply | None = None
        """The last reply the caller cut off, until their next turn shows whether they spoke."""
        self._waiting_turn: Reply | None = None
        """A turn the caller spoke into a late answer's silence: answered once that answer has
        been heard (at most one waits)."""
        self._utterance_started_at = 0.0
        self._closing = False
        self._preparing: tuple[Job, asyncio.Task[object]] | None = None
        self._last_turn_filled = False
        """The last committed turn began with a filler: the next one may not (fillers twice in
        a row sound mechanical)."""
        self._drafts_discarded = 0
        self._turns = 0

    # -- language ----------------------------------------------------------------------------

    def _keep_language(self, language: str) -> None:
        """The first words of a call in a language not known before (``stt.language = "auto"``):
        the call keeps it. Later turns are transcribed in it, and it picks the call's voice,
        phrases and system prompt."""
        code = whisper_code(language)
        if not code:
            return
        self.language = code
        self._profile = profile_for(self._settings, code)
        self._stages = self._languages.stages(self._profile)
        self.conversation.system_prompt = self._languages.system_prompt(self._profile, code)
        log.info("call=%s language %s (detected)", self.call_sid, code)

    def _stages_after(self, transcript: Transcript) -> ReplyStages:
        """The stages that answer a transcript: the call's language's, or, while that is not
        known, those of the language the words were in."""
        if self.language is not None:
            return self._stages
        profile = profile_for(self._settings, whisper_code(transcript.language))
        return self._languages.stages(profile)

    # -- lifecycle ---------------------------------------------------------------------------

    def greet(self) -> None:
        profile = self._profile
        frames = self._engines.phrases.get(profile.greeting, profile.voice)
        if frames:
            self._say_prepared([(profile.greeting, frames)], "greeting")

    async def close(self, reason: str) -> int:
        """Cancel all of the call's work and wait (bounded) for it to stop.

        Returns how many tasks were still running after the grace period.
        """
        self._closing = True
        self._stop_preparing()  # its job too: a worker thread stops at its next step
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

    # -- inbound -----------------------------------------------------------------------------

    def on_audio(self, payload: bytes) -> None:
        now = self._clock()
        for event in self._listener.hear(payload, now):
            self._handle(event, now)

    def on_mark(self, name: str) -> None:
        self._playout.on_echo(name, self._clock())

    def on_dtmf(self, digit: str) -> None:
        log.info("call=%s keypad press", self.call_sid)  # which key is never logged (PINs)
        action = self._keypad.press(digit)
        if self._keypad_timer is not None:
            self._keypad_timer.cancel()
            self._keypad_timer = None
        if action is KeyAction.HANG_UP:
            self._hang_up(f"caller pressed {digit} to end the call")
        elif action is KeyAction.SUBMIT:
            self._submit_keys()
        else:
            self._keypad_timer = self._spawn(self._submit_keys_later())

    async def _submit_keys_later(self) -> None:
        await asyncio.sleep(self._settings.dtmf.gather_ms / 1000)
        self._keypad_timer = None
        self._submit_keys()

    def _submit_keys(self) -> None:
        text = self._keypad.take(self._profile.keypad)
        if not text or not self._settings.dtmf.to_conversation:
            return
        reply = self._start_reply(CallerText(text), speculative=False)
        speaking = self._speaking
        if speaking is not None and not speaking.task_done:
            # A keypad entry takes the floor like a turn: after the reply being said, never
            # over it (and the caller can cut that reply off by speaking, as always).
            self._answer_after(speaking, reply, self._clock(), "keypad")
            return
        self._commit(reply, self._clock(), "keypad")

    # -- turn-taking -------------------------------------------------------------------------

    def _handle(self, event: CallerEvent, now: float) -> None:
        match event:
            case SpeechStarted():
                self._utterance_started_at = now
                self._caller_went_on()
            case BargeIn():
                self._on_barge_in(now)
            case DraftDue():
                source = CallerAudio(self._listener.utterance_so_far(), SAMPLE_RATE_HZ)
                turn = self._settings.turn
                due_in_ms = turn.sure_end_silence_ms - turn.speculate_after_silence_ms
                self._draft = self._start_reply(
                    source, speculative=True, due_at=now + max(0, due_in_ms) / 1000
                )
            case SpeechResumed():
                self._discard_draft()
            case TurnEnded(reason=reason):
                self._end_turn(now, reason)

    def _caller_went_on(self) -> None:
        """Speech again soon after a turn ended, before any of its answer was sent or just after
        it began: the caller had only paused. That reply goes (and a filler that was playing),
        and the new utterance carries the old one's audio, so the turn is transcribed and
        answered whole. Bounded: not after a turn cut at its maximum length, not past
        ``turn.max_carry_ms`` of audio, and not when the pause was long (the answer is late and
        still owed; see ``_end_turn``) or the answer has played a while (a barge-in)."""
        reply = self._speaking
        if reply is None or reply.task_done:
            return
        audio = reply.caller_audio
        if audio is None:
            return
        carried_ms = len(audio.samples) * 1000 // audio.sample_rate_hz
        progress = reply.progress
        if not self._caller_line.rejoins(
            progress.speech_end,
            cut_at_max_length=progress.endpoint_reason == "max_length",
            carried_ms=carried_ms + self._listener.carried_ms(),
            answer_started_at=reply.answer_started_at,
        ):
            return
        when = "just as it began" if reply.answer_started else "before it was heard"
        log.info("call=%s caller went on %s (%s): one longer turn", self.call_sid, when,
                 reply.label)  # fmt: skip
        if reply.sent_anything:
            self._spawn(self._playout.clear())
        reply.supersede()
        self._speaking = None
        self._listener.carry_over(audio.samples)

    def _discard_draft(self) -> None:
        if self._draft is not None:
            self._draft.cancel()
            self._draft = None
            self._drafts_discarded += 1
            self._metrics.drafts_discarded.inc()

    def _end_turn(self, now: float, reason: str) -> None:
        audio = self._listener.finish_utterance()
        reply, self._draft = self._draft, None
        if reply is None:
            reply = self._start_reply(CallerAudio(audio, SAMPLE_RATE_HZ), speculative=False)
        ended, discarded = self._listener.speech_end, self._drafts_discarded
        self._drafts_discarded = 0
        owed = self._owed_answer()
        if owed is None:
            self._commit(reply, now, reason, ended, discarded)
            return
        # Spoken into the silence before an answer the caller has not heard yet ("hello?"):
        # that answer goes first, then this turn is answered (its work goes on meanwhile).
        self._answer_after(owed, reply, now, reason, ended=ended, discarded=discarded)

    def _answer_after(
        self,
        owed: Reply,
        reply: Reply,
        now: float,
        reason: str,
        *,
        ended: SpeechEnd | None = None,
        discarded: int = 0,
    ) -> None:
        """``reply`` waits for the floor: it is committed once ``owed`` has been heard."""
        log.info("call=%s turn before %s was over: answered after it", self.call_sid, owed.label)
        if self._waiting_turn is not None:
            self._waiting_turn.supersede()  # one waits at most; the newest words win
        self._waiting_turn = reply

        def after_owed(_task: object) -> None:
            if self._waiting_turn is reply and not reply.task_done and not self._closing:
                self._waiting_turn = None
                self._commit(reply, now, reason, ended, discarded)

        assert owed.task is not None
        owed.task.add_done_callback(after_owed)

    def _owed_answer(self) -> Reply | None:
        """The reply holding the floor, if the caller has not heard its answer start before the
        utterance that just ended began (so that utterance was no reaction to it)."""
        reply = self._speaking
        if reply is None or reply.task_done or reply.caller_audio is None:
            return None
        started = reply.answer_started_at
        return reply if started is None or started > self._utterance_started_at else None

    def _commit(
        self,
        reply: Reply,
        now: float,
        reason: str,
        ended: SpeechEnd | None = None,
        drafts_discarded: int = 0,
    ) -> None:
        self._turns += 1
        reply.commit(self._turns, now, reason, ended=ended, drafts_discarded=drafts_discarded)
        if not self._floor_taken():
            self._speaking = reply
        if reply.transcribed:
            self._settle(reply)
        if reply.written:
            self._on_written(reply)

    def _floor_taken(self) -> bool:
        return self._speaking is not None and not self._speaking.task_done

    def _settle(self, reply: Reply) -> None:
        """A committed turn's words are known: they take the floor; no words change nothing,
        except that speech which cut the agent off turns out to have been a false alarm."""
        if reply.has_words:
            speaking = self._speaking
            if speaking is not None and speaking is not reply and not speaking.task_done:
                if self._settings.barge_in.enabled:
                    # Too short to pass as a barge-in while the agent talks: "mm", "okay".
                    words = len(reply.user_text.split())
                    log.info("call=%s backchannel (%d words)", self.call_sid, words)
                    reply.drop()
                    return
                self._interrupt(speaking, self._clock())
            self._speaking = reply
            self._cut = None
            return
        if self._speaking is reply:
            self._speaking = None  # nothing to say: the floor is free again
        if self._cut is not None and not self._floor_taken():
            cut, self._cut = self._cut, None
            self._say_again(cut)

    def _on_barge_in(self, now: float) -> None:
        """Confident speech while the agent talks stops it. An answer that has not started yet
        is not cut (there is nothing to talk over): it waits for the caller to pause."""
        speaking = self._speaking
        if not (self._settings.barge_in.enabled and self._floor_taken()):
            return
        assert speaking is not None
        if speaking.answer_started:
            if self._waiting_turn is not None:  # the cut-in speaks for it now
                self._waiting_turn.supersede()
                self._waiting_turn = None
            self._interrupt(speaking, now)

    def _interrupt(self, reply: Reply, now: float) -> None:
        log.info("call=%s caller cut in on %s", self.call_sid, reply.label)
        reply.interrupt(now)
        if reply.sent_anything:
            self._spawn(self._playout.clear())
        self._metrics.barge_ins.inc()
        self._cut = reply
        if self._speaking is reply:
            self._speaking = None

    def _say_again(self, cut: Reply) -> None:
        policy = self._settings.barge_in.false_interruption
        sentences = cut.unheard_sentences()
        if policy == "repeat":
            sentences = sentences[:1]
        if policy == "ignore" or not sentences:
            return
        log.info("call=%s no words in the interruption: %s %s", self.call_sid, policy, cut.label)
        self._say_prepared(sentences, f"{cut.label}-again")

    def _say_prepared(self, sentences: list[tuple[str, list[bytes]]], label: str) -> None:
        reply = self._new_reply(Prepared(sentences), speculative=False)
        reply.task = self._spawn(reply.run())
        reply.commit(self._turns, self._clock(), "prepared", label=label)
        self._speaking = reply

    def _start_reply(
        self, source: CallerAudio | CallerText, *, speculative: bool, due_at: float | None = None
    ) -> Reply:
        reply = self._new_reply(source, speculative=speculative, due_at=due_at)
        reply.task = self._spawn(self._run_reply(reply))
        return reply

    def _new_reply(
        self, source: Source, *, speculative: bool, due_at: float | None = None
    ) -> Reply:
        self._stop_preparing()  # every reply starts here: the model is needed for it now
        reply = Reply(
            source=source,
            stages=self._stages,
            conversation=self.conversation,
            playout=self._playout,
            call_sid=self.call_sid,
            speculative=speculative,
            due_at=due_at,
            on_transcript=self._on_transcript,
            on_reading=self._on_reading,
            on_written=self._on_written,
            caller=self._caller_line,
            clock=self._clock,
            language=self.language,
            stages_for=self._stages_after,
            may_fill=not self._last_turn_filled,
        )
        if self._on_reply is not None:
            self._on_reply(reply)
        return reply

    async def _run_reply(self, reply: Reply) -> None:
        """Run a turn's reply; its record is logged once, when it is over (drafts that never
        became a turn leave none)."""
        try:
            await reply.run()
        finally:
            if reply.committed:
                self._last_turn_filled = bool(reply.progress.filler)
                self._metrics.record_turn(reply.record())
                self._prepare_next_prompt(reply)
            action = reply.action
            if action is not None and reply.progress.outcome == "replied" and not self._closing:
                self._spawn(self._carry_out(action, heard=reply.end_heard))

    async def _carry_out(self, action: CallAction, *, heard: bool) -> None:
        """The caller has heard the action's line (its last mark came back): do it."""
        assert self._languages.toolbox is not None
        if not heard:
            log.warning("call=%s no echo of the %s line: ending anyway", self.call_sid, action.kind)
        log.info("call=%s agent action: %s", self.call_sid, action.kind)
        await self._languages.toolbox.carry_out(action, self.call_sid, self._hang_up)

    def _on_written(self, reply: Reply) -> None:
        """A committed answer is written and plays: the next prompt's start is known (the
        history once the caller has heard it all), so it is read while the caller listens, not
        only once they have heard it. A cut-back window is hundreds of tokens: measured at 4
        calls, most calls' seventh turn waited 1.1-2.7 s for its first token. Told by the reply
        as it is written, or by ``_commit`` for a draft written before its turn ended."""
        if not (reply.committed and reply is self._speaking):
            return
        if reply.dropped or reply.progress.outcome != "replied" or reply.action is not None:
            return
        if reply.has_words and reply.progress.reply_text:
            coming = self.conversation.prefix_after(reply.history_to_come())
            self._prepare_next_prompt(reply, coming)

    def _prepare_next_prompt(
        self, finished: Reply, prefix: list[ChatMessage] | None = None
    ) -> None:
        """A turn is over and the caller is listening: evaluate the start of the next prompt
        now, at low priority, so the next turn's model only reads the caller's new words. (When
        the history window is cut back, that is hundreds of tokens: 2 s on a small CPU.)
        ``prefix``: that start, where ``finished`` has not yet added its part to the history."""
        if self._closing or self._draft is not None or self._waiting_turn is not None:
            return
        speaking = self._speaking
        busy = speaking is not None and speaking is not finished and not speaking.task_done
        if busy or not isinstance(self._engines.chat, PreparesPrompts):
            return
        self._stop_preparing()
        job = Job(call_id=self.call_sid, deadline=lambda: self._clock() + PREPARE_DUE_IN_S)
        prefix = prefix or self.conversation.next_prefix()
        self._preparing = (job, self._spawn(self._engines.chat.prepare(prefix, job)))

    def _stop_preparing(self) -> None:
        """The caller's next turn needs the model (and its context) now."""
        if self._preparing is not None:
            job, task = self._preparing
            job.cancel()
            task.cancel()
            self._preparing = None

    def _on_transcript(self, reply: Reply, transcript: Transcript) -> None:
        if reply.dropped:
            return
        if self.language is None and transcript.language and has_words(transcript.text):
            self._keep_language(transcript.language)
        if reply.committed:
            self._settle(reply)
            return

    def _on_reading(self, reply: Reply, transcript: Transcript) -> None:
        """A draft's words are read (and scored by the model, where it does): the caller's
        turn may end on them."""
        if reply.dropped or reply.committed or reply is not self._draft:
            return
        language = transcript.language or self.language or ""
        end_probability = reply.progress.end_probability
        for event in self._listener.on_transcript(transcript.text, language, end_probability):
            self._handle(event, self._clock())
