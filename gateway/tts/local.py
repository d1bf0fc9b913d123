"""Piper synthesis in a worker thread, in process (and the onnxruntime options of local voices)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from gateway.devices import Resolved
from gateway.scheduling import Gate, Job, NoGate, unscheduled
from gateway.threads import iterate_in_thread
from gateway.tts.base import PcmChunk
from gateway.tts.trim import trim_silence

if TYPE_CHECKING:
    from piper import PiperVoice


def quiet_cpu_options(threads: int = 0) -> Any:
    """onnxruntime's worker threads spin between runs by default. Beside llama.cpp's threads on
    a small CPU that spinning steals the cores: measured here, first audio of a sentence took
    0.445 s with spinning and 0.275 s without while the LLM was generating (0.174 vs 0.147 s
    alone)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.intra_op_num_threads = threads  # 0: onnxruntime's choice (a thread per core)
    return options


class PiperSynthesizer:
    """One voice for all calls; each chunk (about a sentence) is one step through the device's
    compute gate. espeak-ng phonemisation keeps global state, hence the lock as well."""

    def __init__(
        self,
        voice: PiperVoice,
        description: str,
        length_scale: float,
        *,
        gate: Gate | None = None,
        workers: int = 2,
    ) -> None:
        from piper import SynthesisConfig

        self._voice = voice
        self.description = description
        self.sample_rate_hz: int = voice.config.sample_rate
        self._config = SynthesisConfig(length_scale=length_scale)
        self._lock = threading.Lock()
        self._gate = gate or NoGate()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tts")

    @classmethod
    def load(
        cls,
        path: str,
        device: Resolved,
        length_scale: float,
        label: str,
        *,
        gate: Gate | None = None,
        workers: int = 2,
    ) -> PiperSynthesizer:
        import onnxruntime
        from piper import PiperVoice

        voice = PiperVoice.load(path, use_cuda=device == "cuda")
        if device == "cpu":
            voice.session = onnxruntime.InferenceSession(
                path, sess_options=quiet_cpu_options(), providers=["CPUExecutionProvider"]
            )
        return cls(voice, f"{label} on {device}", length_scale, gate=gate, workers=workers)

    def _generate(self, text: str, job: Job) -> Iterator[PcmChunk]:
        chunks = iter(self._voice.synthesize(text, syn_config=self._config))
        try:
            while True:
                with self._gate.step(job, "tts"), self._lock:
                    chunk = next(chunks, None)
                if chunk is None:
                    return
                rate = int(chunk.sample_rate)
                samples = np.asarray(chunk.audio_int16_array, dtype=np.int16)
                yield PcmChunk(trim_silence(samples, rate), rate)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def synthesize(self, text: str, job: Job | None = None) -> AsyncIterator[PcmChunk]:
        claim = job or unscheduled()
        return iterate_in_thread(lambda: self._generate(text, claim), self._executor)
