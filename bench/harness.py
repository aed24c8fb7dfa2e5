"""What the Slack benchmarks share: our real server, a bare Bolt baseline, the mock Web API,
and requests signed as Slack signs them.

Everything listens on 127.0.0.1 only. The mock is tests/slack_mock.py (the one the Slack
tests use), extended to note when each DM channel receives a reply, so a benchmark can time
"request sent" -> "reply reached Slack" without polling.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import DATABASE, init_app
from bot.config import Settings
from storage.db import Database

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from slack_mock import APP_ID, BOT_USER, Call, MockSlack, Team

SECRET = "bench-secret"
TOKEN = "xoxb-bench"
# One Enterprise Grid org: the single bot token serves every workspace in it, and each
# workspace (team id) is its own organisation with its own review. Users in one workspace
# would all be answering the same school's review.
ENTERPRISE = "E_BENCH"
HOME_TEAM = "T_BENCH"
REPLY_METHODS = ("chat.postMessage", "chat.update")


def sign(body: str, secret: str = SECRET) -> dict[str, str]:
    """The headers Slack adds: a timestamp and an HMAC of the body (slack_sdk's own code)."""
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


@dataclass(frozen=True)
class User:
    """A simulated person: their own workspace (so their own school), user id and DM."""

    number: int

    @property
    def id(self) -> str:
        return f"U{self.number:05d}"

    @property
    def team(self) -> str:
        return f"T{self.number:05d}"

    @property
    def channel(self) -> str:
        return "D" + self.id.removeprefix("U")  # the mock's conversations.open answers this


def event_body(user: User, text: str) -> tuple[str, str]:
    """A signed-to-be `message.im` event body, and its event id (the bot's idempotency key)."""
    event_id = f"Ev{uuid.uuid4().hex[:12].upper()}"
    ts = f"{time.time():.6f}"
    event = {
        "type": "message",
        "channel": user.channel,
        "user": user.id,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "im",
        "client_msg_id": str(uuid.uuid4()),
    }
    body = {
        "token": "legacy-verification-token",
        "team_id": user.team,
        "enterprise_id": ENTERPRISE,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": ENTERPRISE,
                "team_id": user.team,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return json.dumps(body), event_id


def click_body(mock: MockSlack, user: User, call: Call, value: str) -> str:
    """A `block_actions` payload for the button with `value` in a message the bot posted."""
    button = next((b for b in call.buttons() if b.get("value") == value), None)
    if button is None:
        raise LookupError(f"no button {value!r} in {[b.get('value') for b in call.buttons()]}")
    channel, ts = str(call.params["channel"]), str(call.response["ts"])
    payload = {
        "type": "block_actions",
        "user": {"id": user.id, "username": user.id.lower(), "team_id": user.team},
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
        "team": {"id": user.team, "domain": user.team.lower(), "enterprise_id": ENTERPRISE},
        "enterprise": {"id": ENTERPRISE, "name": "Bench Grid"},
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "directmessage"},
        "message": json.loads(json.dumps(mock.messages[(channel, ts)])),
        "state": {"values": {}},
        "response_url": mock.response_url("click"),
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": button["block_id"],
                "text": button["text"],
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


class BenchMock(MockSlack):
    """The tests' mock Slack, noting each reply (post or update) per channel as it arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens = {TOKEN: Team(HOME_TEAM, "bench", "Bench Grid", enterprise_id=ENTERPRISE)}
        self.replies: dict[str, list[Call]] = {}
        self.arrived: dict[str, asyncio.Event] = {}

    def _record(self, call: Call) -> None:
        super()._record(call)
        if call.method in REPLY_METHODS and call.ok:
            channel = str(call.params.get("channel"))
            self.replies.setdefault(channel, []).append(call)
            self.arrived.setdefault(channel, asyncio.Event()).set()

    async def reply_after(self, channel: str, seen: int, within: float) -> Call | None:
        """The first reply on `channel` after the first `seen` ones; None after `within` s."""
        deadline = time.monotonic() + within
        while len(self.replies.get(channel, [])) <= seen:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            arrived = self.arrived.setdefault(channel, asyncio.Event())
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), left)
            except TimeoutError:
                return None
        return self.replies[channel][seen]

    async def quiet(self, channel: str, gap: float, within: float) -> None:
        """Wait until `channel` had no reply for `gap` s (a turn may post several messages)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            seen = len(self.replies.get(channel, []))
            if await self.reply_after(channel, seen, gap) is None:
                return


def settings(mock: MockSlack, database_url: str) -> Settings:
    """Our server's Slack settings, as the Slack tests set them (no scheduler, no Teams)."""
    return Settings(  # type: ignore[call-arg]
        database_url=database_url,
        slack_signing_secret=SECRET,
        slack_bot_token=TOKEN,
        slack_api_url=mock.api_url,
        public_url="https://careers-bot.example.org",
        teams_enabled=False,
        scheduler_enabled=False,
        _env_file=None,
    )


@asynccontextmanager
async def ours(mock: MockSlack, folder: Path) -> AsyncIterator[tuple[TestServer, Database]]:
    """Our real aiohttp app (bot.app.init_app) on a loopback port, on an SQLite file."""
    database = Database(f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}")
    app = init_app(
        settings(mock, database.engine.url.render_as_string(hide_password=False)), database=database
    )
    if app[DATABASE] is not database:
        raise RuntimeError("init_app did not use the database it was given")
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield server, database
    finally:
        await server.close()


@asynccontextmanager
async def bare_bolt(mock: MockSlack) -> AsyncIterator[TestServer]:
    """The baseline: a Bolt AsyncApp whose message listener only posts a reply, mounted on
    aiohttp with slack_bolt's adapter functions, sharing one HTTP session as ours does."""
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=TOKEN, base_url=mock.api_url, session=session)
        bolt = AsyncApp(
            signing_secret=SECRET, token=TOKEN, client=client, process_before_response=False
        )

        @bolt.event("message")
        async def message(event: dict[str, Any], client: AsyncWebClient) -> None:
            await client.chat_postMessage(channel=event["channel"], text="ok")

        async def events(request: web.Request) -> web.Response:
            response = await bolt.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(response)

        app = web.Application()
        app.router.add_post("/slack/events", events)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        try:
            yield server
        finally:
            await server.close()


@dataclass(frozen=True)
class Sent:
    """One request as Slack saw it: the HTTP status and when it left and was acknowledged."""

    status: int
    at: float  # time.monotonic(), as the mock's Call.at
    acked: float


async def post(
    http: aiohttp.ClientSession, server: TestServer, body: str, content_type: str
) -> Sent:
    """POST a body to /slack/events, signed as Slack signs it."""
    headers = {"Content-Type": content_type, **sign(body)}
    sent = time.monotonic()
    async with http.post(
        server.make_url("/slack/events"), data=body.encode(), headers=headers
    ) as response:
        await response.read()
        return Sent(response.status, sent, time.monotonic())


def add_users(mock: MockSlack, users: list[User]) -> None:
    for user in users:
        mock.add_user(user.id, f"Bench Person {user.number}", team=user.team)
