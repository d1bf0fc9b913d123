"""The tools a gateway offers, and every limit a tool call goes through.

A call the model makes is untrusted input. In order: the per-turn and per-call caps (a model
that loops is stopped, and then answers in words), the name (only declared tools and the
built-in actions that are on exist), the arguments (JSON, validated against the tool's schema,
before any request), then the run itself, bounded in time and in what it may answer. Whatever
happens, the turn's record gets a :class:`ToolRecord` for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from gateway.llm.base import ToolCall
from gateway.tools.actions import CallAction, hang_up_spec, transfer_spec
from gateway.tools.arguments import ArgumentError, parse_arguments
from gateway.tools.config import ToolsSettings, TransferSettings
from gateway.tools.record import ToolRecord, ToolStatus
from gateway.tools.runners import PythonTool, ToolFailed, call_python, load_entry_point, post_tool
from gateway.tools.spec import CallerFacts, ToolSpec
from gateway.tools.transfer import PendingTransfers, TransferFailed, TwilioRest

log = logging.getLogger("voicegw.tools")
RECORD_CHARS = 500
"""Arguments and results are kept this long at most in a turn record."""
NAME_CHARS = 64


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    record: ToolRecord
    content: str
    """What the model reads as the tool's answer (its ``tool`` message)."""
    action: CallAction | None = None
    say: str = ""
    """A JSON answer's ``say`` string: spoken as it is, with no second request to the model."""

    @property
    def failed(self) -> bool:
        """Ran and failed, or no answer in time: the caller hears the apology."""
        return self.record.status in ("error", "timeout")


def _spec(tool: Any) -> ToolSpec:
    return ToolSpec(
        name=tool.name,
        description=tool.description,
        parameters=tool.parameters,
        kind="http" if tool.url else "python",
        url=tool.url,
        entry_point=tool.entry_point,
        timeout_ms=tool.timeout_ms,
        max_response_bytes=tool.max_response_bytes,
    )


class Toolbox:
    """The declared tools and built-in actions of one gateway, with their HTTP client."""

    def __init__(
        self,
        tools: ToolsSettings,
        transfer: TransferSettings,
        *,
        rest: TwilioRest | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = tools
        self.transfer = transfer
        built_in = [transfer_spec(transfer), hang_up_spec(tools)]
        specs = [_spec(tool) for tool in tools.function] + [s for s in built_in if s]
        self.specs = {spec.name: spec for spec in specs}
        self._python: dict[str, PythonTool] = {
            s.name: load_entry_point(s.entry_point) for s in specs if s.kind == "python"
        }
        self._client = client
        self.rest = rest
        self.transfers = PendingTransfers()

    def __bool__(self) -> bool:
        return bool(self.specs)

    @property
    def declarations(self) -> list[dict[str, Any]]:
        """The tools as OpenAI's chat API declares them."""
        return [spec.openai() for spec in self.specs.values()]

    @property
    def uses_connect_action(self) -> bool:
        """The webhook's ``<Connect>`` names the after-stream action (transfers by it)."""
        return "transfer" in self.specs and self.transfer.method == "connect_action"

    def for_call(self, facts: CallerFacts | None) -> CallTools:
        return CallTools(self, facts)

    async def run(self, call: ToolCall, facts: CallerFacts | None) -> ToolOutcome:
        """Check and run one call (the caps are the caller's: :class:`TurnTools`)."""
        started = time.monotonic()
        spec = self.specs.get(call.name)
        if spec is None:
            return _refused(call, "no such tool", started)
        try:
            arguments = parse_arguments(call.arguments, spec.parameters)
        except ArgumentError as error:
            return _refused(call, str(error), started)
        if spec.kind == "transfer":
            return self._transfer(call, arguments, started)
        if spec.kind == "hang_up":
            action = CallAction("hang_up", line=self.settings.goodbye)
            return _outcome(call, "ok", "The call is ending.", started, action=action)
        return await self._execute(spec, call, arguments, facts, started)

    async def _execute(
        self,
        spec: ToolSpec,
        call: ToolCall,
        arguments: dict[str, Any],
        facts: CallerFacts | None,
        started: float,
    ) -> ToolOutcome:
        try:
            async with asyncio.timeout(spec.timeout_ms / 1000):
                if spec.kind == "python":
                    answer = await call_python(self._python[spec.name], arguments, facts)
                else:
                    answer = await post_tool(self._http(), spec, arguments, facts)
        except TimeoutError:
            return _outcome(call, "timeout", f"no answer in {spec.timeout_ms} ms", started)
        except (ToolFailed, httpx.HTTPError) as error:
            return _outcome(call, "error", _brief(error), started)
        except Exception as error:  # a Python tool's own bug: the call goes on
            log.exception("tool %s failed", spec.name)
            return _outcome(call, "error", _brief(error), started)
        content = answer[: self.settings.result_chars]
        return _outcome(call, "ok", content, started, say=_say(answer, self.settings.result_chars))

    def _transfer(self, call: ToolCall, arguments: dict[str, Any], started: float) -> ToolOutcome:
        name = str(arguments.get("to", ""))
        target = self.transfer.targets.get(name)
        if target is None:  # the schema's enum already says so: kept as a second lock
            return _refused(call, "not on the transfer allow-list", started)
        action = CallAction("transfer", target=target, line=self.transfer.line)
        return _outcome(call, "ok", f"Transferring the call to {name}.", started, action=action)

    async def carry_out(
        self, action: CallAction, call_sid: str, end_call: Callable[[str], None]
    ) -> None:
        """Do what the call asked, now that the caller has heard its line: end the stream (after
        holding the transfer target for the action request, or updating the call by REST)."""
        if action.kind == "hang_up":
            end_call("the agent hung up")
            return
        if self.rest is None:
            self.transfers.hold(call_sid, action.target)
            end_call("transferred (connect action)")
            return
        try:
            await self.rest.dial(call_sid, action.target, self.transfer.timeout_ms / 1000)
        except TransferFailed as error:
            log.warning("call=%s transfer by REST failed: %s", call_sid, error)
            return  # the call goes on: the caller is still on the stream
        end_call("transferred (REST)")

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # Tools are the operator's own endpoints: no proxies from the environment, and no
            # redirects (the URL in config is the only address a call reaches).
            self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self.rest is not None:
            await self.rest.aclose()


class CallTools:
    """One call's use of the tools: its count against ``max_calls_per_call``."""

    def __init__(self, toolbox: Toolbox, facts: CallerFacts | None) -> None:
        self.toolbox = toolbox
        self.facts = facts
        self.used = 0

    def turn(self) -> TurnTools:
        return TurnTools(self)


class TurnTools:
    """One turn's tool calls, capped per turn and per call."""

    def __init__(self, call_tools: CallTools) -> None:
        self._call = call_tools
        self._limits = call_tools.toolbox.settings
        self.used = 0
        self.records: list[ToolRecord] = []

    @property
    def may_call(self) -> bool:
        return (
            self.used < self._limits.max_calls_per_turn
            and self._call.used < self._limits.max_calls_per_call
        )

    async def run(self, call: ToolCall) -> ToolOutcome:
        if not self.may_call:
            outcome = _refused(call, "over the cap of tool calls", time.monotonic())
        else:
            self.used += 1
            self._call.used += 1
            outcome = await self._call.toolbox.run(call, self._call.facts)
        self.records.append(outcome.record)
        record = outcome.record
        log.info("tool %r: %s in %d ms", record.name, record.status, record.duration_ms)
        return outcome


def _brief(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:120]}"


def _say(answer: str, limit: int) -> str:
    """A JSON object answer's ``say`` string (the tool's own words for the caller)."""
    if not answer.lstrip().startswith("{"):
        return ""
    try:
        value = msgspec.json.decode(answer)
    except msgspec.DecodeError:
        return ""
    say = value.get("say") if isinstance(value, dict) else None
    return " ".join(say.split())[:limit] if isinstance(say, str) else ""


def _refused(call: ToolCall, why: str, started: float) -> ToolOutcome:
    return _outcome(call, "refused", f"refused: {why}", started)


def _outcome(
    call: ToolCall,
    status: ToolStatus,
    content: str,
    started: float,
    *,
    action: CallAction | None = None,
    say: str = "",
) -> ToolOutcome:
    record = ToolRecord(
        name=call.name[:NAME_CHARS],
        arguments=call.arguments[:RECORD_CHARS],
        status=status,
        duration_ms=round((time.monotonic() - started) * 1000),
        result=content[:RECORD_CHARS],
    )
    return ToolOutcome(record, content, action, say)
