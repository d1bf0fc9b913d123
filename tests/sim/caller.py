"""The simulated Twilio caller of the tests: the product's client (:mod:`gateway.lab.caller`)
with sids numbered by :func:`tests.sim.sids.new_call`, so that logs of a test run read in order."""

from __future__ import annotations

from gateway.lab.caller import SILENT_FRAME, LineNoise, Received, TurnResult, TwilioCaller
from tests.sim.sids import new_call

__all__ = ["SILENT_FRAME", "LineNoise", "Received", "SimulatedCaller", "TurnResult"]


class SimulatedCaller(TwilioCaller):
    def __init__(
        self,
        url: str,
        call_sid: str = "",
        stream_sid: str = "",
        line_noise_dbfs: float | None = None,
        custom_parameters: dict[str, str] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ):
        """Sids default to the next of :func:`tests.sim.sids.new_call`; the rest as
        :class:`~gateway.lab.caller.TwilioCaller`."""
        numbered = new_call()
        super().__init__(
            url,
            call_sid or numbered.call_sid,
            stream_sid or numbered.stream_sid,
            line_noise_dbfs,
            custom_parameters,
            headers=headers,
        )
