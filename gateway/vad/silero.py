"""Silero VAD on onnxruntime with its recurrent state carried window to window.

The ONNX session is shared by all calls (``InferenceSession.run`` is thread-safe); each call
owns a :class:`SileroStream` with its own state, context and sample buffer. A window takes about
0.1 ms, so it runs inline on the event loop: a thread hop would cost more than the inference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import onnxruntime

SUPPORTED_RATES_HZ = (8000, 16000)


def load_session(path: str) -> onnxruntime.InferenceSession:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        path, sess_options=options, providers=["CPUExecutionProvider"]
    )


class SileroStream:
    """Feed audio of any chunking; get one speech probability per 32 ms window."""

    def __init__(self, session: onnxruntime.InferenceSession, sample_rate_hz: int = 8000):
        if sample_rate_hz not in SUPPORTED_RATES_HZ:
            raise ValueError(f"Silero VAD runs at 8000 or 16000 Hz, not {sample_rate_hz}")
        self._session = session
        self.sample_rate_hz = sample_rate_hz
        self.window_samples = 256 if sample_rate_hz == 8000 else 512
        self.window_ms = self.window_samples * 1000 // sample_rate_hz
        self._context_samples = 32 if sample_rate_hz == 8000 else 64
        self._rate = np.array(sample_rate_hz, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, self._context_samples), dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def process(self, samples: npt.NDArray[np.float32]) -> list[float]:
        self._pending = np.concatenate((self._pending, samples))
        probabilities: list[float] = []
        while len(self._pending) >= self.window_samples:
            window = self._pending[: self.window_samples].reshape(1, -1)
            self._pending = self._pending[self.window_samples :]
            probabilities.append(self._infer(window))
        return probabilities

    def _infer(self, window: npt.NDArray[np.float32]) -> float:
        batch = np.concatenate((self._context, window), axis=1)
        output, self._state = self._session.run(
            None, {"input": batch, "state": self._state, "sr": self._rate}
        )
        self._context = batch[:, -self._context_samples :]
        return float(output[0][0])
