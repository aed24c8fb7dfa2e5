"""Issue 11: malformed input is a 4xx with nothing changed, on every endpoint; Teams checks
the token before reading the body; request nesting is bounded. Driven through the real
server as Slack and Teams would (signed, or with a token), and as an attacker would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import test_slack
from test_slack import Slack, sign
from test_teams import SAM, sqlite_settings, teams_bot

# The Slack tests' fixtures: a mock Web API and our server signed-for.
mock = test_slack.mock
slack = test_slack.slack

DEEP = "[" * 100_000 + "]" * 100_000


async def raw(slack: Slack, body: bytes, content_type: str, signed: bool = True) -> int:
    headers = {"Content-Type": content_type}
    if signed:
        headers.update(sign(body.decode("utf-8", "replace")) if _utf8(body) else {})
    async with (
        aiohttp.ClientSession() as client,
        client.post(slack.server.make_url("/slack/events"), data=body, headers=headers) as r,
    ):
        await r.read()
        return r.status


def _utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def event(inner: Any) -> str:
    return json.dumps(
        {
            "token": "x",
            "team_id": "T_HILL",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": "Ev1",
            "event_time": 1,
            "event": inner,
        }
    )


SLACK_BODIES: list[tuple[str, str]] = [
    (event("a string, not an event"), "application/json"),
    (event(None), "application/json"),
    (event([1, 2, 3]), "application/json"),
    (event({"type": "message", "channel_type": "im", "text": ["not", "text"]}), "application/json"),
    ('{"type": "event_callback", "event": ', "application/json"),
    ("[]", "application/json"),
    ("null", "application/json"),
    ('"just a string"', "application/json"),
    (DEEP, "application/json"),
    ("payload=null", "application/x-www-form-urlencoded"),
    ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
    ("payload=%5B%5D", "application/x-www-form-urlencoded"),
    ("payload=" + "%5B" * 50_000, "application/x-www-form-urlencoded"),
    ('payload={"type":"block_actions","actions":"x"}', "application/x-www-form-urlencoded"),
    ('payload={"type":"view_submission","view":"x"}', "application/x-www-form-urlencoded"),
    ("command=/careers&text=review&team_id=", "application/x-www-form-urlencoded"),
    ("", "application/json"),
    ("", "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize(("body", "content_type"), SLACK_BODIES)
async def test_malformed_slack_bodies_get_a_4xx_never_a_500(
    slack: Slack, body: str, content_type: str
) -> None:
    status, _, _ = await slack.send(body, content_type)
    assert 400 <= status < 500 or status == 200, status  # 200: a well-formed ack of nothing
    assert status != 500


async def test_invalid_utf8_and_unsigned_deep_bodies_are_refused(slack: Slack) -> None:
    assert 400 <= await raw(slack, b'{"type": "\xff\xfe"}', "application/json") < 500
    assert await raw(slack, DEEP.encode(), "application/json", signed=False) == 401


TEAMS_BODIES: list[Any] = [
    "a string",
    [],
    None,
    {"type": 5},
    {"type": "message", "text": ["x"]},
    {"type": "invoke", "name": "adaptiveCard/action", "value": "x"},
    {"type": "invoke", "name": "fileConsent/invoke", "value": "x"},
    {"type": "message", "value": "x"},
    {"type": "message", "value": {"careers": "choice", "step": "nonsense", "text": "3"}},
    {"type": "conversationUpdate", "membersAdded": "x"},
]


async def test_malformed_teams_activities_get_a_4xx_never_a_500(tmp_path: Path) -> None:
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        base = teams.activity("message_personal.json", SAM, text="hello")
        statuses = []
        for body in TEAMS_BODIES:
            payload = {**base, **body} if isinstance(body, dict) else body
            async with teams.http.post(
                teams.server.make_url("/api/messages"), json=payload
            ) as response:
                await response.read()
                statuses.append((body, response.status))
        async with teams.http.post(
            teams.server.make_url("/api/messages"),
            data=DEEP.encode(),
            headers={"Content-Type": "application/json"},
        ) as response:
            statuses.append(("deep", response.status))
        bad = [(body, status) for body, status in statuses if status >= 500]
        assert bad == []
