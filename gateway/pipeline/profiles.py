"""What a call says, and in which voice, by the call's language.

The ``[call]`` phrases, ``llm.system_prompt`` and ``tts.voice`` are the default; a
``[languages.<code>]`` table overrides any of them for calls in that language. A call's language
is forced (the webhook's ``language`` parameter, which reaches the media stream as a custom
parameter), else ``stt.language``, else (``"auto"``) detected on the call's first turn.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.languages import whisper_code
from gateway.pipeline.phrases import DEFAULT_VOICE
from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class LanguageProfile:
    code: str
    """The Whisper code, or "" for the default (no ``[languages]`` table applies)."""
    greeting: str
    apology: str
    fillers: tuple[str, ...]
    busy_message: str
    keypad: str
    """A template: ``{digits}`` is the digits pressed."""
    system_prompt: str
    voice: str
    """The voice that speaks it: a ``tts_voice`` spec, or ``DEFAULT_VOICE``."""


def fixed_language(settings: Settings) -> str | None:
    """``stt.language`` when it names one; None for ``"auto"`` (or empty): detect per call."""
    language = settings.stt.language
    return None if language in ("", "auto") else language


LANGUAGE_PARAMETER_CHARS = 32


def requested_language(value: str | None) -> str:
    """The Whisper code a call was asked to be in (the webhook's ``language`` query parameter or
    form field, the stream's ``language`` custom parameter): a code, tag or name; empty when
    absent or when it names no language Whisper knows (then it is ignored)."""
    if not value:
        return ""
    return whisper_code(value[:LANGUAGE_PARAMETER_CHARS])


def call_language(settings: Settings, forced: str = "") -> str | None:
    """A new call's language: ``forced`` (a code, tag or name; ignored when it names no language
    Whisper knows), else ``stt.language``; None: to be detected on its first turn."""
    return (whisper_code(forced) if forced else "") or fixed_language(settings)


def profile_for(settings: Settings, language: str | None) -> LanguageProfile:
    """What a call in ``language`` (a Whisper code; None: not known yet) says."""
    call = settings.call
    table = settings.languages.get(language) if language else None
    if table is None:
        return LanguageProfile(
            code="",
            greeting=call.greeting,
            apology=call.apology,
            fillers=tuple(call.fillers),
            busy_message=call.busy_message,
            keypad=call.keypad,
            system_prompt=settings.llm.system_prompt,
            voice=DEFAULT_VOICE,
        )
    assert language is not None
    return LanguageProfile(
        code=language,
        greeting=call.greeting if table.greeting is None else table.greeting,
        apology=call.apology if table.apology is None else table.apology,
        fillers=tuple(call.fillers if table.fillers is None else table.fillers),
        busy_message=call.busy_message if table.busy_message is None else table.busy_message,
        keypad=call.keypad if table.keypad is None else table.keypad,
        system_prompt=(
            settings.llm.system_prompt if table.system_prompt is None else table.system_prompt
        ),
        voice=table.tts_voice or DEFAULT_VOICE,
    )


def all_profiles(settings: Settings) -> list[LanguageProfile]:
    """The default profile and one per ``[languages]`` table (their phrases are rendered at
    start-up)."""
    return [profile_for(settings, None), *(profile_for(settings, c) for c in settings.languages)]
