"""faster-whisper transcription in a worker thread.

Whisper pads every input to a 30 s window; on a CPU the encoder then costs about 1 s whatever the
utterance length. A phone turn is a few seconds, so by default the utterance is encoded in a
shorter window (at least ``encoder_window_ms``, and at least the audio plus 1 s of padding) and
decoded with CTranslate2 directly, with faster-whisper's own features, prompt and tokenizer.
Measured on the bench utterances (2-core CPU, whisper-base int8): the same word error rate as
the 30 s pass with an 8 s window, 0.33 s instead of 1.28 s median. Windows below about 8 s make
the decoder repeat itself, hence the floor.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from gateway.audio.resample import resample
from gateway.devices import Resolved
from gateway.scheduling import Gate, Job, NoGate, unscheduled
from gateway.stt.base import Transcript

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

WHISPER_RATE_HZ = 16_000
FULL_WINDOW_MS = 30_000
PAD_MS = 1_000
DEFAULT_TOKENS_PER_S = 6
TOKENS_PER_S = {"ko": 15, "ja": 15, "zh": 15, "th": 15}
"""Most tokens a second of speech may decode to (a guard against a looping decoder)."""


class WhisperTranscriber:
    """One loaded model serves every call, one utterance at a time through the device's compute
    gate, most urgent first (a committed turn before a draft)."""

    def __init__(
        self,
        model: WhisperModel,
        description: str,
        language: str,
        beam_size: int,
        *,
        encoder_window_ms: int = 0,
        gate: Gate | None = None,
        workers: int = 2,
    ):
        self._model = model
        self._gate = gate or NoGate()
        self.description = description
        self._language = language or None
        self._beam_size = beam_size
        self._window_frames = encoder_window_ms // 10  # Whisper features are 10 ms apart
        self._rate = TOKENS_PER_S.get(self._language or "", DEFAULT_TOKENS_PER_S)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stt")
        self._prompt: list[int] = []
        self._tokenizer: Any = None
        if self._language and self._window_frames:
            from faster_whisper.tokenizer import Tokenizer

            self._tokenizer = Tokenizer(
                model.hf_tokenizer,
                model.model.is_multilingual,
                task="transcribe",
                language=self._language,
            )
            self._prompt = model.get_prompt(self._tokenizer, [], without_timestamps=True)

    @classmethod
    def load(
        cls,
        *,
        model: str,
        device: Resolved,
        compute_type: str,
        cpu_threads: int,
        language: str,
        beam_size: int,
        encoder_window_ms: int,
        gate: Gate,
        workers: int,
        label: str,
    ) -> WhisperTranscriber:
        from faster_whisper import WhisperModel

        compute = (
            compute_type if compute_type != "auto" else ("float16" if device == "cuda" else "int8")
        )
        loaded = WhisperModel(model, device=device, compute_type=compute, cpu_threads=cpu_threads)
        description = f"{label} on {device} ({compute})"
        return cls(
            loaded,
            description,
            language,
            beam_size,
            encoder_window_ms=encoder_window_ms,
            gate=gate,
            workers=workers,
        )

    def _run(self, samples: npt.NDArray[np.float32], sample_rate_hz: int) -> Transcript:
        audio = resample(samples, sample_rate_hz, WHISPER_RATE_HZ)
        audio_ms = len(samples) * 1000 // sample_rate_hz
        if self._tokenizer is not None and audio_ms + PAD_MS <= FULL_WINDOW_MS:
            return Transcript(self._decode_short(audio), str(self._language), audio_ms)
        segments, info = self._model.transcribe(
            audio,
            language=self._language,
            beam_size=self._beam_size,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        # The generator does the decoding: consume it here, in the worker thread.
        text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcript(text=text, language=str(info.language), audio_ms=audio_ms)

    def _decode_short(self, audio: npt.NDArray[np.float32]) -> str:
        import ctranslate2

        features = self._model.feature_extractor(audio)[:, :-1]
        frames = min(
            FULL_WINDOW_MS // 10, max(self._window_frames, features.shape[1] + PAD_MS // 10)
        )
        frames += frames % 2  # the encoder's convolution halves the length
        padded = np.zeros((1, features.shape[0], frames), dtype=np.float32)
        padded[0, :, : features.shape[1]] = features[:, :frames]
        encoded = self._model.model.encode(ctranslate2.StorageView.from_array(padded), to_cpu=False)
        result = self._model.model.generate(
            encoded,
            [self._prompt],
            beam_size=self._beam_size,
            # A guard against a looping decoder: speech is well under 6 tokens a second in
            # languages written in Latin letters; Hangul, kana and Han take a token or more a
            # syllable.
            max_length=len(self._prompt) + int(len(audio) / WHISPER_RATE_HZ * self._rate) + 10,
            suppress_blank=True,
            suppress_tokens=[-1],
        )
        ids = [i for i in result[0].sequences_ids[0] if i < self._tokenizer.eot]
        # A cap that falls inside a multi-byte character leaves half of it undecodable.
        return str(self._tokenizer.decode(ids)).rstrip("\ufffd").strip()

    def _run_when_due(
        self, samples: npt.NDArray[np.float32], sample_rate_hz: int, job: Job
    ) -> Transcript:
        with self._gate.step(job, "stt"):
            return self._run(samples, sample_rate_hz)

    async def transcribe(
        self, samples: npt.NDArray[np.float32], sample_rate_hz: int, job: Job | None = None
    ) -> Transcript:
        loop = asyncio.get_running_loop()
        claim = job or unscheduled()
        return await loop.run_in_executor(
            self._executor, self._run_when_due, samples, sample_rate_hz, claim
        )
