"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.runtime import Gateway


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is up and serving HTTP."""
    return {"status": "ok"}


@get("/readyz", sync_to_thread=False)
def readyz(gateway: NamedDependency[Gateway]) -> Response[dict[str, object]]:
    """Models are loaded: calls can be taken."""
    if gateway.engines is None:
        body: dict[str, object] = {"status": "loading", "error": gateway.load_error}
        return Response(body, status_code=HTTP_503_SERVICE_UNAVAILABLE)
    return Response(
        {"status": "ready", "models": gateway.engines.describe()}, status_code=HTTP_200_OK
    )


@get("/metrics", sync_to_thread=False)
def metrics(gateway: NamedDependency[Gateway]) -> Response[bytes]:
    return Response(generate_latest(gateway.metrics.registry), media_type=CONTENT_TYPE_LATEST)
