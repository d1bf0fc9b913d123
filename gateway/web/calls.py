"""``GET /api/calls`` and ``GET /api/calls/{sid}``: the call records, for the calls page.

Read through :class:`gateway.records.RecordsReader` (never SQL of our own), in a worker thread
so a slow disk never stalls the calls in progress. What was said is what the records keep
(``log.transcripts``); the page writes it as text, never as markup.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Annotated

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from gateway.records import CallDetail, CallRow, RecordsReader
from gateway.runtime import Gateway
from gateway.web.turns import TurnView, from_row

MAX_CALLS = 100
SID_PATTERN = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")
"""Twilio's call sids are ``CA`` and 32 hex digits; anything else in the path is refused
before it reaches the database."""


class CallView(msgspec.Struct, kw_only=True):
    call: CallRow
    turns: list[TurnView]


class CallsPage(msgspec.Struct, kw_only=True):
    records: bool
    """False when ``records.path`` is empty: no calls are kept."""
    calls: list[CallView]


def _view(detail: CallDetail) -> CallView:
    return CallView(call=detail.call, turns=[from_row(turn) for turn in detail.turns])


def _database(gateway: Gateway) -> Path | None:
    path = gateway.settings.records.path
    return Path(path).expanduser() if path else None


def _recent(path: Path, limit: int) -> list[CallView]:
    if not path.exists():
        return []  # no call yet: the writer creates the file
    reader = RecordsReader(path)
    try:
        details = (reader.call(row.call_sid) for row in reader.recent_calls(limit))
        return [_view(detail) for detail in details if detail is not None]
    finally:
        reader.close()


def _one(path: Path, call_sid: str) -> CallView | None:
    if not path.exists():
        return None
    reader = RecordsReader(path)
    try:
        detail = reader.call(call_sid)
        return None if detail is None else _view(detail)
    finally:
        reader.close()


@get("/api/calls")
async def recent_calls(
    gateway: NamedDependency[Gateway],
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_CALLS)] = 20,
) -> CallsPage:
    """The newest calls first, each with its turns."""
    path = _database(gateway)
    if path is None:
        return CallsPage(records=False, calls=[])
    return CallsPage(records=True, calls=await asyncio.to_thread(_recent, path, limit))


@get("/api/calls/{sid:str}")
async def one_call(
    sid: FromPath[str], gateway: NamedDependency[Gateway]
) -> Response[CallView | str]:
    path = _database(gateway)
    if not SID_PATTERN.match(sid) or path is None:
        return Response("no such call", status_code=404, media_type="text/plain")
    view = await asyncio.to_thread(_one, path, sid)
    if view is None:
        return Response("no such call", status_code=404, media_type="text/plain")
    return Response(view)
