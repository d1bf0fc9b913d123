"""Per-turn latency records, the one-line turn log, and Prometheus metrics.

Every timestamp is ``time.monotonic()`` seconds. Offsets in the log and the JSON turn log are
milliseconds after ``voice_end`` (when the frame carrying the caller's last loud audio arrived),
so a line reads as the story of one turn: when the endpoint was decided, when each stage
delivered, when the first reply frame left.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import msgspec
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.scheduling import ComputeGate, GateStats
from gateway.tools.record import ToolRecord

log = logging.getLogger("voicegw.turns")

Outcome = Literal[
    "replied", "interrupted", "no_speech", "backchannel", "failed", "superseded", "hung_up"
]
STAGES = (
    "endpoint",
    "transcript",
    "first_token",
    "first_sentence",
    "first_audio",
    "first_media",
    "first_answer_media",
)
Transcripts = Literal["full", "redacted", "off"]
"""``log.transcripts``: what the turn log says of what was said."""
_TEXT_FIELDS = ("user_text", "reply_text", "heard_text")
"""What the caller said and heard: their words, and ours, which answer them."""


def shown(text: str, transcripts: Transcripts) -> str:
    """``text`` as the log may show it: whole, as its length only, or not at all."""
    if transcripts == "full" or not text:
        return text
    if transcripts == "off":
        return ""
    words = len(text.split())
    return f"[{words} word{'s' if words != 1 else ''}, {len(text)} chars]"


_LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)


class TurnRecord(msgspec.Struct, kw_only=True):
    call_sid: str
    turn: int
    speculative: bool
    speech_end: float | None = None
    """When the frame with Silero's last voiced window arrived (turn-taking counts from it)."""
    voice_end: float | None = None
    """When the frame with the caller's last loud audio arrived, up to 200 ms before
    ``speech_end`` (Silero's lag): the latency origin, as a caller would time it."""
    endpoint: float | None = None
    transcript: float | None = None
    first_token: float | None = None
    first_sentence: float | None = None
    first_audio: float | None = None
    first_media: float | None = None
    """The first reply frame sent: a filler's, when the answer was not ready in time."""
    first_answer_media: float | None = None
    """The first frame of the answer itself."""
    filler: str = ""
    """The filler said before the answer, if one was."""
    held_ms: int = 0
    """How long the ready answer waited for a caller who made a sound after their turn ended."""
    drafts_discarded: int = 0
    endpoint_reason: str = ""
    user_text: str = ""
    reply_text: str = ""
    outcome: Outcome = "replied"
    error: str = ""
    interrupted_at: float | None = None
    """When the caller barged in (the reply was cut and cleared)."""
    heard_ms: int | None = None
    """Of an interrupted reply: how much audio the caller heard before the cut..."""
    sent_ms: int | None = None
    """...out of how much had been sent."""
    heard_sentences: int | None = None
    heard_text: str = ""
    """Of an interrupted reply: the words the caller heard (what the history keeps)."""
    queue_ms: int = 0
    """How long the reply's model work waited for the shared engines (other calls' work)
    before its first audio was ready."""
    queue_by_stage_ms: dict[str, int] = msgspec.field(default_factory=dict)
    language: str = ""
    """The language the caller's words were transcribed in (Whisper's code; detected with
    ``stt.language = "auto"``)."""
    stt_started: float | None = None
    """When transcription of the caller's audio started (to ``transcript``: the STT time)."""
    llm_started: float | None = None
    """When the model was asked for the reply (to ``first_token``, ``first_sentence``)."""
    tts_started: float | None = None
    """When synthesis of the first clause started (to ``first_audio``)."""
    end_probability: float | None = None
    """The chat model's probability that the caller's message ended where their words did
    (:mod:`gateway.llm.turn_end`); None where it did not score."""
    tools: list[ToolRecord] = msgspec.field(default_factory=list)
    """Each tool call of the turn: name, arguments, status, duration, result (cut)."""

    @property
    def interrupted_after_ms(self) -> int | None:
        """How long the reply had been playing when the caller cut in."""
        if self.interrupted_at is None or self.first_media is None:
            return None
        return round((self.interrupted_at - self.first_media) * 1000)

    def offsets_ms(self) -> dict[str, int | None]:
        """Each stage's time after the caller's voice ended, in ms (None where the stage did not
        happen)."""
        origin = self.voice_end if self.voice_end is not None else self.speech_end
        return {
            stage: None
            if origin is None or getattr(self, stage) is None
            else round((getattr(self, stage) - origin) * 1000)
            for stage in STAGES
        }

    def durations_ms(self) -> dict[str, int | None]:
        """How long each stage took, in ms (None where it did not run): the offsets say when a
        stage delivered, these say which stage the time went to. ``queue``: of those, the time
        the reply's model work waited for other calls' (``queue_ms``)."""
        return {
            "stt": _ms_between(self.stt_started, self.transcript),
            "llm_first_token": _ms_between(self.llm_started, self.first_token),
            "llm_first_clause": _ms_between(self.llm_started, self.first_sentence),
            "tts_first_audio": _ms_between(self.tts_started, self.first_audio),
            "queue": self.queue_ms,
        }

    @property
    def voice_to_voice_ms(self) -> int | None:
        return self.offsets_ms()["first_media"]

    def summary(self, transcripts: Transcripts = "redacted") -> str:
        """The turn's log line; what was said as ``log.transcripts`` allows."""
        offsets = self.offsets_ms()
        stages = " ".join(
            f"{stage}=+{value}ms" for stage, value in offsets.items() if value is not None
        )
        v2v = self.voice_to_voice_ms
        head = f"call={self.call_sid} turn={self.turn} outcome={self.outcome}"
        if v2v is not None:
            head += f" voice_to_voice={v2v}ms"
        tail = f" drafts_discarded={self.drafts_discarded}" if self.drafts_discarded else ""
        if self.endpoint_reason:
            tail += f" endpoint_by={self.endpoint_reason}"
        if self.filler:
            tail += f" filler={self.filler!r}"
        if self.held_ms:
            tail += f" held={self.held_ms}ms"
        if self.queue_ms:
            tail += f" queued={self.queue_ms}ms"
        if self.interrupted_at is not None:
            tail += (
                f" interrupted_after={self.interrupted_after_ms}ms"
                f" heard={self.heard_ms}/{self.sent_ms}ms"
            )
        if self.tools:
            tail += " tools=" + ",".join(
                f"{t.name}:{t.status}:{t.duration_ms}ms" for t in self.tools
            )
        if self.error:
            tail += f" error={self.error!r}"
        if transcripts == "off":
            return f"{head} | {stages}{tail}"
        user, reply = (shown(text, transcripts) for text in (self.user_text, self.reply_text))
        if transcripts == "redacted":
            return f"{head} | {stages}{tail} | said {user or '-'} -> replied {reply or '-'}"
        return f"{head} | {stages}{tail} | {user!r} -> {reply!r}"

    def as_json(self, transcripts: Transcripts = "redacted") -> bytes:
        """The JSON record: every key always there; what was said as ``log.transcripts``
        allows (``redacted``: "[5 words, 27 chars]", ``off``: "")."""
        payload = msgspec.structs.asdict(self)
        for name in _TEXT_FIELDS:
            payload[name] = shown(payload[name], transcripts)
        payload["offsets_ms"] = self.offsets_ms()
        payload["durations_ms"] = self.durations_ms()
        payload["tools"] = [
            {**msgspec.structs.asdict(t), "arguments": shown(t.arguments, transcripts),
             "result": shown(t.result, transcripts)}
            for t in self.tools
        ]  # fmt: skip
        payload["voice_to_voice_ms"] = self.voice_to_voice_ms
        payload["interrupted_after_ms"] = self.interrupted_after_ms
        return msgspec.json.encode(payload)


def _ms_between(start: float | None, end: float | None) -> int | None:
    return None if start is None or end is None else round((end - start) * 1000)


def read_turn_log(path: Path) -> list[dict[str, Any]]:
    """The records a ``metrics.turn_log_path`` file holds, oldest first (for tests and benches)."""
    return [msgspec.json.decode(line) for line in path.read_text().splitlines()]


class GatewayMetrics:
    """Prometheus metrics in a registry of their own (one per app, so tests can build many)."""

    def __init__(self, turn_log_path: str = "", transcripts: Transcripts = "redacted") -> None:
        self.transcripts: Transcripts = transcripts
        self.registry = CollectorRegistry()
        self.calls = Counter("voicegw_calls", "Media stream calls started", registry=self.registry)
        self.active_calls = Gauge(
            "voicegw_active_calls", "Calls in progress", registry=self.registry
        )
        self.bad_messages = Counter(
            "voicegw_bad_messages",
            "Inbound media-socket frames rejected, by problem",
            ["problem"],
            registry=self.registry,
        )
        self.turns = Counter(
            "voicegw_turns", "Caller turns, by outcome", ["outcome"], registry=self.registry
        )
        self.drafts_discarded = Counter(
            "voicegw_drafts_discarded",
            "Speculative replies thrown away because the caller went on",
            registry=self.registry,
        )
        self.barge_ins = Counter(
            "voicegw_barge_ins",
            "Replies cut off because the caller spoke over them",
            registry=self.registry,
        )
        self.voice_to_voice = Histogram(
            "voicegw_voice_to_voice_seconds",
            "Caller's last voiced frame received to first reply frame sent",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage = Histogram(
            "voicegw_stage_after_speech_end_seconds",
            "When each stage delivered, counted from the caller's speech end",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue = Histogram(
            "voicegw_queue_seconds",
            "Time a turn's model work waited for the shared engines before its first audio",
            ["stage"],
            buckets=(0.0, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 5.0),
            registry=self.registry,
        )
        self.max_calls = Gauge(
            "voicegw_max_calls", "Calls served at once (server.max_calls)", registry=self.registry
        )
        self.calls_rejected = Counter(
            "voicegw_calls_rejected",
            "Calls turned away: at capacity, or draining for shutdown; where they were refused",
            ["where", "reason"],
            registry=self.registry,
        )
        self.calls_dropped = Counter(
            "voicegw_calls_dropped",
            "Calls the gateway ended itself (caller not reading, socket failed), by reason",
            ["reason"],
            registry=self.registry,
        )
        self.records_write_failures = Counter(
            "voicegw_records_write_failures",
            "Call-record events lost to failed writes (full disk, locked or unwritable file)",
            registry=self.registry,
        )
        self.records_dropped = Counter(
            "voicegw_records_dropped",
            "Call-record events dropped unwritten because the writer's queue was full",
            registry=self.registry,
        )
        self.turn_listeners: list[Callable[[TurnRecord], None]] = []
        """Told of every turn record (the call records' writer); each must return at once."""
        _register_process_gauges(self.registry)
        self._turn_log = Path(turn_log_path).expanduser() if turn_log_path else None

    def watch_backends(self, stages: Callable[[], Iterable[tuple[str, object]]]) -> None:
        """Export the remote stages' failures, by stage and reason (read at scrape time from
        each stage's ``backend_errors``; local stages have none)."""
        self.registry.register(_BackendErrorCollector(stages))

    def watch_engines(self, stats: GateStats, gates: list[ComputeGate]) -> None:
        """Export the engines' scheduling counters (read at scrape time)."""
        self.registry.register(_GateCollector(stats, gates))

    def record_turn(self, record: TurnRecord) -> None:
        self.turns.labels(record.outcome).inc()
        log.info("%s", record.summary(self.transcripts))
        for stage, offset in record.offsets_ms().items():
            if offset is not None:
                self.stage.labels(stage).observe(max(offset, 0) / 1000)
        if record.voice_to_voice_ms is not None:
            self.voice_to_voice.observe(max(record.voice_to_voice_ms, 0) / 1000)
        if record.outcome != "superseded":
            for stage, waited_ms in record.queue_by_stage_ms.items():
                self.queue.labels(stage).observe(waited_ms / 1000)
        if self._turn_log is not None:
            with self._turn_log.open("ab") as handle:
                handle.write(record.as_json(self.transcripts) + b"\n")
        for listener in self.turn_listeners:
            listener(record)


class _BackendErrorCollector(Collector):
    def __init__(self, stages: Callable[[], Iterable[tuple[str, object]]]) -> None:
        self._stages = stages

    def collect(self) -> Any:
        errors = CounterMetricFamily(
            "voicegw_backend_errors",
            "Failures of the remote (OpenAI-compatible) stages, by stage and reason",
            labels=["stage", "reason"],
        )
        totals: dict[tuple[str, str], int] = {}
        for stage, engine in self._stages():
            counts: dict[str, int] = getattr(engine, "backend_errors", {})
            for reason, count in counts.items():
                totals[stage, reason] = totals.get((stage, reason), 0) + count
        for (stage, reason), count in sorted(totals.items()):
            errors.add_metric([stage, reason], count)
        return [errors]


class _GateCollector(Collector):
    def __init__(self, stats: GateStats, gates: list[ComputeGate]) -> None:
        self._stats = stats
        self._gates = gates

    def collect(self) -> Any:
        steps = CounterMetricFamily(
            "voicegw_model_steps",
            "Model steps run (a transcription, a token, a synthesized chunk), by stage",
            labels=["stage"],
        )
        refused = CounterMetricFamily(
            "voicegw_model_steps_refused",
            "Steps of cancelled work (a draft the caller talked on through) refused before they "
            "reached their model, by stage",
            labels=["stage"],
        )
        for stage in ("stt", "llm", "tts"):
            steps.add_metric([stage], self._stats.steps.get(stage, 0))
            refused.add_metric([stage], self._stats.refused.get(stage, 0))
        waiting = GaugeMetricFamily(
            "voicegw_engine_waiting", "Model steps waiting for a device, by gate", labels=["gate"]
        )
        for gate in self._gates:
            waiting.add_metric([gate.name], gate.waiting)
        return [steps, refused, waiting]


def _asyncio_tasks() -> float:
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # scraped off the event loop: there is no loop to count
        return float("nan")


def _register_process_gauges(registry: CollectorRegistry) -> None:
    """What a soak run compares before and after: open fds and RSS (the process collector, on
    Linux), asyncio tasks and threads. A leak per call shows as a count that keeps growing."""
    ProcessCollector(registry=registry)
    Gauge(
        "voicegw_asyncio_tasks", "asyncio tasks alive on the event loop", registry=registry
    ).set_function(_asyncio_tasks)
    Gauge("voicegw_threads", "Python threads alive", registry=registry).set_function(
        lambda: float(threading.active_count())
    )
