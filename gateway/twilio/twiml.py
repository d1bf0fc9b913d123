"""TwiML for the voice webhook (connect the call to our bidirectional media stream), and for
what follows the stream (a transfer's ``<Dial>``, or ``<Hangup/>``)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

MEDIA_PATH = "/twilio/media"
AFTER_STREAM_PATH = "/twilio/after-stream"
"""``<Connect action>``: Twilio requests it when the stream ends, and runs the TwiML it gets."""
_XML = '<?xml version="1.0" encoding="UTF-8"?>'


def stream_url(public_url: str, request_host: str) -> str:
    """``wss://HOST/twilio/media`` from the configured public URL, else the request's Host.

    Twilio only connects streams over ``wss``; a path prefix in the public URL is kept, so the
    gateway can live behind a proxy under a sub-path.
    """
    if public_url:
        parts = urlsplit(public_url if "://" in public_url else f"https://{public_url}")
        return f"wss://{parts.netloc}{parts.path.rstrip('/')}{MEDIA_PATH}"
    return f"wss://{request_host}{MEDIA_PATH}"


def after_stream_url(public_url: str, request_host: str) -> str:
    """``https://HOST/twilio/after-stream``, from the public URL as :func:`stream_url` is."""
    if public_url:
        parts = urlsplit(public_url if "://" in public_url else f"https://{public_url}")
        return f"https://{parts.netloc}{parts.path.rstrip('/')}{AFTER_STREAM_PATH}"
    return f"https://{request_host}{AFTER_STREAM_PATH}"


def connect_stream(url: str, parameters: Mapping[str, str] | None = None, action: str = "") -> str:
    """``<Response><Connect><Stream url=...>`` with optional ``<Parameter>`` children; with an
    ``action``, Twilio requests it when the stream ends (the gateway's transfers)."""
    children = "".join(
        f"<Parameter name={quoteattr(name)} value={quoteattr(value)}/>"
        for name, value in (parameters or {}).items()
    )
    connect = f"<Connect action={quoteattr(action)}>" if action else "<Connect>"
    return (
        f"{_XML}<Response>{connect}<Stream url={quoteattr(url)}>{children}</Stream>"
        "</Connect></Response>"
    )


def dial(target: str) -> str:
    """Hand the call to a phone number (E.164) or a SIP URI."""
    inner = f"<Sip>{escape(target)}</Sip>" if target.startswith("sip") else escape(target)
    return f"{_XML}<Response><Dial>{inner}</Dial></Response>"


def hang_up() -> str:
    return f"{_XML}<Response><Hangup/></Response>"


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
