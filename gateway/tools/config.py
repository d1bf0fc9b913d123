"""``[tools]`` and ``[transfer]``: the tools the agent may call, their limits, and where a
transfer may go. Kept beside the tools (``gateway.settings`` includes them) and checked as they
load: a bad schema, a duplicate name or a target that is neither a phone number nor a SIP URI
stops start-up with the key named."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from gateway.tools.arguments import check_schema

ToolName = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]
BUILT_IN = frozenset({"transfer", "hang_up"})
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
SIP_URI = re.compile(r"^sips?:[^\s<>\"'&]{3,200}$")


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ToolSettings(_Section):
    """``[[tools.function]]``: one tool. ``url`` (POSTed to) or ``entry_point`` (called)."""

    name: ToolName
    description: str = ""
    """What the model reads to decide when to call it: say when, in a sentence."""
    parameters: dict[str, Any] = msgspec.field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    """A JSON schema for the arguments (an object); the model's arguments are checked against
    it before the tool is called."""
    url: str = ""
    """The endpoint: ``POST {"tool", "arguments", "call": {"call_sid", "from", "to"}}``."""
    entry_point: str = ""
    """Instead of ``url``: ``package.module:function``, called with (arguments, caller facts);
    a plain function runs in a thread, a coroutine function on the event loop."""
    timeout_ms: Annotated[int, Meta(ge=1, le=60_000)] = 3000
    """The whole call, connection to last byte; past it the caller hears the apology."""
    max_response_bytes: Annotated[int, Meta(ge=16, le=1 << 24)] = 65_536
    """A longer answer fails the call (read as it arrives; the rest is never read)."""

    def __post_init__(self) -> None:
        if bool(self.url) == bool(self.entry_point):
            raise ValueError(f"tool {self.name!r}: give either url or entry_point")
        if self.url and not re.match(r"^https?://", self.url):
            raise ValueError(f"tool {self.name!r}: url must be http:// or https://")
        if self.name in BUILT_IN:
            raise ValueError(f"tool {self.name!r}: that name is a built-in action")
        try:
            check_schema(self.parameters)
        except ValueError as error:
            raise ValueError(f"tool {self.name!r}: parameters: {error}") from None


class ToolsSettings(_Section):
    function: list[ToolSettings] = msgspec.field(default_factory=list)
    """The declared tools (``[[tools.function]]``); only these, and the built-in actions that
    are on, can ever run."""
    hang_up: bool = False
    """Offer the model the ``hang_up`` action: it says ``goodbye``, waits until the caller has
    heard it (its mark is echoed), then ends the call."""
    goodbye: str = "Thank you for calling. Goodbye!"
    hold_after_ms: Annotated[int, Meta(ge=0, le=60_000)] = 700
    """A tool still running this long after it was called: the caller hears ``hold_phrase``."""
    hold_phrase: str = "One moment, let me check."
    failure_phrase: str = "Sorry, I couldn't look that up just now."
    """Said when a tool fails or times out; the call goes on."""
    max_calls_per_turn: Annotated[int, Meta(ge=1, le=16)] = 2
    max_calls_per_call: Annotated[int, Meta(ge=1, le=1000)] = 20
    """Past either cap the model is asked again without tools, and must answer in words."""
    result_chars: Annotated[int, Meta(ge=16, le=100_000)] = 1000
    """How much of a tool's answer the model reads (and the record keeps)."""
    tool_choice: str = "auto"
    """``auto``: the model decides. ``required``: it must call a tool on a turn's first request.
    A tool's name: it must call that one (grammar-constrained arguments); for models too small
    to decide well, or servers whose chat template ignores ``tools`` (llama-cpp-python's
    default format). Later requests in the turn are ``auto``."""
    mark_timeout_ms: Annotated[int, Meta(ge=100, le=120_000)] = 10_000
    """After a goodbye or transfer line: how long past its playback the echo of its last mark
    is awaited before the call is ended anyway (Twilio echoes at once; a silent line is dead)."""

    def __post_init__(self) -> None:
        names = [tool.name for tool in self.function]
        if len(set(names)) != len(names):
            raise ValueError("tools.function: two tools with the same name")
        allowed = {"auto", "required", *names, *BUILT_IN}
        if self.tool_choice not in allowed:
            raise ValueError(f"tools.tool_choice: {self.tool_choice!r} is not auto, required "
                             "or a declared tool")  # fmt: skip


class TransferSettings(_Section):
    targets: dict[str, str] = msgspec.field(default_factory=dict)
    """The allow-list: a name the model uses -> a phone number (E.164) or SIP URI, e.g.
    ``sales = "+15551234567"``. Empty: no ``transfer`` action."""
    line: str = "Please hold while I transfer your call."
    """Said before the transfer; the call is handed over once the caller has heard it."""
    method: Literal["connect_action", "rest"] = "connect_action"
    """``connect_action``: needs no credentials. The webhook's ``<Connect>`` names
    ``/twilio/after-stream`` as its action; the gateway ends the stream and answers that request
    with ``<Dial>``. ``rest``: the live call is updated through Twilio's REST API with the
    ``<Dial>`` TwiML (account SID and auth token from the environment)."""
    rest_base_url: str = "https://api.twilio.com"
    """rest: the API root (tests point it at a local server)."""
    account_sid_env: str = "TWILIO_ACCOUNT_SID"
    """rest: the variable holding the account SID (the URL's, and the basic-auth user)."""
    rest_token_env: str = ""
    """rest: the variable holding the password for the REST API; empty: the auth token
    (``twilio.auth_token_env``'s). Never in config.toml, never logged."""
    timeout_ms: Annotated[int, Meta(ge=100, le=60_000)] = 5000
    """rest: the whole request."""
    description: str = "Transfer the caller to a person."

    def __post_init__(self) -> None:
        for name, target in self.targets.items():
            if not re.match(r"^[A-Za-z0-9_-]{1,64}$", name):
                raise ValueError(f"transfer.targets: {name!r}: a name of letters, digits, _ or -")
            if not (E164.match(target) or SIP_URI.match(target)):
                raise ValueError(
                    f"transfer.targets.{name}: {target!r} is neither an E.164 number "
                    "(+15551234567) nor a SIP URI (sip:agent@pbx.example.com)"
                )
