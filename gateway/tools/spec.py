"""A declared tool as the gateway holds it, and the caller facts a tool is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

ToolKind = Literal["http", "python", "transfer", "hang_up"]


class CallerFacts(Protocol):
    """Who is calling whom, on which call (the webhook's From, To and CallSid, which reach the
    stream as ``<Parameter>``s). Untrusted text: a caller can put anything in a SIP header."""

    @property
    def call_sid(self) -> str: ...
    @property
    def from_(self) -> str: ...
    @property
    def to(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]
    """A JSON schema (an object schema): arguments are validated against it before any call."""
    kind: ToolKind
    url: str = ""
    """http: the endpoint the arguments are POSTed to."""
    entry_point: str = ""
    """python: ``module:function``, called with (arguments, caller facts)."""
    timeout_ms: int = 3000
    max_response_bytes: int = 65_536
    headers: dict[str, str] = field(default_factory=dict)

    def openai(self) -> dict[str, Any]:
        """The tool as OpenAI's chat API declares it."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }
