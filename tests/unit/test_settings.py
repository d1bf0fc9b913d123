"""config.toml loading: defaults, environment overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_shipped_config_equals_the_defaults() -> None:
    assert load_settings(ROOT / "config.toml", environ={}) == Settings()


def test_environment_overrides_with_typed_values(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9000\n")
    settings = load_settings(
        path,
        environ={
            "VOICEGW_SERVER__PORT": "9100",
            "VOICEGW_VAD__SPEECH_THRESHOLD": "0.6",
            "VOICEGW_TURN__SPECULATE": "false",
            "VOICEGW_CALL__GREETING": "Hi there",
            "UNRELATED": "x",
        },
    )
    assert settings.server.port == 9100
    assert settings.vad.speech_threshold == 0.6
    assert settings.turn.speculate is False
    assert settings.call.greeting == "Hi there"


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("[vad]\ntreshold = 0.5\n", {}, "vad.treshold: unknown key"),
        ("[nope]\nx = 1\n", {}, "nope: unknown key"),
        ('[server]\nport = "eighty"\n', {}, "server.port: Expected `int`, got `str`"),
        ("[server]\nport = 70000\n", {}, "server.port: Expected `int` <= 65535"),
        ("[vad]\nspeech_threshold = 1.5\n", {}, "vad.speech_threshold"),
        ('[stt]\ndevice = "tpu"\n', {}, "stt.device: Invalid enum value 'tpu'"),
        ("", {"VOICEGW_TURN__END_SILENCE_MS": "soon"}, "turn.end_silence_ms"),
        (
            "[vad]\nspeech_threshold = 0.3\nsilence_threshold = 0.4\n",
            {},
            "vad.silence_threshold must not exceed vad.speech_threshold",
        ),
        ('[llm]\nbackend = "openai"\n', {}, "llm.backend"),
        ("[server\n", {}, "not valid TOML"),
    ],
)
def test_errors_name_the_key(
    tmp_path: Path, text: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), environ=environ)
    assert message in str(caught.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.toml", environ={})
