"""What one reply has done so far: the reply's own state, with clock times.

The reply writes it as it goes and the call reads it through the reply; the turn record (the log
line, the JSON turn log, /metrics) is made from it once, when the reply is over, and is never
consulted to decide anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.metrics import Outcome, TurnRecord
from gateway.pipeline.heard import Heard
from gateway.tools.record import ToolRecord


@dataclass(frozen=True, slots=True)
class SpeechEnd:
    """When the caller's turn stopped sounding, by two clocks (see :class:`ReplyProgress`)."""

    silero_at: float
    voice_at: float


@dataclass(slots=True)
class ReplyProgress:
    speculative: bool
    turn: int = 0
    speech_end: float | None = None
    """When the frame with Silero's last voiced window arrived (turn-taking counts from it)."""
    voice_end: float | None = None
    """When the frame with the caller's last loud audio arrived: the latency origin."""
    endpoint: float | None = None
    """When the turn was decided over (the reply was committed)."""
    endpoint_reason: str = ""
    drafts_discarded: int = 0
    transcript: float | None = None
    first_token: float | None = None
    first_sentence: float | None = None
    first_audio: float | None = None
    first_media: float | None = None
    """The first frame sent: a filler's, when the answer was not ready in time."""
    first_answer_media: float | None = None
    filler: str = ""
    held_ms: int = 0
    user_text: str = ""
    reply_text: str = ""
    outcome: Outcome = "replied"
    error: str = ""
    interrupted_at: float | None = None
    heard: Heard | None = None
    """Of an interrupted reply: what the caller heard before the cut."""
    queue_ms: dict[str, int] = field(default_factory=dict)
    """Time the reply's model work waited for the shared engines before its first audio."""
    language: str = ""
    """The language the caller's words were transcribed in (detected, or the call's)."""
    stt_started: float | None = None
    llm_started: float | None = None
    tts_started: float | None = None
    """When each stage started: transcribing, asking the model, synthesizing the first clause."""
    end_probability: float | None = None
    """The chat model's probability that the caller's words ended the message (drafts)."""
    tools: list[ToolRecord] = field(default_factory=list)
    """Every tool call the model made in this turn, and what came of it."""

    def record(self, call_sid: str) -> TurnRecord:
        heard = self.heard
        return TurnRecord(
            call_sid=call_sid,
            turn=self.turn,
            speculative=self.speculative,
            speech_end=self.speech_end,
            voice_end=self.voice_end,
            endpoint=self.endpoint,
            transcript=self.transcript,
            first_token=self.first_token,
            first_sentence=self.first_sentence,
            first_audio=self.first_audio,
            first_media=self.first_media,
            first_answer_media=self.first_answer_media,
            filler=self.filler,
            held_ms=self.held_ms,
            drafts_discarded=self.drafts_discarded,
            endpoint_reason=self.endpoint_reason,
            user_text=self.user_text,
            reply_text=self.reply_text,
            outcome=self.outcome,
            error=self.error,
            interrupted_at=self.interrupted_at,
            heard_ms=heard.heard_ms if heard else None,
            sent_ms=heard.sent_ms if heard else None,
            heard_sentences=heard.whole_sentences if heard else None,
            heard_text=heard.text if heard else "",
            queue_ms=sum(self.queue_ms.values()),
            queue_by_stage_ms=dict(self.queue_ms),
            language=self.language,
            stt_started=self.stt_started,
            llm_started=self.llm_started,
            tts_started=self.tts_started,
            tools=list(self.tools),
            end_probability=self.end_probability,
        )
