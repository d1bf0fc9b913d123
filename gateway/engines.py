"""Build the stages once per process: each is local (a model loaded here, devices picked) or
``openai`` (a pooled HTTP client to an OpenAI-compatible server), independently.

Local stages get the compute gate of their device (:mod:`gateway.scheduling`): one shared by
every stage on the CPU, one of its own for each stage on a GPU."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.devices import Resolved, llama_device, onnx_device, whisper_device
from gateway.http_api import ApiClient
from gateway.languages import languages
from gateway.llm.base import ChatModel
from gateway.llm.local import LlamaChat
from gateway.llm.openai import OpenAIChat
from gateway.pipeline.phrases import PhraseCache
from gateway.scheduling import ComputeGate, Gate, GateStats, NoGate
from gateway.settings import ConfigError, Settings
from gateway.stt.base import Transcriber
from gateway.stt.local import WhisperTranscriber
from gateway.stt.openai import OpenAITranscriber
from gateway.tts.base import Synthesizer
from gateway.tts.fallback import FallbackSynthesizer
from gateway.tts.hibari import HibariSynthesizer
from gateway.tts.local import PiperSynthesizer
from gateway.tts.openai import OpenAISynthesizer
from gateway.vad.silero import load_session
from models.fetch import Progress, materialise
from models.manifest import load_manifest

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

log = logging.getLogger("voicegw")
EMBEDDED = "embedded:"
VAD_MODEL = "silero-vad"
DEFAULT_TTS_VOICE = "embedded:hibari-heart"
"""The embedded voice (English)."""


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
    voices: dict[str, Synthesizer] = field(default_factory=dict)
    """The voices of ``[languages.<code>] tts_voice``, each loaded once, by that spec."""
    stt_gate: Gate = field(default_factory=NoGate)
    """The gate of the transcriber's device (a remote transcriber has none)."""

    def stt_is_idle(self) -> bool:
        """Nothing runs or waits on the transcriber's device now: a draft that may yet be
        thrown away (:attr:`gateway.vad.endpointer.EndpointConfig.early_draft_probability`)
        takes that time from no one."""
        return self.stt_gate.idle

    def voice(self, key: str) -> Synthesizer:
        """The voice named by a ``tts_voice`` spec; the default voice for ``DEFAULT_VOICE``."""
        return self.voices.get(key, self.synthesizer) if key else self.synthesizer

    def describe(self) -> list[str]:
        return [
            f"stt: {self.transcriber.description}",
            f"llm: {self.chat.description}",
            f"tts: {self.synthesizer.description}",
            *(f"tts {spec}: {voice.description}" for spec, voice in self.voices.items()),
            "vad: silero-vad on cpu",
        ]

    async def aclose(self) -> None:
        """Close the remote stages' connection pools (local stages hold none)."""
        for stage in (self.transcriber, self.chat, self.synthesizer, *self.voices.values()):
            await close_stage(stage)


async def close_stage(stage: object) -> None:
    """Close a stage's connection pool, where it has one (the remote stages do)."""
    close = getattr(stage, "aclose", None)
    if close is not None:
        await close()


def embedded_models(settings: Settings) -> list[str]:
    """The embedded models the settings use (the VAD always is one; the fallback voice behind a
    remote voice or a hibari one)."""
    tts = settings.tts
    local = tts.backend == "local"
    behind_hibari = local and voice_engine(tts.voice, tts.voice) == "hibari"
    specs = [
        settings.stt.model if settings.stt.backend == "local" else "",
        settings.llm.model if settings.llm.backend == "local" else "",
        tts.voice if local else "",
        tts.fallback_voice if not local or behind_hibari else "",
        *(language_voices(settings) if local else {}),
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
        self._gates: dict[str, ComputeGate] = {}
        self.all: list[ComputeGate] = []
        self.by_stage: dict[str, Gate] = {}
        """The gate each local stage was given (its first voice's, for tts)."""

    def for_device(self, stage: str, device: Resolved) -> Gate:
        """One gate for the CPU; on a GPU one per stage (a stage's voices share it)."""
        name = "cpu" if device == "cpu" else f"{stage}-{device}"
        if name not in self._gates:
            self._gates[name] = ComputeGate(name, self.stats)
            self.all.append(self._gates[name])
        self.by_stage.setdefault(stage, self._gates[name])
        return self._gates[name]


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
        detect_among=stt.detect_languages,
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
        system_prompt=llm.system_prompt,
    )


def load_local_voice(
    settings: Settings,
    key: str,
    cache: Path,
    progress: Progress,
    gates: Gates | None = None,
    *,
    spec: str | None = None,
) -> Synthesizer:
    """The local voice named by ``tts.<key>`` (``voice``, or ``fallback_voice``), or by ``spec``
    (then ``key`` is the dotted key that named it, for errors): a Piper voice, or a hibari one
    (:func:`voice_engine`)."""
    gates = gates or Gates()
    key = key if spec is not None else f"tts.{key}"
    spec = spec if spec is not None else getattr(settings.tts, key.removeprefix("tts."))
    source, label = _resolve(key, spec, cache, progress)
    path = _first_file(source, ".onnx", key)
    if voice_engine(spec, path) == "hibari":
        hibari = HibariSynthesizer.load(
            path,
            settings.tts.length_scale,
            label,
            gate=gates.for_device("tts", "cpu"),
            workers=stage_workers(settings),
        )
        fallback = settings.tts.fallback_voice
        if not fallback or fallback == spec:
            return hibari
        # hibari reads English only: another script is said by the fallback (Piper) voice.
        return FallbackSynthesizer(
            hibari, lambda: load_local_voice(settings, "fallback_voice", cache, progress, gates)
        )
    device = onnx_device(settings.tts.device)
    return PiperSynthesizer.load(
        path,
        device,
        settings.tts.length_scale,
        label,
        gate=gates.for_device("tts", device),
        workers=stage_workers(settings),
    )


def voice_engine(spec: str, path: str) -> str:
    """What speaks a local voice: an embedded one says (its manifest entry); a file is a Piper
    voice when its ``.onnx.json`` lies beside it (Piper needs it), else a hibari voice."""
    if spec.startswith(EMBEDDED):
        return load_manifest()[spec.removeprefix(EMBEDDED)].engine or "piper"
    return "piper" if Path(f"{path}.json").is_file() else "hibari"


def load_synthesizer(
    settings: Settings,
    cache: Path,
    progress: Progress,
    gates: Gates | None = None,
    *,
    voice: str | None = None,
    key: str = "tts.voice",
) -> Synthesizer:
    """The ``tts.voice``, or the voice ``voice`` names (a language's ``tts_voice``, at ``key``)."""
    tts = settings.tts
    if tts.backend == "local":
        if voice is None:
            return load_local_voice(settings, "voice", cache, progress, gates)
        return load_local_voice(settings, key, cache, progress, gates, spec=voice)
    return OpenAISynthesizer(
        ApiClient("tts", tts),
        model=tts.model,
        voice=tts.voice if voice is None else voice,
        response_format=tts.response_format,
        pcm_sample_rate_hz=tts.pcm_sample_rate_hz,
        speed=1 / tts.length_scale,
    )


def language_voices(settings: Settings) -> dict[str, str]:
    """Each voice the ``[languages]`` tables name (spec -> the first key that names it)."""
    voices: dict[str, str] = {}
    for code, table in settings.languages.items():
        if table.tts_voice:
            voices.setdefault(table.tts_voice, f"languages.{code}.tts_voice")
    return voices


def load_language_voices(
    settings: Settings, cache: Path, progress: Progress, gates: Gates
) -> dict[str, Synthesizer]:
    """Each language's own voice, loaded once however many languages name it. A language
    without one is spoken by the default voice: a warning says so."""
    for code, table in settings.languages.items():
        if not table.tts_voice and not (code == "en" and settings.tts.voice == DEFAULT_TTS_VOICE):
            known = languages().get(code)
            log.warning(
                "languages.%s has no tts_voice: %s calls are spoken by the default voice (%s)",
                code,
                known.name if known else code,
                settings.tts.voice,
            )
    return {
        spec: load_synthesizer(settings, cache, progress, gates, voice=spec, key=key)
        for spec, key in language_voices(settings).items()
    }


def phrase_synthesizer(
    settings: Settings,
    synthesizer: Synthesizer,
    cache: Path,
    progress: Progress,
    gates: Gates | None = None,
    *,
    fallback: Callable[[], Synthesizer] | None = None,
) -> Synthesizer:
    """What renders the greeting and apology: a remote voice gets the fallback voice behind it,
    loaded only if the server cannot speak when the phrases are rendered (``fallback``: a
    loader to share between voices)."""
    if settings.tts.backend == "local" or not settings.tts.fallback_voice:
        return synthesizer
    load = fallback or (
        lambda: load_local_voice(settings, "fallback_voice", cache, progress, gates)
    )
    return FallbackSynthesizer(synthesizer, load)


def load_engines_sync(settings: Settings, progress: Progress = lambda _: None) -> Engines:
    cache = Path(settings.models.cache_dir).expanduser()
    gates = Gates()
    transcriber = load_transcriber(settings, cache, progress, gates)
    chat = load_chat(settings, cache, progress, gates)
    synthesizer = load_synthesizer(settings, cache, progress, gates)
    vad_dir, _ = _resolve("vad", EMBEDDED + VAD_MODEL, cache, progress)
    vad_session = load_session(_first_file(vad_dir, ".onnx", "vad"))
    voices = load_language_voices(settings, cache, progress, gates)
    # One fallback voice for every remote voice, loaded the first time one of them fails.
    fallback = functools.cache(
        lambda: load_local_voice(settings, "fallback_voice", cache, progress, gates)
    )

    def for_phrases(voice: Synthesizer) -> Synthesizer:
        return phrase_synthesizer(settings, voice, cache, progress, gates, fallback=fallback)

    phrases = PhraseCache(
        for_phrases(synthesizer), {spec: for_phrases(v) for spec, v in voices.items()}
    )
    return Engines(
        transcriber,
        chat,
        synthesizer,
        vad_session,
        phrases,
        gates.all,
        gates.stats,
        voices,
        gates.by_stage.get("stt", NoGate()),
    )
