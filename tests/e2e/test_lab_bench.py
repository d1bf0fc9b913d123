"""``voicegw bench`` end to end: two configurations, alternating, on the embedded models; the
report's numbers are recomputed from the gateways' raw call records. The whole-utterance pass
(the WER's reference) runs too: two short transcriptions."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

from gateway.lab.utterances import DEFAULT_DIR, TRANSCRIPTS, read_set
from gateway.records import RecordsReader

ROOT = Path(__file__).resolve().parents[2]


def median(values: list[int | None]) -> float:
    """Of values every answered turn must have."""
    present = [v for v in values if v is not None]
    assert len(present) == len(values), values
    return float(statistics.median(present))


def tiny_set(directory: Path) -> list[str]:
    """Two utterances of the shipped set, one with a mid-sentence pause; their texts."""
    shipped = read_set(DEFAULT_DIR)
    chosen = [next(u for u in shipped if not u.pause_ms), next(u for u in shipped if u.pause_ms)]
    directory.mkdir()
    lines = []
    for u in chosen:
        shutil.copy(DEFAULT_DIR / u.file, directory / u.file)
        lines += ["[[utterance]]", f"file = {json.dumps(u.file)}", f"text = {json.dumps(u.text)}",
                  f"pause_ms = {u.pause_ms}", f"pause_style = {json.dumps(u.pause_style)}",
                  ""]  # fmt: skip
    (directory / TRANSCRIPTS).write_text("\n".join(lines))
    return [u.text for u in chosen]


async def test_bench_alternates_configurations_and_reports_what_the_records_hold(
    tmp_path: Path,
) -> None:
    texts = tiny_set(tmp_path / "set")
    no_fillers = tmp_path / "no-fillers.toml"
    no_fillers.write_text("[call]\nfiller_after_ms = 0\n")
    out = tmp_path / "report"
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "bench", "--config", str(ROOT / "config.toml"),
        "--config", str(no_fillers), "--utterances", str(tmp_path / "set"), "--out", str(out),
        "--no-warmup", "--turns-per-call", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    printed, _ = await asyncio.wait_for(command.communicate(), timeout=540)
    assert command.returncode == 0, printed.decode()
    report = json.loads((out / "report.json").read_text())
    assert report["problems"] == []
    assert [c["name"] for c in report["configs"]] == ["config", "no-fillers"]
    whole = report["whole_pass"]
    assert whole["stt"].startswith("whisper-base"), "the configured STT"
    assert [u["text"] for u in whole["utterances"]] == texts
    assert all(u["transcript"] for u in whole["utterances"]), whole
    speech_ends: list[tuple[float, str]] = []
    for config in report["configs"]:
        summary = config["summary"]
        assert summary["answered"] == summary["utterances"] == 2
        assert summary["wer_whole_pass"] is not None and summary["wer_vs_whole_pass"] is not None
        assert [u["text"] for u in config["utterances"]] == texts
        sids = [u["call_sid"] for u in config["utterances"]]
        assert len(set(sids)) == 2, "one call per utterance (--turns-per-call 1)"
        reader = RecordsReader(out / config["records"])
        try:
            assert {c.call_sid for c in reader.recent_calls(10)} == set(sids)
            details = [reader.call(sid) for sid in sids]
        finally:
            reader.close()
        answers = []
        for utterance, detail in zip(config["utterances"], details, strict=True):
            assert detail is not None
            by_turn = {t.turn: t for t in detail.turns}
            answers.append(by_turn[utterance["client"]["turns"][-1]])
        clients = [u["client"] for u in config["utterances"]]
        assert summary["first_sound_p50_ms"] == median([c["first_sound_ms"] for c in clients])
        assert summary["answer_p50_ms"] == median([c["answer_ms"] for c in clients])
        gateway = median([a.voice_to_voice_ms for a in answers])
        assert summary["gateway_first_sound_p50_ms"] == gateway
        assert summary["durations_p50_ms"]["stt"] == median(
            [a.durations_ms["stt"] for a in answers]
        )
        speech_ends += [(a.speech_end_at or 0.0, config["name"]) for a in answers]
    order = [name for _, name in sorted(speech_ends)]
    assert order == ["config", "no-fillers", "config", "no-fillers"], "utterance by utterance"
    first, second = (c["summary"] for c in report["configs"])
    assert second["ratios"]["first sound p50"] == (
        second["first_sound_p50_ms"] / first["first_sound_p50_ms"]
    )
    assert second["fillers_per_turn"] == 0.0, "the second configuration says no filler"
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "no-fillers" in html
    assert "WER vs whole pass" in html and "Whole-utterance pass: whisper-base" in html
    assert (out / "waterfall-no-fillers.png").read_bytes().startswith(b"\x89PNG")
