"""Each stage on the real embedded models."""

from __future__ import annotations

import asyncio
import difflib
import re
from pathlib import Path

import numpy as np
import pytest

from gateway.audio import mulaw
from gateway.audio.frames import FRAME_BYTES
from gateway.engines import Engines, load_synthesizer
from gateway.llm.base import ChatMessage
from gateway.llm.local import LlamaChat
from gateway.pipeline.listener import Listener
from gateway.pipeline.speech import FrameEncoder
from gateway.scheduling import ComputeGate, Job
from gateway.settings import Settings
from gateway.stt.local import WhisperTranscriber
from gateway.vad.silero import SileroStream
from tests.conftest import with_changes
from tests.sim import espeak
from tests.sim.caller import SILENT_FRAME
from tests.sim.clips import make_clip, speech_8k

PROMPT = [
    ChatMessage("system", "You are a helpful assistant. Answer briefly."),
    ChatMessage("user", "What is the capital of France?"),
]


HANGUL = re.compile(r"[\uac00-\ud7a3]")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


async def test_short_window_transcribes_like_the_full_window(engines: Engines) -> None:
    audio = await speech_8k(engines.synthesizer, "Please book a table for four at seven.")
    short = await engines.transcriber.transcribe(audio, 8000)
    assert isinstance(engines.transcriber, WhisperTranscriber)
    full = WhisperTranscriber(engines.transcriber._model, "full", "en", 1, encoder_window_ms=0)
    standard = await full.transcribe(audio, 8000)
    assert "table" in short.text.lower() and "four" in short.text.lower().replace("4", "four")
    short_words, standard_words = words(short.text), words(standard.text)
    matcher = difflib.SequenceMatcher(a=short_words, b=standard_words)
    differing = max(len(short_words), len(standard_words)) - sum(
        block.size for block in matcher.get_matching_blocks()
    )
    assert differing <= 1, (short.text, standard.text)  # WER over many clips: see bench/


@pytest.mark.parametrize(
    "question",
    ["How many legs does a spider have?", "How long does it take to boil an egg?"],
)
async def test_the_short_window_neither_loops_nor_stops_early_on_a_natural_voice(
    engines: Engines, question: str
) -> None:
    """Padded with zero features, the short window read hibari's voice as "How How How How"
    and "How long does it take"; padded with silent audio, it reads the whole question."""
    clip = await make_clip(engines.synthesizer, question)
    audio = np.concatenate([np.zeros(2400), mulaw.decode(clip.mulaw) / 32768]).astype(np.float32)
    heard = await engines.transcriber.transcribe(audio, 8000)
    said = words(question)
    assert len(words(heard.text)) <= len(said) + 1, heard.text
    assert difflib.SequenceMatcher(None, said, words(heard.text)).ratio() > 0.8, heard.text


async def test_the_short_window_detects_the_language_or_is_told_it(engines: Engines) -> None:
    """``"auto"``: the language is detected in the short window, and the words are written in
    it; a language given per utterance (the call's) overrides the configured one."""
    if espeak.unavailable():
        pytest.skip(f"no espeak-ng to speak Korean: {espeak.unavailable()}")
    assert isinstance(engines.transcriber, WhisperTranscriber)
    model = engines.transcriber._model
    # Among English and Korean: unrestricted, whisper-base takes espeak's Korean for Thai.
    auto = WhisperTranscriber(
        model, "auto", "auto", 1, encoder_window_ms=8000, detect_among=["en", "ko"]
    )
    english = await speech_8k(engines.synthesizer, "Please book a table for four at seven.")
    korean, rate = await espeak.speak("주문한 물건이 아직 안 왔어요. 확인해 주세요.", "ko")
    heard_en = await auto.transcribe(english, 8000)
    heard_ko = await auto.transcribe(korean, rate)
    told_ko = await engines.transcriber.transcribe(korean, rate, language="ko")  # "en" configured
    assert heard_en.language == "en" and "table" in heard_en.text.lower(), heard_en
    assert heard_ko.language == "ko" and HANGUL.search(heard_ko.text), heard_ko
    assert told_ko.language == "ko" and HANGUL.search(told_ko.text), told_ko


async def test_silence_transcribes_to_little_or_nothing(engines: Engines) -> None:
    transcript = await engines.transcriber.transcribe(np.zeros(16000, dtype=np.float32), 8000)
    assert len(transcript.text.split()) <= 3


async def collect(stream: object) -> str:
    parts = [token async for token in stream]  # type: ignore[attr-defined]
    return "".join(parts)


async def test_llm_serves_concurrent_calls_without_mixing_tokens(engines: Engines) -> None:
    assert isinstance(engines.chat, LlamaChat)
    greedy = LlamaChat(
        engines.chat._pool._contexts, "greedy", 24, 0.0, gate=ComputeGate("test"), workers=4
    )
    other = [PROMPT[0], ChatMessage("user", "Name three colours.")]
    expected = [await collect(greedy.stream(PROMPT)), await collect(greedy.stream(other))]
    replies = await asyncio.gather(
        collect(greedy.stream(PROMPT)),
        collect(greedy.stream(other)),
        collect(greedy.stream(PROMPT)),
    )
    assert list(replies) == [expected[0], expected[1], expected[0]]


async def test_cancelled_stream_releases_the_model(engines: Engines) -> None:
    stream = engines.chat.stream(PROMPT)
    first = await anext(stream)  # type: ignore[call-overload]
    assert first
    await stream.aclose()  # type: ignore[attr-defined]
    # The context and the gate were released: a new generation runs to the end (sampled, so
    # not checked for its content).
    reply = await asyncio.wait_for(collect(engines.chat.stream(PROMPT)), timeout=30)
    assert reply.strip()


async def test_tts_makes_20ms_mulaw_frames_of_plausible_length(engines: Engines) -> None:
    encoder: FrameEncoder | None = None
    frames: list[bytes] = []
    async for chunk in engines.synthesizer.synthesize("Good morning, how are you today?"):
        assert chunk.samples.dtype == np.int16
        encoder = encoder or FrameEncoder(chunk.sample_rate_hz)
        frames += encoder.feed(chunk)
    assert encoder is not None
    frames += encoder.finish()
    assert all(len(frame) == FRAME_BYTES for frame in frames)
    assert 0.8 < len(frames) * 0.02 < 5.0


@pytest.mark.parametrize("voice", ["embedded:hibari-heart", "embedded:joe-medium"])
async def test_each_embedded_voice_is_heard_over_the_phone(
    engines: Engines, settings: Settings, voice: str
) -> None:
    """Through 8 kHz mu-law, as the caller hears it, Whisper makes out what each voice said."""
    chosen = with_changes(settings, tts={"voice": voice})
    cache = settings.models.cache_dir
    synthesizer = await asyncio.to_thread(
        lambda: load_synthesizer(chosen, Path(cache).expanduser(), lambda _: None)
    )
    assert synthesizer.description.startswith(voice.removeprefix("embedded:"))
    said = "Your table for two is booked for seven tonight."
    pcm = np.clip(await speech_8k(synthesizer, said), -1.0, 1.0)
    # The voice's own lead-in of silence is cut (hibari's was 310 ms): the caller hears the
    # first word with the first frames.
    assert np.flatnonzero(np.abs(pcm) >= 0.02)[0] / 8000 <= 0.05
    clip = mulaw.decode(mulaw.encode((pcm * 32767).astype(np.int16)))
    heard = await engines.transcriber.transcribe(clip.astype(np.float32) / 32768.0, 8000)
    assert difflib.SequenceMatcher(None, words(said), words(heard.text)).ratio() > 0.7, heard.text


async def test_the_english_voice_hands_another_script_to_the_piper_voice(
    engines: Engines,
) -> None:
    """hibari reads English only: a Korean phrase (a Korean call with no voice of its own) is
    said by the fallback voice, Piper at 22.05 kHz, not left silent."""
    rates: dict[str, set[int]] = {}
    seconds: dict[str, float] = {}
    for text in ("Hello, how can I help?", "안녕하세요! 무엇을 도와드릴까요?"):
        async for chunk in engines.synthesizer.synthesize(text):
            rates.setdefault(text, set()).add(chunk.sample_rate_hz)
            seconds[text] = seconds.get(text, 0.0) + len(chunk.samples) / chunk.sample_rate_hz
    assert rates == {
        "Hello, how can I help?": {24_000},
        "안녕하세요! 무엇을 도와드릴까요?": {22_050},
    }
    assert min(seconds.values()) > 0.5, seconds


async def test_the_latency_origin_is_the_last_loud_frame_not_silero_s_late_window(
    engines: Engines, settings: Settings
) -> None:
    listener = Listener(SileroStream(engines.vad_session, 8000), settings)
    clip = await make_clip(engines.synthesizer, "What time does the library open tomorrow?")
    now = 0.0
    for frame in clip.frames:  # trimmed: its last frame is voiced
        listener.hear(frame, now)
        now += 0.02
    last_voiced_at = now - 0.02
    for _ in range(30):
        listener.hear(SILENT_FRAME, now)
        now += 0.02
    ended = listener.speech_end
    assert ended.voice_at == pytest.approx(last_voiced_at, abs=0.021)
    assert ended.voice_at <= ended.silero_at <= ended.voice_at + 0.2


async def test_vad_hears_speech_not_silence(engines: Engines) -> None:
    vad = SileroStream(engines.vad_session, 8000)
    speech = await speech_8k(engines.synthesizer, "Hello, can you hear me clearly?")
    silence_probabilities = vad.process(np.zeros(8000, dtype=np.float32))
    speech_probabilities = vad.process(speech)
    assert max(silence_probabilities) < 0.1
    assert max(speech_probabilities) > 0.9


async def test_listener_hears_a_caller_going_on_within_one_frame(
    engines: Engines, settings: Settings
) -> None:
    listener = Listener(SileroStream(engines.vad_session, 8000), settings)
    first = await make_clip(engines.synthesizer, "Can you check if my package has arrived")
    then = await make_clip(engines.synthesizer, "at the post office?")
    now = 0.0
    for frame in [*first.frames, *[SILENT_FRAME] * 30]:  # the words, then a 600 ms pause
        listener.hear(frame, now)
        now += 0.02
    # Silero's probability fades over a window or few after the last word (Piper's synthesis
    # is random: up to 120 ms seen): the rest of the pause is quiet.
    assert listener.last_sound_at() < now - 0.4, "the pause is quiet"
    paused_until = now
    listener.hear(then.frames[0], now)  # the first 20 ms of the caller going on
    assert listener.last_sound_at() >= paused_until


async def test_a_prepared_prompt_leaves_only_the_new_words_to_evaluate(engines: Engines) -> None:
    """After a turn the call's context evaluates the next prompt's start (system prompt and
    history) ahead; the next turn then evaluates only the caller's new words."""
    assert isinstance(engines.chat, LlamaChat)
    history = [PROMPT[0]]
    for n in range(6):  # a history of some hundreds of tokens, as after a few turns
        history += [
            ChatMessage("user", f"Question number {n}: what are the opening hours on day {n}?"),
            ChatMessage("assistant", f"On day {n} we open at nine and close at five thirty."),
        ]
    question = ChatMessage("user", "And on public holidays?")
    one_token = LlamaChat(
        engines.chat._pool._contexts, "one token", 1, 0.0, gate=ComputeGate("test"), workers=2
    )

    async def prompt_steps(call_id: str) -> int:
        job = Job(call_id=call_id)
        await collect(one_token.stream([*history, question], job))
        return job.steps["llm"]  # with one token: the prompt's evaluation steps

    cold = await prompt_steps("CAcold")
    await one_token.prepare(history, Job(call_id="CAwarm"))
    warm = await prompt_steps("CAwarm")
    assert cold >= 6, cold
    assert warm <= 2, warm


GREETED = [
    ChatMessage("system", "You are a friendly phone assistant. Answer in one or two sentences."),
    ChatMessage("assistant", "Hello! How can I help you today?"),
]


async def test_the_model_is_sure_of_a_finished_question_and_not_of_a_cut_clause(
    engines: Engines,
) -> None:
    """The chat model's probability that the caller's message ends where the words stop, read
    without Whisper's closing mark (which a clause cut at a pause gets too)."""
    assert isinstance(engines.chat, LlamaChat)

    async def score(text: str) -> float:
        question = ChatMessage("user", text)
        return await engines.chat.score_turn_end([*GREETED, question], Job(call_id="CAscore"))

    finished = await score("What time does the library open tomorrow morning?")
    cut = await score("I would like to book a table for.")
    assert finished >= 0.5, finished
    assert cut < 0.05, cut


async def test_the_score_comes_first_and_the_reply_reads_only_the_rest(engines: Engines) -> None:
    """The draft's reply is scored from within its own prompt's evaluation: the probability is
    told before the first token, and the prompt is not evaluated twice."""
    assert isinstance(engines.chat, LlamaChat)
    chat = LlamaChat(
        engines.chat._pool._contexts, "counted", 8, 0.0, gate=ComputeGate("test"), workers=2
    )
    question = ChatMessage("user", "Can you tell me the weather forecast for Saturday?")
    told: list[tuple[float, int]] = []
    pieces: list[str] = []
    job = Job(call_id="CAsplit")
    await chat.prepare(GREETED, job)
    warm = job.steps.get("llm", 0)
    stream = chat.stream_scoring_end(
        [*GREETED, question], lambda p: told.append((p, len(pieces))), job
    )
    async for piece in stream:
        pieces.append(piece)
        if len(pieces) == 3:
            break
    assert len(told) == 1 and told[0][1] == 0, told  # once, before any token
    assert 0.0 <= told[0][0] <= 1.0
    # The question (about 15 tokens) and the assistant's header: two prompt steps at most,
    # then one step a token.
    assert job.steps["llm"] - warm <= 2 + len(pieces) + 1, job.steps
