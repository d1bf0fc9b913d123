"""What the handlers need from the process: settings, metrics and (once loaded) the engines."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.admission import Admission
from gateway.engines import Engines, load_engines_sync
from gateway.llm.base import ChatMessage
from gateway.memory import release_freed_memory
from gateway.metrics import GatewayMetrics
from gateway.pipeline.caller_context import CallerContext
from gateway.pipeline.profiles import all_profiles
from gateway.settings import Settings
from gateway.tools.setup import build_toolbox, tool_phrases
from gateway.tools.toolbox import Toolbox
from gateway.twilio.rejects import RateLimitedLog
from gateway.twilio.stream_token import StreamTokens

log = logging.getLogger("voicegw")


@dataclass(frozen=True)
class CallStarted:
    caller: CallerContext
    """Who called whom (the call sid, and From and To where the webhook passed them)."""
    stream_sid: str
    language: str
    """The call's language if known at its start (forced or fixed), else ""."""
    started_at: float = field(default_factory=time.time)
    """Unix time."""


@dataclass(frozen=True)
class CallEnded:
    call_sid: str
    reason: str
    tasks_left: int
    """Tasks of the call still running after the cancellation grace period (should be 0)."""
    history: tuple[ChatMessage, ...] = ()
    """The conversation as the model would see it next: what the caller said and heard."""
    language: str = ""
    """The call's language at its end ("" if never known)."""
    dropped: str = ""
    """Why the gateway ended the call itself (``voicegw_calls_dropped_total``'s reason), if it
    did: ``reason`` then says more."""


def _stages(engines: Engines) -> list[tuple[str, object]]:
    """Every stage by name, the languages' voices too (for the remote stages' error counts)."""
    main = ("stt", engines.transcriber), ("llm", engines.chat), ("tts", engines.synthesizer)
    return [*main, *(("tts", voice) for voice in engines.voices.values())]


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
        self.stream_tokens = StreamTokens(self.auth_token) if self.auth_token else None
        """With signatures on, each media socket needs its call's token from the webhook."""
        """Twilio auth token; empty: signatures are not checked (local testing)."""
        self.signature_log = RateLimitedLog(logging.getLogger("voicegw.twilio"))
        """Forged or missing signatures: a line a minute at most (each one is counted)."""
        self.call_started_listeners: list[Callable[[CallStarted], None]] = []
        self.call_ended_listeners: list[Callable[[CallEnded], None]] = []
        """Observers of calls starting and finished (call records, tests, soak harnesses); each
        must return at once."""
        self.admission = Admission(settings.server.max_calls)
        metrics.max_calls.set(settings.server.max_calls)
        self.toolbox: Toolbox | None = build_toolbox(settings, self.auth_token)
        """The tools and actions the agent may call (None: none are on)."""

    def call_started(self, event: CallStarted) -> None:
        for listener in self.call_started_listeners:
            listener(event)

    def call_ended(self, event: CallEnded) -> None:
        for listener in self.call_ended_listeners:
            listener(event)
        release_freed_memory()

    async def load(self) -> None:
        """Load the engines (unless handed in) and pre-render greeting, apology and fillers,
        in every configured language."""
        try:
            engines = self._handed_in
            if engines is None:
                engines = await asyncio.to_thread(load_engines_sync, self.settings)
            for profile in all_profiles(self.settings):  # the default, and each language's
                await engines.phrases.prepare(
                    profile.greeting, profile.apology, *profile.fillers, voice=profile.voice
                )
                if self.toolbox is not None:
                    await engines.phrases.prepare(*tool_phrases(self.settings), voice=profile.voice)
        except Exception as error:
            self.load_error = f"{type(error).__name__}: {error}"
            log.exception("loading models failed")
            raise
        self.engines = engines
        self.metrics.watch_engines(engines.gate_stats, engines.gates)
        self.metrics.watch_backends(lambda: _stages(engines))
        for line in engines.describe():
            log.info("ready: %s", line)
