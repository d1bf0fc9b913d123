"""20 ms framing of 8 kHz mu-law, the unit Twilio sends and the unit we pace playout in."""

from __future__ import annotations

from collections.abc import Iterator

from gateway.audio.mulaw import SILENCE_BYTE

SAMPLE_RATE_HZ = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE_HZ * FRAME_MS // 1000  # 160 mu-law bytes


class FrameAssembler:
    """Cuts a stream of mu-law bytes of any chunking into exact 20 ms frames."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def push(self, data: bytes) -> Iterator[bytes]:
        self._pending += data
        whole = len(self._pending) - len(self._pending) % FRAME_BYTES
        for start in range(0, whole, FRAME_BYTES):
            yield bytes(self._pending[start : start + FRAME_BYTES])
        del self._pending[:whole]

    def flush(self) -> Iterator[bytes]:
        """Emit the remainder padded with silence to a whole frame."""
        if self._pending:
            yield bytes(self._pending) + bytes([SILENCE_BYTE]) * (FRAME_BYTES - len(self._pending))
            self._pending.clear()
