"""A local stand-in for Slack's Web API (and its upload URLs, response URLs and Socket Mode).

An aiohttp server on a loopback port that records every call the bot makes and answers as
Slack does (shapes taken from Slack's method reference): `auth.test`, `chat.postMessage`
(with a `ts`), `chat.update`, `chat.postEphemeral`, `conversations.open|join|history`,
`users.info`, `views.open|update|publish`, `files.getUploadURLExternal`, the upload URL
itself, `files.completeUploadExternal`, `oauth.v2.access`, `apps.connections.open` and a
Socket Mode WebSocket. `fail()` makes a method answer 429 with Retry-After, or 500.

Tests wait for what they expect with `wait_for()` (polling with a timeout), never sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

BOT_USER = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0CAREERS"
JSON_FIELDS = {"blocks", "view", "files", "attachments", "metadata"}


@dataclass
class Call:
    """One request the bot made, with what the mock answered."""

    method: str
    params: dict[str, Any]
    token: str | None
    status: int
    response: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok", True))

    def text(self) -> str:
        """Everything readable in the call: its text and every text in its blocks or view."""
        found: list[str] = []

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    if key in {"text", "value", "initial_value"} and isinstance(item, str):
                        found.append(item)
                    else:
                        walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        # The top-level text is the notification fallback of what the blocks say.
        shown = {k: v for k, v in self.params.items() if k != "text" or "blocks" not in self.params}
        walk(shown)
        return "\n".join(found)

    def buttons(self) -> list[dict[str, Any]]:
        """The buttons (with their block ids) in the call's blocks."""
        blocks = self.params.get("blocks") or (self.params.get("view") or {}).get("blocks") or []
        out = []
        for block in blocks:
            if block.get("type") == "actions":
                for element in block.get("elements", []):
                    if element.get("type") == "button":
                        out.append({**element, "block_id": block.get("block_id")})
            accessory = block.get("accessory")
            if isinstance(accessory, dict) and accessory.get("type") == "button":
                out.append({**accessory, "block_id": block.get("block_id")})
        return out


@dataclass
class Team:
    id: str
    domain: str
    name: str
    enterprise_id: str | None = None


class MockSlack:
    """The mock server; start() it, point SLACK_API_URL at `api_url`, assert on `calls`."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.tokens: dict[str, Team] = {"xoxb-test": Team("T_HILL", "hill-school", "Hill School")}
        self.users: dict[str, dict[str, Any]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}  # file id -> the bytes uploaded
        self.failures: dict[str, list[tuple[int, dict[str, str]]]] = {}
        # method -> seconds to hold the answer back AFTER doing the work (a slow Slack: the
        # message is posted, and the caller may die before hearing so)
        self.delays: dict[str, float] = {}
        self.oauth_install: tuple[str, Team, str] | None = None  # (token, team, installer)
        self._numbers = itertools.count(1)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self.socket_connected = asyncio.Event()
        self.url = ""

    # ----- set-up ------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/respond/{hook}", self._respond)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, name: str = "hook") -> str:
        return f"{self.url}/respond/{name}"

    def add_user(
        self,
        user_id: str,
        name: str,
        team: str = "T_HILL",
        admin: bool = False,
    ) -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": team,
            "name": name.lower().replace(" ", "."),
            "real_name": name,
            "is_admin": admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_bot": False,
            "deleted": False,
            "tz": "Europe/London",
            "profile": {"real_name": name, "display_name": name.split()[0]},
        }

    def fail(self, method: str, status: int = 429, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls to `method` answer `status` (429 with Retry-After)."""
        headers = {"Retry-After": str(retry_after)} if status == 429 else {}
        self.failures.setdefault(method, []).extend([(status, headers)] * times)

    # ----- reading what was sent ---------------------------------------------------------

    def calls_to(self, method: str, ok: bool | None = True) -> list[Call]:
        return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 10,  # noqa: ASYNC109 - reads best in tests; polled, not cancelled
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """The successful calls to `method` (matching `where`), once there are `count` of them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [c for c in self.calls_to(method) if where is None or where(c)]
            if len(found) >= count:
                return found
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(
                    f"expected {count} {method} call(s), got {len(found)}; "
                    f"calls so far: {self.methods()}"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                continue

    def last(self, method: str, where: Callable[[Call], bool] | None = None) -> Call:
        found = [c for c in self.calls_to(method) if where is None or where(c)]
        assert found, f"no {method} call; calls so far: {self.methods()}"
        return found[-1]

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._changed.set()

    # ----- the Web API -------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                params.update(json.loads(raw or b"{}"))
            else:
                params.update(parse_qsl(raw.decode(), keep_blank_values=True))
        for key in JSON_FIELDS & params.keys():
            if isinstance(params[key], str) and params[key][:1] in "[{":
                params[key] = json.loads(params[key])
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        token = token or params.get("token")
        queued = self.failures.get(method)
        if queued:
            status, headers = queued.pop(0)
            body = {"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}
            self._record(Call(method, params, token, status, body))
            return web.json_response(body, status=status, headers=headers)
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            body: dict[str, Any] = {"ok": False, "error": "unknown_method"}
        elif (
            method not in {"oauth.v2.access", "apps.connections.open"} and token not in self.tokens
        ):
            body = {"ok": False, "error": "invalid_auth"}
        else:
            body = handler(params, token)
        self._record(Call(method, params, token, 200, body))
        if self.delays.get(method):
            await asyncio.sleep(self.delays[method])
        headers = {}
        if method == "auth.test" and body.get("ok"):
            headers["x-oauth-scopes"] = "chat:write,commands,im:history,im:write,users:read"
        return web.json_response(body, headers=headers)

    def _ts(self) -> str:
        """Unique, increasing, and on the real clock (as Slack's are): history is searched
        from a moment (`oldest`)."""
        return f"{int(time.time())}.{next(self._numbers):06d}"

    def _team(self, token: str | None) -> Team:
        return self.tokens[token or ""]

    def _auth_test(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        team = self._team(token)
        return {
            "ok": True,
            "url": f"https://{team.domain}.slack.com/",
            "team": team.name,
            "user": "careers_bot",
            "team_id": team.id,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "enterprise_id": team.enterprise_id,
            "is_enterprise_install": False,
        }

    def _chat_postMessage(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        ts = self._ts()
        message = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": params.get("text", ""),
            "blocks": params.get("blocks", []),
            "ts": ts,
            "team": self._team(token).id,
        }
        if isinstance(params.get("metadata"), dict):
            message["metadata"] = params["metadata"]
        channel = str(params.get("channel"))
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_update(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        key = (str(params.get("channel")), str(params.get("ts")))
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        message = self.messages[key]
        message.update(text=params.get("text", ""), blocks=params.get("blocks", []))
        return {
            "ok": True,
            "channel": key[0],
            "ts": key[1],
            "text": message["text"],
            "message": message,
        }

    def _chat_postEphemeral(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._ts()}

    def _conversations_open(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        user = str(params.get("users", "")).split(",")[0]
        return {
            "ok": True,
            "no_op": True,
            "already_open": True,
            "channel": {"id": "D" + user.removeprefix("U")},
        }

    def _conversations_join(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        channel = str(params.get("channel"))
        if channel.startswith("G"):
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        return {"ok": True, "channel": {"id": channel, "is_channel": True}}

    def _conversations_history(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        """One message (`latest`, inclusive), or the newest since `oldest`, newest first;
        message metadata only with `include_all_metadata`, as Slack does."""
        channel = str(params.get("channel"))
        if params.get("latest"):
            key = (channel, str(params.get("latest")))
            found = [self.messages[key]] if key in self.messages else []
            return {"ok": True, "messages": found, "has_more": False}
        oldest = float(params.get("oldest") or 0)
        limit = int(params.get("limit") or 100)
        here = sorted(
            (m for (c, ts), m in self.messages.items() if c == channel and float(ts) >= oldest),
            key=lambda m: float(m["ts"]),
            reverse=True,
        )
        with_metadata = str(params.get("include_all_metadata")).lower() in {"1", "true"}
        shown = [
            m if with_metadata else {k: v for k, v in m.items() if k != "metadata"}
            for m in here[:limit]
        ]
        return {"ok": True, "messages": shown, "has_more": len(here) > limit}

    def _users_info(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        user = self.users.get(str(params.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _view(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        n = next(self._numbers)
        view = dict(params.get("view") or {})
        view.update(
            id=f"V{n:06d}",
            hash=f"{n}.hash",
            team_id=self._team(token).id,
            app_id=APP_ID,
            bot_id=BOT_ID,
        )
        return {"ok": True, "view": view}

    _views_open = _view
    _views_update = _view
    _views_publish = _view

    def _files_getUploadURLExternal(
        self, params: dict[str, Any], token: str | None
    ) -> dict[str, Any]:
        file_id = f"F{next(self._numbers):06d}"
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _files_completeUploadExternal(
        self, params: dict[str, Any], token: str | None
    ) -> dict[str, Any]:
        files = params.get("files") or []
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    def _oauth_v2_access(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        if self.oauth_install is None or not params.get("code"):
            return {"ok": False, "error": "invalid_code"}
        bot_token, team, installer = self.oauth_install
        self.tokens[bot_token] = team
        return {
            "ok": True,
            "app_id": APP_ID,
            "authed_user": {"id": installer},
            "scope": "chat:write,commands,im:history,im:write,users:read",
            "token_type": "bot",
            "access_token": bot_token,
            "bot_user_id": BOT_USER,
            "team": {"id": team.id, "name": team.name},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        if not str(token or "").startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": self.url.replace("http://", "ws://") + "/socket"}

    # ----- upload URLs, response URLs, Socket Mode ---------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        self.uploads[request.match_info["file_id"]] = data
        self._record(
            Call(
                "upload",
                {
                    "file_id": request.match_info["file_id"],
                    "size": len(data),
                    "head": data[:4].hex(),
                },
                None,
                200,
                {},
            )
        )
        return web.Response(text=f"OK - {len(data)}")

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._record(Call("response_url", body, None, 200, {}))
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": APP_ID}}
        )
        self.socket_connected.set()
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                self._record(Call("socket_ack", json.loads(message.data), None, 200, {}))
        return socket

    async def socket_send(self, envelope: dict[str, Any]) -> None:
        """Deliver an envelope (an event, a slash command) to the connected Socket Mode client."""
        await asyncio.wait_for(self.socket_connected.wait(), 10)
        await self._sockets[-1].send_json(envelope)
