"""One pooled HTTP client per remote stage, and the one error a remote stage raises.

Every failure of an OpenAI-compatible server (down, too slow, an error answer, a stream cut
short) becomes :class:`BackendError`, whose message names the stage and the reason: the reply
turns it into the apology and the turn record keeps the message. Only what cannot have reached
the model is retried: connection failures (by the transport) and 502/503/504 answers, both
before any of the answer was read.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx

from gateway.settings import ConfigError

log = logging.getLogger("voicegw.http")
RETRY_STATUSES = frozenset({502, 503, 504})
RETRY_DELAY_S = 0.2
"""Pause before re-sending after a 502/503/504 (a proxy or a server between restarts)."""
ERROR_BODY_CHARS = 300


class BackendError(RuntimeError):
    """A remote stage failed; the message says which stage and why (never the API key)."""


class RemoteSettings(Protocol):
    """The keys every remote stage has (see ``_RemoteSection`` in settings)."""

    @property
    def base_url(self) -> str: ...
    @property
    def api_key_env(self) -> str: ...
    @property
    def connect_timeout_ms(self) -> int: ...
    @property
    def read_timeout_ms(self) -> int: ...
    @property
    def retries(self) -> int: ...


def api_key(section: str, env_name: str) -> str:
    """The key from the environment variable named in config ('' when none is named)."""
    if not env_name:
        return ""
    key = os.environ.get(env_name, "")
    if not key:
        raise ConfigError(f"{section}.api_key_env: environment variable {env_name} is not set")
    return key


class ApiClient:
    """A stage's connection pool to one server, with its timeouts and key."""

    def __init__(self, stage: str, settings: RemoteSettings) -> None:
        self.stage = stage
        self.base_url = settings.base_url.rstrip("/")
        key = api_key(stage, settings.api_key_env)
        self._key = key
        self._retries = settings.retries
        self._timeout = httpx.Timeout(
            settings.read_timeout_ms / 1000, connect=settings.connect_timeout_ms / 1000
        )
        self._client = httpx.AsyncClient(
            base_url=self.base_url + "/",
            headers={"Authorization": f"Bearer {key}"} if key else {},
            timeout=self._timeout,
            transport=httpx.AsyncHTTPTransport(retries=settings.retries),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    @asynccontextmanager
    async def stream(self, path: str, **request: Any) -> AsyncIterator[httpx.Response]:
        """POST to ``path`` and hand over the successful response with its body unread.

        Reading the body inside the block is covered too: a timeout or a cut connection there
        is a :class:`BackendError`. Leaving the block early closes the connection, which tells
        a streaming server to stop.
        """
        url = f"{self.base_url}/{path}"
        try:
            response = await self._send(self._client.build_request("POST", path, **request))
            try:
                if response.is_error:
                    await response.aread()
                    raise BackendError(
                        f"{self.stage}: {url} answered HTTP {response.status_code}: "
                        f"{self._redacted(response.text)[:ERROR_BODY_CHARS]}"
                    )
                yield response
            finally:
                await response.aclose()
        except httpx.TimeoutException as error:
            limits = f"connect {self._timeout.connect:g} s, read {self._timeout.read:g} s"
            raise BackendError(
                f"{self.stage}: {url} timed out ({type(error).__name__}; {limits})"
            ) from error
        except httpx.HTTPError as error:
            reason = f"{type(error).__name__}: {error}"
            raise BackendError(f"{self.stage}: {url} failed: {reason}") from error

    def _redacted(self, text: str) -> str:
        """Error bodies end up in logs and turn records; some servers quote the key back."""
        return text.replace(self._key, "[api key]") if self._key else text

    async def _send(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            response = await self._client.send(request, stream=True)
            if response.status_code not in RETRY_STATUSES or attempt >= self._retries:
                return response
            await response.aclose()
            attempt += 1
            log.warning(
                "%s: %s answered %d, retrying (%d/%d)",
                self.stage,
                request.url,
                response.status_code,
                attempt,
                self._retries,
            )
            await asyncio.sleep(RETRY_DELAY_S * attempt)
