"""How the bench names configurations, reads ``--calls`` and sets up each gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.lab.bench import BenchPlan, Configuration, configurations, gateway_env, parse_levels


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
