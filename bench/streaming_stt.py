"""Does transcribing while the caller speaks pay with Whisper on this machine? Measured offline
on a bench set (default: the shipped one) with the gateway's own model and decoding.

For each utterance:

- ``whole``: one pass over the whole utterance, as the gateway's draft does (an encoder window
  of ``stt.encoder_window_ms``, 8 s);
- ``streamed``: what a streaming transcriber would do, if the utterance has an inner gap (100 ms
  or more between voiced frames, at least 0.8 s before the end): the part before the gap
  transcribed while the caller goes on (off the critical path), then only the tail at the end,
  in a short window, with the part's text as the decoder's previous-text prompt;
- ``short-window``: one pass over the whole utterance in a 5 s window, the cheap half of that;
- ``prefixed``: what reuse could save without losing the whole pass's accuracy: the whole
  utterance encoded as ``whole`` does, and the part's words (transcribed while the caller went
  on) forced as the start of the decoder's output, so only the tail is decoded freely.
  CTranslate2 runs a forced prefix one decoder step a token, as it decodes one, so this saves
  nothing (measured: 61 ms to the end whatever the prefix length, 0 to 12 tokens), and the
  encoder (about 120 ms of the pass here, fixed by the 8 s window) is not reusable at all.

It reports the word error rate of each against the set's texts, how often ``streamed`` equals
``whole``, and the median time of the pass at the end (what a caller waits for).

Usage: python bench/streaming_stt.py [--utterances DIR] [--tail-window-ms 3000]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console

from gateway.audio import mulaw
from gateway.audio.frames import FRAME_BYTES, FRAME_MS
from gateway.audio.resample import resample
from gateway.lab.stats import word_error_rate
from gateway.lab.utterances import DEFAULT_DIR, load_set
from gateway.settings import load_settings
from gateway.stt.local import encoder_window
from models.fetch import locate
from tests.sim.clips import voiced_frames

ROOT = Path(__file__).resolve().parents[1]
console = Console(width=160)
GAP_MS = 100
TAIL_MIN_MS = 800


class Passes:
    """The gateway's short-window decoding (gateway/stt/local.py), with a window and a prompt
    of previous text as parameters."""

    def __init__(self, model_dir: Path, threads: int) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        self._model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads
        )
        self._tokenizer = Tokenizer(
            self._model.hf_tokenizer, True, task="transcribe", language="en"
        )

    def run(
        self, pcm_8k: npt.NDArray[np.float32], window_ms: int, previous: str = "", prefix: str = ""
    ) -> Any:
        """(text, seconds for the encoder and decoder). ``previous``: text before the audio
        (Whisper's previous-text prompt); ``prefix``: the output's forced start."""
        import ctranslate2

        audio = resample(pcm_8k, 8000, 16000)
        padded = encoder_window(self._model, audio, window_ms // 10)
        started = time.perf_counter()
        encoded = self._model.model.encode(ctranslate2.StorageView.from_array(padded))
        tokenizer = self._tokenizer
        previous_tokens = tokenizer.encode(" " + previous.strip()) if previous else []
        prompt = self._model.get_prompt(
            tokenizer, previous_tokens, without_timestamps=True, prefix=prefix.strip() or None
        )
        result = self._model.model.generate(
            encoded,
            [prompt],
            beam_size=1,
            max_length=len(prompt) + int(len(audio) / 16000 * 6) + 10,
            suppress_blank=True,
            suppress_tokens=[-1],
        )
        seconds = time.perf_counter() - started
        ids = [i for i in result[0].sequences_ids[0] if i < tokenizer.eot]
        return str(tokenizer.decode(ids)).strip(), seconds


def last_inner_gap(pcm: npt.NDArray[np.float32]) -> int | None:
    """The sample in the middle of the last gap that leaves a tail of at least 0.8 s."""
    voiced = np.flatnonzero(voiced_frames(pcm))
    if len(voiced) < 2:
        return None
    end = int(voiced[-1])
    gaps = [
        (int(a), int(b))
        for a, b in itertools.pairwise(voiced)
        if (b - a - 1) * FRAME_MS >= GAP_MS and (end - b) * FRAME_MS >= TAIL_MIN_MS
    ]
    if not gaps:
        return None
    a, b = gaps[-1]
    return ((a + b) // 2 + 1) * FRAME_BYTES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--tail-window-ms", type=int, default=3000)
    args = parser.parse_args()
    settings = load_settings(ROOT / "config.toml", environ={})
    cache = Path(settings.models.cache_dir).expanduser()
    passes = Passes(locate("whisper-base", cache), settings.stt.cpu_threads)
    window = settings.stt.encoder_window_ms
    texts, whole, streamed, short, prefixed = [], [], [], [], []
    times: dict[str, list[float]] = {
        "whole": [], "streamed": [], "short-window": [], "prefixed": []
    }  # fmt: skip
    gapped = 0
    for spoken in load_set(args.utterances):
        pcm = mulaw.decode(spoken.clip.mulaw).astype(np.float32) / 32768.0
        pcm = np.concatenate([pcm, np.zeros(800, dtype=np.float32)])  # the draft's 100 ms
        text, seconds = passes.run(pcm, window)
        texts.append(spoken.utterance.text)
        whole.append(text)
        times["whole"].append(seconds)
        quick, seconds = passes.run(pcm, 5000)
        short.append(quick)
        times["short-window"].append(seconds)
        cut = last_inner_gap(pcm)
        if cut is None:
            streamed.append(text)
            prefixed.append(text)
            times["streamed"].append(times["whole"][-1])
            times["prefixed"].append(times["whole"][-1])
        else:
            gapped += 1
            part, _ = passes.run(pcm[:cut], window)
            tail, seconds = passes.run(pcm[cut:], args.tail_window_ms, previous=part)
            streamed.append(f"{part} {tail}".strip())
            times["streamed"].append(seconds)
            whole_text, seconds = passes.run(pcm, window, prefix=part)  # the prefix included
            prefixed.append(whole_text)
            times["prefixed"].append(seconds)
        same = "=" if streamed[-1] == text else streamed[-1]
        console.print(f"{text}  |  {same}")
    console.print(
        f"{len(texts)} utterances, {gapped} with an inner gap; WER whole "
        f"{word_error_rate(texts, whole):.3f}, streamed {word_error_rate(texts, streamed):.3f}, "
        f"short window {word_error_rate(texts, short):.3f}, prefixed "
        f"{word_error_rate(texts, prefixed):.3f}; streamed equals whole on "
        f"{sum(a == b for a, b in zip(streamed, whole, strict=True))}/{len(texts)}, prefixed on "
        f"{sum(a == b for a, b in zip(prefixed, whole, strict=True))}/{len(texts)}"
    )
    for name, values in times.items():
        console.print(f"pass at the end, median: {name} {1000 * statistics.median(values):.0f} ms")


if __name__ == "__main__":
    main()
