"""How well the embedded model (SmolLM2-135M-Instruct) decides to call a tool.

24 caller turns, half of which ask for an order's status with its number (the tool should be
called, with that number) and half of which do not (it should not). Each is one request with the
``order_status`` tool declared and ``tool_choice = "auto"``, as a call's first turn, in:

- ``local``: the gateway's in-process backend (grammar-constrained choice, then arguments under
  the tool's schema; :mod:`gateway.llm.local_tools`);
- ``server``: llama-cpp-python's server with ``--chat_format chatml-function-calling`` (its own
  grammar-constrained choice), through the gateway's OpenAI-compatible backend.

Usage: python bench/tool_calls.py [--modes local,server] [--out bench/results]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from gateway.engines import load_chat
from gateway.http_api import BackendError
from gateway.llm.base import CallsTools, ChatMessage, ToolCall
from gateway.settings import Settings, load_settings
from gateway.tools.arguments import ArgumentError, parse_arguments
from tests.sim.backends import llama_server

ROOT = Path(__file__).resolve().parents[1]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"order_number": {"type": "string", "pattern": "^[0-9]{1,8}$"}},
    "required": ["order_number"],
}
TOOL = {
    "type": "function",
    "function": {
        "name": "order_status",
        "description": "Look up the delivery status of an order by its order number.",
        "parameters": SCHEMA,
    },
}
SHOULD_CALL = [
    "What is the status of order 4271?",
    "Where is my order 5530?",
    "Can you check order number 1189 for me?",
    "Has order 90210 shipped yet?",
    "I ordered a lamp, the order number is 7723. When will it arrive?",
    "Track my package, order 3141.",
    "My order 2468 still hasn't arrived.",
    "Is order 8080 on its way?",
    "Could you look up order 6512 please?",
    "Status of order 1024.",
    "When will order 4455 be delivered?",
    "I'd like an update on order number 3390.",
]
SHOULD_NOT = [
    "Hello, how are you today?",
    "What time do you open tomorrow?",
    "Thank you, that's all.",
    "Do you sell gift cards?",
    "What is your return policy?",
    "Can I speak English with you?",
    "Tell me a joke.",
    "What's the weather like?",
    "Where is your shop located?",
    "Do you deliver on Sundays?",
    "I'd like to change my password.",
    "Goodbye!",
]


def settings_for_bench() -> Settings:
    settings = load_settings(None, environ={})
    llm = msgspec.structs.replace(settings.llm, contexts=1, max_reply_tokens=12, temperature=0.0)
    return msgspec.structs.replace(settings, llm=llm)


async def ask(chat: CallsTools, system: str, prompt: str) -> tuple[list[ToolCall], str, float]:
    messages = [ChatMessage("system", system), ChatMessage("user", prompt)]
    started = time.perf_counter()
    calls: list[ToolCall] = []
    text: list[str] = []
    try:
        async for item in chat.stream_tools(messages, [TOOL], "auto"):
            (calls if isinstance(item, ToolCall) else text).append(item)  # type: ignore[arg-type]
    except BackendError as error:  # e.g. an answer with neither text nor a call
        text.append(f"<{error.reason}>")
    return calls, "".join(text), time.perf_counter() - started


def judge(prompt: str, calls: list[ToolCall]) -> dict[str, Any]:
    called = [c for c in calls if c.name == "order_status"]
    number = re.search(r"[0-9]+", prompt)
    right_number = False
    if called and number:
        try:
            arguments = parse_arguments(called[0].arguments, SCHEMA)
            right_number = arguments["order_number"] == number.group()
        except ArgumentError:
            pass
    return {
        "called": bool(called),
        "arguments": called[0].arguments if called else "",
        "right_number": right_number,
    }


async def run_mode(
    mode: str, settings: Settings, workdir: Path, cache: Path
) -> list[dict[str, Any]]:
    server = None
    configured = settings
    if mode == "server":
        gguf = next((cache / "smollm2-135m").glob("*.gguf"))
        server = llama_server(gguf, workdir, threads=2)
        server.argv += ["--chat_format", "chatml-function-calling"]
        server.start()
        await server.wait_ready()
        llm = msgspec.structs.replace(
            settings.llm, backend="openai", base_url=server.base_url, model="smollm2-135m",
            read_timeout_ms=60_000,
        )  # fmt: skip
        configured = msgspec.structs.replace(settings, llm=llm)
    chat = load_chat(configured, cache, lambda _: None)
    assert isinstance(chat, CallsTools)
    system = settings.llm.system_prompt + chat.tool_instructions([TOOL])
    rows = []
    try:
        for should, prompts in ((True, SHOULD_CALL), (False, SHOULD_NOT)):
            for prompt in prompts:
                calls, text, seconds = await ask(chat, system, prompt)
                row = {"mode": mode, "prompt": prompt, "should_call": should, "text": text}
                row |= judge(prompt, calls) | {"seconds": round(seconds, 3)}
                rows.append(row)
                mark = "call" if row["called"] else "----"
                print(f"{mode:6} {mark} {'should' if should else 'not  '} {prompt!r} "
                      f"{row['arguments'] or text!r}", flush=True)  # fmt: skip
    finally:
        close = getattr(chat, "aclose", None)
        if close is not None:
            await close()
        if server is not None:
            server.stop()
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    should = [r for r in rows if r["should_call"]]
    should_not = [r for r in rows if not r["should_call"]]
    return {
        "called_when_it_should": f"{sum(r['called'] for r in should)}/{len(should)}",
        "right_number": f"{sum(r['right_number'] for r in should)}/{len(should)}",
        "silent_when_it_should_not": (
            f"{sum(not r['called'] for r in should_not)}/{len(should_not)}"
        ),
        "empty_replies": sum(
            1 for r in rows if not r["called"] and r["text"].strip() in ("", "<empty>")
        ),
        "median_s": round(statistics.median(r["seconds"] for r in rows), 3),
    }


async def measure(modes: list[str], settings: Settings, cache: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as workdir:
        for mode in modes:
            rows = await run_mode(mode, settings, Path(workdir), cache)
            results[mode] = {"summary": summary(rows), "rows": rows}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="local,server")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    settings = settings_for_bench()
    cache = Path(settings.models.cache_dir).expanduser()
    results = asyncio.run(measure(args.modes.split(","), settings, cache))
    for mode, result in results.items():
        print(mode, json.dumps(result["summary"]))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"tool_calls-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=1))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
