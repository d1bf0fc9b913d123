"""The one writer: events in from the event loop, batched transactions out, in its own thread.

A call never waits for the disk. ``submit`` only puts an event on a bounded queue; when the
queue is full (the disk is far behind) the event is dropped and counted, never waited for. The
thread takes whatever has queued up and writes it in one transaction. A write that fails (a full
disk, a file locked by someone else, a directory that cannot be written) loses that batch: it is
counted, logged at most once a minute, and the next batch tries again. The thread also deletes
calls past their retention, when it starts and every hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import Counter

from gateway.records.events import RecordEvent
from gateway.records.store import RecordsStore
from gateway.twilio.rejects import RateLimitedLog

log = logging.getLogger("voicegw.records")
MAX_QUEUED_EVENTS = 4096
"""Events waiting for the disk (a turn's is a few kB): past this, new ones are dropped."""
MAX_BATCH_EVENTS = 256
"""Events written in one transaction at most."""
SWEEP_EVERY_S = 3600.0
DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class _Flush:
    done: Callable[[], None]


_STOP = object()


class RecordsWriter:
    def __init__(
        self,
        path: Path,
        *,
        failures: Counter,
        dropped: Counter,
        retention_days: int = 30,
        max_queued: int = MAX_QUEUED_EVENTS,
        busy_timeout_ms: int = 5000,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """``failures``: events lost to failed writes; ``dropped``: events the full queue
        refused. ``busy_timeout_ms``: how long a write waits for another process's lock."""
        self.path = path
        self._failures = failures
        self._dropped = dropped
        self._retention_s = retention_days * DAY_S
        self._busy_timeout_ms = busy_timeout_ms
        self._wall_clock = wall_clock
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queued)
        self._thread = threading.Thread(target=self._run, name="voicegw-records", daemon=True)
        self._closed = False
        self._problems = RateLimitedLog(log)

    def start(self) -> None:
        self._thread.start()

    def submit(self, event: RecordEvent) -> bool:
        """Queue ``event`` for writing; never blocks. False (and counted) when it was dropped."""
        if not self._closed:
            try:
                self._queue.put_nowait(event)
                return True
            except queue.Full:
                pass
        self._dropped.inc()
        return False

    async def flush(self) -> None:
        """Wait until every event submitted before this call is written (or has failed)."""
        if not self._thread.is_alive():
            return
        loop = asyncio.get_running_loop()
        written = loop.create_future()

        def done() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                loop.call_soon_threadsafe(_resolve, written)

        await asyncio.to_thread(self._queue.put, _Flush(done))  # waits for room, off the loop
        await written

    async def aclose(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop the thread (at most ``timeout_s``)."""
        self._closed = True
        if not self._thread.is_alive():
            return
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.to_thread(self._queue.put, _STOP)
                await asyncio.to_thread(self._thread.join)
        except TimeoutError:  # the thread is a daemon: it does not hold the process up
            log.warning("call records: %d events unwritten at shutdown", self._queue.qsize())

    # -- the writer's thread -------------------------------------------------------------------

    def _run(self) -> None:
        store = self._open()
        next_sweep = time.monotonic()
        stopping = False
        while not stopping:
            if store is not None and self._retention_s and time.monotonic() >= next_sweep:
                self._sweep(store)
                next_sweep = time.monotonic() + SWEEP_EVERY_S
            sweeps = self._retention_s and store is not None  # else: wait for events to write
            wait_s = max(next_sweep - time.monotonic(), 0.0) if sweeps else None
            batch = self._next_batch(wait_s)
            events = [item for item in batch if isinstance(item, RecordEvent)]
            if events:
                store = store or self._open()
                if store is not None:
                    self._write(store, events)
                else:
                    self._failures.inc(len(events))
            for item in batch:
                if isinstance(item, _Flush):
                    item.done()
                stopping = stopping or item is _STOP
        if store is not None:
            store.close()

    def _next_batch(self, wait_s: float | None) -> list[object]:
        try:
            batch = [self._queue.get(timeout=wait_s)]
        except queue.Empty:
            return []
        while len(batch) < MAX_BATCH_EVENTS:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _open(self) -> RecordsStore | None:
        try:
            return RecordsStore(self.path, busy_timeout_ms=self._busy_timeout_ms)
        except Exception as error:
            self._problems.warning("call records: cannot open %s: %s", self.path, _why(error))
            return None

    def _write(self, store: RecordsStore, events: list[RecordEvent]) -> None:
        try:
            store.write(events)
        except Exception as error:
            self._failures.inc(len(events))
            self._problems.warning(
                "call records: %d events not written to %s: %s", len(events), self.path, _why(error)
            )

    def _sweep(self, store: RecordsStore) -> None:
        try:
            deleted = store.delete_before(self._wall_clock() - self._retention_s)
        except Exception as error:
            self._problems.warning("call records: retention sweep failed: %s", _why(error))
            return
        if deleted:
            log.info("call records: deleted %d calls past their retention", deleted)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _why(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"
