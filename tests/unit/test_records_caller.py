"""Who called whom, from the webhook's form to the call's record, and how a call's end reads."""

from __future__ import annotations

from gateway.metrics import TurnRecord
from gateway.pipeline.caller_context import CallerContext, address, stream_parameters
from gateway.records.events import CallBegan, CallFinished, RecordEvent, TurnOver
from gateway.records.recorder import CallRecorder
from gateway.runtime import CallEnded, CallStarted

SID = "CA" + "1" * 32


def test_the_webhook_passes_on_numbers_and_sip_addresses() -> None:
    form = {"From": "+15551230000", "To": "sip:desk@pbx.example.com;transport=tls", "CallSid": SID}
    assert stream_parameters(form) == {
        "from": "+15551230000",
        "to": "sip:desk@pbx.example.com;transport=tls",
        "callSid": SID,
    }
    assert stream_parameters({"From": "anonymous"}) == {"from": "anonymous"}
    assert stream_parameters({}) == {}


def test_what_cannot_be_an_address_is_not_kept_even_in_part() -> None:
    assert address("+1555\n<script>") == ""
    assert address("\x1b[31m+1555") == ""
    assert address("sip:" + "a" * 125) == ""
    assert address(" +15551230000 ") == "+15551230000"
    assert address("sip:" + "a" * 124) == "sip:" + "a" * 124


def test_the_stream_checks_its_parameters_again() -> None:
    """The stream's ``start`` comes from the client (unsigned, without a token): checked too."""
    caller = CallerContext.from_parameters(SID, {"from": "+1555\x00", "to": "+15557650000"})
    assert caller == CallerContext(call_sid=SID, from_="", to="+15557650000")


def recorded(transcripts: str, *events: object) -> list[RecordEvent]:
    kept: list[RecordEvent] = []
    recorder = CallRecorder(
        kept.append,
        transcripts,  # type: ignore[arg-type]
        clock=lambda: 50.0,
        wall_clock=lambda: 1_000.0,
    )
    for event in events:
        match event:
            case CallStarted():
                recorder.call_started(event)
            case CallEnded():
                recorder.call_ended(event)
            case TurnRecord():
                recorder.turn_over(event)
    return kept


def test_a_call_the_gateway_ended_says_so_and_why() -> None:
    hung_up, dropped = recorded(
        "full",
        CallEnded(SID, "caller pressed # to end the call", 0, (), "ko"),
        CallEnded(SID, "no frame from Twilio for 10 s", 0, (), "", "silent_socket"),
    )
    assert hung_up == CallFinished(
        call_sid=SID, ended_at=1_000.0, end_reason="caller pressed # to end the call", language="ko"
    )
    assert isinstance(dropped, CallFinished)
    assert (
        dropped.end_reason
        == "dropped by the gateway (silent_socket): no frame from Twilio for 10 s"
    )


def test_from_and_to_are_kept_unless_transcripts_are_off() -> None:
    caller = CallerContext(call_sid=SID, from_="+15551230000", to="+15557650000")
    started = CallStarted(caller, "MZ" + "1" * 32, "en", 900.0)
    (kept,) = recorded("redacted", started)
    (off,) = recorded("off", started)
    assert isinstance(kept, CallBegan) and isinstance(off, CallBegan)
    assert (kept.from_number, kept.to_number) == ("+15551230000", "+15557650000")
    assert (off.from_number, off.to_number) == ("", "")
    assert kept.started_at == 900.0 and kept.language == "en"


def test_a_turn_without_a_speech_end_has_no_time_of_day() -> None:
    """A keypad entry is a turn with no caller speech: nothing to time it from."""
    (keyed,) = recorded("full", TurnRecord(call_sid=SID, turn=3, speculative=False))
    (spoken,) = recorded(
        "full", TurnRecord(call_sid=SID, turn=4, speculative=False, speech_end=45.0)
    )
    assert isinstance(keyed, TurnOver) and isinstance(spoken, TurnOver)
    assert keyed.speech_end_at is None and keyed.voice_to_voice_ms is None
    assert spoken.speech_end_at == 995.0, "5 s before now on the wall clock"
