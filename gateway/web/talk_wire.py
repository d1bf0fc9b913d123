"""The talk page's WebSocket protocol: what the browser may send, and what it is sent.

Browser to gateway: binary frames of 16 kHz 16-bit little-endian mono PCM (20 ms, 640 bytes,
is what the page sends; any whole number of samples up to ``MAX_AUDIO_BYTES`` is taken), and
JSON text frames: ``{"event": "mark", "name": ...}`` when the audio before a mark has played
(as Twilio echoes it), ``{"event": "stop"}`` to hang up. Anything else is rejected and dropped.

Gateway to browser: binary frames of 8 kHz 16-bit little-endian PCM (the pipeline's audio,
decoded; Web Audio plays a buffer at any rate), and JSON text frames: ``start``, ``mark``,
``clear`` (drop what is queued, echo the marks still pending) and ``turn`` (a turn's progress,
see :mod:`gateway.web.turns`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import msgspec
import numpy as np
import numpy.typing as npt

from gateway.audio import mulaw
from gateway.audio.frames import SAMPLE_RATE_HZ, FrameAssembler
from gateway.twilio.messages import Clear, OutboundMark, OutboundMedia, OutboundMessage

BROWSER_RATE_HZ = 16_000
MAX_AUDIO_BYTES = BROWSER_RATE_HZ * 2 // 10
"""100 ms of 16 kHz PCM: the page sends 20 ms at a time; a larger frame is refused."""
MAX_TEXT_CHARS = 512
"""A mark echo or a stop is a few dozen characters."""
MARK_NAME_CHARS = 64


class Problem(StrEnum):
    """Why a frame from the browser was rejected; also the metrics label."""

    BAD_AUDIO = "bad_audio"
    TOO_LARGE = "too_large"
    INVALID = "invalid"


class Rejected(ValueError):
    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(f"{problem.value}: {detail}")
        self.problem = problem
        self.detail = detail


class MarkPlayed(msgspec.Struct, tag_field="event", tag="mark", forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=MARK_NAME_CHARS)]


class Stop(msgspec.Struct, tag_field="event", tag="stop", forbid_unknown_fields=True):
    pass


Inbound = MarkPlayed | Stop
_decoder = msgspec.json.Decoder(Inbound)


def decode_text(frame: str) -> Inbound:
    """One JSON text frame from the page. Raises :class:`Rejected`."""
    if len(frame) > MAX_TEXT_CHARS:
        raise Rejected(Problem.TOO_LARGE, f"text frame of {len(frame)} characters")
    try:
        return _decoder.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise Rejected(Problem.INVALID, str(error)[:200]) from None


def check_audio(frame: bytes) -> None:
    """A binary frame is whole 16-bit samples, not empty, at most ``MAX_AUDIO_BYTES``."""
    if not frame or len(frame) % 2 or len(frame) > MAX_AUDIO_BYTES:
        raise Rejected(Problem.BAD_AUDIO, f"binary frame of {len(frame)} bytes")


def _half_band_kernel(taps: int, cutoff_hz: float) -> npt.NDArray[np.float64]:
    """A windowed-sinc low-pass at ``cutoff_hz`` for 16 kHz audio, unit gain at 0 Hz."""
    n = np.arange(taps) - (taps - 1) / 2
    kernel = np.sinc(2 * cutoff_hz / BROWSER_RATE_HZ * n) * np.blackman(taps)
    normalized: npt.NDArray[np.float64] = kernel / kernel.sum()
    return normalized


HALVING_TAPS = 63
"""31 samples (2 ms) of delay; 3.6 kHz passes, past 4 kHz (what would alias) is cut."""
_KERNEL = _half_band_kernel(HALVING_TAPS, cutoff_hz=3_800.0)


class CallerAudio:
    """The microphone's 16 kHz PCM as the pipeline hears a phone line: 8 kHz mu-law frames.

    Halving the rate is a low-pass filter and every other sample, kept across frames. Not soxr:
    its streaming resampler hands out audio in blocks of 50 ms and more, which a caller would
    hear as that much later turn-taking; this filter delays it by 2 ms.
    """

    def __init__(self) -> None:
        self._history = np.zeros(HALVING_TAPS - 1)
        self._odd = False
        """Whether the next sample's index in the whole stream is odd (it is not kept)."""
        self._frames = FrameAssembler()

    def push(self, pcm: bytes) -> list[bytes]:
        """The whole 20 ms mu-law frames this PCM completes."""
        samples = np.frombuffer(pcm, dtype="<i2")
        signal = np.concatenate([self._history, samples])
        filtered = np.convolve(signal, _KERNEL, mode="valid")
        self._history = signal[len(signal) - (HALVING_TAPS - 1) :]
        kept = filtered[int(self._odd) :: 2]
        self._odd ^= len(samples) % 2 == 1
        halved = np.clip(np.round(kept), -32768, 32767).astype(np.int16)
        return list(self._frames.push(mulaw.encode(halved)))


def mulaw_bytes(pcm_bytes: int) -> int:
    """How many 8 kHz mu-law bytes this much 16 kHz PCM becomes (what the budget counts)."""
    return pcm_bytes * SAMPLE_RATE_HZ // (BROWSER_RATE_HZ * 2)


class Start(msgspec.Struct, tag_field="event", tag="start"):
    call_sid: str
    sample_rate_hz: int = SAMPLE_RATE_HZ
    """Of the audio the page is sent."""


class MarkOut(msgspec.Struct, tag_field="event", tag="mark"):
    name: str


class ClearOut(msgspec.Struct, tag_field="event", tag="clear"):
    pass


_encoder = msgspec.json.Encoder()


def encode(message: OutboundMessage) -> bytes | str:
    """A pipeline message as the page reads it: audio as PCM bytes, the rest as JSON text."""
    match message:
        case OutboundMedia(media=media):
            return mulaw.decode(media.payload).astype("<i2").tobytes()
        case OutboundMark(mark=label):
            return encode_json(MarkOut(label.name))
        case Clear():
            return encode_json(ClearOut())
    raise TypeError(f"not a message for the page: {type(message).__name__}")


def encode_json(message: msgspec.Struct) -> str:
    return _encoder.encode(message).decode()
