"""How the bench names configurations, reads ``--calls`` and sets up each gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.lab.bench import BenchPlan, Configuration, configurations, gateway_env, parse_levels
from gateway.lab.whole import gateway_settings
from gateway.settings import config_file as gateway_config


def test_configurations_are_named_after_their_files_and_never_twice_alike() -> None:
    assert configurations([]) == [Configuration("current", None)]
    named = configurations([Path("a/fast.toml"), Path("b/fast.toml"), Path("slow.toml")])
    assert [c.name for c in named] == ["fast", "fast-2", "slow"]
    assert named[1].path == Path("b/fast.toml")


def test_calls_at_once_are_positive_whole_numbers_in_order() -> None:
    assert parse_levels("4,1,2,2") == [1, 2, 4]
    assert parse_levels("") == []
    for bad in ("0,1", "-2", "two"):
        with pytest.raises(ValueError):
            parse_levels(bad)


def test_each_gateway_keeps_its_records_in_the_report_and_the_words_for_the_wer(
    tmp_path: Path,
) -> None:
    config = Configuration("fast", Path("fast.toml"))
    plain = gateway_env(BenchPlan([config], Path("set"), tmp_path), config)
    assert plain == {
        "VOICEGW_RECORDS__PATH": str(tmp_path / "records" / "fast.sqlite3"),
        "VOICEGW_LOG__TRANSCRIPTS": "full",
    }
    swept = gateway_env(BenchPlan([config], Path("set"), tmp_path, levels=[1, 2, 4]), config)
    assert swept["VOICEGW_SERVER__MAX_CALLS"] == "4", "room for the sweep's top level"


def test_the_whole_pass_reads_the_config_the_first_gateway_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert gateway_config(None, {}) is None, "the built-in defaults"
    (tmp_path / "config.toml").write_text("[stt]\nbeam_size = 3\n")
    assert gateway_config(None, {}) == Path("config.toml")
    assert gateway_config(None, {"VOICEGW_CONFIG": "other.toml"}) == Path("other.toml")
    assert gateway_config(Path("given.toml"), {"VOICEGW_CONFIG": "x.toml"}) == Path("given.toml")
    monkeypatch.delenv("VOICEGW_CONFIG", raising=False)
    monkeypatch.delenv("VOICEGW_STT__BEAM_SIZE", raising=False)
    assert gateway_settings(None, {}).stt.beam_size == 3
    assert gateway_settings(None, {"VOICEGW_STT__BEAM_SIZE": "2"}).stt.beam_size == 2
