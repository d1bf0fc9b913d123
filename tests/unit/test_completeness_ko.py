"""Finished thoughts in Korean: what a caller to a customer-service line says, finished or cut
at a pause, as Whisper writes it (with or without its full stop)."""

from __future__ import annotations

import pytest

from gateway.vad.completeness import looks_complete

FINISHED = [
    "여보세요?",
    "주문한 물건이 아직 안 왔어요.",
    "배송 조회 좀 해 주세요.",
    "환불받고 싶습니다.",
    "주문 번호는 1234번입니다.",
    "언제 도착하나요?",
    "영업시간이 어떻게 되죠?",
    "카드 결제가 두 번 됐네요.",
    "네, 맞아요.",
    "아니요, 그게 아니에요.",
    "상담원 연결해 주세요",  # Whisper often leaves out the full stop in Korean
    "비밀번호를 잊어버렸어요",
    "혹시 오늘 안에 받을 수 있을까요?",
    "예약을 취소하려고 합니다.",
    "제 이름은 김민수입니다.",
    "주소를 바꾸고 싶은데요.",
    "제가 지난주에 주문을 했는데요, 아직 배송이 안 돼서요.",
    "배송지를 변경하고 싶은데 어떻게 해야 돼요?",
    "다시 한번 말씀해 주시겠어요?",
    "잠시만요.",
    "네.",
    "네",
    "예",
    "아니요",
    "그렇군요.",
    "이거 얼마예요?",
    "반품은 어떻게 합니까?",
    "그럼 내일 다시 전화할게요.",
    "알겠습니다, 감사합니다.",
    "누가?",  # a question may end on a particle
    "언제까지?",
    "뭔데?",
    "수금한국은 이 온개도 하하는기 알 요도세요",  # Whisper base on a real caller
]

UNFINISHED = [
    "그래서 제가 어제 가게에 갔는데.",  # a full stop after a connective ending is a pause
    "주문을 했는데",
    "제가 어제 주문한 물건이",
    "환불을 받고 싶은데,",
    "배송이 늦어져서.",
    "카드로 결제하면.",
    "주소를 바꾸려고.",
    "제 주문 번호는.",
    "상품을 받았지만.",
    "어제 전화했는데 아직 연락이 없어서",
    "교환이나 환불이 가능한지.",
    "반품하고 싶은데 어떻게 하면",
    "제 계좌로.",
    "카드 결제를 취소하고.",
    "배송 주소를 바꾸거나.",
    "내일까지 받을 수 있도록.",
    "그리고.",
    "그러니까.",
    "혹시",
    "음...",
    "저기, 그.",
    "네, 그런데요...",
    "주문 번호가 1234번이고?",  # rising pitch before a pause is not a question
    "제가 쓰는 카드가",
]


@pytest.mark.parametrize("text", FINISHED)
def test_finished(text: str) -> None:
    assert looks_complete(text, "ko")


@pytest.mark.parametrize("text", UNFINISHED)
def test_unfinished(text: str) -> None:
    assert not looks_complete(text, "ko")


def test_the_table_is_real_and_large() -> None:
    assert len(FINISHED) + len(UNFINISHED) >= 30


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("반품은 어떻게 합니까?", True),  # -ㅂ니까: a formal question
        ("어디로 갑니까?", True),
        ("확인했습니까?", True),
        ("그러니까?", False),  # -니까 after a vowel: "so..."
        ("비가 오니까.", False),
        ("여기 있습니다.", True),
        ("하다가.", False),  # -다가 is longer than -다
        ("어디에서?", True),  # 에서 is a particle, not the connective -서
        ("집에서.", False),
        ("뭐라고?", True),  # quotative -라고 may end a question, -고 may not
        ("먹고?", False),
    ],
)
def test_endings_are_read_on_jamo_longest_first(text: str, complete: bool) -> None:
    assert looks_complete(text, "ko") is complete


@pytest.mark.parametrize("language", ["ko", "KO", "ko-KR", "ko_KR", "korean", "Korean"])
def test_the_language_may_be_a_code_a_tag_or_a_name(language: str) -> None:
    assert not looks_complete("갔는데.", language)
    assert looks_complete("갔어요", language)
