"""A call's language: per-language config, the language forced or detected, and what it picks
(phrases, system prompt, voice, keypad sentence, transcription language). No models: the call
runs on fake stages and a VAD that hears any loud window as speech."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.audio import mulaw
from gateway.audio.frames import FRAME_BYTES
from gateway.engines import Engines
from gateway.llm.base import ChatMessage
from gateway.metrics import GatewayMetrics, TurnRecord
from gateway.pipeline.call import CallSession
from gateway.pipeline.keypad import KeypadEntry
from gateway.pipeline.phrases import PhraseCache
from gateway.pipeline.profiles import (
    all_profiles,
    call_language,
    profile_for,
    requested_language,
)
from gateway.scheduling import GateStats, Job
from gateway.settings import ConfigError, Settings, load_settings
from gateway.stt.base import Transcript
from gateway.tts.base import PcmChunk
from gateway.twilio import twiml
from gateway.twilio.messages import OutboundMark, OutboundMedia, OutboundMessage

KOREAN = """
[languages.ko]
greeting = "안녕하세요! 무엇을 도와드릴까요?"
apology = "죄송합니다. 다시 한번 말씀해 주시겠어요?"
fillers = ["네.", "잠시만요."]
busy_message = "지금은 모든 상담원이 통화 중입니다. 잠시 후 다시 걸어 주세요."
keypad = "고객님이 키패드에서 {digits}을(를) 눌렀습니다."
system_prompt = "당신은 친절한 전화 상담원입니다. 한국어로 짧게 대답하세요."
tts_voice = "korean-voice"
"""


def load(tmp_path: Path, text: str, **environ: str) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ={"VOICEGW_RECORDS__PATH": '""', **environ})  # no records


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[languages.ko]\ngreting = "안녕"\n', "languages.ko.greting: unknown key"),
        ("[languages.ko]\nfillers = [1]\n", "languages.ko.fillers[0]: Expected `str`"),
        ("[languages.ko]\ngreeting = 3\n", "languages.ko.greeting: Expected `str | null`"),
        ("languages = { ko = 3 }\n", "languages.ko: Expected `object`"),
        ('[languages.kr]\ngreeting = "안녕"\n', "languages.kr: unknown language code"),
        ('[languages.ko]\nkeypad = "{number}"\n', "languages.ko.keypad: a template"),
        ('[call]\nkeypad = "pressed {0}"\n', "call.keypad: a template"),
        ('[stt]\nlanguage = "korean"\n', "stt.language: unknown language 'korean'"),
        ('[stt]\ndetect_languages = ["en", "kr"]\n', "stt.detect_languages: unknown language 'kr'"),
    ],
)
def test_a_bad_language_table_names_its_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert message in str(caught.value)


def test_a_language_table_overrides_only_what_it_names(tmp_path: Path) -> None:
    settings = load(tmp_path, '[stt]\nlanguage = "auto"\n[languages.ja]\ngreeting = "もしもし"\n')
    japanese = profile_for(settings, "ja")
    default = profile_for(settings, None)
    assert japanese.greeting == "もしもし"
    assert japanese.apology == default.apology == settings.call.apology
    assert japanese.system_prompt == settings.llm.system_prompt
    assert japanese.voice == default.voice == ""
    assert profile_for(settings, "fr") == default, "no table: the [call] phrases"
    assert [p.code for p in all_profiles(settings)] == ["", "ja"]


def test_language_tables_come_from_the_environment_too(tmp_path: Path) -> None:
    settings = load(tmp_path, "", VOICEGW_LANGUAGES__KO='{ greeting = "안녕하세요" }')
    assert profile_for(settings, "ko").greeting == "안녕하세요"


def test_the_call_language_is_forced_fixed_or_detected(tmp_path: Path) -> None:
    fixed = load(tmp_path, KOREAN)
    auto = load(tmp_path, '[stt]\nlanguage = "auto"\n' + KOREAN)
    assert call_language(fixed) == "en"
    assert call_language(auto) is None, "detected on the first turn"
    assert call_language(auto, "ko") == call_language(fixed, "ko") == "ko"
    assert call_language(auto, "nonsense") is None, "an unknown code is ignored"
    assert requested_language("ko-KR") == requested_language("Korean") == "ko"
    assert requested_language("x" * 1000) == ""


def test_the_keypad_sentence_is_in_the_call_language(tmp_path: Path) -> None:
    settings = load(tmp_path, KOREAN)
    keypad = KeypadEntry(submit_digit="#", hangup_digit="")
    keypad.press("1")
    keypad.press("2")
    assert keypad.take(profile_for(settings, "ko").keypad) == (
        "고객님이 키패드에서 1 2을(를) 눌렀습니다."
    )
    keypad.press("3")
    assert keypad.take(profile_for(settings, None).keypad) == "The caller pressed 3 on the keypad."


def test_the_busy_answer_is_said_in_the_call_language() -> None:
    said = twiml.say_and_hang_up("지금은 통화 중입니다.", "ko")
    assert '<Say language="ko-KR">지금은 통화 중입니다.</Say>' in said
    assert "<Say>Busy.</Say>" in twiml.say_and_hang_up("Busy.")
    connect = twiml.connect_stream("wss://h/twilio/media", {"language": "ko"})
    assert '<Parameter name="language" value="ko"/>' in connect


# -- fake stages -----------------------------------------------------------------------------


class LoudIsSpeech:
    """A stand-in for Silero's ONNX session: a loud window is speech, a quiet one is not."""

    def run(self, _outputs: Any, feeds: dict[str, Any]) -> tuple[Any, Any]:
        rms = float(np.sqrt(np.mean(np.square(feeds["input"]))))
        return np.array([[0.95 if rms > 0.05 else 0.01]], dtype=np.float32), feeds["state"]


class Whisper:
    """Writes Korean, detected when not told the language; records what it was told."""

    description = "fake whisper"

    def __init__(self) -> None:
        self.told: list[str | None] = []

    async def transcribe(
        self,
        samples: npt.NDArray[np.float32],
        sample_rate_hz: int,
        job: Job | None = None,
        *,
        language: str | None = None,
    ) -> Transcript:
        self.told.append(language)
        return Transcript("주문한 물건을 확인해 주세요.", language or "ko", 1000)


class Chat:
    description = "fake llm"

    def __init__(self) -> None:
        self.prompts: list[list[ChatMessage]] = []

    async def stream(
        self, messages: Sequence[ChatMessage], job: Job | None = None
    ) -> AsyncIterator[str]:
        self.prompts.append(list(messages))
        for token in ("네, ", "확인해 ", "드릴게요."):
            yield token


class Voice:
    """Speaks every text as 0.1 s of one sample value, its own: whose audio it is shows."""

    def __init__(self, name: str, level: int) -> None:
        self.description = name
        self.level = level
        self.spoke: list[str] = []

    async def _chunks(self, text: str) -> AsyncIterator[PcmChunk]:
        self.spoke.append(text)
        yield PcmChunk(np.full(800, self.level, dtype=np.int16), 8000)

    def synthesize(self, text: str, job: Job | None = None) -> AsyncIterator[PcmChunk]:
        return self._chunks(text)


SPEECH = mulaw.encode(
    (np.sin(np.arange(FRAME_BYTES) * 2 * np.pi * 300 / 8000) * 12000).astype(np.int16)
)
SILENCE = mulaw.encode(np.zeros(FRAME_BYTES, dtype=np.int16))


class Line:
    """The Twilio side: echoes every mark at once, keeps the audio and the marks sent."""

    def __init__(self) -> None:
        self.session: CallSession | None = None
        self.media: list[bytes] = []
        self.marks: list[str] = []
        self._marked = asyncio.Event()

    async def send(self, message: OutboundMessage) -> None:
        if isinstance(message, OutboundMedia):
            self.media.append(message.media.payload)
        elif isinstance(message, OutboundMark):
            self.marks.append(message.mark.name)
            self._marked.set()
            session, name = self.session, message.mark.name
            assert session is not None
            asyncio.get_running_loop().call_soon(session.on_mark, name)

    async def wait_for_mark(self, name: str, timeout_s: float = 10.0) -> None:
        async with asyncio.timeout(timeout_s):
            while name not in self.marks:
                self._marked.clear()
                await self._marked.wait()

    async def say(self, session: CallSession, speech_ms: int = 800, then_ms: int = 1000) -> None:
        for payload in [SPEECH] * (speech_ms // 20) + [SILENCE] * (then_ms // 20):
            session.on_audio(payload)
            await asyncio.sleep(0.002)  # ok-sleep: pacing (frames faster than real time)


async def make_engines(settings: Settings, voices: dict[str, Voice]) -> Engines:
    default = voices.pop("")
    phrases = PhraseCache(default, voices)
    for profile in all_profiles(settings):
        await phrases.prepare(
            profile.greeting, profile.apology, *profile.fillers, voice=profile.voice
        )
    return Engines(
        transcriber=Whisper(),
        chat=Chat(),
        synthesizer=default,
        vad_session=LoudIsSpeech(),
        phrases=phrases,
        gates=[],
        gate_stats=GateStats(),
        voices=dict(voices),
    )


def start_call(
    settings: Settings, engines: Engines, line: Line, records: list[TurnRecord], language: str = ""
) -> CallSession:
    metrics = GatewayMetrics()
    metrics.record_turn = records.append  # type: ignore[method-assign,assignment]
    session = CallSession(
        engines=engines,
        settings=settings,
        metrics=metrics,
        send=line.send,
        stream_sid="MZ" + "0" * 32,
        call_sid="CA" + "0" * 32,
        language=language,
    )
    line.session = session
    return session


def quick(settings: Settings) -> Settings:
    """No filler, no waiting for quiet: each turn's audio is just its answer."""
    call = msgspec.structs.replace(settings.call, filler_after_ms=0)
    turn = msgspec.structs.replace(settings.turn, quiet_before_answer_ms=0)
    return msgspec.structs.replace(settings, call=call, turn=turn)


# -- calls -----------------------------------------------------------------------------------


async def test_a_detected_language_is_kept_for_the_call(tmp_path: Path) -> None:
    settings = quick(load(tmp_path, '[stt]\nlanguage = "auto"\n' + KOREAN))
    english, korean = Voice("english", 100), Voice("korean", 200)
    engines = await make_engines(settings, {"": english, "korean-voice": korean})
    line, records = Line(), list[TurnRecord]()
    session = start_call(settings, engines, line, records)
    assert session.language is None

    session.greet()
    await line.wait_for_mark("greeting-end")
    assert line.media == engines.phrases.get(settings.call.greeting), "not known yet: [call]'s"

    await line.say(session)
    await line.wait_for_mark("turn1-end")
    assert session.language == "ko"
    await line.say(session)
    await line.wait_for_mark("turn2-end")
    await session.close("test over")

    whisper, chat = engines.transcriber, engines.chat
    assert isinstance(whisper, Whisper) and isinstance(chat, Chat)
    assert whisper.told[0] is None, "the first turn is detected"
    assert set(whisper.told[1:]) == {"ko"}, "later turns are transcribed in the kept language"
    korean_prompt = profile_for(settings, "ko").system_prompt
    assert [prompt[0].content for prompt in chat.prompts] == [korean_prompt] * len(chat.prompts)
    assert len(chat.prompts) >= 2
    assert {"네,", "확인해 드릴게요."} <= set(korean.spoke), "its first clause said on its own"
    assert not [t for t in english.spoke if t.startswith("네")], "the answers in the Korean voice"
    assert [(r.turn, r.outcome, r.language) for r in records] == [
        (1, "replied", "ko"),
        (2, "replied", "ko"),
    ]


async def test_a_forced_language_picks_the_greeting_and_the_voice(tmp_path: Path) -> None:
    settings = quick(load(tmp_path, KOREAN))  # stt.language stays "en"
    english, korean = Voice("english", 100), Voice("korean", 200)
    engines = await make_engines(settings, {"": english, "korean-voice": korean})
    english.spoke.clear()  # the default phrases, rendered at start-up
    line, records = Line(), list[TurnRecord]()
    session = start_call(settings, engines, line, records, language="ko")
    assert session.language == "ko"

    session.greet()
    await line.wait_for_mark("greeting-end")
    greeting = profile_for(settings, "ko").greeting
    assert line.media == engines.phrases.get(greeting, "korean-voice")
    assert line.media != engines.phrases.get(greeting), "in the Korean voice"

    await line.say(session)
    await line.wait_for_mark("turn1-end")
    session.on_dtmf("1")
    session.on_dtmf("2")
    session.on_dtmf("#")
    await line.wait_for_mark("turn2-end")
    await session.close("test over")

    whisper, chat = engines.transcriber, engines.chat
    assert isinstance(whisper, Whisper) and isinstance(chat, Chat)
    assert set(whisper.told) == {"ko"}
    assert chat.prompts[-1][-1].content == "고객님이 키패드에서 1 2을(를) 눌렀습니다."
    assert english.spoke == [], "nothing in the default voice"


async def test_without_a_table_the_default_phrases_and_voice_speak(tmp_path: Path) -> None:
    settings = quick(load(tmp_path, '[stt]\nlanguage = "auto"\n'))
    english = Voice("english", 100)
    engines = await make_engines(settings, {"": english})
    line, records = Line(), list[TurnRecord]()
    session = start_call(settings, engines, line, records)
    await line.say(session)
    await line.wait_for_mark("turn1-end")
    await session.close("test over")
    assert session.language == "ko"
    chat = engines.chat
    assert isinstance(chat, Chat)
    assert chat.prompts[0][0].content == settings.llm.system_prompt
    assert english.spoke, "the default voice answers"


async def test_phrases_are_kept_by_voice() -> None:
    english, korean = Voice("english", 100), Voice("korean", 200)
    phrases = PhraseCache(english, {"ko.onnx": korean})
    await phrases.prepare("네.")
    await phrases.prepare("네.", voice="ko.onnx")
    await phrases.prepare("Okay.", voice="no such voice")  # the default voice speaks it
    assert phrases.get("네.") != phrases.get("네.", "ko.onnx")
    assert phrases.get("Okay.") == phrases.get("Okay.", "no such voice")
    assert english.spoke == ["네.", "Okay."] and korean.spoke == ["네."]


# -- the webhook -----------------------------------------------------------------------------


async def test_the_webhook_asks_for_the_language_and_turns_away_in_it(tmp_path: Path) -> None:
    """``/twilio/voice?language=ko`` (or a ``language`` form field): the stream gets the
    language as a custom parameter, and a caller turned away hears the Korean busy message."""
    settings = load(tmp_path, "[server]\nmax_calls = 1\n" + KOREAN)
    engines = await make_engines(
        settings, {"": Voice("english", 100), "korean-voice": Voice("k", 9)}
    )
    app = create_app(settings, engines)
    async with AsyncTestClient(app) as client:
        answer = await client.post("/twilio/voice?language=ko", data={"CallSid": "CA" + "1" * 32})
        stream = ET.fromstring(answer.text).find("./Connect/Stream")
        assert stream is not None
        parameters = {p.get("name"): p.get("value") for p in stream.findall("./Parameter")}
        assert parameters == {"language": "ko", "callSid": "CA" + "1" * 32}
        busy = await client.post(
            "/twilio/voice", data={"CallSid": "CA" + "2" * 32, "language": "ko"}
        )
        say = ET.fromstring(busy.text).find("./Say")
        assert say is not None and say.get("language") == "ko-KR"
        assert say.text == profile_for(settings, "ko").busy_message
        english = await client.post("/twilio/voice", data={"CallSid": "CA" + "3" * 32})
        say = ET.fromstring(english.text).find("./Say")
        assert say is not None and say.text == settings.call.busy_message
        unknown = await client.post(
            "/twilio/voice?language=klingon", data={"CallSid": "CA" + "4" * 32}
        )
        say = ET.fromstring(unknown.text).find("./Say")
        assert say is not None and say.text == settings.call.busy_message
    # Every language's phrases were rendered at start-up, in its voice.
    assert engines.phrases.get(profile_for(settings, "ko").greeting, "korean-voice")
    assert engines.phrases.get("잠시만요.", "korean-voice")
