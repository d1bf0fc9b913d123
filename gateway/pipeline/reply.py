"""One reply: from what the caller said (or keyed) to speech, sentence by sentence.

A reply runs as one task. It may start as a *draft* while the caller is only pausing: it does
all its work, but its audio waits behind ``commit``. If the caller goes on, the call cancels the
task and nothing was sent. Once committed, audio leaves in sentence order, paced by the playout,
with a mark after each sentence; the task lasts until the last mark is echoed (the caller has
heard it all), so an interruption at any point knows what was heard. A stage that fails makes
the caller hear the apology instead of silence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.audio.frames import FRAME_MS
from gateway.languages import whisper_code
from gateway.llm.base import CallsTools, ChatMessage, ChatModel, ScoresTurnEnd
from gateway.metrics import Outcome, TurnRecord
from gateway.pipeline.caller_line import CallerLine
from gateway.pipeline.conversation import Conversation
from gateway.pipeline.deadlines import each_within, within
from gateway.pipeline.heard import SentSentence, heard_before
from gateway.pipeline.playout import Playout
from gateway.pipeline.progress import ReplyProgress, SpeechEnd
from gateway.pipeline.sources import CallerAudio, CallerText, Prepared, Source
from gateway.pipeline.speech import FrameEncoder
from gateway.pipeline.tool_loop import ToolLoop, ToolTurnSettings, Voice
from gateway.scheduling import Job
from gateway.stt.base import Transcriber, Transcript
from gateway.stt.words import has_words
from gateway.tools.actions import CallAction
from gateway.tts.base import Synthesizer
from gateway.tts.sentences import SentenceSplitter

log = logging.getLogger("voicegw.reply")
ECHO_SLACK_S = 1.5
"""How long past the expected end of playback to wait for the last mark's echo."""
NEXT_SENTENCE_MARGIN_S = 1.0
"""A later sentence is due this long before the caller runs out of audio: time to synthesize
it, with room for a step of someone else's that is already running."""


@dataclass(frozen=True, slots=True)
class ReplyStages:
    transcriber: Transcriber
    chat: ChatModel
    synthesizer: Synthesizer
    apology_frames: list[bytes]
    first_clause_min_words: int
    phrase_starts: frozenset[str] = frozenset()
    """Words that open a phrase in the reply's language: its first words may be spoken before
    one (:class:`SentenceSplitter`)."""
    first_phrase_min_words: int = 4
    cut_marker: str = ""
    """Appended to the heard part of a reply the caller cut off, in the history."""
    stage_timeout_s: float = 15.0
    """Longest wait for any one result of a stage (a transcript, a token, an audio chunk)."""
    fillers: tuple[tuple[str, list[bytes]], ...] = ()
    """Rendered acknowledgements, said when the answer is late (see ``filler_after_ms``)."""
    filler_after_ms: int = 0
    quiet_before_answer_ms: int = 0
    """After a sound from the caller since their turn ended, the answer waits for this much quiet
    (or for the caller's speech to make it part of a longer turn)."""
    tools: ToolTurnSettings | None = None
    """The tools this call may use (None: none, or a model that cannot call them)."""
    phrase: Callable[[str], list[bytes]] = lambda _text: []
    """A pre-rendered line's frames in this voice ([]: not rendered, synthesize it)."""
    action_echo_timeout_s: float = 10.0
    """After an action's line (goodbye, transfer): how long past its playback to wait for its
    last mark before the call does the action anyway."""
    end_model_languages: frozenset[str] = frozenset()
    """Languages (Whisper codes) in which a draft asks the chat model whether the caller's
    message is finished (``turn.end_model_languages``)."""


@dataclass(frozen=True, slots=True)
class SentenceEnd:
    sentence: SentSentence


_END = None
QueueItem = bytes | SentSentence | SentenceEnd | None
"""A sentence object opens a sentence, its frames follow, ``SentenceEnd`` closes it."""


class Reply:
    def __init__(
        self,
        *,
        source: Source,
        stages: ReplyStages,
        conversation: Conversation,
        playout: Playout,
        call_sid: str,
        speculative: bool,
        due_at: float | None = None,
        on_transcript: Callable[[Reply, Transcript], None] = lambda _r, _t: None,
        on_reading: Callable[[Reply, Transcript], None] = lambda _r, _t: None,
        on_written: Callable[[Reply], None] = lambda _r: None,
        caller: CallerLine | None = None,
        clock: Callable[[], float] = time.monotonic,
        language: str | None = None,
        stages_for: Callable[[Transcript], ReplyStages] | None = None,
        may_fill: bool = True,
    ) -> None:
        """``due_at``: for a draft, when its turn would be committed (its work's deadline).
        ``language``: the call's, which the caller's audio is transcribed in (None: detected).
        ``stages_for``: once the caller's words are known (after ``on_transcript``), the stages
        that answer them: the voice and phrases of the language they were in.
        ``may_fill``: a late answer may have a filler before it (not when the last turn had one).
        ``on_reading``: a draft's words are read, with the chat model's end probability where
        it scored them (after ``on_transcript``, once the model has read them).
        ``on_written``: the whole answer is written (the model and the voice are done with it;
        it may still be playing)."""
        self._may_fill = may_fill
        self._source = source
        self._stages = stages
        self._language = language
        self._stages_for = stages_for
        self._conversation = conversation
        self._playout = playout
        self.call_sid = call_sid
        self.progress = ReplyProgress(speculative=speculative, language=language or "")
        self._on_transcript = on_transcript
        self._on_reading = on_reading
        self._on_written = on_written
        self.written = False
        """Production ended as it should: every sentence of the answer is synthesized."""
        self._read: Transcript | None = None
        """A draft's transcript whose reading the call has not been told yet."""
        self._caller = caller or CallerLine(lambda: float("-inf"), clock)
        self._clock = clock
        self._due_at = clock() if due_at is None else due_at
        self.job = Job(call_id=call_sid, deadline=self.deadline)
        """This reply's claim on the shared engines; cancelled when the reply's work is over."""
        self._committed = asyncio.Event()
        self.label = ""
        """Mark prefix, set at commit: ``turn3`` marks ``turn3-s0`` ... ``turn3-end``."""
        self.rendered: list[SentSentence] = []
        """Every sentence synthesized so far, with its frames, in order."""
        self._sent: list[SentSentence] = []
        self._frames_queued = 0
        self._frames_sent = 0
        self._delivered_all = False
        self._user_text_added = False
        self._dropped = False
        self.transcribed = False
        self.action: CallAction | None = None
        """A built-in action (hang up, transfer) the call does once this reply was heard."""
        self.end_heard = False
        """The last mark's echo came back: the caller heard all of the reply."""
        self._input_known = asyncio.Event()
        """Set once the caller's words are known, or production ended without them."""
        self.first_audio_ready = asyncio.Event()
        """Set when the first reply frame is ready to send (committed or not)."""
        self.task: asyncio.Task[object] | None = None
        """The task running this reply (set by whoever spawns it, so it can be cancelled)."""

    @property
    def task_done(self) -> bool:
        return self.task is None or self.task.done()

    @property
    def has_words(self) -> bool:
        """The caller said something to answer (known once transcribed)."""
        return has_words(self.progress.user_text)

    @property
    def committed(self) -> bool:
        return self._committed.is_set()

    def deadline(self) -> float:
        """When the caller needs this reply's next model step (clock time; read by the gates,
        from worker threads). Until its first audio exists a committed reply is already late
        (its turn has ended) and a draft is due when its turn would end; after that, the next
        sentence is due a margin before the caller runs out of audio to hear."""
        endpoint = self.progress.endpoint if self.committed else None
        if not self.first_audio_ready.is_set():
            return endpoint if endpoint is not None else self._due_at
        unsent_s = (self._frames_queued - self._frames_sent) * FRAME_MS / 1000
        if endpoint is None:
            return self._due_at + unsent_s - NEXT_SENTENCE_MARGIN_S
        playing_until = max(self._playout.played_until, self._clock())
        return playing_until + unsent_s - NEXT_SENTENCE_MARGIN_S

    def commit(
        self,
        turn: int,
        endpoint_at: float,
        reason: str,
        label: str = "",
        *,
        ended: SpeechEnd | None = None,
        drafts_discarded: int = 0,
    ) -> None:
        """The caller's turn is over: this reply may speak. ``ended``: when the caller's speech
        did (None: a keypad entry, a prepared phrase)."""
        progress = self.progress
        progress.turn = turn
        progress.endpoint = endpoint_at
        progress.endpoint_reason = reason
        if ended is not None:
            progress.speech_end, progress.voice_end = ended.silero_at, ended.voice_at
        progress.drafts_discarded = drafts_discarded
        self.label = label or f"turn{turn}"
        self._committed.set()

    def cancel(self) -> None:
        """Stop without a word said (a draft the caller talked on through)."""
        self.job.cancel()
        if self.task is not None:
            self.task.cancel()

    def interrupt(self, at: float) -> None:
        """The caller barged in at ``at``: stop, and keep only what was heard by then."""
        if self.progress.interrupted_at is None:
            self.progress.interrupted_at = at
        self.cancel()

    def drop(self) -> None:
        """Not a turn after all (a backchannel while the agent talks): stop, remember nothing."""
        self._forget("backchannel")

    def supersede(self) -> None:
        """The caller went on before hearing the answer: their words belong to a longer turn
        that replaces this one. Stop, remember nothing."""
        self._forget("superseded")

    def _forget(self, outcome: Outcome) -> None:
        """Stop; nothing of this turn stays in the history: its words, added there as its
        answer began, are taken back."""
        self._dropped = True
        if self._user_text_added:
            self._conversation.take_back_user(self.progress.user_text)
            self._user_text_added = False
        self.progress.outcome = outcome
        self.cancel()

    @property
    def dropped(self) -> bool:
        """A backchannel or a superseded turn: nothing of it is said or remembered."""
        return self._dropped

    @property
    def caller_audio(self) -> CallerAudio | None:
        return self._source if isinstance(self._source, CallerAudio) else None

    @property
    def user_text(self) -> str:
        return self.progress.user_text

    @property
    def sent_anything(self) -> bool:
        """Some audio (the answer, or a filler before it) went to Twilio."""
        return self.progress.first_media is not None

    @property
    def answer_started(self) -> bool:
        return self.progress.first_answer_media is not None

    @property
    def answer_started_at(self) -> float | None:
        return self.progress.first_answer_media

    def unheard_sentences(self) -> list[tuple[str, list[bytes]]]:
        """The fully synthesized sentences from the one cut off onwards (to say them again)."""
        heard = self.progress.heard
        whole = heard.whole_sentences if heard else 0
        return [(s.text, s.frames) for s in self.rendered[whole:] if s.complete]

    def history_to_come(self) -> list[ChatMessage]:
        """What the history gets from this turn once the caller has heard all of its answer
        (``_remember``): their words, unless already added, and the answer as written."""
        words = [] if self._user_text_added else [ChatMessage("user", self.progress.user_text)]
        return [*words, ChatMessage("assistant", self.progress.reply_text)]

    def record(self) -> TurnRecord:
        """The turn record: made from the reply's progress once it is over."""
        return self.progress.record(self.call_sid)

    async def run(self) -> TurnRecord:
        queue: asyncio.Queue[QueueItem] = asyncio.Queue()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._produce(queue))
                group.create_task(self._deliver(queue))
        except asyncio.CancelledError:
            if self.committed and self.progress.outcome == "replied":
                cut = self.progress.interrupted_at is not None
                self.progress.outcome = "interrupted" if cut else "hung_up"
            self._remember()
            raise
        finally:
            self.job.cancel()  # nothing more to compute: a thread still waiting gives up
            self._note_queue_time()
        self._remember()
        return self.record()

    # -- production --------------------------------------------------------------------------

    async def _produce(self, queue: asyncio.Queue[QueueItem]) -> None:
        try:
            await self._produce_speech(queue)
        except Exception as error:  # any stage: the caller hears an apology, the call goes on
            log.exception("call=%s reply failed", self.call_sid)
            self.progress.outcome = "failed"
            self.progress.error = f"{type(error).__name__}: {error}"
            for frame in self._stages.apology_frames:
                self._put_frame(frame, queue)
        else:
            self.written = True
            self._on_written(self)
        finally:
            self._input_known.set()
            queue.put_nowait(_END)

    async def _produce_speech(self, queue: asyncio.Queue[QueueItem]) -> None:
        match self._source:
            case Prepared(sentences=sentences):
                for text, frames in sentences:
                    self._queue_sentence(SentSentence(text, list(frames), complete=True), queue)
                return
            case CallerText(text=text):
                user_text = text
                self._heard_caller(text)
            case CallerAudio(samples=samples, sample_rate_hz=rate):
                transcriber = self._stages.transcriber
                self.progress.stt_started = self._clock()
                transcript = await within(
                    transcriber.transcribe(samples, rate, self.job, language=self._language),
                    self._stages.stage_timeout_s,
                    "stt",
                )
                user_text = transcript.text
                self.progress.language = transcript.language or self.progress.language
                self._heard_caller(user_text)
                self._on_transcript(self, transcript)
                if self._stages_for is not None:
                    self._stages = self._stages_for(transcript)
                self._read = transcript
        if not self.has_words:
            self.progress.outcome = "no_speech"
            self._tell_reading()
            return
        if not self._scores_turn_end():
            self._tell_reading()
        try:
            await self._generate(user_text, queue)
        finally:
            self._tell_reading()

    def _scores_turn_end(self) -> bool:
        """A draft asks the chat model how sure it is that the caller has finished
        (:mod:`gateway.llm.turn_end`): the endpoint waits less, or longer, by it."""
        language = whisper_code(self.progress.language or self._language or "")
        return (
            self._read is not None
            and not self.committed
            and isinstance(self._stages.chat, ScoresTurnEnd)
            and language in self._stages.end_model_languages
        )

    def _tell_reading(self, end_probability: float | None = None) -> None:
        """The draft's words are read (with the model's probability, where it scored): the
        call's endpoint may act on them. Once."""
        transcript, self._read = self._read, None
        if transcript is None:
            return
        if end_probability is not None:
            self.progress.end_probability = end_probability
        self._on_reading(self, transcript)

    def _heard_caller(self, text: str) -> None:
        self.progress.transcript = self._clock()
        self.progress.user_text = text
        self.transcribed = True
        self._input_known.set()

    async def _generate(self, user_text: str, queue: asyncio.Queue[QueueItem]) -> None:
        prompt = self._conversation.prompt_for(user_text)
        stages = self._stages
        splitter = SentenceSplitter(
            stages.first_clause_min_words, stages.phrase_starts, stages.first_phrase_min_words
        )
        reply_parts: list[str] = []
        try:
            self.progress.llm_started = self._clock()
            chat, tools = self._stages.chat, self._stages.tools
            # Words not told to the call yet are a draft's that the model scores.
            scorer = chat if self._read is not None and isinstance(chat, ScoresTurnEnd) else None
            if tools is not None and isinstance(chat, CallsTools):
                if scorer is not None:
                    await self._score_apart(scorer, prompt)
                await self._use_tools(
                    chat, tools, prompt, splitter=splitter, parts=reply_parts, queue=queue
                )
            else:
                tokens = (
                    scorer.stream_scoring_end(prompt, self._tell_reading, self.job)
                    if scorer is not None
                    else chat.stream(prompt, self.job)
                )
                async for token in each_within(tokens, self._stages.stage_timeout_s, "llm"):
                    await self._piece(token, splitter, reply_parts, queue)
            for sentence in splitter.flush():
                await self._speak(sentence, queue)
        finally:  # an interrupted reply's record keeps what had been written
            self.progress.reply_text = "".join(reply_parts).strip()

    async def _score_apart(self, chat: ScoresTurnEnd, prompt: list[ChatMessage]) -> None:
        """The model's end probability as a request of its own (before a tool turn)."""
        try:
            probability = await within(
                chat.score_turn_end(prompt, self.job), self._stages.stage_timeout_s, "llm"
            )
        except Exception as error:  # the turn goes on without the score
            log.warning("call=%s turn-end score failed: %s", self.call_sid, error)
            probability = None
        self._tell_reading(probability)

    async def _piece(
        self,
        token: str,
        splitter: SentenceSplitter,
        parts: list[str],
        queue: asyncio.Queue[QueueItem],
    ) -> None:
        if self.progress.first_token is None:
            self.progress.first_token = self._clock()
        parts.append(token)
        for sentence in splitter.push(token):
            await self._speak(sentence, queue)

    async def _use_tools(
        self,
        chat: CallsTools,
        tools: ToolTurnSettings,
        prompt: list[ChatMessage],
        *,
        splitter: SentenceSplitter,
        parts: list[str],
        queue: asyncio.Queue[QueueItem],
    ) -> None:
        """The model may call tools (:mod:`gateway.pipeline.tool_loop`); what they did goes in
        the turn's record, and an action they asked for waits for this reply to be heard."""

        async def piece(token: str) -> None:
            await self._piece(token, splitter, parts, queue)

        async def flush() -> None:
            for sentence in splitter.flush():
                await self._speak(sentence, queue)

        async def line(text: str) -> None:
            await flush()
            parts.append(f"{'' if not parts or parts[-1].endswith(' ') else ' '}{text} ")
            frames = self._stages.phrase(text)
            if frames:
                self._queue_sentence(SentSentence(text, list(frames), complete=True), queue)
            else:
                await self._speak(text, queue)

        loop = ToolLoop(chat, tools, Voice(piece, flush, line), self.job, self._committed)
        try:
            await loop.answer(prompt)
        finally:
            self.progress.tools = list(loop.turn.records)
            self.action = loop.action

    def _put_frame(self, frame: bytes, queue: asyncio.Queue[QueueItem]) -> None:
        queue.put_nowait(frame)
        self._frames_queued += 1
        if not self.first_audio_ready.is_set():
            self.first_audio_ready.set()
            self.job.counting_waits = False  # later waits have the playing audio to spare
            self._note_queue_time()

    def _note_queue_time(self) -> None:
        self.progress.queue_ms = {
            stage: round(seconds * 1000) for stage, seconds in self.job.waited_s.items()
        }

    def _queue_sentence(self, sentence: SentSentence, queue: asyncio.Queue[QueueItem]) -> None:
        self.rendered.append(sentence)
        queue.put_nowait(sentence)
        for frame in sentence.frames:
            self._put_frame(frame, queue)
        queue.put_nowait(SentenceEnd(sentence))

    async def _speak(self, text: str, queue: asyncio.Queue[QueueItem]) -> None:
        if self.progress.first_sentence is None:
            self.progress.first_sentence = self._clock()
        sentence = SentSentence(text, [])
        self.rendered.append(sentence)
        queue.put_nowait(sentence)
        encoder: FrameEncoder | None = None
        if self.progress.tts_started is None:
            self.progress.tts_started = self._clock()
        chunks = self._stages.synthesizer.synthesize(text, self.job)
        async for chunk in each_within(chunks, self._stages.stage_timeout_s, "tts"):
            if self.progress.first_audio is None:
                self.progress.first_audio = self._clock()
            encoder = encoder or FrameEncoder(chunk.sample_rate_hz)
            for frame in encoder.feed(chunk):
                sentence.frames.append(frame)
                self._put_frame(frame, queue)
        for frame in encoder.finish() if encoder else []:
            sentence.frames.append(frame)
            self._put_frame(frame, queue)
        sentence.complete = True
        queue.put_nowait(SentenceEnd(sentence))

    # -- delivery ----------------------------------------------------------------------------

    async def _deliver(self, queue: asyncio.Queue[QueueItem]) -> None:
        await self._committed.wait()
        if not isinstance(self._source, Prepared):
            await self._filler_if_late()
        item = await queue.get()  # the transcript exists once anything has been produced
        current: SentSentence | None = None
        progress = self.progress
        while item is not _END:
            if isinstance(item, bytes):
                if progress.first_answer_media is None:
                    await self._hold_while_caller_sounds()
                    self._add_user_text()
                sent_at = await self._playout.frame(item)
                self._frames_sent += 1
                if progress.first_media is None:
                    progress.first_media = sent_at
                if progress.first_answer_media is None:
                    progress.first_answer_media = sent_at
                if current is not None:
                    current.frames_sent += 1
                    if current.first_sent_at is None:
                        current.first_sent_at = sent_at
            elif isinstance(item, SentenceEnd):
                if current is not None and current.frames_sent:
                    await self._playout.mark(current.mark)
                current = None
            else:
                item.mark = f"{self.label}-s{len(self._sent)}"
                current = item
                self._sent.append(item)
            item = await queue.get()
        self._delivered_all = True
        if progress.first_media is not None:
            end = f"{self.label}-end"
            await self._playout.mark(end)
            # Stay until the caller has heard it all: an interruption before then is a cut.
            slack_s = self._stages.action_echo_timeout_s if self.action else ECHO_SLACK_S
            self.end_heard = await self._playout.wait_echo(
                end, self._playout.seconds_to_played() + slack_s
            )
            self._playout.take_echo(end)

    async def _filler_if_late(self) -> None:
        """The answer has no audio yet: acknowledge the caller rather than leave a silence.
        A ``<label>-filler`` mark follows it, so the client can tell it from the answer."""
        stages = self._stages
        if not (stages.fillers and stages.filler_after_ms and self._may_fill):
            return
        if self.progress.endpoint_reason == "finished_thought" and (
            self.progress.end_probability is not None
        ):
            return  # the model was unsure the caller had finished: they may be going on
        if self.first_audio_ready.is_set():
            return
        try:
            async with asyncio.timeout(stages.filler_after_ms / 1000):
                await self.first_audio_ready.wait()
            return
        except TimeoutError:
            pass
        await self._input_known.wait()  # transcription always comes before any audio
        if self.first_audio_ready.is_set() or not (self.transcribed and self.has_words):
            return  # ready after all, or nothing to acknowledge
        if not self._caller.quiet_since(self._quiet_from()):
            return  # the caller may be going on: a filler now would talk over them
        text, frames = stages.fillers[self.progress.turn % len(stages.fillers)]
        self.progress.filler = text
        for frame in frames:
            sent_at = await self._playout.frame(frame)
            if self.progress.first_media is None:
                self.progress.first_media = sent_at
        mark = f"{self.label}-filler"
        await self._playout.mark(mark)
        self._playout.forget(mark)  # nothing waits for it: the playout need not keep its echo

    async def _hold_while_caller_sounds(self) -> None:
        """A sound from the caller after their turn ended may be them going on: hold the answer
        until the line has been quiet a while. If it was speech, the call supersedes this reply
        with the longer turn before then; a cough or a breath only delays the answer. A caller
        speaking into a late answer's silence ("hello?") is waited for until they pause."""
        if not (self._stages.quiet_before_answer_ms and self.caller_audio is not None):
            return
        quiet_s = self._stages.quiet_before_answer_ms / 1000
        held_s = await self._caller.wait_for_quiet(self._quiet_from(), quiet_s)
        self.progress.held_ms = round(held_s * 1000)

    def _quiet_from(self) -> float:
        """Any sound after this means the caller may not have finished."""
        progress = self.progress
        if progress.speech_end is not None:
            return CallerLine.speech_over_at(progress.speech_end)
        return progress.endpoint if progress.endpoint is not None else self._clock()

    # -- memory ------------------------------------------------------------------------------

    def _add_user_text(self) -> None:
        if self.has_words and not self._user_text_added:
            self._conversation.add_user(self.progress.user_text)
            self._user_text_added = True

    def _remember(self) -> None:
        """History gets what the caller heard: the exact generated text when all of it was sent
        and played (so the next prompt shares its tokens with this one), the heard part of it,
        marked as cut off, when the caller interrupted."""
        for sentence in self._sent:
            sentence.echoed_at = self._playout.take_echo(sentence.mark)
        if not self.committed or self._dropped:
            return
        self._add_user_text()  # said, even if the reply never got to be heard
        speaks_for_caller = self.has_words or isinstance(self._source, Prepared)
        if not speaks_for_caller:
            return
        progress = self.progress
        cut_at = progress.interrupted_at
        if cut_at is not None:
            heard = progress.heard = heard_before(self._sent, cut_at)
            if heard.text:
                text = heard.text + self._stages.cut_marker
                self._conversation.add_assistant(text, interrupted=True)
            return
        spoken = " ".join(s.text for s in self._sent if s.frames_sent)
        finished = self._delivered_all and progress.outcome == "replied"
        self._conversation.add_assistant((finished and progress.reply_text) or spoken)
