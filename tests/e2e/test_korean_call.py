"""A Korean call over the real media socket: Korean audio in (espeak-ng's Korean voice, at
8 kHz mu-law), Whisper fixed to Korean or detecting it (``stt.language = "auto"``), or the call
forced to Korean by its stream's ``language`` parameter; a Hangul transcript to the LLM, a
spoken reply out.

The embedded LLM (SmolLM2-135M) cannot speak Korean, so only the way there is checked: the
caller's Hangul reached the turn record (and so the LLM), reply audio arrived, and the turn was
answered. No voice here speaks Korean: the Korean phrases are rendered by the default voice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from gateway.engines import Engines, load_engines_sync
from gateway.llm.base import ChatMessage, ChatModel
from gateway.metrics import read_turn_log
from gateway.scheduling import Job
from gateway.settings import Settings, load_settings
from tests.conftest import running_gateway, with_changes
from tests.sim import espeak
from tests.sim.caller import SimulatedCaller
from tests.sim.clips import espeak_clip

pytestmark = pytest.mark.skipif(
    bool(espeak.unavailable()),
    reason=f"no espeak-ng to speak the Korean caller: {espeak.unavailable()}",
)

UTTERANCE = "주문한 물건이 아직 안 왔어요. 확인해 주세요."
"""Whisper base writes espeak's Korean as Hangul, if not as these words: "주문한국은 야이간만
소요", "2분 한 물가니아이 간 와 소요 와 핀테 2배요"."""
HANGUL = re.compile(r"[\uac00-\ud7a3]")


KOREAN_PROMPT = (
    "당신은 친절한 전화 상담원입니다. 한국어로 한두 문장만 짧게 대답하세요. "
    "목록, 마크다운, 이모지는 쓰지 마세요."
)
KOREAN_GREETING = "안녕하세요! 무엇을 도와드릴까요?"


@pytest.fixture(scope="module")
def korean(settings: Settings) -> Settings:
    return with_changes(
        settings,
        stt={"language": "ko"},
        log={"transcripts": "full"},
        llm={
            "system_prompt": (
                "당신은 친절한 전화 상담원입니다. 한국어로 한두 문장만 짧게 대답하세요. "
                "목록, 마크다운, 이모지는 쓰지 마세요."
            )
        },
        call={
            "greeting": "안녕하세요! 무엇을 도와드릴까요?",
            "apology": "죄송합니다. 다시 한번 말씀해 주시겠어요?",
            "fillers": ["네.", "잠시만요."],
        },
    )


@pytest.fixture(scope="module")
async def korean_engines(korean: Settings) -> Engines:
    """Engines with Whisper detecting the language (``"auto"``) between English and Korean: a
    call with ``stt.language = "ko"`` tells it Korean, one with ``"auto"`` leaves it to detect
    (the shared engines are fixed to English). Unrestricted, whisper-base takes espeak's Korean
    for Thai."""
    detecting = with_changes(korean, stt={"language": "auto", "detect_languages": ["en", "ko"]})
    return await asyncio.to_thread(load_engines_sync, detecting)


@pytest.mark.parametrize("language", ["ko", "auto"])
async def test_a_korean_caller_is_transcribed_in_hangul_and_answered(
    korean: Settings, korean_engines: Engines, language: str
) -> None:
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    configured = with_changes(
        korean, stt={"language": language}, metrics={"turn_log_path": str(turn_log)}
    )
    clip = await espeak_clip(UTTERANCE, "ko")
    async with (
        running_gateway(configured, korean_engines) as server,
        SimulatedCaller(server.media_url) as caller,
    ):
        await caller.wait_for_mark("greeting-end", timeout_s=15)
        assert caller.drain_media(), "the Korean greeting was spoken"
        result = await caller.say(clip.frames, reply_timeout_s=30)

    assert not result.premature, "reply audio started before the caller finished"
    assert result.reply, "no reply audio"
    assert any(m.startswith("turn1-s") for m in result.marks), result.marks
    records = read_turn_log(turn_log)
    assert [r["outcome"] for r in records] == ["replied"], records
    (record,) = records
    assert HANGUL.search(record["user_text"]), record["user_text"]
    assert record["language"] == "ko", "transcribed in Korean (told, or detected)"
    assert record["reply_text"], record


async def test_a_call_forced_to_korean_greets_and_hears_korean(
    settings: Settings, engines: Engines
) -> None:
    """``stt.language`` stays English; the stream's ``language`` parameter (from the webhook's
    ``?language=ko``) makes this call Korean: the Korean greeting, Hangul heard, the Korean
    system prompt."""
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    configured = load_settings(
        None,
        environ={
            "VOICEGW_LANGUAGES__KO": (
                f'{{ greeting = "{KOREAN_GREETING}", system_prompt = "{KOREAN_PROMPT}" }}'
            ),
            "VOICEGW_METRICS__TURN_LOG_PATH": str(turn_log),
            "VOICEGW_LOG__TRANSCRIPTS": '"full"',
            "VOICEGW_RECORDS__PATH": '""',
        },
    )
    clip = await espeak_clip(UTTERANCE, "ko")
    chat = PromptsSeen(engines.chat)
    async with (
        running_gateway(configured, dataclasses.replace(engines, chat=chat)) as server,
        SimulatedCaller(server.media_url, custom_parameters={"language": "ko"}) as caller,
    ):
        await caller.wait_for_mark("greeting-end", timeout_s=15)
        greeting = [r.payload for r in caller.drain_media()]
        assert greeting, "a greeting was spoken"
        assert greeting == engines.phrases.get(KOREAN_GREETING), "the Korean greeting, whole"
        assert greeting != engines.phrases.get(settings.call.greeting)
        result = await caller.say(clip.frames, reply_timeout_s=30)
    assert result.reply, "no reply audio"
    records = read_turn_log(turn_log)
    assert [r["outcome"] for r in records] == ["replied"], records
    assert records[0]["language"] == "ko"
    (system, *_, user) = chat.prompts[-1]
    assert system.content == KOREAN_PROMPT
    assert HANGUL.search(user.content), user.content


class PromptsSeen:
    """The real LLM, keeping every prompt it was given."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.description = inner.description
        self.prompts: list[list[ChatMessage]] = []

    async def stream(
        self, messages: Sequence[ChatMessage], job: Job | None = None
    ) -> AsyncIterator[str]:
        self.prompts.append(list(messages))
        async for token in self.inner.stream(messages, job):
            yield token
