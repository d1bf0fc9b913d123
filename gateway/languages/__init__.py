"""What the gateway knows about each language it reads: hesitations and how a thought ends.

One TOML file per language in this package (``en.toml``, ``ko.toml``, ...), named by its Whisper
code; adding a language is adding a file (see ``en.toml`` for the keys). The files ship in the
wheel as package data and are read with :mod:`importlib.resources`.

Text is compared after NFKC normalisation (full-width forms become ASCII, half-width kana
full-width), case folding, and with katakana written as hiragana, so a file lists each form once.
A word is a run of letters, digits and combining marks (any script), with apostrophes inside it.
Korean endings are compared on decomposed jamo, so ``ㅂ니까`` (a leading consonant letter: a
syllable with that final consonant) matches 합니까 and 갑니까 but not 그러니까.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib import resources

import msgspec

APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'"})
_KATAKANA = str.maketrans({chr(c): chr(c - 0x60) for c in range(0x30A1, 0x30F7)})
_HANGUL_FINAL_LETTERS = "ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"
_AS_HANGUL_FINAL = str.maketrans(
    {letter: chr(0x11A8 + i) for i, letter in enumerate(_HANGUL_FINAL_LETTERS)}
)
"""Hangul consonant letters (ㅂ) to the trailing consonant jamo of a decomposed syllable."""


_WHISPER_CODES = (
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he "
    "hi hr ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne "
    "nl nn no oc pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk "
    "ur uz vi yi yo zh yue"
)
WHISPER_CODES = frozenset(_WHISPER_CODES.split(" "))
"""The languages Whisper writes, by the code ``stt.language`` and ``[languages.<code>]`` take."""


def whisper_code(language: str) -> str:
    """The Whisper code for what a transcriber reports: a code ("ko"), a tag ("ko-KR") or a name
    ("korean", as OpenAI's API reports it); empty when it names no language Whisper knows."""
    wanted = normalize(language.strip())
    primary = re.split(r"[-_]", wanted, maxsplit=1)[0]
    if primary in WHISPER_CODES:
        return primary
    known = find(wanted)
    if known is not None:
        return known.code
    return _WHISPER_NAMES.get(wanted, "")


_WHISPER_NAMES = {
    "english": "en", "korean": "ko", "japanese": "ja", "chinese": "zh", "mandarin": "zh",
    "cantonese": "yue", "german": "de", "french": "fr", "spanish": "es", "russian": "ru",
    "italian": "it", "portuguese": "pt", "dutch": "nl", "arabic": "ar", "hindi": "hi",
    "turkish": "tr", "polish": "pl", "ukrainian": "uk", "vietnamese": "vi", "thai": "th",
    "indonesian": "id", "swedish": "sv", "greek": "el", "hebrew": "he", "czech": "cs",
}  # fmt: skip
"""Language names servers report, beyond the aliases in the language files."""


class TurnEndFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    finished_words: list[str] = []
    finished_endings: list[str] = []
    unfinished_words: list[str] = []
    unfinished_endings: list[str] = []
    open_statement_words: list[str] = []
    open_statement_endings: list[str] = []


class LanguageFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    aliases: list[str] = []
    hesitations: list[str] = []
    phrase_starts: list[str] = []
    turn_end: TurnEndFile | None = None


def normalize(text: str) -> str:
    """The form text is compared in: NFKC, case-folded, katakana as hiragana, ' for ’."""
    return (
        unicodedata.normalize("NFKC", text).casefold().translate(APOSTROPHES).translate(_KATAKANA)
    )


def _is_word_char(char: str) -> bool:
    return char.isalnum() or unicodedata.category(char)[0] == "M"


def words(text: str, hyphens: bool = False) -> list[str]:
    """The words of ``text`` (normalised), in any script. With ``hyphens``, "uh-huh" is one word.

    Japanese and Chinese write no spaces: a run of them is one "word" here.
    """
    return list(_words(normalize(text), hyphens))


def _words(text: str, hyphens: bool) -> Iterator[str]:
    joiners = "'-" if hyphens else "'"
    start: int | None = None
    for i, char in enumerate(text):
        if _is_word_char(char):
            if start is None:
                start = i
            continue
        inside = start is not None and i + 1 < len(text) and _is_word_char(text[i + 1])
        if char in joiners and inside:
            continue
        if start is not None:
            yield text[start:i]
            start = None
    if start is not None:
        yield text[start:]


def _ending_form(text: str) -> str:
    """Decomposed, so that Korean endings match on jamo (a syllable's final consonant)."""
    return unicodedata.normalize("NFD", normalize(text.translate(_AS_HANGUL_FINAL)))


class Ending(Enum):
    FINISHED = "finished"
    """Ends a thought, even without a final mark (Korean -요, -습니다)."""
    UNFINISHED = "unfinished"
    """Never ends a thought, whatever the punctuation says ("and", Korean -고)."""
    OPEN_STATEMENT = "open_statement"
    """A statement does not end on it; a question may ("Who is it for?", "누가?")."""
    NONE = "none"
    """Nothing known: the punctuation decides."""


@dataclass(frozen=True)
class TurnEndRules:
    words: dict[str, Ending]
    endings: dict[str, Ending]
    """Decomposed (:func:`_ending_form`) ending -> kind; the longest that fits wins."""

    @classmethod
    def from_file(cls, data: TurnEndFile) -> TurnEndRules:
        word_kinds: dict[str, Ending] = {}
        ending_kinds: dict[str, Ending] = {}
        # Later lists win a clash: a form in two lists is read as the less finished one.
        for kind, listed_words, endings in (
            (Ending.FINISHED, data.finished_words, data.finished_endings),
            (Ending.OPEN_STATEMENT, data.open_statement_words, data.open_statement_endings),
            (Ending.UNFINISHED, data.unfinished_words, data.unfinished_endings),
        ):
            word_kinds.update((normalize(word), kind) for word in listed_words)
            ending_kinds.update((_ending_form(ending), kind) for ending in endings)
        return cls(word_kinds, ending_kinds)

    def kind_of(self, word: str) -> Ending:
        """How ``word`` (normalised) leaves a sentence that ends on it. A listed word wins over
        any ending; an ending must be shorter than the word (a particle needs a noun)."""
        if word in self.words:
            return self.words[word]
        form = unicodedata.normalize("NFD", word)
        best, kind = 0, Ending.NONE
        for ending, ending_kind in self.endings.items():
            if best < len(ending) < len(form) and form.endswith(ending):
                best, kind = len(ending), ending_kind
        return kind


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    aliases: tuple[str, ...]
    hesitations: tuple[str, ...]
    """Regular expressions, each matching a whole word (normalised)."""
    turn_end: TurnEndRules | None
    """None: the language has no rules; the conservative fallback applies."""
    phrase_starts: frozenset[str] = frozenset()
    """Words that open a phrase (normalised): a reply's first words may be spoken on their own
    before one (:mod:`gateway.tts.sentences`)."""


@cache
def languages() -> dict[str, Language]:
    """Every language file in this package, by code."""
    found: dict[str, Language] = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        code = entry.name.removesuffix(".toml")
        try:
            data = msgspec.toml.decode(entry.read_bytes(), type=LanguageFile)
            for pattern in data.hesitations:
                re.compile(pattern)
        except (msgspec.ValidationError, msgspec.DecodeError, re.error) as exc:
            raise ValueError(f"gateway/languages/{entry.name}: {exc}") from exc
        found[code] = Language(
            code=code,
            name=data.name,
            aliases=tuple(normalize(alias) for alias in data.aliases),
            hesitations=tuple(data.hesitations),
            turn_end=TurnEndRules.from_file(data.turn_end) if data.turn_end else None,
            phrase_starts=frozenset(normalize(word) for word in data.phrase_starts),
        )
    return found


@cache
def find(code: str) -> Language | None:
    """The language named by a Whisper code ("ko"), a tag ("ko-KR", "en_US") or a name Whisper
    or an OpenAI-compatible server reports ("korean"); None when there is no file for it."""
    wanted = normalize(code.strip())
    known = languages()
    primary = re.split(r"[-_]", wanted, maxsplit=1)[0]
    if primary in known:
        return known[primary]
    return next((lang for lang in known.values() if wanted in lang.aliases), None)


def phrase_starts(code: str) -> frozenset[str]:
    """The words that open a phrase in the language named by ``code`` (none if unknown)."""
    known = find(code) if code else None
    return known.phrase_starts if known else frozenset()


def _union(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns) or "(?!)")


@cache
def hesitation() -> re.Pattern[str]:
    """Any language's hesitation or backchannel ("uh", "음", "えっと", "ну"), as a whole word."""
    return _union(p for lang in languages().values() for p in lang.hesitations)
