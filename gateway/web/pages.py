"""The browser pages and their routes, served only where they are meant to be (``lab.pages``).

On a loopback address (a laptop, a lab machine) they are on by default; on any other they are
off unless asked for, as the talk socket takes calls that Twilio's signature does not guard and
the calls page shows what callers said. Off, their routes are not registered at all: 404.
"""

from __future__ import annotations

from pathlib import Path

from litestar import get
from litestar.response import File
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from gateway.addresses import is_loopback
from gateway.settings import Settings
from gateway.web.calls import one_call, recent_calls
from gateway.web.talk import talk_socket

STATIC = Path(__file__).parent / "static"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; media-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
"""The pages run only their own scripts, fetch and connect only to this gateway, and cannot be
framed: words a caller said are never markup, and this stops them acting if they ever were."""


def pages_enabled(settings: Settings) -> bool:
    mode = settings.lab.pages
    return mode == "on" or (mode == "auto" and is_loopback(settings.server.host))


def _page(name: str) -> File:
    return File(
        STATIC / name,
        content_disposition_type="inline",
        media_type="text/html; charset=utf-8",
        headers={"content-security-policy": CONTENT_SECURITY_POLICY},
    )


@get("/", sync_to_thread=False)
def talk_page() -> File:
    """Talk to the agent from the microphone; each turn's waterfall is drawn as it happens."""
    return _page("talk.html")


@get("/calls", sync_to_thread=False)
def calls_page() -> File:
    """The recent calls from the records, each turn with its waterfall."""
    return _page("calls.html")


def web_routes(settings: Settings) -> list[ControllerRouterHandler]:
    if not pages_enabled(settings):
        return []
    static = create_static_files_router("/static", [STATIC], name="web-static")
    return [talk_page, calls_page, recent_calls, one_call, talk_socket, static]
