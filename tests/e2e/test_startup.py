"""Start-up through the real command line: bad configuration is refused with the key named; a
missing or corrupt model file is named (and an embedded one is restored from its package)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import Settings
from models.fetch import STAMP_SUFFIX, materialise
from models.manifest import load_manifest


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
