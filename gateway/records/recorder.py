"""From the gateway's events to records: a call began, each turn, the call ended.

The listeners run on the event loop inside the call's own code, so each one only shapes an
event (what was said cut to ``log.transcripts``, clock times made unix times) and hands it to
the writer; nothing here can fail a call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from gateway.metrics import Transcripts, TurnRecord
from gateway.records.events import CallBegan, CallFinished, RecordEvent, TurnOver
from gateway.records.writer import RecordsWriter
from gateway.runtime import CallEnded, CallStarted, Gateway

log = logging.getLogger("voicegw.records")


class CallRecorder:
    def __init__(
        self,
        submit: Callable[[RecordEvent], object],
        transcripts: Transcripts,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock``: the one the calls' turn records are timed with (their speech end is made
        a unix time by its distance from now)."""
        self._submit = submit
        self._transcripts: Transcripts = transcripts
        self._clock = clock
        self._wall_clock = wall_clock

    def call_started(self, event: CallStarted) -> None:
        caller, keep = event.caller, self._transcripts != "off"  # From, To: personal, as words
        self._hand_on(
            CallBegan(
                call_sid=caller.call_sid,
                stream_sid=event.stream_sid,
                from_number=caller.from_ if keep else "",
                to_number=caller.to if keep else "",
                started_at=event.started_at,
                language=event.language,
            )
        )

    def turn_over(self, record: TurnRecord) -> None:
        offsets = record.offsets_ms()
        speech_end_at = None
        if record.speech_end is not None:
            speech_end_at = self._wall_clock() - (self._clock() - record.speech_end)
        self._hand_on(
            TurnOver(
                call_sid=record.call_sid,
                turn=record.turn,
                speech_end_at=speech_end_at,
                outcome=record.outcome,
                voice_to_voice_ms=offsets["first_media"],
                answer_ms=offsets["first_answer_media"],
                record=record.as_json(self._transcripts),
            )
        )

    def call_ended(self, event: CallEnded) -> None:
        reason = event.reason
        if event.dropped:
            reason = f"dropped by the gateway ({event.dropped}): {reason}"
        self._hand_on(
            CallFinished(
                call_sid=event.call_sid,
                ended_at=self._wall_clock(),
                end_reason=reason,
                language=event.language,
            )
        )

    def _hand_on(self, event: RecordEvent) -> None:
        try:
            self._submit(event)
        except Exception:  # a bug here must cost a record, never the call
            log.exception("call records: could not queue a %s", type(event).__name__)


def start_records(gateway: Gateway) -> RecordsWriter | None:
    """Start the writer for ``records.path`` and attach it to the gateway's calls; None when
    records are off. The caller awaits ``flush()`` (the file created or migrated) and, at
    shutdown, ``aclose()``."""
    settings = gateway.settings
    if not settings.records.path:
        return None
    metrics = gateway.metrics
    writer = RecordsWriter(
        Path(settings.records.path).expanduser(),
        failures=metrics.records_write_failures,
        dropped=metrics.records_dropped,
        retention_days=settings.records.retention_days,
    )
    recorder = CallRecorder(writer.submit, settings.log.transcripts)
    gateway.call_started_listeners.append(recorder.call_started)
    gateway.call_ended_listeners.append(recorder.call_ended)
    metrics.turn_listeners.append(recorder.turn_over)
    writer.start()
    return writer
