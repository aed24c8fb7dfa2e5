"""Bolt's authorisation in multi-workspace (OAuth) mode, through the running server.

An installed workspace's requests call `auth.test` once, not once per request (Bolt's own
result cache); and when `auth.test` is rate-limited the request is not answered 200 with
nothing done: Slack gets a 500, so it retries an event and shows the person that a command
failed.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
from slack_mock import MockSlack, Team
from test_slack import Slack, running, sqlite_url
from test_slack import mock as mock  # the Slack mock fixture

OAUTH = {"slack_bot_token": None, "slack_client_id": "111.222", "slack_client_secret": "shh"}


async def install(slack: Slack, mock: MockSlack) -> None:
    """Valley College installs the app through /slack/install and the OAuth redirect."""
    async with aiohttp.ClientSession() as http:
        async with http.get(slack.server.make_url("/slack/install")) as response:
            assert response.status == 200
            page = await response.text()
            cookie = response.cookies["slack-app-oauth-state"].value
        link = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page)
        assert link is not None
        query = parse_qs(urlparse(link.group(1).replace("&amp;", "&")).query)
        callback = slack.server.make_url("/slack/oauth_redirect").with_query(
            code="c0de", state=query["state"][0]
        )
        headers = {"Cookie": f"slack-app-oauth-state={cookie}"}
        async with http.get(callback, headers=headers) as response:
            assert response.status == 200


def valley(mock: MockSlack) -> None:
    mock.oauth_install = (
        "xoxb-valley",
        Team("T_VALLEY", "valley-college", "Valley College"),
        "U_VAL",
    )
    mock.add_user("U_VAL", "Val Leader", team="T_VALLEY")


def auth_tests(mock: MockSlack) -> int:
    return len(mock.calls_to("auth.test", ok=None))


def to_val(mock: MockSlack) -> list[object]:
    return [c for c in mock.calls_to("chat.postMessage") if c.params["channel"] == "D_VAL"]


# slack_sdk's oauth.v2.access call uses aiohttp.BasicAuth, which aiohttp now deprecates.
@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
async def test_an_installed_workspace_is_checked_with_auth_test_once(
    mock: MockSlack, tmp_path: Path
) -> None:
    valley(mock)
    async with running(mock, sqlite_url(tmp_path), **OAUTH) as slack:
        await install(slack, mock)
        before = auth_tests(mock)
        for n in range(5):
            status, _, _ = await slack.command(
                "help", user="U_VAL", team="T_VALLEY", channel="D_VAL"
            )
            assert status == 200, n
            await slack.dm(f"what is LMI? {n}", user="U_VAL", team="T_VALLEY")
        await slack.settle()
        assert auth_tests(mock) - before <= 1
        assert to_val(mock)  # the requests were served, with the workspace's own token
        assert all(c.token == "xoxb-valley" for c in mock.calls_to("chat.postMessage"))

        # Uninstalled: refused at once, whatever was cached.
        event = {"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"}
        assert await slack.event(event, team="T_VALLEY") == 200
        await slack.settle()
        sent = len(to_val(mock))
        await slack.dm("what is LMI?", user="U_VAL", team="T_VALLEY")
        assert len(to_val(mock)) == sent


@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
async def test_a_rate_limited_auth_test_is_not_a_silent_200(
    mock: MockSlack, tmp_path: Path
) -> None:
    valley(mock)
    url = sqlite_url(tmp_path)
    async with running(mock, url, **OAUTH) as slack:
        await install(slack, mock)
    # A fresh process: nothing cached yet, and Slack is rate-limiting auth.test.
    async with running(mock, url, **OAUTH) as slack:
        mock.fail("auth.test", 429, retry_after=30, times=20)
        event = slack.dm_event("what is LMI?", user="U_VAL")
        started = time.monotonic()
        status = await slack.event(event, team="T_VALLEY", event_id="EvBUSY1")
        assert status >= 500  # Slack retries an event it did not get a 2xx for
        assert time.monotonic() - started < 3  # no waiting out Retry-After before the answer
        await slack.settle()
        assert to_val(mock) == []
        status, _, _ = await slack.command("help", user="U_VAL", team="T_VALLEY", channel="D_VAL")
        assert status >= 500  # Slack shows the person the command failed
        # Slack's retry, once auth.test answers again, is served.
        mock.failures.clear()
        assert await slack.event(event, team="T_VALLEY", event_id="EvBUSY1", retry=1) == 200
        await slack.settle()
        assert to_val(mock)  # the bot answered in the DM
