"""A credential for one call's media socket, minted by the signed webhook.

The socket upgrade's ``X-Twilio-Signature`` covers only ``wss://host/twilio/media``: the same for
every call, so one leaked header would open any number of sockets for good. The webhook (whose
signature covers the call's own parameters) therefore hands Twilio a token bound to the CallSid
and good for a short time, as a ``<Parameter>``; Twilio sends it back in the stream's ``start``
(``customParameters``), where it is checked and spent: a token opens one socket, once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

PARAMETER = "voicegwToken"
"""The ``<Parameter>`` (and ``customParameters`` key) that carries the token."""
LIFETIME_S = 60.0
"""Twilio opens the stream within a second or two of the webhook's answer."""


def _mac(secret: str, call_sid: str, expires: int) -> str:
    message = f"voicegw-stream|{call_sid}|{expires}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class StreamTokens:
    """Mints tokens for calls and spends each one once (until it would have expired anyway)."""

    def __init__(self, secret: str, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._clock = clock
        self._spent: dict[str, float] = {}
        """Token -> when it expires; only tokens not yet expired are kept (bounded by the calls
        the signed webhook admitted within one lifetime)."""

    def mint(self, call_sid: str) -> str:
        expires = int(self._clock() + LIFETIME_S)
        return f"{expires}.{_mac(self._secret, call_sid, expires)}"

    def spend(self, token: str, call_sid: str) -> str:
        """Empty when ``token`` admits ``call_sid`` now (and it is spent); else why not."""
        now = self._clock()
        for spent in [t for t, until in self._spent.items() if until < now]:
            del self._spent[spent]
        expires_text, _, mac = token.partition(".")
        if not expires_text.isdigit() or not mac.isascii():
            return "malformed token"
        expires = int(expires_text)
        if not hmac.compare_digest(mac.encode(), _mac(self._secret, call_sid, expires).encode()):
            return "token not for this call"
        if expires < now:
            return "token expired"
        if token in self._spent:
            return "token already used"
        self._spent[token] = expires
        return ""
