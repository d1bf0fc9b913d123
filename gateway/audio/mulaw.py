"""G.711 mu-law, bit-exact with the ITU/Sun reference (``g711.c``) and CPython's ``audioop``.

Both directions are table lookups: the encoder table covers all 65,536 int16 inputs and is built
once from the reference algorithm, so per-frame work is one numpy ``take``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SILENCE_BYTE = 0xFF
"""mu-law code of digital silence (0 encodes to 0xFF)."""

_CLIP = 8159
_BIAS = 0x84
_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)


def _build_encode_table() -> npt.NDArray[np.uint8]:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 2  # the reference works on 14 bits
    mask = np.where(pcm < 0, 0x7F, 0xFF).astype(np.int32)
    magnitude = np.minimum(np.abs(pcm), _CLIP) + (_BIAS >> 2)
    segment = np.searchsorted(_SEGMENT_ENDS, magnitude, side="left").astype(np.int32)
    mantissa = (magnitude >> np.minimum(segment + 1, 31)) & 0xF
    code = np.where(segment >= 8, 0x7F, (np.minimum(segment, 7) << 4) | mantissa)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _build_decode_table() -> npt.NDArray[np.int16]:
    inverted = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((inverted & 0x0F) << 3) + _BIAS) << ((inverted & 0x70) >> 4)
    linear = np.where(inverted & 0x80, _BIAS - magnitude, magnitude - _BIAS)
    return linear.astype(np.int16)


_ENCODE = _build_encode_table()
_DECODE = _build_decode_table()


def encode(pcm: npt.NDArray[np.int16]) -> bytes:
    """16-bit linear PCM to mu-law bytes, one byte per sample."""
    index = pcm.astype(np.int32, copy=False) + 32768
    return _ENCODE.take(index).tobytes()


def decode(data: bytes) -> npt.NDArray[np.int16]:
    """mu-law bytes to 16-bit linear PCM."""
    return _DECODE.take(np.frombuffer(data, dtype=np.uint8))
