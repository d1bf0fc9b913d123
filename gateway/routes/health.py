"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.runtime import Gateway
from gateway.scheduling import ComputeGate


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
    stuck = stuck_engines(gateway.engines.gates, gateway.settings.call.stage_timeout_ms / 1000)
    status = "ready"
    if admission.draining:
        status = "draining"
    elif stuck:
        status = "engine_stuck"
    elif admission.at_capacity:
        status = "at_capacity"
    body = {
        "status": status,
        "calls": admission.live,
        "max_calls": admission.max_calls,
        "models": gateway.engines.describe(),
    }
    if stuck:
        body["reason"] = "; ".join(stuck)
    code = HTTP_200_OK if status == "ready" else HTTP_503_SERVICE_UNAVAILABLE
    return Response(body, status_code=code)


def stuck_engines(gates: list[ComputeGate], stage_timeout_s: float) -> list[str]:
    """Devices one model step has held for longer than any stage may take: a model thread that
    hangs (the calls on it get the apology, every new one would too)."""
    return [
        f"{gate.name}: one model step has held the device for {held:.1f} s "
        f"(call.stage_timeout_ms is {stage_timeout_s * 1000:.0f})"
        for gate in gates
        if (held := gate.held_for_s) > stage_timeout_s
    ]


@get("/metrics", sync_to_thread=False)
def metrics(gateway: NamedDependency[Gateway]) -> Response[bytes]:
    return Response(generate_latest(gateway.metrics.registry), media_type=CONTENT_TYPE_LATEST)
