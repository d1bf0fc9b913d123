"""Build the stages once per process: each is local (a model loaded here, devices picked) or
``openai`` (a pooled HTTP client to an OpenAI-compatible server), independently."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.http_api import ApiClient
from gateway.llm.base import ChatModel
from gateway.llm.local import LlamaChat
from gateway.llm.openai import OpenAIChat
from gateway.pipeline.phrases import PhraseCache
from gateway.settings import ConfigError, Settings
from gateway.stt.base import Transcriber
from gateway.stt.local import WhisperTranscriber
from gateway.stt.openai import OpenAITranscriber
from gateway.tts.base import Synthesizer
from gateway.tts.fallback import FallbackSynthesizer
from gateway.tts.local import PiperSynthesizer
from gateway.tts.openai import OpenAISynthesizer
from gateway.vad.silero import load_session
from models.fetch import Progress, materialise
from models.manifest import load_manifest

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

EMBEDDED = "embedded:"
VAD_MODEL = "silero-vad"


@dataclass
class Engines:
    transcriber: Transcriber
    chat: ChatModel
    synthesizer: Synthesizer
    vad_session: InferenceSession
    phrases: PhraseCache

    def describe(self) -> list[str]:
        return [
            f"stt: {self.transcriber.description}",
            f"llm: {self.chat.description}",
            f"tts: {self.synthesizer.description}",
            "vad: silero-vad on cpu",
        ]

    async def aclose(self) -> None:
        """Close the remote stages' connection pools (local stages hold none)."""
        for stage in (self.transcriber, self.chat, self.synthesizer):
            await close_stage(stage)


async def close_stage(stage: object) -> None:
    """Close a stage's connection pool, where it has one (the remote stages do)."""
    close = getattr(stage, "aclose", None)
    if close is not None:
        await close()


def embedded_models(settings: Settings) -> list[str]:
    """The embedded models the settings use (the VAD always is one)."""
    specs = [
        settings.stt.model if settings.stt.backend == "local" else "",
        settings.llm.model if settings.llm.backend == "local" else "",
        settings.tts.voice if settings.tts.backend == "local" else settings.tts.fallback_voice,
    ]
    return [VAD_MODEL, *(s.removeprefix(EMBEDDED) for s in specs if s.startswith(EMBEDDED))]


def _resolve(key: str, spec: str, cache_dir: Path, progress: Progress) -> tuple[Path | str, str]:
    """(what the loader takes, a label). Embedded names are materialised on first use."""
    if not spec.startswith(EMBEDDED):
        return spec, spec
    name = spec.removeprefix(EMBEDDED)
    if name not in load_manifest():
        known = ", ".join(EMBEDDED + n for n in load_manifest())
        raise ConfigError(f"{key}: unknown embedded model {spec!r} (known: {known})")
    return materialise(name, cache_dir, progress), name


def _first_file(directory: Path | str, suffix: str, key: str) -> str:
    path = Path(directory)
    if path.is_file():
        return str(path)
    matches = sorted(path.glob(f"*{suffix}")) if path.is_dir() else []
    if not matches:
        raise ConfigError(f"{key}: no {suffix} file at {path}")
    return str(matches[0])


def load_transcriber(settings: Settings, cache: Path, progress: Progress) -> Transcriber:
    stt = settings.stt
    if stt.backend == "openai":
        return OpenAITranscriber(ApiClient("stt", stt), stt.model, stt.language, stt.model_field)
    source, label = _resolve("stt.model", stt.model, cache, progress)
    return WhisperTranscriber.load(
        model=str(source),
        device=stt.device,
        compute_type=stt.compute_type,
        cpu_threads=stt.cpu_threads,
        language=stt.language,
        beam_size=stt.beam_size,
        encoder_window_ms=stt.encoder_window_ms,
        label=label,
    )


def load_chat(settings: Settings, cache: Path, progress: Progress) -> ChatModel:
    llm = settings.llm
    if llm.backend == "openai":
        return OpenAIChat(ApiClient("llm", llm), llm.model, llm.max_reply_tokens, llm.temperature)
    source, label = _resolve("llm.model", llm.model, cache, progress)
    return LlamaChat.load(
        path=_first_file(source, ".gguf", "llm.model"),
        device=llm.device,
        context_tokens=llm.context_tokens,
        threads=llm.threads,
        max_tokens=llm.max_reply_tokens,
        temperature=llm.temperature,
        lookahead_tokens=llm.lookahead_tokens,
        label=label,
    )


def load_piper(settings: Settings, key: str, cache: Path, progress: Progress) -> PiperSynthesizer:
    """The Piper voice named by ``tts.<key>`` (``voice``, or ``fallback_voice``)."""
    source, label = _resolve(f"tts.{key}", getattr(settings.tts, key), cache, progress)
    return PiperSynthesizer.load(
        _first_file(source, ".onnx", f"tts.{key}"),
        settings.tts.device,
        settings.tts.length_scale,
        label,
    )


def load_synthesizer(settings: Settings, cache: Path, progress: Progress) -> Synthesizer:
    tts = settings.tts
    if tts.backend == "local":
        return load_piper(settings, "voice", cache, progress)
    return OpenAISynthesizer(
        ApiClient("tts", tts),
        model=tts.model,
        voice=tts.voice,
        response_format=tts.response_format,
        pcm_sample_rate_hz=tts.pcm_sample_rate_hz,
        speed=1 / tts.length_scale,
    )


def phrase_synthesizer(
    settings: Settings, synthesizer: Synthesizer, cache: Path, progress: Progress
) -> Synthesizer:
    """What renders the greeting and apology: a remote voice gets the fallback voice behind it,
    loaded only if the server cannot speak when the phrases are rendered."""
    if settings.tts.backend == "local" or not settings.tts.fallback_voice:
        return synthesizer
    return FallbackSynthesizer(
        synthesizer, lambda: load_piper(settings, "fallback_voice", cache, progress)
    )


def load_engines_sync(settings: Settings, progress: Progress = lambda _: None) -> Engines:
    cache = Path(settings.models.cache_dir).expanduser()
    transcriber = load_transcriber(settings, cache, progress)
    chat = load_chat(settings, cache, progress)
    synthesizer = load_synthesizer(settings, cache, progress)
    vad_dir, _ = _resolve("vad", EMBEDDED + VAD_MODEL, cache, progress)
    vad_session = load_session(_first_file(vad_dir, ".onnx", "vad"))
    phrases = PhraseCache(phrase_synthesizer(settings, synthesizer, cache, progress))
    return Engines(transcriber, chat, synthesizer, vad_session, phrases)
