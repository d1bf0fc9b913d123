"""G.711 mu-law against the ITU/Sun reference, on every int16 input."""

from __future__ import annotations

import audioop

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gateway.audio import mulaw

SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)


def reference_linear2ulaw(sample: int) -> int:
    """A line-by-line port of Sun's g711.c linear2ulaw."""
    value = sample >> 2
    if value < 0:
        value, mask = -value, 0x7F
    else:
        mask = 0xFF
    value = min(value, 8159) + (0x84 >> 2)
    segment = next((i for i, end in enumerate(SEGMENT_ENDS) if value <= end), 8)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0xF)) ^ mask


def reference_ulaw2linear(code: int) -> int:
    code = ~code & 0xFF
    magnitude = (((code & 0x0F) << 3) + 0x84) << ((code & 0x70) >> 4)
    return 0x84 - magnitude if code & 0x80 else magnitude - 0x84


ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)


def test_encode_matches_reference_on_all_65536_inputs() -> None:
    expected = bytes(reference_linear2ulaw(int(s)) for s in ALL_INT16)
    assert mulaw.encode(ALL_INT16) == expected


def test_encode_matches_audioop_on_all_65536_inputs() -> None:
    assert mulaw.encode(ALL_INT16) == audioop.lin2ulaw(ALL_INT16.tobytes(), 2)


def test_decode_matches_reference_and_audioop_on_all_codes() -> None:
    codes = bytes(range(256))
    decoded = mulaw.decode(codes)
    assert decoded.tolist() == [reference_ulaw2linear(c) for c in codes]
    assert decoded.tobytes() == audioop.ulaw2lin(codes, 2)


def test_silence_is_0xff() -> None:
    assert mulaw.encode(np.zeros(3, dtype=np.int16)) == b"\xff\xff\xff"
    assert mulaw.SILENCE_BYTE == 0xFF


@given(st.binary(max_size=400))
def test_decode_then_encode_is_identity_except_negative_zero(data: bytes) -> None:
    # 0x7F is "negative zero": it decodes to 0, which encodes back as 0xFF.
    expected = data.replace(b"\x7f", b"\xff")
    assert mulaw.encode(mulaw.decode(data)) == expected
