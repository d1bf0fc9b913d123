"""One turn as a patient caller lives it, measured from the caller's side.

The caller speaks, stays on the line (silence, 20 ms at a time) and waits until the reply has
played (its ``turnN-end`` mark echoed), or until it has heard nothing for ``late_s`` (then it
gives up and speaks on, which is how an overloaded gateway's backlog cascades).

**First sound** is the caller's last voiced frame sent to the first reply frame received (a
filler's, if one came); **answer** is to the first frame after the ``turnN-filler`` mark the
gateway sends after a filler (without a filler, the first sound). Reply audio received while the
utterance was still being sent is **premature**: the gateway answered a caller who had only
paused.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field

from gateway.audio.frames import FRAME_MS, SAMPLE_RATE_HZ
from gateway.lab.caller import SILENT_FRAME, TwilioCaller
from gateway.lab.clip import CallerClip

LATE_S = 8.0
"""A caller who has heard nothing for this long (after speaking, or after the last audio it
heard finished playing) stops waiting and speaks its next utterance."""
MAX_WAIT_S = 120.0
"""Even a reply still playing does not hold a turn longer than this."""
THINK_S = (0.5, 1.0)
"""After a reply has played, the caller thinks this long (seeded random) before speaking."""
GREETING_TIMEOUT_S = 30.0
LINE_SILENCE_FRAMES = 25
"""Silence on the line after the greeting, before the first utterance."""
_TURN_MARK = re.compile(r"^turn(\d+)-")


@dataclass
class TurnMeasure:
    text: str
    first_sound_ms: float | None = None
    """Last voiced frame sent to the first reply frame received (a filler's, if one came)."""
    answer_ms: float | None = None
    """Last voiced frame sent to the answer's first frame (the first after a filler mark)."""
    reply_ms: int = 0
    """How much reply audio arrived after the utterance (its playing time)."""
    filler_mark: str = ""
    premature_frames: int = 0
    """Reply frames received while the caller was still sending the utterance."""
    gave_up: bool = False
    """The caller heard nothing for ``LATE_S`` and spoke on."""
    turns: list[int] = field(default_factory=list)
    """The gateway's turn numbers whose marks arrived in this turn (``turn3-s0`` -> 3), in
    order: the answer's is the last. They key the gateway's records of the turn."""
    audio: bytes = field(default=b"", repr=False)
    """The reply's mu-law audio, when kept (``keep_audio``)."""

    @property
    def answered(self) -> bool:
        return self.answer_ms is not None

    @property
    def premature(self) -> bool:
        return self.premature_frames > 0


def drain_marks(caller: TwilioCaller) -> list[str]:
    names = []
    while not caller.marks.empty():
        names.append(caller.marks.get_nowait())
    return names


async def wait_greeting(caller: TwilioCaller, timeout_s: float = GREETING_TIMEOUT_S) -> None:
    """Until the greeting has played, then a second of line silence."""
    deadline = time.monotonic() + timeout_s
    while "greeting-end" not in drain_marks(caller):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no greeting within {timeout_s:g} s")
        await caller.send_frame(SILENT_FRAME)
    for _ in range(LINE_SILENCE_FRAMES):
        await caller.send_frame(SILENT_FRAME)
    caller.drain_media()


@dataclass
class _Heard:
    """What the caller has heard of the reply so far, read from its timeline in order: a frame
    plays when it arrives or when the frames before it have played (Twilio's buffer), and the
    first sound is the first frame that is not silence (a voice's lead-in is no answer yet)."""

    first_sound: float | None = None
    answer: float | None = None
    filler_mark: str = ""
    turns: list[int] = field(default_factory=list)
    _played_until: float = 0.0

    def read(self, entries: list[tuple[float, str, str]]) -> None:
        for at, event, name in entries:
            if event == "media":
                plays_at = max(at, self._played_until)
                self._played_until = plays_at + FRAME_MS / 1000
                if name != "sound":
                    continue
                self.first_sound = self.first_sound or plays_at
                if self.filler_mark and self.answer is None:
                    self.answer = plays_at
            elif event == "mark":
                if name.endswith("-filler") and self.first_sound is not None:
                    self.filler_mark = self.filler_mark or name
                numbered = _TURN_MARK.match(name)
                if numbered and int(numbered[1]) not in self.turns:
                    self.turns.append(int(numbered[1]))


async def speak(
    caller: TwilioCaller,
    clip: CallerClip,
    *,
    rng: random.Random | None = None,
    late_s: float = LATE_S,
    keep_audio: bool = False,
) -> TurnMeasure:
    """Speak ``clip``, wait for the reply like a patient human, think (``rng``), return."""
    measure = TurnMeasure(clip.text)
    drain_marks(caller)
    caller.drain_media()
    caller.forget_timeline()
    last_voiced = 0.0
    for frame in clip.frames:
        last_voiced = await caller.send_frame(frame)  # the clip's last frame is voiced
    heard = _Heard()
    heard.read(caller.timeline)
    measure.premature_frames = sum(event == "media" for _, event, _ in caller.timeline)
    seen = len(caller.timeline)
    caller.drain_media()  # premature: counted above, not part of the reply kept
    audio: list[bytes] = []
    while True:
        heard.read(caller.timeline[seen:])
        seen = len(caller.timeline)
        ends = [n for n in drain_marks(caller) if n.endswith("-end")]
        received = caller.drain_media()
        measure.reply_ms += sum(len(r.payload) for r in received) * 1000 // SAMPLE_RATE_HZ
        if keep_audio:
            audio.extend(r.payload for r in received)
        if heard.first_sound is not None and any(not n.startswith("greeting") for n in ends):
            break  # the reply has played
        now = time.monotonic()
        if now - max(last_voiced, caller.played_until) >= late_s:
            measure.gave_up = True
            break
        if now - last_voiced >= MAX_WAIT_S:
            break
        await caller.send_frame(SILENT_FRAME)
    measure.filler_mark, measure.turns = heard.filler_mark, heard.turns
    answer = heard.answer if heard.filler_mark else heard.first_sound
    if heard.first_sound is not None:
        measure.first_sound_ms = (heard.first_sound - last_voiced) * 1000
    if answer is not None:
        measure.answer_ms = (answer - last_voiced) * 1000
    measure.audio = b"".join(audio) if keep_audio else b""
    if rng is not None and not measure.gave_up:
        for _ in range(round(rng.uniform(*THINK_S) * 1000 / FRAME_MS)):
            await caller.send_frame(SILENT_FRAME)
    return measure
