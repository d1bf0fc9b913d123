"""Typed settings, loaded from config.toml and overridden by environment variables.

Every knob has its unit in its name. Environment overrides are named
``VOICEGW_<SECTION>__<KEY>`` (for example ``VOICEGW_SERVER__PORT=9000``); the value is read as a
TOML literal when it parses as one (numbers, booleans, quoted strings), else as a bare string.
A wrong key, type or value raises :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from gateway.languages import WHISPER_CODES
from gateway.tools.config import ToolsSettings, TransferSettings

ENV_PREFIX = "VOICEGW_"
Fraction = Annotated[float, Meta(ge=0.0, le=1.0)]
PositiveMs = Annotated[int, Meta(ge=0, le=60_000)]
Backend = Literal["local", "openai"]
Device = Literal["auto", "cpu", "cuda"]


class ConfigError(ValueError):
    """A configuration problem, phrased for the operator: it names the key."""


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 8080
    public_url: str = ""
    """Public base URL (``https://voice.example.com``); the TwiML stream URL is built from it.
    Empty: use the Host header of the webhook request."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    max_calls: Annotated[int, Meta(ge=1, le=10_000)] = 4
    """Calls served at once. Past it a new call gets the busy answer (``when_full``) and an
    extra media socket is refused (1013), so the calls in progress keep their speed. 4 is what
    a 2-core CPU serves within latency targets on the embedded models (bench/capacity.py)."""
    when_full: Literal["say", "reject"] = "say"
    """At ``max_calls``: ``say`` answers with ``call.busy_message`` and hangs up; ``reject``
    declines the call (TwiML ``<Reject reason="busy"/>``: the caller hears a busy tone)."""
    insecure: bool = False
    """Serve on a non-loopback address without a Twilio auth token (signatures unchecked:
    anyone who finds the address can place calls). Off: ``serve`` refuses to start so."""
    drain_timeout_s: Annotated[float, Meta(ge=0, le=3600)] = 30.0
    """On SIGTERM, how long calls in progress may go on (no new ones are taken) before the
    process exits; a second signal exits at once."""


class TwilioSettings(_Section):
    auth_token_env: str = "TWILIO_AUTH_TOKEN"
    """Environment variable holding the account's auth token. When it is set, the webhook and the
    media socket upgrade must carry a valid ``X-Twilio-Signature``; the token never goes in
    config.toml."""
    silent_socket_timeout_ms: Annotated[int, Meta(ge=100, le=600_000)] = 10_000
    """Twilio sends a frame every 20 ms for as long as a call lasts: a media socket with no frame
    at all for this long is a dead call, and is ended (its work cancelled)."""
    send_timeout_ms: Annotated[int, Meta(ge=100, le=600_000)] = 10_000
    """A send to Twilio that waits this long means the other end stopped reading: the call is
    ended. Playout keeps under a second in flight, which a live link drains at once."""
    max_audio_ahead_ms: Annotated[int, Meta(ge=0, le=600_000)] = 5_000
    """How far caller audio may run ahead of real time (a stalled link delivering its backlog);
    audio beyond it is dropped and counted."""
    flood_limit_ms: Annotated[int, Meta(ge=0, le=600_000)] = 10_000
    """Dropped audio (less the real time since) past which the caller is flooding: the call is
    closed (1008)."""
    frame_cost_ms: Annotated[int, Meta(ge=1, le=60_000)] = 100
    """What every frame that is not audio (a mark echo, a keypad press, a rejected frame) costs
    of a budget of ``max_audio_ahead_ms`` refilled at real time: 10 a second go on for ever,
    50 at once; past that they are dropped and count towards ``flood_limit_ms``."""


class VadSettings(_Section):
    speech_threshold: Fraction = 0.5
    """Silero probability at or above which a window counts as voiced."""
    silence_threshold: Fraction = 0.35
    """Probability below which a window counts as silence (hysteresis between the two)."""
    min_speech_ms: PositiveMs = 96
    """Voiced audio needed before a turn is considered started (filters clicks)."""
    speech_pad_ms: PositiveMs = 300
    """Audio kept from before the detected speech start, so first syllables are not clipped."""
    sound_above_floor_db: Annotated[float, Meta(ge=0.0, le=60.0)] = 12.0
    """A 20 ms frame this far above the line's noise floor is the caller making a sound: seen a
    frame after it starts, where Silero takes a window or two. A filler waits for a quiet line."""
    sound_min_dbfs: Annotated[float, Meta(ge=-120.0, le=0.0)] = -50.0
    """A frame quieter than this (RMS, dB below full scale) is never a sound, however quiet
    the line."""


class TurnSettings(_Section):
    end_silence_ms: PositiveMs = 600
    """Silence after which the caller's turn is over, when the transcript looks finished and
    no chat model scored it (a remote model, a language not in ``end_model_languages``)."""
    incomplete_end_silence_ms: PositiveMs = 1200
    """Silence that ends any turn: needed when the transcript ends mid-thought ("and", "to", a
    comma), or when the chat model thinks the message unlikely to end there
    (``unsure_end_probability``)."""
    sure_end_silence_ms: PositiveMs = 500
    """Silence that ends a turn whose transcript reads as finished and that the chat model is
    sure of (``sure_end_probability``). Between the two probabilities the wait grows, on a log
    scale, from ``doubtful_end_silence_ms`` to ``incomplete_end_silence_ms``: the less sure,
    the longer."""
    doubtful_end_silence_ms: PositiveMs = 750
    """Silence that ends a turn whose transcript reads as finished but that the chat model is
    less sure of (below ``sure_end_probability``): at least this, longer the less sure. Such
    turns are where a caller pauses mid-sentence ("I want to change my delivery address. |
    700 ms | to my office" scored 0.45); a wait that starts at ``sure_end_silence_ms`` answered
    that pause once the reply was fast enough to be ready in it."""
    sure_end_probability: Fraction = 0.5
    """The chat model's probability that the message ends there (:mod:`gateway.llm.turn_end`)
    at or above which it is sure."""
    unsure_end_probability: Fraction = 0.05
    """...and below which the pause is held like an unfinished thought."""
    end_model_languages: list[str] = msgspec.field(default_factory=lambda: ["en"])
    """The languages the chat model's end probability is used in (the embedded 135M model reads
    English only); in others the transcript's reading alone decides. Only a local chat model
    scores (``llm.backend = "local"``)."""
    rejoin_on_resume: bool = True
    """A caller who speaks again after their turn ended, before any of the answer was sent, had
    only paused: the answer is dropped and both utterances are answered as one turn."""
    quiet_before_answer_ms: PositiveMs = 200
    """A sound from the caller after their turn ended holds the ready answer until the line has
    been quiet this long (at most 0.5 s), so speech that goes on can rejoin the turn. 0: never."""
    speculate: bool = True
    """Transcribe and draft the reply during the silence wait; audio is released only when the
    turn is over, and the draft is cancelled if the caller goes on."""
    speculate_after_silence_ms: PositiveMs = 40
    """Silence after which the speculative draft starts."""
    early_draft_probability: Annotated[float, Meta(ge=0.0, le=1.0)] = 0.9
    """The draft starts once the line's level has been quiet ``speculate_after_silence_ms`` and
    Silero's probability is below this, before Silero calls the silence (it lags the voice by
    about 80 ms), and only while nothing else runs or waits on the transcriber's device: a
    draft the caller talks on through is discarded, and on a busy device that work delays other
    calls (always on, at 4 calls on 2 cores the answer p50 went from 0.9 s to 1.27 s). 0: wait
    for Silero."""
    max_utterance_ms: Annotated[int, Meta(ge=1000, le=600_000)] = 30_000
    """A turn that runs longer is ended anyway (whisper handles 30 s windows). Such a turn is
    never rejoined with the next."""
    rejoin_within_ms: PositiveMs = 1500
    """Speech that starts again this soon after the caller's speech ended, before any of the
    answer was sent, rejoins the turn (``rejoin_on_resume``). Later speech ("hello?" into a late
    answer's silence) is a turn of its own, and the late answer still comes."""
    max_carry_ms: Annotated[int, Meta(ge=0, le=600_000)] = 12_000
    """Most caller audio a rejoined turn carries over from before; past it, no rejoin."""
    rejoin_answer_within_ms: PositiveMs = 800
    """Speech that also starts this soon after the answer began (its first frame sent) rejoins
    the turn too: the answer came into a pause ("I want to change my address. | to my
    office"), so it is cut off (Twilio clear), forgotten, and the whole turn answered. Later
    speech is the caller reacting to the answer: a barge-in. 0: an answer begun is never cut
    this way."""


class _RemoteSection(_Section):
    """What a stage needs to reach an OpenAI-compatible server (``backend = "openai"``)."""

    base_url: str = ""
    """openai: the API root, e.g. ``https://api.openai.com/v1``; required for that backend."""
    api_key_env: str = ""
    """openai: environment variable holding the API key, sent as a bearer token. Empty: no key.
    The key itself never goes in config.toml, and is never logged."""
    connect_timeout_ms: Annotated[int, Meta(ge=1, le=60_000)] = 2000
    """openai: how long to wait for a connection; a server that is down fails the turn fast."""
    read_timeout_ms: Annotated[int, Meta(ge=1, le=600_000)] = 5000
    """openai: the longest silence from the server, before its answer and between streamed parts.
    Past it the turn fails and the caller hears the apology, instead of silence."""
    retries: Annotated[int, Meta(ge=0, le=5)] = 1
    """openai: extra attempts after a connection failure or a 502/503/504 answer, before any of
    the answer was read. A reply that has started streaming is never re-run."""
    max_response_bytes: Annotated[int, Meta(ge=1024, le=1 << 30)] = 16 << 20
    """openai: the most one answer may send (16 MiB: some 5 minutes of 24 kHz pcm); past it
    the turn fails (``voicegw_backend_errors_total{reason="too_large"}``)."""


class SttSettings(_RemoteSection):
    backend: Backend = "local"
    """``local`` (faster-whisper in process) or ``openai``: ``POST {base_url}/audio/transcriptions``
    with the utterance as a WAV file at its own rate."""
    model: str = "embedded:whisper-base"
    """local: ``embedded:whisper-base``, a directory holding a CTranslate2 model, or a hub id.
    openai: the server's model name (``whisper-1``)."""
    model_field: str = "model"
    """openai: the form field that names the model. faster-whisper-server 0.0.3 reads
    ``model_name``."""
    device: Device = "auto"
    compute_type: str = "auto"
    """CTranslate2 compute type; ``auto`` is int8 on CPU and float16 on CUDA."""
    language: str = "en"
    """The language Whisper writes (``"ko"``), or ``"auto"``: detected on each call's first
    turn and kept for the call."""
    detect_languages: list[str] = msgspec.field(default_factory=list)
    """With ``language = "auto"``: the languages detection may pick, e.g. ``["en", "ko"]``;
    empty: any Whisper writes. Phone audio misleads Whisper's language guess (a synthetic
    Korean voice reads as Thai to whisper-base): name the languages the line takes. local only."""
    beam_size: Annotated[int, Meta(ge=1, le=10)] = 1
    cpu_threads: Annotated[int, Meta(ge=0, le=256)] = 2
    encoder_window_ms: Annotated[int, Meta(ge=0, le=30_000)] = 8000
    """Encode utterances in a window this short (plus 1 s past the audio) instead of Whisper's
    30 s: about 4x faster on CPU, same accuracy on phone turns. 0: the standard 30 s window.
    With ``language = "auto"`` the language is detected in the same window."""


class LlmSettings(_RemoteSection):
    backend: Backend = "local"
    """``local`` (llama.cpp in process) or ``openai`` (``POST {base_url}/chat/completions``,
    streamed)."""
    model: str = "embedded:smollm2-135m"
    """local: ``embedded:smollm2-135m`` or a path to a GGUF file. openai: the server's model name
    (``gpt-4o-mini``)."""
    device: Device = "auto"
    context_tokens: Annotated[int, Meta(ge=256, le=131_072)] = 2048
    """Per context (each holds one conversation at a time)."""
    contexts: Annotated[int, Meta(ge=1, le=256)] = 6
    """llama.cpp contexts: each call keeps its conversation's prompt cached in one of its own
    (a cold context re-evaluates the whole prompt, seconds on a small CPU). ``server.max_calls``
    plus a spare or two, for a call whose last generation still holds its context. The weights
    are mapped once; each context costs its KV cache (about 47 MB for the embedded model at
    2048 tokens). Replies interleave token by token."""
    threads: Annotated[int, Meta(ge=1, le=256)] = 2
    system_prompt: str = (
        "You are a friendly phone assistant. Answer in one or two short spoken sentences. "
        "Never use lists, markdown or emojis."
    )
    max_reply_tokens: Annotated[int, Meta(ge=1, le=4096)] = 80
    temperature: Annotated[float, Meta(ge=0.0, le=2.0)] = 0.3
    max_history_messages: Annotated[int, Meta(ge=0, le=1000)] = 12
    """Older messages are dropped from the prompt (the system prompt always stays)."""


class TtsSettings(_RemoteSection):
    backend: Backend = "local"
    """``local`` (hibari or Piper in process) or ``openai`` (``POST {base_url}/audio/speech``,
    read as a stream)."""
    voice: str = "embedded:hibari-heart"
    """local: ``embedded:hibari-heart`` (English; about 20 ms a phrase here),
    ``embedded:joe-medium`` (Piper: any language espeak-ng reads; about 100 ms a phrase), a path
    to a Piper ``.onnx`` voice (``.onnx.json`` beside it) or to another hibari voice's ``.onnx``.
    openai: the server's voice name (``alloy``)."""
    model: str = "tts-1"
    """openai: the speech model (``tts-1``, ``gpt-4o-mini-tts``)."""
    response_format: Literal["pcm", "wav"] = "pcm"
    """openai: ``pcm`` (raw 16-bit mono) or ``wav`` (the rate is in its header)."""
    pcm_sample_rate_hz: Annotated[int, Meta(ge=8000, le=96_000)] = 24_000
    """openai: rate of headerless pcm when the server does not name one in an ``X-Sample-Rate``
    or content-type ``rate=`` header: 24000 for OpenAI, 22050 for some Piper servers."""
    fallback_voice: str = "embedded:joe-medium"
    """A local voice (as ``voice`` for local) for what the voice cannot say. openai: it renders
    the greeting and apology when the speech server cannot at start-up, so the gateway still
    starts and can apologise (empty: start-up fails instead). A local hibari voice: it says
    text in another script than English's (empty: that text is not said)."""
    device: Device = "auto"
    length_scale: Annotated[float, Meta(gt=0.1, le=5.0)] = 1.0
    """Speaking rate: below 1 is faster. openai: sent as ``speed = 1 / length_scale``."""
    first_clause_min_words: Annotated[int, Meta(ge=0, le=50)] = 1
    """The first clause of a reply is spoken on its own once it has this many words and ends in
    a comma-like mark ("I'm sorry," / "Sure,"), so the caller hears something before the
    sentence is complete. 0 disables."""
    first_phrase_min_words: Annotated[int, Meta(ge=0, le=50)] = 4
    """Without a comma, the reply's first words are spoken on their own before a word that opens
    a phrase (the language's ``phrase_starts``) once they are this many. 0 disables."""


class BargeInSettings(_Section):
    enabled: bool = True
    """Caller speech while the agent talks stops it at once (Twilio ``clear``)."""
    speech_threshold: Fraction = 0.6
    """Silero probability a window needs to count towards a barge-in: stricter than
    ``vad.speech_threshold``, so line echo and noise do not cut the agent off."""
    min_speech_ms: PositiveMs = 180
    """Confident speech needed before the agent stops (in 32 ms VAD windows: 180 is 6): longer
    than a click, a cough or an "mm" (a 100 ms scrap of speech scores 5 windows), short enough
    that ``clear`` goes out within about 300 ms of a voiced start. Shorter sounds that still end
    up as a turn while the agent talks are taken as backchannel and not answered."""
    cut_marker: str = ""
    """Appended to the heard part of a cut reply in the history, so the model can tell it was
    cut off (``"..."``). Empty by default: the embedded 135M model copies any marker into its
    own later replies (seen with both a dash and an ellipsis); larger models use it well."""
    false_interruption: Literal["resume", "repeat", "ignore"] = "resume"
    """When the speech that cut the agent off turns out to hold no words: ``resume`` says again
    the cut sentence and the rest that was ready, ``repeat`` only the cut sentence, ``ignore``
    nothing."""


class DtmfSettings(_Section):
    to_conversation: bool = True
    """Keypad digits become a caller turn the model sees ("The caller pressed 1 2 3.")."""
    gather_ms: Annotated[int, Meta(ge=100, le=60_000)] = 1500
    """Digits pressed within this time of each other are one entry."""
    submit_digit: Literal["", "#", "*"] = "#"
    """Ends an entry at once (and is not part of it)."""
    hangup_digit: Literal["", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "#", "*"] = ""
    """Pressing it ends the call (closes the media stream). Empty: none."""


class CallSettings(_Section):
    greeting: str = "Hello! How can I help you today?"
    """Spoken when a call starts; empty for none."""
    apology: str = "Sorry, I had a problem answering that. Could you say it again?"
    """Spoken when a stage fails during a reply."""
    busy_message: str = "Sorry, all our lines are busy right now. Please call again later."
    """Said (by Twilio's ``<Say>``) to a caller turned away at ``server.max_calls``."""
    playout_lead_ms: Annotated[int, Meta(ge=20, le=60_000)] = 400
    """How far ahead of real time reply audio is sent to Twilio. Small keeps barge-in crisp."""
    stage_timeout_ms: Annotated[int, Meta(ge=100, le=600_000)] = 15_000
    """Longest wait for any one result of a stage (a transcript, the next token, the next audio
    chunk); past it the reply fails and the caller hears the apology, instead of silence."""
    fillers: list[str] = msgspec.field(default_factory=lambda: ["Okay.", "Sure.", "Right."])
    """Short acknowledgements, synthesized once at start-up, said when an answer is not ready
    in time (taken in turn). Empty: never."""
    filler_after_ms: PositiveMs = 300
    """A turn is over but its answer has no audio yet this long after: say a filler first, so
    the caller is not left in silence, unless the line has had any sound since the caller's
    speech ended (they may be going on), or the turn before had one (twice in a row sounds
    mechanical). A rescue for a late answer, not the start of every turn: an answer is usually
    ready 100-300 ms after the turn ends. 0 disables fillers."""
    max_call_s: Annotated[float, Meta(gt=0, le=86_400)] = 3600.0
    """A call is ended (close 1000) after this long, whatever it is doing
    (``voicegw_calls_dropped_total{reason="max_call_length"}``)."""
    keypad: str = "The caller pressed {digits} on the keypad."
    """What the model reads when the caller keys digits (``dtmf.to_conversation``): a template,
    ``{digits}`` is the digits pressed ("1 2 3")."""


class LanguageSettings(_Section):
    """``[languages.<code>]``: what a call in that language says and hears. Every key is
    optional; an absent one is the ``[call]`` (or ``llm``) one. A call's language is the one
    forced for it (the webhook's ``language`` parameter), else ``stt.language``, else (with
    ``"auto"``) the one Whisper detects on its first turn."""

    greeting: str | None = None
    apology: str | None = None
    fillers: list[str] | None = None
    busy_message: str | None = None
    keypad: str | None = None
    system_prompt: str | None = None
    """The LLM's system prompt for calls in this language."""
    tts_voice: str | None = None
    """The voice that speaks this language: with ``tts.backend = "local"`` a Piper ``.onnx``
    path (or ``embedded:`` name), with ``"openai"`` the server's voice name. Absent: the
    default ``tts.voice`` (a warning at start-up says so)."""


class MetricsSettings(_Section):
    turn_log_path: str = ""
    """When set, every turn's latency record is appended to this file as one JSON line."""


class RecordsSettings(_Section):
    path: str = "~/.local/state/voicegw/calls.sqlite3"
    """The SQLite file every call and its turns are kept in (``voicegw calls`` reads it); ""
    keeps no records. What was said follows ``log.transcripts``; no audio is ever kept."""
    retention_days: Annotated[int, Meta(ge=0, le=36_500)] = 30
    """Calls older than this are deleted, at start-up and hourly; 0 keeps them for ever."""


class LogSettings(_Section):
    transcripts: Literal["full", "redacted", "off"] = "redacted"
    """What the turn log lines and the JSON turn log say of what was said: ``full`` the words,
    ``redacted`` only their length ("[5 words, 27 chars]"), ``off`` nothing (the JSON keys stay,
    empty)."""


class ModelsSettings(_Section):
    cache_dir: str = "~/.cache/voicegw"
    """Where embedded models are materialised (joined, verified) once."""


class LabSettings(_Section):
    pages: Literal["auto", "on", "off"] = "auto"
    """The browser pages (``GET /``: talk to the agent from a microphone; ``GET /calls``: the
    call records). ``auto``: served only when ``server.host`` is a loopback address, as they
    take calls without Twilio's signature and show what callers said."""


class Settings(_Section):
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    twilio: TwilioSettings = msgspec.field(default_factory=TwilioSettings)
    vad: VadSettings = msgspec.field(default_factory=VadSettings)
    turn: TurnSettings = msgspec.field(default_factory=TurnSettings)
    stt: SttSettings = msgspec.field(default_factory=SttSettings)
    llm: LlmSettings = msgspec.field(default_factory=LlmSettings)
    tts: TtsSettings = msgspec.field(default_factory=TtsSettings)
    barge_in: BargeInSettings = msgspec.field(default_factory=BargeInSettings)
    dtmf: DtmfSettings = msgspec.field(default_factory=DtmfSettings)
    call: CallSettings = msgspec.field(default_factory=CallSettings)
    metrics: MetricsSettings = msgspec.field(default_factory=MetricsSettings)
    records: RecordsSettings = msgspec.field(default_factory=RecordsSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    models: ModelsSettings = msgspec.field(default_factory=ModelsSettings)
    lab: LabSettings = msgspec.field(default_factory=LabSettings)
    tools: ToolsSettings = msgspec.field(default_factory=ToolsSettings)
    transfer: TransferSettings = msgspec.field(default_factory=TransferSettings)
    languages: dict[str, LanguageSettings] = msgspec.field(default_factory=dict)
    """Per-language phrases, prompt and voice, by Whisper code: ``[languages.ko]``."""

    def __post_init__(self) -> None:
        _check_languages(self)
        if self.vad.silence_threshold > self.vad.speech_threshold:
            raise ValueError(
                "vad.silence_threshold must not exceed vad.speech_threshold "
                f"({self.vad.silence_threshold} > {self.vad.speech_threshold})"
            )
        if self.barge_in.speech_threshold < self.vad.silence_threshold:
            raise ValueError("barge_in.speech_threshold must be >= vad.silence_threshold")
        if self.dtmf.hangup_digit and self.dtmf.hangup_digit == self.dtmf.submit_digit:
            raise ValueError("dtmf.hangup_digit must differ from dtmf.submit_digit")
        if self.turn.incomplete_end_silence_ms < self.turn.end_silence_ms:
            raise ValueError("turn.incomplete_end_silence_ms must be >= turn.end_silence_ms")
        if not (
            self.turn.sure_end_silence_ms
            <= self.turn.doubtful_end_silence_ms
            <= self.turn.incomplete_end_silence_ms
        ):
            raise ValueError(
                "turn.doubtful_end_silence_ms must lie between turn.sure_end_silence_ms and "
                "turn.incomplete_end_silence_ms"
            )
        if self.turn.unsure_end_probability > self.turn.sure_end_probability:
            raise ValueError("turn.unsure_end_probability must be <= turn.sure_end_probability")
        for section in ("stt", "llm", "tts"):
            stage = getattr(self, section)
            if stage.backend != "openai":
                continue
            if not stage.base_url:
                raise ValueError(f"{section}.base_url: required when {section}.backend = 'openai'")
            name_key = "voice" if section == "tts" else "model"
            if getattr(stage, name_key).startswith("embedded:"):
                raise ValueError(
                    f"{section}.{name_key}: name the server's {name_key} when "
                    f"{section}.backend = 'openai' (embedded: models are local)"
                )


def _check_languages(settings: Settings) -> None:
    language = settings.stt.language
    if language not in ("", "auto") and language not in WHISPER_CODES:
        raise ValueError(f"stt.language: unknown language {language!r} (a Whisper code or 'auto')")
    for code in settings.stt.detect_languages:
        if code not in WHISPER_CODES:
            raise ValueError(f"stt.detect_languages: unknown language {code!r} (a Whisper code)")
    templates = {"call.keypad": settings.call.keypad}
    for code, table in settings.languages.items():
        if code not in WHISPER_CODES:
            raise ValueError(f"languages.{code}: unknown language code (Whisper's, e.g. 'ko')")
        if table.keypad is not None:
            templates[f"languages.{code}.keypad"] = table.keypad
    for key, template in templates.items():
        try:
            template.format(digits="1 2")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(f"{key}: a template with {{digits}} only ({error!r})") from None


_PATH_RE = re.compile(r"`\$\.?([^`]*)`")
_UNKNOWN_RE = re.compile(r"unknown field `([^`]+)`")


def _explain(error: msgspec.ValidationError) -> str:
    """Turn msgspec's message into one line that starts with the dotted key."""
    text = str(error)
    message, _, where = text.partition(" - at ")
    path_match = _PATH_RE.search(where)
    path = path_match.group(1) if path_match else ""
    unknown = _UNKNOWN_RE.search(message)
    if unknown:
        key = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
        return f"{key}: unknown key"
    if not path:
        return message
    return f"{path}: {message}"


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    overrides: dict[str, dict[str, Any]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        try:
            value: Any = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        overrides.setdefault(section, {})[key] = value
    return overrides


def _merge(base: dict[str, Any], overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    merged = {section: dict(values) for section, values in base.items()}
    for section, values in overrides.items():
        target = merged.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{section}: must be a table, got {type(target).__name__}")
        target.update(values)
    return merged


def _check_language_tables(tables: Mapping[str, Any]) -> None:
    """Each ``[languages.<code>]`` on its own, so that an error names the language (msgspec
    writes ``languages[...]``)."""
    for code, table in tables.items():
        try:
            msgspec.convert(table, LanguageSettings)
        except msgspec.ValidationError as exc:
            has_key = " - at `$." in str(exc) or _UNKNOWN_RE.search(str(exc))
            message = _explain(exc)
            raise ConfigError(f"languages.{code}{'.' if has_key else ': '}{message}") from None


CONFIG_ENV = "VOICEGW_CONFIG"


def config_file(path: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The file ``voicegw serve [--config PATH]`` reads: ``path``, else ``$VOICEGW_CONFIG``,
    else ``./config.toml`` where there is one, else none (the built-in defaults)."""
    if path is not None:
        return path
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    default = Path("config.toml")
    return default if default.is_file() else None


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (if given), apply ``VOICEGW_*`` overrides, and validate everything."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    merged = _merge(raw, _env_overrides(os.environ if environ is None else environ))
    _check_language_tables(merged.get("languages", {}))
    try:
        return msgspec.convert(merged, Settings)
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(exc)) from None
