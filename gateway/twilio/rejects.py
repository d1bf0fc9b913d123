"""A stream's rejected frames: every one counted, the first of each kind logged.

A client that sends thousands of bad frames must not become thousands of log lines (the log is a
resource too), yet the reason has to be in the log once. The rest are summed up when the call ends.
"""

from __future__ import annotations

import logging
from collections import Counter


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
