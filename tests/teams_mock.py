"""A local Bot Framework connector (the Teams service side), for protocol tests.

An aiohttp server on a loopback port that records what the bot sends, the way Teams'
connector API receives it, and answers with ids shaped like Teams' own:

- ``POST /v3/conversations/{id}/activities[/{replyTo}]``: a new message -> ``{"id": "1:..."}``
- ``PUT /v3/conversations/{id}/activities/{activityId}``: update_activity (a card replaced)
- ``POST /v3/conversations``: create a conversation -> ``{"id": "a:...", "activityId": ...}``
- ``GET /v3/conversations/{id}/members/{memberId}``: a member of a team or chat, or 404
- ``PUT /upload/{name}``: a OneDrive upload session (file consent), which can be told to fail

`fail` makes the connector refuse the next sends, updates or creates with a status (429,
412, 502, 504...) and optional headers, the way a busy Teams service does; refused calls are
kept in `refused`, never in `calls`, so what `calls` shows is what Teams accepted.

Activities point their ``serviceUrl`` at `base_url`, so the bot's replies come here.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Call:
    method: str
    kind: str  # send, update, create, member, upload
    conversation: str | None
    activity_id: str | None  # the id given to (or updated on) the activity
    body: Any

    @property
    def attachments(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("attachments") or [])

    @property
    def card(self) -> dict[str, Any] | None:
        for attachment in self.attachments:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                return attachment["content"]
        return None

    @property
    def text(self) -> str:
        return str((self.body or {}).get("text") or "")


@dataclass(frozen=True)
class Refusal:
    """One answer the connector gives instead of accepting a call."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class MockConnector:
    calls: list[Call] = field(default_factory=list)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # member id -> account
    upload_failures: int = 0  # answer the next N uploads with a 500
    uploads: dict[str, bytes] = field(default_factory=dict)
    refusals: dict[str, list[Refusal]] = field(default_factory=dict)  # kind -> next answers
    refused: list[Call] = field(default_factory=list)  # calls answered with a refusal
    server: TestServer | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_700_000_000_001))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    # ----- server --------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{reply_to}", self._send)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        app.router.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        app.router.add_put("/upload/{name}", self._upload)
        self.server = TestServer(app, host="127.0.0.1", port=0)
        await self.server.start_server()
        return self.base_url

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/"))

    def upload_url(self, name: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(f"/upload/{name}"))

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._changed.set()

    def fail(self, kind: str, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` calls of `kind` (send, update, create) with `status`."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.refusals.setdefault(kind, []).extend(Refusal(status, headers) for _ in range(times))

    def _refusal(self, call: Call) -> web.Response | None:
        """The refusal queued for this kind of call, if any (recorded in `refused`)."""
        queued = self.refusals.get(call.kind)
        if not queued:
            return None
        refusal = queued.pop(0)
        self.refused.append(call)
        self._changed.set()
        return web.json_response(
            {"error": {"code": "ServiceError", "message": f"mock status {refusal.status}"}},
            status=refusal.status,
            headers=refusal.headers,
        )

    def _new_id(self) -> str:
        return f"1:{next(self._ids)}"

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        conversation = request.match_info["conversation"]
        refused = self._refusal(Call("POST", "send", conversation, None, body))
        if refused is not None:
            return refused
        activity_id = self._new_id()
        self._record(Call("POST", "send", conversation, activity_id, body))
        return web.json_response({"id": activity_id}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        body = await request.json()
        activity_id = request.match_info["activity"]
        call = Call("PUT", "update", request.match_info["conversation"], activity_id, body)
        refused = self._refusal(call)
        if refused is not None:
            return refused
        self._record(call)
        return web.json_response({"id": activity_id})

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        refused = self._refusal(Call("POST", "create", None, None, body))
        if refused is not None:
            return refused
        conversation = f"a:1{next(self._ids):x}Mock-Personal-Chat"
        activity_id = self._new_id()
        self._record(Call("POST", "create", conversation, activity_id, body))
        return web.json_response(
            {"id": conversation, "activityId": activity_id, "serviceUrl": self.base_url},
            status=201,
        )

    async def _member(self, request: web.Request) -> web.Response:
        member = request.match_info["member"]
        self._record(Call("GET", "member", request.match_info["conversation"], member, None))
        found = self.members.get(member)
        if found is None:
            return web.json_response(
                {"error": {"code": "MemberNotFoundInConversation", "message": "not a member"}},
                status=404,
            )
        return web.json_response(found)

    async def _upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        name = request.match_info["name"]
        self._record(
            Call("PUT", "upload", None, name, {"headers": dict(request.headers), "size": len(data)})
        )
        if self.upload_failures > 0:
            self.upload_failures -= 1
            return web.json_response({"error": {"code": "serviceNotAvailable"}}, status=500)
        self.uploads[name] = data
        return web.json_response({"id": "01MOCKDRIVEITEM", "name": name}, status=201)

    # ----- reading what was recorded -------------------------------------------------------

    def mark(self) -> int:
        """A position in the record: what the bot sends after it is `since(mark)`."""
        return len(self.calls)

    def since(self, mark: int, kind: str | None = None) -> list[Call]:
        return [c for c in self.calls[mark:] if kind is None or c.kind == kind]

    def sent(self, conversation: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.kind == "send" and (conversation is None or c.conversation == conversation)
        ]

    def current(self, activity_id: str) -> Call:
        """An activity as Teams would show it now: the last update of it, or as first sent."""
        found = [
            c for c in self.calls if c.activity_id == activity_id and c.kind in {"send", "update"}
        ]
        assert found, f"no activity {activity_id}"
        return found[-1]

    def last_card(self, conversation: str | None = None) -> Call:
        cards = [c for c in self.sent(conversation) if c.card is not None]
        assert cards, "no card was sent"
        return cards[-1]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        """For work the bot finishes after its reply (documents, uploads)."""

        async def poll() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(poll(), within)

    def dump(self, mark: int = 0) -> str:
        return json.dumps([c.__dict__ for c in self.calls[mark:]], indent=1, default=str)


# ----- what an Adaptive Card offers, as a Teams client would read it ----------------------


def walk(element: Any) -> list[dict[str, Any]]:
    """Every element and action inside a card, depth first."""
    found: list[dict[str, Any]] = []
    if isinstance(element, dict):
        if "type" in element:
            found.append(element)
        for key in ("body", "items", "columns", "actions", "rows", "cells"):
            for child in element.get(key) or []:
                found.extend(walk(child))
    elif isinstance(element, list):
        for child in element:
            found.extend(walk(child))
    return found


def submit_actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in walk(card) if e.get("type") == "Action.Submit"]


def inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in walk(card) if str(e.get("type", "")).startswith("Input.")}


def action(card: dict[str, Any], title: str) -> dict[str, Any]:
    for each in submit_actions(card):
        if each["title"] == title:
            return each
    raise AssertionError(f"no button {title!r} in {[a['title'] for a in submit_actions(card)]}")
