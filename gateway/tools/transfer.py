"""Handing a call to a person: what ``/twilio/after-stream`` answers, or Twilio's REST API.

``connect_action`` (the default, no credentials): the call's target is held here by CallSid when
the gateway ends the stream; Twilio then requests the ``<Connect>`` action and gets ``<Dial>``.
Held targets are bounded in number and expire: a call whose action never comes leaves nothing.

``rest``: ``POST {base}/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`` with
``Twiml=<Response><Dial>...`` and basic auth (account SID, auth token), which replaces what the
call is doing, the stream included.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable

import httpx

from gateway.twilio import twiml

HOLD_S = 120.0
"""How long a held transfer waits for Twilio's action request."""
MAX_HELD = 10_000
CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
ACCOUNT_SID = re.compile(r"^AC[0-9a-f]{32}$")


class PendingTransfers:
    """CallSid -> the target ``/twilio/after-stream`` dials; each is taken once."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._held: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._clock = clock

    def hold(self, call_sid: str, target: str) -> None:
        self._expire()
        self._held[call_sid] = (target, self._clock() + HOLD_S)
        while len(self._held) > MAX_HELD:
            self._held.popitem(last=False)

    def take(self, call_sid: str) -> str | None:
        self._expire()
        held = self._held.pop(call_sid, None)
        return held[0] if held else None

    def _expire(self) -> None:
        now = self._clock()
        while self._held and next(iter(self._held.values()))[1] < now:
            self._held.popitem(last=False)


class TransferFailed(RuntimeError):
    pass


class TwilioRest:
    """Updates a live call with new TwiML (the ``rest`` transfer method)."""

    def __init__(
        self, client: httpx.AsyncClient, base_url: str, account_sid: str, auth_token: str
    ) -> None:
        if not ACCOUNT_SID.match(account_sid):
            raise ValueError("transfer.account_sid_env: not an account SID (AC + 32 hex)")
        if not auth_token:
            raise ValueError(
                "transfer.method = 'rest' needs the auth token (twilio.auth_token_env)"
            )
        self._client = client
        self._base = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._account_sid = account_sid

    async def redirect(self, call_sid: str, response_twiml: str, timeout_s: float) -> None:
        if not CALL_SID.match(call_sid):
            raise TransferFailed("not a call SID")
        url = f"{self._base}/2010-04-01/Accounts/{self._account_sid}/Calls/{call_sid}.json"
        try:
            answer = await self._client.post(
                url, data={"Twiml": response_twiml}, auth=self._auth, timeout=timeout_s
            )
        except httpx.HTTPError as error:
            raise TransferFailed(f"{type(error).__name__}") from None
        if not 200 <= answer.status_code < 300:
            raise TransferFailed(f"HTTP {answer.status_code}")

    async def dial(self, call_sid: str, target: str, timeout_s: float) -> None:
        await self.redirect(call_sid, twiml.dial(target), timeout_s)

    async def aclose(self) -> None:
        await self._client.aclose()
