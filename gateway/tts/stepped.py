"""What the in-process voices share: a worker thread per phrase, each sentence one step through
the device's compute gate, and each sentence trimmed to its sound (:mod:`gateway.tts.trim`)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

from gateway.scheduling import Gate, Job, NoGate, unscheduled
from gateway.threads import iterate_in_thread
from gateway.tts.base import PcmChunk
from gateway.tts.trim import trim_silence


class SteppedVoice:
    """A local voice for all calls. Its phonemiser keeps state in plain Python objects
    (espeak-ng's is even global), hence the lock around each sentence as well."""

    def __init__(self, description: str, *, gate: Gate | None = None, workers: int = 2) -> None:
        self.description = description
        self._lock = threading.Lock()
        self._gate = gate or NoGate()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tts")

    def _sentences(self, text: str) -> Iterator[PcmChunk]:
        """The voice's own audio of ``text``, a sentence at a time, as it pads it."""
        raise NotImplementedError

    def _generate(self, text: str, job: Job) -> Iterator[PcmChunk]:
        sentences = self._sentences(text)
        try:
            while True:
                with self._gate.step(job, "tts"), self._lock:
                    chunk = next(sentences, None)
                if chunk is None:
                    return
                if len(chunk.samples):
                    yield PcmChunk(trim_silence(*chunk), chunk.sample_rate_hz)
        finally:
            close = getattr(sentences, "close", None)
            if close is not None:
                close()

    def synthesize(self, text: str, job: Job | None = None) -> AsyncIterator[PcmChunk]:
        claim = job or unscheduled()
        return iterate_in_thread(lambda: self._generate(text, claim), self._executor)
