"""The command line refuses bad configuration before loading anything."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from rich.console import Console

from gateway import cli
from gateway.settings import load_settings
from gateway.twilio.codec import MAX_MESSAGE_BYTES


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def without_token() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name != "TWILIO_AUTH_TOKEN" and not name.startswith("VOICEGW_")
    }


def test_serve_with_a_bad_key_exits_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[turn]\nend_silence_ms = -5\n")
    result = run("serve", "--config", str(config))
    assert result.returncode == 2
    assert "turn.end_silence_ms" in result.stderr


def test_models_list_names_every_embedded_model() -> None:
    result = run("models", "list")
    assert result.returncode == 0
    for name in ("whisper-base", "smollm2-135m", "hibari-heart", "joe-medium", "silero-vad"):
        assert f"embedded:{name}" in result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "203.0.113.7"])
def test_serve_on_a_public_address_without_a_token_is_refused(host: str) -> None:
    result = run("serve", "--host", host, "--port", "0", env=without_token())
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert f"refusing to serve on {host}" in message
    assert "TWILIO_AUTH_TOKEN" in message and "--insecure" in message
    assert "listening" not in message and "loaded" not in message


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.10", False),
        ("gateway.example.com", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert cli.is_loopback(host) is loopback


def refusal(monkeypatch: pytest.MonkeyPatch, host: str, insecure: bool) -> str:
    """What the start-up check prints, in colour as on a terminal ("" when it says nothing)."""
    out = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, force_terminal=True, width=400))
    settings = load_settings(None, environ={"VOICEGW_SERVER__HOST": f'"{host}"'})
    cli._refuse_unsigned_exposure(settings, insecure)
    return out.getvalue()


def test_insecure_serves_unsigned_and_says_so_in_red(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    with pytest.raises(typer.Exit):
        refusal(monkeypatch, "0.0.0.0", insecure=False)
    warning = refusal(monkeypatch, "0.0.0.0", insecure=True)
    assert "INSECURE" in warning and "\x1b[1;31m" in warning, repr(warning)
    assert refusal(monkeypatch, "127.0.0.1", insecure=False) == ""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret")
    assert refusal(monkeypatch, "0.0.0.0", insecure=False) == ""


def test_uvicorn_refuses_frames_over_the_codecs_limit() -> None:
    config = cli.uvicorn_config(None)  # type: ignore[arg-type]
    assert config.ws_max_size == MAX_MESSAGE_BYTES


class LiveCalls:
    """Stands in for the gateway's admission: how many calls are live, and the drain flag."""

    def __init__(self, live: int) -> None:
        self.live = live
        self.draining = False


async def test_sigterm_drains_before_uvicorn_shuts_down() -> None:
    calls = LiveCalls(live=2)
    server = cli.DrainingServer(cli.uvicorn_config(None), calls, drain_timeout_s=60)  # type: ignore[arg-type]
    server.handle_exit(signal.SIGTERM, None)
    assert calls.draining and not server.should_exit, "the first signal only drains"
    assert not await server.on_tick(1)
    calls.live = 0
    assert await server.on_tick(2), "the last call is over: now uvicorn shuts down"
    assert server.should_exit and not server.force_exit


async def test_a_second_signal_or_the_drain_timeout_ends_the_drain() -> None:
    calls = LiveCalls(live=1)
    server = cli.DrainingServer(cli.uvicorn_config(None), calls, drain_timeout_s=60)  # type: ignore[arg-type]
    server.handle_exit(signal.SIGTERM, None)
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit, "a second signal: uvicorn's own shutdown at once"
    timed = cli.DrainingServer(cli.uvicorn_config(None), LiveCalls(1), drain_timeout_s=1e-9)  # type: ignore[arg-type]
    timed.handle_exit(signal.SIGINT, None)
    assert await timed.on_tick(1), "past server.drain_timeout_s the calls are cut"
