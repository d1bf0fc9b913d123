"""Audio bodies read while they arrive: raw 16-bit pcm, or a WAV file whose header says the rate.

Servers differ on the rate of headerless pcm (OpenAI 24 kHz, some Piper servers 22.05 kHz); where
a server names it in a header, that wins over the configured rate. A streaming WAV often carries
a placeholder data size (0 or 0xFFFFFFFF): the audio then runs to the end of the body.
"""

from __future__ import annotations

import struct

import httpx
import numpy as np
import numpy.typing as npt

RATE_HEADERS = ("x-sample-rate", "x-audio-sample-rate")
RATE_PARAMS = ("rate", "samplerate", "sample_rate")
MAX_HEADER_BYTES = 65_536
_UNKNOWN_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF)
_PCM = 1
_EXTENSIBLE = 0xFFFE


class AudioFormatError(ValueError):
    """The body is not audio this gateway can play (not 16-bit PCM, or a broken header)."""


def announced_rate(headers: httpx.Headers) -> int | None:
    """The pcm sample rate a server names: ``X-Sample-Rate: 22050`` or ``audio/L16; rate=24000``."""
    for name in RATE_HEADERS:
        value = headers.get(name, "").strip()
        if value.isdigit():
            return int(value)
    for param in headers.get("content-type", "").split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() in RATE_PARAMS and value.strip().isdigit():
            return int(value)
    return None


class PcmStream:
    """Feed body bytes in any pieces; get whole int16 mono samples back."""

    def __init__(self, *, wav: bool, sample_rate_hz: int) -> None:
        self.sample_rate_hz = sample_rate_hz
        self._header: bytearray | None = bytearray() if wav else None
        self._channels = 1
        self._remaining: int | None = None
        """Bytes of audio left when the WAV names its data size; None: to the end."""
        self._carry = b""

    def feed(self, data: bytes) -> npt.NDArray[np.int16]:
        if self._header is not None:
            self._header += data
            if len(self._header) > MAX_HEADER_BYTES:
                raise AudioFormatError("no WAV data chunk in the first 64 KiB")
            start = self._parse_header(bytes(self._header))
            if start is None:
                return np.zeros(0, dtype=np.int16)
            data, self._header = bytes(self._header[start:]), None
        if self._remaining is not None:
            data = data[: self._remaining]
            self._remaining -= len(data)
        data = self._carry + data
        block = 2 * self._channels
        whole = len(data) - len(data) % block
        self._carry = data[whole:]
        samples = np.frombuffer(data[:whole], dtype="<i2")
        if self._channels > 1:
            samples = samples.reshape(-1, self._channels).mean(axis=1)
        return samples.astype(np.int16)

    def _parse_header(self, header: bytes) -> int | None:
        """Offset of the first audio byte once the header is complete, else None."""
        if len(header) < 12:
            return None
        if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            raise AudioFormatError(f"not a WAV file (starts {header[:12]!r})")
        offset = 12
        while offset + 8 <= len(header):
            chunk_id = header[offset : offset + 4]
            (size,) = struct.unpack_from("<I", header, offset + 4)
            body = offset + 8
            if chunk_id == b"data":
                self._remaining = None if size in _UNKNOWN_SIZES else size
                return body
            if chunk_id == b"fmt ":
                if len(header) < body + 16:
                    return None
                self._read_format(header[body : body + 16])
            offset = body + size + (size % 2)
        return None

    def _read_format(self, fmt: bytes) -> None:
        tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt)
        if tag not in (_PCM, _EXTENSIBLE) or bits != 16 or channels < 1:
            raise AudioFormatError(f"WAV is not 16-bit PCM (format {tag}, {bits} bits)")
        self._channels = channels
        self.sample_rate_hz = rate
