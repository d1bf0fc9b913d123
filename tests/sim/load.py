"""Stand-in for other calls' load: keeps the shared compute gate busy until released."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from gateway.engines import Engines
from gateway.scheduling import ComputeGate, Job

HOLD_LIMIT_S = 60.0
"""A test that forgets to release still ends."""


class HeldEngines:
    """``async with HeldEngines(engines) as load: ...; load.release()``: while held, every local
    model step of every call waits, as behind other calls' work on a busy box."""

    def __init__(self, engines: Engines) -> None:
        self.gate: ComputeGate = engines.gates[0]
        self._release = threading.Event()
        self._held = threading.Event()
        self._thread = threading.Thread(target=self._hold, name="held-engines")

    def _hold(self) -> None:
        with self.gate.step(Job(call_id="load"), "load"):
            self._held.set()
            self._release.wait(HOLD_LIMIT_S)

    async def __aenter__(self) -> HeldEngines:
        self._thread.start()
        if not await asyncio.to_thread(self._held.wait, HOLD_LIMIT_S):
            raise TimeoutError("the compute gate never came free")
        return self

    async def waiting(self, count: int, timeout_s: float = 30.0) -> None:
        """Until ``count`` model steps queue behind the load."""
        if not await asyncio.to_thread(self.gate.wait_for_waiting, count, timeout_s):
            raise TimeoutError(f"fewer than {count} steps queued within {timeout_s:g} s")

    def release(self) -> None:
        self._release.set()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
        await asyncio.to_thread(self._thread.join, HOLD_LIMIT_S)
