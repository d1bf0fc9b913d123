"""What the caller actually heard of a reply that was cut off.

Twilio echoes a sentence's mark once the audio before it has played, and on ``clear`` it echoes
every pending mark at once, so only echoes that arrived before we decided to clear prove a
sentence was heard. The sentence playing at the cut is estimated from the time it had been
playing, word by word in proportion to its length.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.audio.frames import FRAME_MS


@dataclass(slots=True)
class SentSentence:
    """One sentence of a reply as it went out: its text, audio length and timing."""

    text: str
    frames: list[bytes]
    mark: str = ""
    complete: bool = False
    """All of its audio is synthesized."""
    first_sent_at: float | None = None
    frames_sent: int = 0
    echoed_at: float | None = None

    @property
    def audio_ms(self) -> int:
        return len(self.frames) * FRAME_MS

    @property
    def sent_ms(self) -> int:
        return self.frames_sent * FRAME_MS


@dataclass(frozen=True, slots=True)
class Heard:
    text: str
    heard_ms: int
    """Reply audio the caller heard, in ms."""
    sent_ms: int
    """Reply audio that was sent (heard or not), in ms."""
    whole_sentences: int
    """Sentences heard to the end; the next one was the one being spoken at the cut."""

    @property
    def complete(self) -> bool:
        return self.heard_ms >= self.sent_ms


def heard_before(sentences: list[SentSentence], cut_at: float) -> Heard:
    """The part of ``sentences`` (in playback order) heard before ``cut_at``."""
    parts: list[str] = []
    heard_ms = 0
    whole = 0
    playing_since: float | None = None
    for sentence in sentences:
        if sentence.first_sent_at is None or sentence.first_sent_at >= cut_at:
            break
        if sentence.echoed_at is not None and sentence.echoed_at <= cut_at:
            parts.append(sentence.text)
            heard_ms += sentence.audio_ms
            whole += 1
            playing_since = sentence.echoed_at
            continue
        # The sentence playing at the cut: it began when the previous one ended, or when its
        # first frame left, whichever is later (synthesis may have left a gap).
        start = max(playing_since or sentence.first_sent_at, sentence.first_sent_at)
        partial_ms = min(max(0, round((cut_at - start) * 1000)), sentence.sent_ms)
        words = sentence.text.split()
        count = len(words) * partial_ms // sentence.audio_ms if sentence.audio_ms else 0
        if count:
            parts.append(" ".join(words[:count]))
        heard_ms += partial_ms
        break
    sent_ms = sum(s.sent_ms for s in sentences)
    return Heard(" ".join(parts), heard_ms, sent_ms, whole)
