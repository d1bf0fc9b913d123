"""Speech in any espeak-ng voice ("ko", "ja", "ru"), for callers in languages Piper's voice lacks.

piper-tts ships espeak-ng, linked into ``piper.espeakbridge`` with its data (``espeak-ng-data``,
every language's rules and dictionary), to turn text into phonemes. The library's synthesizer is
in there too: it is driven through ctypes here, so no system espeak-ng is needed. It runs in a
child process, so that its global state (the voice, the callback) never touches the Piper voices
of the process that asks.

    python -m tests.sim.espeak VOICE WORDS_PER_MINUTE < text > speech.wav
"""

from __future__ import annotations

import array
import asyncio
import ctypes
import io
import sys
import wave
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import numpy.typing as npt

AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE = 1
_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


def _piper_dir() -> Path | None:
    spec = find_spec("piper")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def unavailable() -> str:
    """Why espeak-ng speech cannot be made here; empty when it can."""
    root = _piper_dir()
    if root is None:
        return "piper-tts is not installed"
    library = next(root.glob("espeakbridge*.so"), None)
    if library is None or not (root / "espeak-ng-data" / "phondata").is_file():
        return f"piper-tts in {root} has no espeak-ng library or data"
    try:
        ctypes.CDLL(str(library)).espeak_Synth  # noqa: B018 (a lookup that may fail)
    except (OSError, AttributeError) as error:
        return f"piper's espeak-ng library cannot synthesize: {error}"
    return ""


def _synthesize(text: str, voice: str, words_per_minute: int) -> tuple[bytes, int]:
    """16-bit mono PCM and its rate. In this process: run it in a child (see module doc)."""
    root = _piper_dir()
    assert root is not None, unavailable()
    library = ctypes.CDLL(str(next(root.glob("espeakbridge*.so"))))
    data = str(root / "espeak-ng-data").encode()
    rate = int(library.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0))
    if rate <= 0:
        raise RuntimeError(f"espeak_Initialize failed ({rate})")
    samples = array.array("h")

    def collect(wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int | None) -> int:
        if wav and count > 0:
            samples.extend(wav[:count])
        return 0  # go on

    callback = _Callback(collect)
    library.espeak_SetSynthCallback(callback)
    if library.espeak_SetVoiceByName(voice.encode()) != 0:
        raise RuntimeError(f"espeak-ng has no voice {voice!r}")
    library.espeak_SetParameter(ESPEAK_RATE, words_per_minute, 0)
    encoded = text.encode()
    library.espeak_Synth.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
    ]  # fmt: skip
    status = library.espeak_Synth(
        encoded, len(encoded) + 1, 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None
    )
    if status != 0:
        raise RuntimeError(f"espeak_Synth failed ({status})")
    return samples.tobytes(), rate


async def speak(
    text: str, voice: str, words_per_minute: int = 150
) -> tuple[npt.NDArray[np.float32], int]:
    """``text`` spoken by espeak-ng's ``voice``: float samples in [-1, 1] and their rate."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        __name__,
        voice,
        str(words_per_minute),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await child.communicate(text.encode())
    if child.returncode != 0:
        raise RuntimeError(f"espeak-ng ({voice}) failed: {err.decode(errors='replace')}")
    with wave.open(io.BytesIO(out)) as wav:
        rate = wav.getframerate()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    return pcm.astype(np.float32) / 32768.0, rate


def main() -> None:
    voice, words_per_minute = sys.argv[1], int(sys.argv[2])
    pcm, rate = _synthesize(sys.stdin.buffer.read().decode(), voice, words_per_minute)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    sys.stdout.buffer.write(buffer.getvalue())


if __name__ == "__main__":
    main()
