"""Settings of the remote (openai) backends: what must be set, and which models get loaded."""

from __future__ import annotations

import pytest

from gateway.engines import embedded_models
from gateway.settings import ConfigError, load_settings

REMOTE_LLM = {
    "VOICEGW_LLM__BACKEND": "openai",
    "VOICEGW_LLM__BASE_URL": "http://127.0.0.1:8000/v1",
    "VOICEGW_LLM__MODEL": "qwen2.5-7b",
}


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"VOICEGW_STT__BACKEND": "openai"}, "stt.base_url: required when stt.backend = 'openai'"),
        (
            {"VOICEGW_TTS__BACKEND": "openai", "VOICEGW_TTS__BASE_URL": "http://h/v1"},
            "tts.voice: name the server's voice",
        ),
        ({**REMOTE_LLM, "VOICEGW_LLM__MODEL": "embedded:smollm2-135m"}, "llm.model: name"),
        ({**REMOTE_LLM, "VOICEGW_LLM__READ_TIMEOUT_MS": "0"}, "llm.read_timeout_ms"),
    ],
)
def test_remote_stage_errors_name_the_key(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, environ=environ)


def test_one_stage_switches_to_a_server_from_the_environment() -> None:
    settings = load_settings(None, environ={**REMOTE_LLM, "VOICEGW_LLM__API_KEY_ENV": "LLM_KEY"})
    assert (settings.llm.backend, settings.llm.base_url) == ("openai", "http://127.0.0.1:8000/v1")
    assert settings.llm.api_key_env == "LLM_KEY"
    assert settings.stt.backend == settings.tts.backend == "local"
    # The English voice, and the Piper voice for what it cannot read.
    assert embedded_models(settings) == ["silero-vad", "whisper-base", "hibari-heart", "joe-medium"]


def test_a_remote_voice_keeps_the_local_fallback_voice_for_the_fixed_phrases() -> None:
    environ = {
        "VOICEGW_STT__BACKEND": "openai",
        "VOICEGW_STT__BASE_URL": "https://api.openai.com/v1",
        "VOICEGW_STT__MODEL": "whisper-1",
        "VOICEGW_TTS__BACKEND": "openai",
        "VOICEGW_TTS__BASE_URL": "https://api.openai.com/v1",
        "VOICEGW_TTS__VOICE": "alloy",
    }
    assert embedded_models(load_settings(None, environ=environ)) == [
        "silero-vad",
        "smollm2-135m",
        "joe-medium",
    ]
    no_fallback = load_settings(None, environ={**environ, "VOICEGW_TTS__FALLBACK_VOICE": '""'})
    assert embedded_models(no_fallback) == ["silero-vad", "smollm2-135m"]
