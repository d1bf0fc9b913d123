"""Each synthesized sentence trimmed to its sound, with a short lead and a natural tail.

A voice pads its sentences with silence: hibari about 310 ms before the first word and 470 ms
after the last, Piper's joe about 60 ms and 200 ms. Before the first word it is pure latency
(the caller hears the first frame, and nothing, for a third of a second), and between sentences
the two pads add up to a pause of most of a second. So a sentence keeps :data:`LEAD_MS` before
its first sound and :data:`TAIL_MS` after its last.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

LEAD_MS = 20
"""Kept before the first sound: the onset of a soft consonant starts under the threshold."""
TAIL_MS = 180
"""Kept after the last sound: with the next sentence's lead, a pause between sentences."""
SOUND_BELOW_PEAK_DB = 40.0
"""A sample counts as sound within this of the sentence's peak (a breathy "h" is about 30 dB
down; hibari's and Piper's pads are digital silence or close to it)."""


def trim_silence(samples: npt.NDArray[np.int16], sample_rate_hz: int) -> npt.NDArray[np.int16]:
    """``samples`` from :data:`LEAD_MS` before the first sound to :data:`TAIL_MS` after the
    last; unchanged when it holds no sound at all."""
    magnitude = np.abs(samples.astype(np.int32))
    peak = int(magnitude.max(initial=0))
    if peak == 0:
        return samples
    sound = np.flatnonzero(magnitude >= peak * 10 ** (-SOUND_BELOW_PEAK_DB / 20))
    start = max(0, int(sound[0]) - LEAD_MS * sample_rate_hz // 1000)
    end = min(len(samples), int(sound[-1]) + 1 + TAIL_MS * sample_rate_hz // 1000)
    return samples[start:end]
