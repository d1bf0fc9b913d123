"""Piper synthesis in a worker thread, in process."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from gateway.devices import onnx_device
from gateway.threads import iterate_in_thread
from gateway.tts.base import PcmChunk

if TYPE_CHECKING:
    from piper import PiperVoice


def _quiet_cpu_options() -> Any:
    """onnxruntime's worker threads spin between runs by default. Beside llama.cpp's threads on
    a small CPU that spinning steals the cores: measured here, first audio of a sentence took
    0.445 s with spinning and 0.275 s without while the LLM was generating (0.174 vs 0.147 s
    alone)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


class PiperSynthesizer:
    """One voice for all calls. espeak-ng phonemisation keeps global state, hence the lock."""

    def __init__(self, voice: PiperVoice, description: str, length_scale: float) -> None:
        from piper import SynthesisConfig

        self._voice = voice
        self.description = description
        self.sample_rate_hz: int = voice.config.sample_rate
        self._config = SynthesisConfig(length_scale=length_scale)
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tts")

    @classmethod
    def load(cls, path: str, device: str, length_scale: float, label: str) -> PiperSynthesizer:
        import onnxruntime
        from piper import PiperVoice

        resolved = onnx_device(device)
        voice = PiperVoice.load(path, use_cuda=resolved == "cuda")
        if resolved == "cpu":
            voice.session = onnxruntime.InferenceSession(
                path, sess_options=_quiet_cpu_options(), providers=["CPUExecutionProvider"]
            )
        return cls(voice, f"{label} on {resolved}", length_scale)

    def _generate(self, text: str) -> Iterator[PcmChunk]:
        with self._lock:
            for chunk in self._voice.synthesize(text, syn_config=self._config):
                samples = np.asarray(chunk.audio_int16_array, dtype=np.int16)
                yield PcmChunk(samples, int(chunk.sample_rate))

    def synthesize(self, text: str) -> AsyncIterator[PcmChunk]:
        return iterate_in_thread(lambda: self._generate(text), self._executor)
