"""Build the stages once per process: each is local (a model loaded here, devices picked) or
``openai`` (a pooled HTTP client to an OpenAI-compatible server), independently.

Local stages get the compute gate of their device (:mod:`gateway.scheduling`): one shared by
every stage on the CPU, one of its own for each stage on a GPU."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.devices import Resolved, llama_device, onnx_device, whisper_device
from gateway.http_api import ApiClient
from gateway.llm.base import ChatModel
from gateway.llm.local import LlamaChat
from gateway.llm.openai import OpenAIChat
from gateway.pipeline.phrases import PhraseCache
from gateway.scheduling import ComputeGate, Gate, GateStats
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
    gates: list[ComputeGate]
    """The local stages' gates (for /metrics: who is waiting)."""
    gate_stats: GateStats
    """Model steps run, and steps of cancelled jobs refused, by stage (for /metrics)."""

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


class Gates:
    """Hands each local stage the gate of its device; remote stages get none."""

    def __init__(self) -> None:
        self.stats = GateStats()
        self._cpu: ComputeGate | None = None
        self.all: list[ComputeGate] = []

    def for_device(self, stage: str, device: Resolved) -> Gate:
        if device == "cpu":
            if self._cpu is None:
                self._cpu = ComputeGate("cpu", self.stats)
                self.all.append(self._cpu)
            return self._cpu
        gate = ComputeGate(f"{stage}-{device}", self.stats)
        self.all.append(gate)
        return gate


def stage_workers(settings: Settings) -> int:
    """Threads per local stage: each call has at most a draft and a reply working at once, and
    waiting ones park at the gate in deadline order rather than in a thread pool's queue."""
    return 2 * settings.server.max_calls + 2


def load_transcriber(
    settings: Settings, cache: Path, progress: Progress, gates: Gates | None = None
) -> Transcriber:
    stt = settings.stt
    if stt.backend == "openai":
        return OpenAITranscriber(ApiClient("stt", stt), stt.model, stt.language, stt.model_field)
    gates = gates or Gates()
    source, label = _resolve("stt.model", stt.model, cache, progress)
    device = whisper_device(stt.device)
    return WhisperTranscriber.load(
        model=str(source),
        device=device,
        compute_type=stt.compute_type,
        cpu_threads=stt.cpu_threads,
        language=stt.language,
        beam_size=stt.beam_size,
        encoder_window_ms=stt.encoder_window_ms,
        gate=gates.for_device("stt", device),
        workers=stage_workers(settings),
        label=label,
    )


def load_chat(
    settings: Settings, cache: Path, progress: Progress, gates: Gates | None = None
) -> ChatModel:
    llm = settings.llm
    if llm.backend == "openai":
        return OpenAIChat(ApiClient("llm", llm), llm.model, llm.max_reply_tokens, llm.temperature)
    gates = gates or Gates()
    source, label = _resolve("llm.model", llm.model, cache, progress)
    device = llama_device(llm.device)
    return LlamaChat.load(
        path=_first_file(source, ".gguf", "llm.model"),
        device=device,
        contexts=llm.contexts,
        context_tokens=llm.context_tokens,
        threads=llm.threads,
        max_tokens=llm.max_reply_tokens,
        temperature=llm.temperature,
        gate=gates.for_device("llm", device),
        workers=stage_workers(settings),
        label=label,
    )


def load_piper(
    settings: Settings, key: str, cache: Path, progress: Progress, gates: Gates | None = None
) -> PiperSynthesizer:
    """The Piper voice named by ``tts.<key>`` (``voice``, or ``fallback_voice``)."""
    gates = gates or Gates()
    source, label = _resolve(f"tts.{key}", getattr(settings.tts, key), cache, progress)
    device = onnx_device(settings.tts.device)
    return PiperSynthesizer.load(
        _first_file(source, ".onnx", f"tts.{key}"),
        device,
        settings.tts.length_scale,
        label,
        gate=gates.for_device("tts", device),
        workers=stage_workers(settings),
    )


def load_synthesizer(
    settings: Settings, cache: Path, progress: Progress, gates: Gates | None = None
) -> Synthesizer:
    tts = settings.tts
    if tts.backend == "local":
        return load_piper(settings, "voice", cache, progress, gates)
    return OpenAISynthesizer(
        ApiClient("tts", tts),
        model=tts.model,
        voice=tts.voice,
        response_format=tts.response_format,
        pcm_sample_rate_hz=tts.pcm_sample_rate_hz,
        speed=1 / tts.length_scale,
    )


def phrase_synthesizer(
    settings: Settings,
    synthesizer: Synthesizer,
    cache: Path,
    progress: Progress,
    gates: Gates | None = None,
) -> Synthesizer:
    """What renders the greeting and apology: a remote voice gets the fallback voice behind it,
    loaded only if the server cannot speak when the phrases are rendered."""
    if settings.tts.backend == "local" or not settings.tts.fallback_voice:
        return synthesizer
    return FallbackSynthesizer(
        synthesizer, lambda: load_piper(settings, "fallback_voice", cache, progress, gates)
    )


def load_engines_sync(settings: Settings, progress: Progress = lambda _: None) -> Engines:
    cache = Path(settings.models.cache_dir).expanduser()
    gates = Gates()
    transcriber = load_transcriber(settings, cache, progress, gates)
    chat = load_chat(settings, cache, progress, gates)
    synthesizer = load_synthesizer(settings, cache, progress, gates)
    vad_dir, _ = _resolve("vad", EMBEDDED + VAD_MODEL, cache, progress)
    vad_session = load_session(_first_file(vad_dir, ".onnx", "vad"))
    phrases = PhraseCache(phrase_synthesizer(settings, synthesizer, cache, progress, gates))
    return Engines(transcriber, chat, synthesizer, vad_session, phrases, gates.all, gates.stats)
