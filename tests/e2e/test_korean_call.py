"""A Korean call over the real media socket: Korean audio in (espeak-ng's Korean voice, at
8 kHz mu-law), Whisper fixed to Korean, a Hangul transcript to the LLM, a spoken reply out.

The embedded LLM (SmolLM2-135M) cannot speak Korean, so only the way there is checked: the
caller's Hangul reached the turn record, reply audio arrived, and the turn was answered.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

import pytest

from gateway.engines import Engines, load_engines_sync
from gateway.metrics import read_turn_log
from gateway.settings import Settings
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


@pytest.fixture(scope="module")
def korean(settings: Settings) -> Settings:
    return with_changes(
        settings,
        stt={"language": "ko"},
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
    """Engines with Whisper fixed to Korean: the shared ones are fixed to English."""
    return await asyncio.to_thread(load_engines_sync, korean)


async def test_a_korean_caller_is_transcribed_in_hangul_and_answered(
    korean: Settings, korean_engines: Engines
) -> None:
    turn_log = Path(tempfile.mkdtemp()) / "turns.jsonl"
    configured = with_changes(korean, metrics={"turn_log_path": str(turn_log)})
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
    assert record["reply_text"], record
