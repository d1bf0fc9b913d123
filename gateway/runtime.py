"""What the handlers need from the process: settings, metrics and (once loaded) the engines."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from gateway.admission import Admission
from gateway.engines import Engines, load_engines_sync
from gateway.llm.base import ChatMessage
from gateway.memory import release_freed_memory
from gateway.metrics import GatewayMetrics
from gateway.settings import Settings

log = logging.getLogger("voicegw")


@dataclass(frozen=True)
class CallEnded:
    call_sid: str
    reason: str
    tasks_left: int
    """Tasks of the call still running after the cancellation grace period (should be 0)."""
    history: tuple[ChatMessage, ...] = ()
    """The conversation as the model would see it next: what the caller said and heard."""


class Gateway:
    """A plain class on purpose: Litestar validates injected dataclasses field by field."""

    def __init__(
        self, settings: Settings, metrics: GatewayMetrics, engines: Engines | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._handed_in = engines
        self.engines: Engines | None = None
        """Set once everything is loaded and the fixed phrases are rendered: calls can start."""
        self.load_error = ""
        self.auth_token = os.environ.get(settings.twilio.auth_token_env, "")
        """Twilio auth token; empty: signatures are not checked (local testing)."""
        self.call_ended_listeners: list[Callable[[CallEnded], None]] = []
        """Observers of finished calls (tests, soak harnesses)."""
        self.admission = Admission(settings.server.max_calls)
        metrics.max_calls.set(settings.server.max_calls)

    def call_ended(self, event: CallEnded) -> None:
        for listener in self.call_ended_listeners:
            listener(event)
        release_freed_memory()

    async def load(self) -> None:
        """Load the engines (unless handed in) and pre-render greeting and apology."""
        try:
            engines = self._handed_in
            if engines is None:
                engines = await asyncio.to_thread(load_engines_sync, self.settings)
            call = self.settings.call
            await engines.phrases.prepare(call.greeting, call.apology, *call.fillers)
        except Exception as error:
            self.load_error = f"{type(error).__name__}: {error}"
            log.exception("loading models failed")
            raise
        self.engines = engines
        self.metrics.watch_engines(engines.gate_stats, engines.gates)
        for line in engines.describe():
            log.info("ready: %s", line)
