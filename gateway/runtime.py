"""What the handlers need from the process: settings, metrics and (once loaded) the engines."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from gateway.engines import Engines, load_engines
from gateway.metrics import GatewayMetrics
from gateway.settings import Settings

log = logging.getLogger("voicegw")


@dataclass
class Gateway:
    settings: Settings
    metrics: GatewayMetrics
    engines: Engines | None = None
    load_error: str = ""
    _loaded: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ready(self) -> bool:
        return self.engines is not None

    async def load(self) -> None:
        """Load the engines unless they were handed in; /readyz says 503 until this is done."""
        if self.engines is None:
            try:
                self.engines = await load_engines(self.settings)
            except Exception as error:
                self.load_error = f"{type(error).__name__}: {error}"
                log.exception("loading models failed")
                raise
            for line in self.engines.describe():
                log.info("loaded %s", line)
        self._loaded.set()
