"""The command line refuses bad configuration before loading anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_with_a_bad_key_exits_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[turn]\nend_silence_ms = -5\n")
    result = run("serve", "--config", str(config))
    assert result.returncode == 2
    assert "turn.end_silence_ms" in result.stderr


def test_models_list_names_every_embedded_model() -> None:
    result = run("models", "list")
    assert result.returncode == 0
    for name in ("whisper-base", "smollm2-135m", "joe-medium", "silero-vad"):
        assert f"embedded:{name}" in result.stderr
