"""Running a declared tool: an HTTP endpoint the arguments are POSTed to, or a Python function.

Either gets the validated arguments and the caller facts. An HTTP tool's answer must be a 2xx
of at most ``max_response_bytes`` (read as it arrives, cut off past it: a tool that sends a
gigabyte costs a few kilobytes); its body, JSON or text, is what the model reads. No redirects
are followed: the endpoint in config is the only address a tool call reaches.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import msgspec

from gateway.tools.spec import CallerFacts, ToolSpec

PythonTool = Callable[[dict[str, Any], CallerFacts], Awaitable[object] | object]


class ToolFailed(RuntimeError):
    """The tool ran and failed; the message says how, briefly (no response body)."""


def caller_payload(facts: CallerFacts | None) -> dict[str, str]:
    if facts is None:
        return {"call_sid": "", "from": "", "to": ""}
    return {"call_sid": facts.call_sid, "from": facts.from_, "to": facts.to}


async def post_tool(
    client: httpx.AsyncClient, spec: ToolSpec, arguments: dict[str, Any], facts: CallerFacts | None
) -> str:
    """POST ``{"tool", "arguments", "call": {"call_sid", "from", "to"}}``; the answer's text."""
    body = {"tool": spec.name, "arguments": arguments, "call": caller_payload(facts)}
    request = client.build_request(
        "POST", spec.url, content=msgspec.json.encode(body),
        headers={"content-type": "application/json", **spec.headers},
    )  # fmt: skip
    response = await client.send(request, stream=True)
    try:
        if not 200 <= response.status_code < 300:
            raise ToolFailed(f"HTTP {response.status_code}")
        data = bytearray()
        async for piece in response.aiter_bytes():
            data += piece
            if len(data) > spec.max_response_bytes:
                raise ToolFailed(f"answer over {spec.max_response_bytes} bytes")
        return data.decode("utf-8", errors="replace")
    finally:
        await response.aclose()


def load_entry_point(entry_point: str) -> PythonTool:
    """``package.module:function``, imported at start-up (a typo stops start-up)."""
    module_name, _, attribute = entry_point.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{entry_point!r}: expected 'module:function'")
    function = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(function):
        raise ValueError(f"{entry_point!r}: not a function")
    return function  # type: ignore[no-any-return]


async def call_python(
    function: PythonTool, arguments: dict[str, Any], facts: CallerFacts | None
) -> str:
    """Call a Python tool: a coroutine function runs on the loop, a plain one in a thread (it
    may block). What it returns is given to the model as text (JSON for anything but a str)."""
    if inspect.iscoroutinefunction(function):
        result = await function(arguments, facts)  # type: ignore[arg-type]
    else:
        result = await asyncio.to_thread(function, arguments, facts)  # type: ignore[arg-type]
        if inspect.isawaitable(result):
            result = await result
    return result if isinstance(result, str) else msgspec.json.encode(result).decode()
