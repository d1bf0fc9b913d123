"""Does a transcript hold words worth answering, or only hesitation and noise?

Speech recognisers write a hesitation as "Uh...", "Hmm", "음...", "えっと" or "Ну", and a cough or
music as "(coughs)", "[Music]", "(기침)", "[음악]" or "♪". None of that is something to answer,
and when it is what cut the agent off, the interruption was a false alarm.

Words are runs of letters, digits and combining marks in any script (Hangul, kana, Cyrillic,
Devanagari...). Hesitations are listed per language in ``gateway/languages/<code>.toml``; the
lists of all languages apply to every transcript, whatever language the call is in (a caller's
"um" in a Korean call is still a hesitation), since none of them is a word in another language
that is an answer on its own. 네, 예, 응 and 아니요 are answers; 음, 어, 아, 그, 저 are not.
"""

from __future__ import annotations

import re

from gateway.languages import hesitation, normalize, words

_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|【[^】]*】|♪[^♪]*♪|[♪♫]")
"""What Whisper writes for sounds, not speech: (coughs) [Music] *laughs* 【拍手】 ♪ la la ♪.
Full-width brackets are normalised to these first."""


def has_words(text: str) -> bool:
    spoken = _ANNOTATION.sub(" ", normalize(text))
    filler = hesitation()
    return any(not filler.fullmatch(word) for word in words(spoken, hyphens=True))
