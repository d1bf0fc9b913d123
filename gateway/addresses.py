"""What a listening address exposes: the checks that differ between loopback and the world.

``voicegw serve`` refuses unsigned calls on a public address, and the browser pages are off
there by default; both ask the same question here.
"""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and "localhost"; a name, "" and 0.0.0.0 are not."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
