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
    """Models are loaded and a call would be taken (503 while loading, or at capacity: a load
    balancer then sends new calls elsewhere)."""
    if gateway.engines is None:
        body: dict[str, object] = {"status": "loading", "error": gateway.load_error}
        return Response(body, status_code=HTTP_503_SERVICE_UNAVAILABLE)
    admission = gateway.admission
    body = {
        "status": "at_capacity" if admission.at_capacity else "ready",
        "calls": admission.live,
        "max_calls": admission.max_calls,
        "models": gateway.engines.describe(),
    }
    status = HTTP_503_SERVICE_UNAVAILABLE if admission.at_capacity else HTTP_200_OK
    return Response(body, status_code=status)


@get("/metrics", sync_to_thread=False)
def metrics(gateway: NamedDependency[Gateway]) -> Response[bytes]:
    return Response(generate_latest(gateway.metrics.registry), media_type=CONTENT_TYPE_LATEST)
