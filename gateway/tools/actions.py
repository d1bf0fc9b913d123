"""The built-in actions the model may call like tools: ``transfer(to)`` and ``hang_up()``.

Running one only checks it and names what the call is to do; the reply then says the action's
line (the transfer line, the goodbye) and the call does it once the caller has heard that line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.tools.config import ToolsSettings, TransferSettings
from gateway.tools.spec import ToolSpec


@dataclass(frozen=True, slots=True)
class CallAction:
    kind: Literal["transfer", "hang_up"]
    target: str = ""
    """transfer: the allow-listed number or SIP URI."""
    line: str = ""
    """What the caller hears before it happens."""


def transfer_spec(transfer: TransferSettings) -> ToolSpec | None:
    """``transfer(to)``, ``to`` one of the allow-list's names; None without targets."""
    if not transfer.targets:
        return None
    names = sorted(transfer.targets)
    return ToolSpec(
        name="transfer",
        description=f"{transfer.description} Who to: one of {', '.join(names)}.",
        parameters={
            "type": "object",
            "properties": {"to": {"type": "string", "enum": names}},
            "required": ["to"],
            "additionalProperties": False,
        },
        kind="transfer",
    )


def hang_up_spec(tools: ToolsSettings) -> ToolSpec | None:
    if not tools.hang_up:
        return None
    return ToolSpec(
        name="hang_up",
        description="End the call, once the caller has said goodbye or needs nothing more.",
        parameters={"type": "object", "properties": {}, "additionalProperties": False},
        kind="hang_up",
    )
