"""When the browser pages are served, which sockets the talk route takes, and the turn view the
waterfalls are drawn from."""

from __future__ import annotations

import pytest

from gateway.records import TurnRow
from gateway.settings import Settings
from gateway.web.pages import pages_enabled, web_routes
from gateway.web.talk import same_origin
from gateway.web.turns import from_row, starts_from
from tests.conftest import with_changes


@pytest.mark.parametrize(
    ("pages", "host", "served"),
    [
        ("auto", "127.0.0.1", True),
        ("auto", "localhost", True),
        ("auto", "::1", True),
        ("auto", "0.0.0.0", False),
        ("auto", "192.0.2.10", False),
        ("on", "0.0.0.0", True),
        ("off", "127.0.0.1", False),
    ],
)
def test_pages_are_off_on_a_public_address_unless_asked_for(
    pages: str, host: str, served: bool
) -> None:
    settings = with_changes(Settings(), lab={"pages": pages}, server={"host": host})
    assert pages_enabled(settings) is served
    assert bool(web_routes(settings)) is served


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, "127.0.0.1:8080", True),
        ("http://127.0.0.1:8080", "127.0.0.1:8080", True),
        ("https://VOICE.example.com", "voice.example.com", True),
        ("http://evil.example", "127.0.0.1:8080", False),
        ("http://127.0.0.1:9999", "127.0.0.1:8080", False),
        ("null", "127.0.0.1:8080", False),
        ("https://voice.example.com", "10.0.0.5:8080", False),
    ],
)
def test_only_the_gateways_own_page_may_open_a_talk_socket(
    origin: str | None, host: str, allowed: bool
) -> None:
    assert same_origin(origin, host) is allowed


def test_behind_a_proxy_the_public_name_is_the_gateways_own() -> None:
    public = "https://voice.example.com"
    assert same_origin("https://voice.example.com", "10.0.0.5:8080", public)
    assert not same_origin("https://evil.example", "10.0.0.5:8080", public)
    assert not same_origin("https://evil.example", "", "")


def test_a_stage_starts_its_duration_before_it_delivered() -> None:
    offsets = {"transcript": 400, "first_token": 700, "first_audio": 900}
    durations = {"stt": 250, "llm_first_token": 280, "tts_first_audio": None}
    assert starts_from(offsets, durations) == {"stt": 150, "llm": 420, "tts": None}


def test_a_recorded_turn_keeps_its_words_and_times() -> None:
    row = TurnRow(
        turn=2,
        speech_end_at=1_700_000_000.0,
        outcome="replied",
        speculative=True,
        user_text="<b>hi</b>",
        reply_text="Hello.",
        heard_text="",
        filler="",
        language="en",
        endpoint_reason="silence",
        error="",
        offsets_ms={"endpoint": 600, "transcript": 650, "first_media": 1100},
        durations_ms={"stt": 300},
        voice_to_voice_ms=1100,
        answer_ms=1100,
        record={},
    )
    view = from_row(row)
    assert view.user_text == "<b>hi</b>", "text is kept as it was said; the page writes it as text"
    assert view.starts_ms["stt"] == 350
    assert view.voice_to_voice_ms == 1100 and view.done
