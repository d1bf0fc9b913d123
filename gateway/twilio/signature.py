"""X-Twilio-Signature: HMAC-SHA1 over the public URL and the sorted POST parameters.

Written against Twilio's security documentation and its published test vector (see the unit
test) rather than pulling in the ``twilio`` SDK and its HTTP stack for ten lines of stdlib.
Twilio's own validator also accepts the URL with the default port added or removed; so do we,
because proxies differ in whether they keep it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

DEFAULT_PORTS = {"https": 443, "wss": 443, "http": 80, "ws": 80}


def compute(auth_token: str, url: str, params: Mapping[str, str] | None = None) -> str:
    payload = url + "".join(name + value for name, value in sorted((params or {}).items()))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> Iterable[str]:
    parts = urlsplit(url)
    yield url
    default = DEFAULT_PORTS.get(parts.scheme)
    if default is None or parts.hostname is None:
        return
    if parts.port is None:
        yield urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}"))
    elif parts.port == default:
        yield urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0]))


def is_valid(
    auth_token: str, signature: str, url: str, params: Mapping[str, str] | None = None
) -> bool:
    """Whether ``signature`` (the header as the client sent it: any text) signs the request.

    Compared as bytes: ``hmac.compare_digest`` raises on a ``str`` with non-ASCII characters,
    and the header is the unauthenticated client's to choose."""
    given = signature.encode("utf-8", "surrogateescape")
    return any(
        hmac.compare_digest(compute(auth_token, variant, params).encode(), given)
        for variant in _url_variants(url)
    )
