"""Load the stages once per process: resolve model names, pick devices, build the engines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.llm.base import ChatModel
from gateway.llm.local import LlamaChat
from gateway.pipeline.phrases import PhraseCache
from gateway.settings import ConfigError, Settings
from gateway.stt.base import Transcriber
from gateway.stt.local import WhisperTranscriber
from gateway.tts.base import Synthesizer
from gateway.tts.local import PiperSynthesizer
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


def embedded_models(settings: Settings) -> list[str]:
    """The embedded models the settings use (the VAD always is one)."""
    specs = (settings.stt.model, settings.llm.model, settings.tts.voice)
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


def load_engines_sync(settings: Settings, progress: Progress = lambda _: None) -> Engines:
    cache = Path(settings.models.cache_dir).expanduser()
    stt_source, stt_label = _resolve("stt.model", settings.stt.model, cache, progress)
    llm_source, llm_label = _resolve("llm.model", settings.llm.model, cache, progress)
    tts_source, tts_label = _resolve("tts.voice", settings.tts.voice, cache, progress)
    vad_dir, _ = _resolve("vad", EMBEDDED + VAD_MODEL, cache, progress)
    transcriber = WhisperTranscriber.load(
        model=str(stt_source),
        device=settings.stt.device,
        compute_type=settings.stt.compute_type,
        cpu_threads=settings.stt.cpu_threads,
        language=settings.stt.language,
        beam_size=settings.stt.beam_size,
        encoder_window_ms=settings.stt.encoder_window_ms,
        label=stt_label,
    )
    chat = LlamaChat.load(
        path=_first_file(llm_source, ".gguf", "llm.model"),
        device=settings.llm.device,
        context_tokens=settings.llm.context_tokens,
        threads=settings.llm.threads,
        max_tokens=settings.llm.max_reply_tokens,
        temperature=settings.llm.temperature,
        lookahead_tokens=settings.llm.lookahead_tokens,
        label=llm_label,
    )
    synthesizer = PiperSynthesizer.load(
        _first_file(tts_source, ".onnx", "tts.voice"),
        settings.tts.device,
        settings.tts.length_scale,
        tts_label,
    )
    vad_session = load_session(_first_file(vad_dir, ".onnx", "vad"))
    return Engines(transcriber, chat, synthesizer, vad_session, PhraseCache(synthesizer))
