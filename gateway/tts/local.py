"""Piper synthesis in a worker thread, in process (and the onnxruntime options of local voices)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from gateway.devices import Resolved
from gateway.scheduling import Gate
from gateway.tts.base import PcmChunk
from gateway.tts.stepped import SteppedVoice

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


class PiperSynthesizer(SteppedVoice):
    """A Piper voice: each chunk it yields (about a sentence) is one step."""

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

        super().__init__(description, gate=gate, workers=workers)
        self._voice = voice
        self.sample_rate_hz: int = voice.config.sample_rate
        self._config = SynthesisConfig(length_scale=length_scale)

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

    def _sentences(self, text: str) -> Iterator[PcmChunk]:
        for chunk in self._voice.synthesize(text, syn_config=self._config):
            samples = np.asarray(chunk.audio_int16_array, dtype=np.int16)
            yield PcmChunk(samples, int(chunk.sample_rate))
