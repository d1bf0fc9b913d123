"""Is there sound on the line right now? A per-frame level gate against the line's noise floor.

Silero scores 32 ms windows and needs a window or two of a new onset before its probability
rises, so a caller who starts again after a pause is seen 30-90 ms late. The level of a 20 ms
frame rising well above the line's own noise floor is visible at once. The gate answers only
"has the caller made any sound since then?", for decisions where a false alarm is cheap (a filler
is skipped) and a miss is not (the agent starts talking over the caller).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FLOOR_CHUNKS = 150
FLOOR_RANK = 15
"""The noise floor is the 15th quietest of the last 150 chunks (3 s of Twilio's 20 ms frames):
the pauses between words and phrases, so speech does not lift it, and a line that gets noisier
is learnt in seconds. A caller going on after a pause is judged against the pause itself."""
_SILENT_DBFS = -120.0


@dataclass(frozen=True, slots=True)
class LevelGateConfig:
    above_floor_db: float
    """How far above the noise floor a frame must be to count as sound."""
    min_dbfs: float
    """A frame quieter than this is never sound, however quiet the line (digital silence)."""


def level_dbfs(samples: npt.NDArray[np.float32]) -> float:
    """RMS level relative to full scale (1.0); digital silence is -120."""
    if len(samples) == 0:
        return _SILENT_DBFS
    power = float(np.mean(np.square(samples, dtype=np.float64)))
    return max(_SILENT_DBFS, 10 * math.log10(power)) if power > 0 else _SILENT_DBFS


class LevelGate:
    def __init__(self, config: LevelGateConfig) -> None:
        self._config = config
        self._levels = np.full(FLOOR_CHUNKS, np.nan)
        self._count = 0

    @property
    def floor_dbfs(self) -> float:
        """Until the window has filled, the quietest chunk heard so far."""
        if self._count == 0:
            return _SILENT_DBFS
        if self._count < FLOOR_CHUNKS:
            return float(np.nanmin(self._levels))
        return float(np.partition(self._levels, FLOOR_RANK)[FLOOR_RANK])

    def loud(self, samples: npt.NDArray[np.float32]) -> bool:
        """Whether this chunk is sound, against the floor learnt before it; then learn it."""
        level = level_dbfs(samples)
        threshold = max(self.floor_dbfs + self._config.above_floor_db, self._config.min_dbfs)
        self._levels[self._count % FLOOR_CHUNKS] = level
        self._count += 1
        return level >= threshold
