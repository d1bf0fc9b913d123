"""The application factory: routes, dependency injection, and model loading in the lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from gateway.engines import Engines
from gateway.metrics import GatewayMetrics
from gateway.records.recorder import start_records
from gateway.routes.health import healthz, metrics, readyz
from gateway.routes.twilio import after_stream, media_stream, voice_webhook
from gateway.runtime import Gateway
from gateway.settings import Settings
from gateway.web.pages import web_routes


def create_app(
    settings: Settings, engines: Engines | None = None, *, owns_engines: bool = False
) -> Litestar:
    """Build the app. With engines handed in, start-up only renders the fixed phrases (well under
    a second) before serving, so the first call is greeted at once; otherwise the engines load in
    the background after start-up, and /readyz answers 503 until they have. At shutdown the app
    closes the engines' connection pools if it loaded them, or ``owns_engines``."""
    turn_metrics = GatewayMetrics(settings.metrics.turn_log_path, settings.log.transcripts)
    gateway = Gateway(settings, turn_metrics, engines)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        records = start_records(gateway)
        if records is not None:
            await records.flush()  # the records file is created or migrated before any call
        loading = asyncio.create_task(gateway.load())
        if engines is not None:
            await loading
        try:
            yield
        finally:
            loading.cancel()
            if records is not None:
                await records.aclose()  # what the calls left queued is written
            if (owns_engines or engines is None) and gateway.engines is not None:
                await gateway.engines.aclose()
            if gateway.toolbox is not None:
                await gateway.toolbox.aclose()

    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            metrics,
            voice_webhook,
            media_stream,
            after_stream,
            *web_routes(settings),
        ],
        dependencies={"gateway": Provide(lambda: gateway, sync_to_thread=False)},
        lifespan=[lifespan],
        logging_config=None,
    )
    app.state.gateway = gateway  # for embedding programs and tests; handlers use injection
    return app
