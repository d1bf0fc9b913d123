"""How many calls the gateway takes at once (``server.max_calls``), and who gets the free places.

A call arrives twice: first Twilio's webhook asks what to do with it, then (a moment later) its
media socket connects. The webhook *reserves* a place for the call's sid, so two webhooks racing
for the last place cannot both be told yes; the socket's ``start`` takes the reservation up. A
socket that comes without one (a test client, a reservation that expired) is admitted only if a
place is free after the reservations still pending. Past the limit the webhook gets the busy
answer and the socket is closed with 1013 (try again later): the calls in progress keep their
speed rather than everyone slowing down.
"""

from __future__ import annotations

import time
from collections.abc import Callable

RESERVATION_S = 30.0
"""How long a place promised by the webhook waits for its media socket."""


class Admission:
    def __init__(self, max_calls: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_calls = max_calls
        self._clock = clock
        self._reserved: dict[str, float] = {}
        """Call sid -> when its reservation lapses. At most ``max_calls`` entries."""
        self._live = 0
        self.draining = False
        """Shutting down: no new calls at all."""

    @property
    def live(self) -> int:
        return self._live

    def _pending(self) -> int:
        now = self._clock()
        for sid in [sid for sid, until in self._reserved.items() if until <= now]:
            del self._reserved[sid]
        return len(self._reserved)

    @property
    def at_capacity(self) -> bool:
        return self.draining or self._live + self._pending() >= self.max_calls

    def reserve(self, call_sid: str) -> bool:
        """The webhook's question: may this call come in? (Reserves its place if so.)"""
        if call_sid in self._reserved and not self.draining:
            return True  # Twilio retried the webhook
        if self.at_capacity:
            return False
        self._reserved[call_sid] = self._clock() + RESERVATION_S
        return True

    def may_connect(self) -> bool:
        """A media socket wants to open: refuse at once if every place is taken by a live call."""
        return not self.draining and self._live < self.max_calls

    def admit(self, call_sid: str) -> bool:
        """The socket's ``start`` names the call: take its reservation, or a free place."""
        if self.draining:
            return False
        if self._reserved.pop(call_sid, None) is None and self.at_capacity:
            return False
        self._live += 1
        return True

    def leave(self) -> None:
        """An admitted call ended."""
        self._live = max(0, self._live - 1)
