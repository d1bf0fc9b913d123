"""Freed native memory goes back to the OS at call end (glibc only)."""

from __future__ import annotations

import platform

import pytest

from gateway.memory import release_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_trim_is_available_on_glibc() -> None:
    assert release_freed_memory()
