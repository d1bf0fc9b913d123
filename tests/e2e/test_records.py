"""Call records through the real app: a simulated Twilio call, from the webhook (From, To) to
its last turn, read back from the SQLite file, also after a restart; and a records file that
cannot be written, which costs the records and never the call."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx

from gateway.engines import Engines
from gateway.metrics import STAGES
from gateway.records import RecordsReader
from gateway.settings import Settings
from tests.conftest import with_changes
from tests.e2e.calls import EndedCalls
from tests.sim.caller import SimulatedCaller
from tests.sim.clips import make_clip
from tests.sim.sids import new_call

UTTERANCE = "What time does the library open tomorrow morning?"
FROM = "+15550100001"
TO = "sip:frontdesk@pbx.example.com"
DURATIONS = ("stt", "llm_first_token", "llm_first_clause", "tts_first_audio", "queue")


async def dial(host: str, call_sid: str) -> dict[str, str]:
    """POST the voice webhook as Twilio does; the ``<Parameter>``s its TwiML carries."""
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"http://{host}/twilio/voice", data={"CallSid": call_sid, "From": FROM, "To": TO}
        )
    stream = ET.fromstring(answer.text).find("./Connect/Stream")
    assert stream is not None, answer.text
    return {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}


def read_call(path: Path, call_sid: str) -> Any:
    reader = RecordsReader(path)
    try:
        return reader.recent_calls(), reader.call(call_sid)
    finally:
        reader.close()


async def test_a_call_is_recorded_with_every_stage_and_reads_back_after_a_restart(
    engines: Engines, settings: Settings, gateway_server: Any, tmp_path: Path
) -> None:
    path = tmp_path / "calls.sqlite3"
    configured = with_changes(settings, records={"path": str(path)})
    sids = new_call()
    clip = await make_clip(engines.synthesizer, UTTERANCE)
    async with gateway_server(configured) as server:
        ended = EndedCalls(server.gateway)
        parameters = await dial(server.host, sids.call_sid)
        assert parameters == {"from": FROM, "to": TO, "callSid": sids.call_sid}
        async with SimulatedCaller(
            server.media_url, sids.call_sid, sids.stream_sid, custom_parameters=parameters
        ) as caller:
            await caller.wait_for_mark("greeting", timeout_s=15)
            result = await caller.say(clip.frames, reply_timeout_s=30)
        await ended.of(sids.call_sid, timeout_s=15)
    assert result.reply, "the caller heard a reply"
    # The server has shut down: its writer wrote what was queued before it stopped.

    calls, detail = read_call(path, sids.call_sid)
    assert [call.call_sid for call in calls] == [sids.call_sid]
    assert detail is not None
    call = detail.call
    assert call.stream_sid == sids.stream_sid
    assert (call.from_number, call.to_number) == (FROM, TO)
    assert call.ended_at is not None and call.ended_at > call.started_at
    assert call.end_reason == "caller hung up" and call.language == "en"
    assert call.turns == 1 and call.median_voice_to_voice_ms is not None
    (turn,) = detail.turns
    assert turn.outcome == "replied" and "library" in turn.user_text.lower()
    assert turn.reply_text and turn.heard_text == ""
    assert turn.speech_end_at is not None and call.started_at < turn.speech_end_at
    for stage in STAGES:
        assert turn.offsets_ms[stage] is not None, stage
    for name in DURATIONS:
        value = turn.durations_ms[name]
        assert value is not None and value >= 0, (name, value)
    offsets, durations = turn.offsets_ms, turn.durations_ms
    assert durations["llm_first_clause"] >= durations["llm_first_token"] > 0
    assert durations["stt"] <= offsets["transcript"], "transcription starts after speech end"
    assert turn.voice_to_voice_ms == offsets["first_media"] == call.median_voice_to_voice_ms
    assert turn.answer_ms == offsets["first_answer_media"]
    assert turn.record["user_text"] == turn.user_text, "the whole turn record is kept"

    async with gateway_server(configured):  # a restart: a fresh writer on the same file
        pass
    assert read_call(path, sids.call_sid) == (calls, detail)


async def test_records_that_cannot_be_written_cost_the_records_not_the_call(
    engines: Engines, settings: Settings, gateway_server: Any, tmp_path: Path
) -> None:
    """The records path lies under a plain file: every write fails. The call is answered and
    ends as the caller ends it; each event lost is counted."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    configured = with_changes(settings, records={"path": str(blocker / "calls.sqlite3")})
    sids = new_call()
    clip = await make_clip(engines.synthesizer, UTTERANCE)
    async with gateway_server(configured) as server:
        ended = EndedCalls(server.gateway)
        async with SimulatedCaller(server.media_url, sids.call_sid, sids.stream_sid) as caller:
            await caller.wait_for_mark("greeting", timeout_s=15)
            result = await caller.say(clip.frames, reply_timeout_s=30)
        event = await ended.of(sids.call_sid, timeout_s=15)
        registry = server.gateway.metrics.registry
    assert result.reply and len(result.audio) > 8000, "a spoken reply, a second or more"
    assert event.reason == "caller hung up" and not event.dropped
    turns = registry.get_sample_value("voicegw_turns_total", {"outcome": "replied"})
    failures = registry.get_sample_value("voicegw_records_write_failures_total")
    assert turns == 1
    assert failures == 3, "the call's start, its turn, its end"
