"""Start-up through the real command line: bad configuration is refused with the key named; a
missing or corrupt model file is named (and an embedded one is restored from its package)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import websockets

from gateway.engines import Engines
from gateway.settings import Settings
from models.fetch import STAMP_SUFFIX, materialise
from models.manifest import load_manifest
from tests.sim.backends import free_port
from tests.sim.caller import SimulatedCaller
from tests.sim.clips import make_clip


def serve(config: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``voicegw serve``; every case here must exit on its own, well before serving."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[vad]\ntreshold = 0.5\n", "vad.treshold"),
        ('[server]\nport = "eighty"\n', "server.port"),
        ("[call]\nplayout_lead_ms = 0\n", "call.playout_lead_ms"),
        ("[turn]\nend_silence_ms = 900\nincomplete_end_silence_ms = 800\n", "turn.incomplete"),
    ],
)
def test_a_wrong_value_stops_start_up_naming_the_key(tmp_path: Path, toml: str, key: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    result = serve(config)
    assert result.returncode == 2, result.stderr
    assert key in result.stderr
    assert "listening" not in result.stderr


def test_a_corrupt_model_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(64))
    config = tmp_path / "config.toml"
    config.write_text(f'[llm]\nmodel = "{broken}"\n')
    result = serve(config)
    assert result.returncode == 1, result.stderr
    assert "could not load models" in result.stderr
    assert str(broken) in result.stderr.replace("\n", "")


def test_a_corrupt_embedded_model_is_restored_and_a_missing_file_named(
    tmp_path: Path, settings: Settings
) -> None:
    """The embedded models are copied from their packages into a fresh cache (symlinks, to spare
    the copying) with the VAD's file truncated; the voice points at a file that is not there."""
    real = Path(settings.models.cache_dir).expanduser()
    cache = tmp_path / "cache"
    for name in load_manifest():
        materialise(name, real)
        (cache / name).mkdir(parents=True)
        for file in (real / name).iterdir():
            (cache / name / file.name).symlink_to(file)
    vad = cache / "silero-vad" / "silero_vad.onnx"
    vad.unlink()
    vad.write_bytes(b"\x00" * 1000)
    missing = tmp_path / "no-such-voice.onnx"
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ncache_dir = "{cache}"\n[tts]\nvoice = "{missing}"\n')
    result = serve(config)
    assert result.returncode == 1, result.stderr
    assert str(missing) in result.stderr.replace("\n", ""), result.stderr
    spec = next(f for f in load_manifest()["silero-vad"].files if f.name == vad.name)
    assert vad.stat().st_size == spec.size, "the truncated file was replaced from the package"
    assert vad.with_name(vad.name + STAMP_SUFFIX).read_text().strip() == spec.sha256


async def test_sigterm_drains_a_reply_being_spoken_finishes_then_the_process_exits(
    tmp_path: Path, engines: Engines
) -> None:
    """uvicorn alone closes every socket at once (1012) on SIGTERM, mid-sentence. Draining: no
    new calls (busy TwiML, /readyz 503, new sockets 1013); the live call's reply plays to its
    end; when the call is over the process exits."""
    clip = await make_clip(engines.synthesizer, "Tell me about the history of the city library.")
    config = tmp_path / "config.toml"
    records = tmp_path / "calls.sqlite3"  # not the user's own records
    config.write_text(
        f'[call]\nfillers = []\n[server]\ndrain_timeout_s = 60\n[records]\npath = "{records}"\n'
    )
    port = free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("VOICEGW_") and name != "TWILIO_AUTH_TOKEN"
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", "--config", str(config), "--port", str(port),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    lines: list[str] = []
    listening = asyncio.Event()

    async def read_stderr() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            lines.append(raw.decode(errors="replace"))
            if "listening on" in lines[-1]:
                listening.set()

    reading = asyncio.ensure_future(read_stderr())
    base, media = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/twilio/media"
    try:
        await asyncio.wait_for(listening.wait(), timeout=180)
        async with SimulatedCaller(media) as caller, httpx.AsyncClient() as client:
            await caller.wait_for_mark("greeting-end", timeout_s=30)
            caller.media_arrived.clear()
            saying = asyncio.ensure_future(caller.say(clip.frames, reply_timeout_s=60))
            await asyncio.wait_for(caller.media_arrived.wait(), timeout=60)  # the reply began
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(10):  # the signal is seen on the server's next tick
                while (ready := await client.get(f"{base}/readyz")).status_code == 200:
                    pass
            assert ready.status_code == 503 and ready.json()["status"] == "draining"
            busy = await client.post(f"{base}/twilio/voice", data={"CallSid": "CA" + "9" * 32})
            assert "<Hangup/>" in busy.text and "<Connect>" not in busy.text
            async with websockets.connect(media) as extra:
                await asyncio.wait_for(extra.wait_closed(), timeout=10)
            assert extra.close_code == 1013
            result = await saying
            assert result.marks[-1].endswith("-end"), "the reply played to its end"
            assert len(result.reply) > 25, "more than half a second of it"
            assert caller.close_code is None, "the call was not cut"
        assert await asyncio.wait_for(process.wait(), timeout=30) is not None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await asyncio.wait_for(reading, timeout=10)
    log = "".join(lines)
    assert "draining, 1 calls in progress" in log, log[-2000:]
    assert "drain timeout" not in log
