"""One pooled HTTP client per remote stage, and the one error a remote stage raises.

Every failure of an OpenAI-compatible server (down, too slow, an error answer, a stream cut
short) becomes :class:`BackendError`, whose message names the stage and the reason: the reply
turns it into the apology and the turn record keeps the message. Only what cannot have reached
the model is retried: connection failures (by the transport) and 502/503/504 answers, both
before any of the answer was read.

What a server sends is checked before it is used: the content type and shape each stage expects
(an event stream, audio, a JSON transcript), and at most ``max_response_bytes`` of it. Anything
else is a :class:`BackendError` too (an HTML error page from a proxy is not a reply), counted by
stage and reason in ``voicegw_backend_errors_total``. Error bodies quoted in messages are cut
short and stripped of anything that looks like a key.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx

from gateway.settings import ConfigError

log = logging.getLogger("voicegw.http")
RETRY_STATUSES = frozenset({502, 503, 504})
RETRY_DELAY_S = 0.2
"""Pause before re-sending after a 502/503/504 (a proxy or a server between restarts)."""
ERROR_BODY_CHARS = 200
"""An error answer's body is quoted in the turn record and the log, this much of it at most..."""
ERROR_BODY_BYTES = 4096
"""...and no more than this is read of it."""

# Reasons, the ``reason`` label of ``voicegw_backend_errors_total``.
HTTP_STATUS = "http_status"
TIMEOUT = "timeout"
CONNECTION = "connection"
CONTENT_TYPE = "content_type"
BAD_ANSWER = "bad_answer"
TOO_LARGE = "too_large"
EMPTY = "empty"
SERVER_ERROR = "server_error"

_SECRETS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+"), r"\1 [redacted]"),
    (
        re.compile(
            r"(?i)\b(api[_-]?key|key|token|secret|password|authorization)(\"?\s*[:=]\s*\"?)"
            r"[^\s\"',;&}]+"
        ),
        r"\1\2[redacted]",
    ),
    (re.compile(r"\b(?:sk|pk|rk|hf|gsk|xai|key)[-_][A-Za-z0-9_\-]{12,}"), "[redacted]"),
    (re.compile(r"[A-Za-z0-9_\-+=]{32,}"), "[redacted]"),  # any long opaque token
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def redact(text: str, key: str = "", limit: int = ERROR_BODY_CHARS) -> str:
    """Server text made fit to quote: without the key or anything like one, on one line, cut."""
    if key:
        text = text.replace(key, "[api key]")
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


class BackendError(RuntimeError):
    """A remote stage failed; the message says which stage and why (never the API key).
    ``reason`` is the metrics label (one of the constants above)."""

    def __init__(self, message: str, reason: str = BAD_ANSWER) -> None:
        super().__init__(message)
        self.reason = reason


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
    @property
    def max_response_bytes(self) -> int: ...


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
        self.max_response_bytes = settings.max_response_bytes
        self.errors: Counter[str] = Counter()
        """This stage's failures by reason (read by /metrics)."""
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
        is a :class:`BackendError`, and every :class:`BackendError` that leaves the block (the
        stage's own checks included) is counted. Leaving the block early closes the connection,
        which tells a streaming server to stop.
        """
        try:
            async with self._open(path, **request) as response:
                yield response
        except BackendError as error:
            self.errors[error.reason] += 1
            raise

    @asynccontextmanager
    async def _open(self, path: str, **request: Any) -> AsyncIterator[httpx.Response]:
        url = f"{self.base_url}/{path}"
        try:
            response = await self._send(self._client.build_request("POST", path, **request))
            try:
                if response.is_error:
                    raise BackendError(
                        f"{self.stage}: {url} answered HTTP {response.status_code}: "
                        f"{await self._error_body(response)}",
                        HTTP_STATUS,
                    )
                self.check_size(response)
                yield response
            finally:
                await response.aclose()
        except httpx.TimeoutException as error:
            limits = f"connect {self._timeout.connect:g} s, read {self._timeout.read:g} s"
            raise BackendError(
                f"{self.stage}: {url} timed out ({type(error).__name__}; {limits})", TIMEOUT
            ) from error
        except httpx.HTTPError as error:
            reason = redact(f"{type(error).__name__}: {error}", self._key)
            raise BackendError(f"{self.stage}: {url} failed: {reason}", CONNECTION) from error

    async def _error_body(self, response: httpx.Response) -> str:
        """The start of an error answer, fit to quote: some servers quote the key back."""
        body = b""
        async for piece in response.aiter_bytes():
            body += piece
            if len(body) >= ERROR_BODY_BYTES:
                break
        return redact(body[:ERROR_BODY_BYTES].decode(errors="replace"), self._key)

    def check_size(self, response: httpx.Response) -> None:
        """Fail once an answer has sent (or announces) more than ``max_response_bytes``."""
        announced = response.headers.get("content-length", "")
        read = response.num_bytes_downloaded
        size = max(read, int(announced)) if announced.isdigit() else read
        if size > self.max_response_bytes:
            raise BackendError(
                f"{self.stage}: {response.url} sent over {self.max_response_bytes} bytes",
                TOO_LARGE,
            )

    def check_type(self, response: httpx.Response, wanted: str, *accepted: str) -> str:
        """The answer's media type (lower case, no parameters); one that is not ``accepted``
        (a prefix such as ``audio/`` or a whole type; "" for a missing header) fails."""
        header: str = response.headers.get("content-type", "")
        media_type = header.partition(";")[0].strip().lower()
        if not any(media_type.startswith(a) if a.endswith("/") else media_type == a
                   for a in accepted):  # fmt: skip
            raise BackendError(
                f"{self.stage}: {response.url} answered {media_type or 'no content type'!r}, "
                f"not {wanted}",
                CONTENT_TYPE,
            )
        return media_type

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
