"""A stream's rejected frames: every one counted, the first of each kind logged.

A client that sends thousands of bad frames must not become thousands of log lines (the log is a
resource too), yet the reason has to be in the log once. The rest are summed up when the call ends.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable


class RejectLog:
    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self.counts: Counter[str] = Counter()

    def reject(self, stream: str, problem: str, detail: str) -> None:
        self.counts[problem] += 1
        if self.counts[problem] == 1:
            self._log.warning("stream=%s rejected frame (%s): %s", stream, problem, detail[:200])

    def summary(self) -> str:
        """``""`` when nothing was rejected, else ``"N frames: kind=n ..."``."""
        if not self.counts:
            return ""
        kinds = " ".join(f"{kind}={count}" for kind, count in sorted(self.counts.items()))
        return f"{self.counts.total()} frames: {kinds}"


class RateLimitedLog:
    """Warnings about requests from anyone (forged signatures): the first line at once, then at
    most one per ``interval_s``, saying how many were left out since. Counting is the metrics'
    job; the log only has to show that it happens, and from where."""

    def __init__(
        self,
        logger: logging.Logger,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._interval_s = interval_s
        self._clock = clock
        self._next_at = float("-inf")
        self.suppressed = 0

    def warning(self, message: str, *args: object) -> None:
        now = self._clock()
        if now < self._next_at:
            self.suppressed += 1
            return
        if self.suppressed:
            message += f" (and {self.suppressed} more in the last {self._interval_s:g} s)"
        self._log.warning(message, *args)
        self._next_at = now + self._interval_s
        self.suppressed = 0
