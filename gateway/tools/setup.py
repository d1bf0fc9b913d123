"""The gateway's toolbox, made once from the settings (None when no tool or action is on)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from gateway.settings import ConfigError, Settings
from gateway.tools.toolbox import Toolbox
from gateway.tools.transfer import TwilioRest


def build_toolbox(
    settings: Settings, auth_token: str, environ: Mapping[str, str] | None = None
) -> Toolbox | None:
    """``transfer.method = "rest"`` needs the account SID (``transfer.account_sid_env``) and a
    token (``transfer.rest_token_env``, else the auth token): without them start-up fails here,
    not at the first transfer."""
    environ = os.environ if environ is None else environ
    rest = None
    transfer = settings.transfer
    if transfer.targets and transfer.method == "rest":
        import httpx

        account_sid = environ.get(transfer.account_sid_env, "")
        if transfer.rest_token_env:
            auth_token = environ.get(transfer.rest_token_env, "")
        try:
            rest = TwilioRest(
                httpx.AsyncClient(trust_env=False), transfer.rest_base_url, account_sid, auth_token
            )
        except ValueError as error:
            raise ConfigError(str(error)) from None
    try:
        toolbox = Toolbox(settings.tools, transfer, rest=rest)
    except (ValueError, ImportError) as error:  # an entry point that does not import
        raise ConfigError(f"tools.function: {error}") from None
    return toolbox if toolbox else None


def tool_phrases(settings: Settings) -> list[str]:
    """The lines said around tool calls, rendered at start-up like the greeting."""
    tools, transfer = settings.tools, settings.transfer
    lines = [tools.hold_phrase, tools.failure_phrase]
    if tools.hang_up:
        lines.append(tools.goodbye)
    if transfer.targets:
        lines.append(transfer.line)
    return [line for line in lines if line]
