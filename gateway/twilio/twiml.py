"""TwiML for the voice webhook: connect the call to our bidirectional media stream."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

MEDIA_PATH = "/twilio/media"


def stream_url(public_url: str, request_host: str) -> str:
    """``wss://HOST/twilio/media`` from the configured public URL, else the request's Host.

    Twilio only connects streams over ``wss``; a path prefix in the public URL is kept, so the
    gateway can live behind a proxy under a sub-path.
    """
    if public_url:
        parts = urlsplit(public_url if "://" in public_url else f"https://{public_url}")
        return f"wss://{parts.netloc}{parts.path.rstrip('/')}{MEDIA_PATH}"
    return f"wss://{request_host}{MEDIA_PATH}"


def connect_stream(url: str, parameters: Mapping[str, str] | None = None) -> str:
    """``<Response><Connect><Stream url=...>`` with optional ``<Parameter>`` children."""
    children = "".join(
        f"<Parameter name={quoteattr(name)} value={quoteattr(value)}/>"
        for name, value in (parameters or {}).items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Connect><Stream url={quoteattr(url)}>{children}</Stream></Connect></Response>"
    )


SAY_LANGUAGES = {
    "en": "en-US", "ko": "ko-KR", "ja": "ja-JP", "zh": "zh-CN", "de": "de-DE", "fr": "fr-FR",
    "es": "es-ES", "ru": "ru-RU", "it": "it-IT", "pt": "pt-BR", "nl": "nl-NL", "pl": "pl-PL",
}  # fmt: skip
"""Whisper code -> the locale Twilio's ``<Say language>`` takes."""


def say_and_hang_up(message: str, language: str = "") -> str:
    """A short message in Twilio's own voice, then the call ends (the busy answer). A
    ``language`` (Whisper code) Twilio speaks is named, so it reads the message in it."""
    locale = SAY_LANGUAGES.get(language)
    attribute = f" language={quoteattr(locale)}" if locale else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Say{attribute}>{escape(message)}</Say><Hangup/></Response>"
    )


def reject_busy() -> str:
    """Decline the call unanswered: the caller hears a busy tone, and nobody is billed."""
    return '<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="busy"/></Response>'
