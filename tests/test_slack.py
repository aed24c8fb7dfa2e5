"""Slack, end to end: the real aiohttp server on a loopback port, requests signed exactly as
Slack signs them, and the bot's Web API client pointed at a local mock (tests/slack_mock.py)
that records what the bot sent.

Bolt answers Slack before its listeners run, so every test waits for the calls it expects
(`mock.wait_for`) or for the bot's running listeners to finish (`slack.settle()`), never
sleeping blindly.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestServer
from review_scripts import full_review_lines, seed003_priorities, statement_lines
from slack_mock import APP_ID, BOT_USER, Call, MockSlack, Team
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.app import DATABASE, SERVICE, ConfigurationError, init_app
from bot.config import Settings
from bot.reviews import ReviewService
from bot.slack import SLACK, SlackBot
from bot.slack import wording as slack_wording
from bot.slack.bolt import BOT_EVENTS, BOT_SCOPES
from bot.slack.handlers import from_slack
from bot.slack.notifier import SlackNotifier
from bot.slack.render import card_message
from model_data import MaturityModel, load_glossary
from storage import models as m
from storage import repo
from storage.db import Database
from workflows import messages as msg
from workflows.calendar import default_calendar
from workflows.notices import Notice
from workflows.replies import Choice, Step
from workflows.review import (
    Context,
    Person,
    handle,
    new_review,
    open_review,
    statement_card,
)

SECRET = "test-secret"
ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


def clock() -> datetime:
    return NOW


# ----- the harness -------------------------------------------------------------------------


def settings_for(mock: MockSlack, url: str, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "slack_signing_secret": SECRET,
        "slack_bot_token": "xoxb-test",
        "slack_api_url": mock.api_url,
        "public_url": "https://careers-bot.example.org",
    }
    values.update(changes)
    return Settings(**values, _env_file=None)  # type: ignore[call-arg]


def sign(body: str, timestamp: str | None = None, secret: str = SECRET) -> dict[str, str]:
    timestamp = timestamp or str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


@dataclass
class Slack:
    """The bot's server, the mock Web API, and a Slack client that signs what it sends."""

    server: TestServer
    mock: MockSlack

    @property
    def bot(self) -> SlackBot:
        return self.server.app[SLACK]

    @property
    def db(self) -> Database:
        return self.server.app[DATABASE]

    @property
    def service(self) -> ReviewService:
        return self.server.app[SERVICE]

    async def settle(self) -> None:
        """Wait until the bot's listeners (which run after the ack) have finished."""
        await self.bot.tracker.idle(15)

    async def send(
        self,
        body: str,
        content_type: str,
        headers: dict[str, str] | None = None,
        path: str = "/slack/events",
    ) -> tuple[int, str, float]:
        """POST a body signed as Slack signs it (unless `headers` says otherwise)."""
        sent = {"Content-Type": content_type, **(sign(body) if headers is None else headers)}
        started = time.monotonic()
        async with (
            aiohttp.ClientSession() as client,
            client.post(self.server.make_url(path), data=body.encode(), headers=sent) as response,
        ):
            text = await response.text()
            return response.status, text, time.monotonic() - started

    async def command(
        self, text: str, user: str = "U_SAM", team: str = "T_HILL", channel: str = "D_SAM"
    ) -> tuple[int, str, float]:
        body = urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": team,
                "team_domain": "hill-school",
                "channel_id": channel,
                "channel_name": "directmessage" if channel.startswith("D") else "general",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/careers",
                "text": text,
                "api_app_id": APP_ID,
                "is_enterprise_install": "false",
                "response_url": self.mock.response_url(f"cmd-{uuid.uuid4().hex[:6]}"),
                "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
            }
        )
        return await self.send(body, "application/x-www-form-urlencoded")

    def event_body(self, event: dict[str, Any], team: str = "T_HILL", event_id: str = "") -> str:
        return json.dumps(
            {
                "token": "legacy-verification-token",
                "team_id": team,
                "api_app_id": APP_ID,
                "event": event,
                "type": "event_callback",
                "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
                "event_time": int(time.time()),
                "authorizations": [
                    {
                        "enterprise_id": None,
                        "team_id": team,
                        "user_id": BOT_USER,
                        "is_bot": True,
                        "is_enterprise_install": False,
                    }
                ],
                "is_ext_shared_channel": False,
            }
        )

    async def event(
        self,
        event: dict[str, Any],
        team: str = "T_HILL",
        event_id: str = "",
        retry: int | None = None,
    ) -> int:
        body = self.event_body(event, team, event_id)
        headers = sign(body)
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        status, _, _ = await self.send(body, "application/json", headers)
        return status

    def dm_event(self, text: str, user: str = "U_SAM", **extra: Any) -> dict[str, Any]:
        ts = f"{time.time():.6f}"
        return {
            "type": "message",
            "channel": "D" + user.removeprefix("U"),
            "user": user,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "im",
            "client_msg_id": str(uuid.uuid4()),
            **extra,
        }

    async def dm(self, text: str, user: str = "U_SAM", team: str = "T_HILL") -> None:
        """Type a message in the DM and wait until the bot has dealt with it."""
        assert await self.event(self.dm_event(text, user), team=team) == 200
        await self.settle()

    def interaction_body(self, payload: dict[str, Any]) -> str:
        return urlencode({"payload": json.dumps(payload)})

    def user(self, user: str, team: str = "T_HILL") -> dict[str, Any]:
        return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team}

    def click_body(
        self,
        call: Call,
        value: str,
        user: str = "U_SAM",
        team: str = "T_HILL",
        user_team: str | None = None,
        action_id: str | None = None,
    ) -> str:
        """A block_actions payload for the button with `value` in a posted message (as it is now)."""
        button = next(
            (
                b
                for b in call.buttons()
                if b.get("value") == value and action_id in (None, b["action_id"])
            ),
            None,
        )
        assert button is not None, (
            f"no button {value!r} in {[b.get('value') for b in call.buttons()]}"
        )
        channel, ts = str(call.params["channel"]), str(call.response["ts"])
        message = self.mock.messages[(channel, ts)]
        payload = {
            "type": "block_actions",
            "user": self.user(user, user_team or team),
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
            "team": {"id": team, "domain": "hill-school"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": "directmessage"},
            "message": json.loads(json.dumps(message)),
            "state": {"values": {}},
            "response_url": self.mock.response_url("click"),
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
        return self.interaction_body(payload)

    async def click(self, call: Call, value: str, user: str = "U_SAM", **kw: Any) -> int:
        status, _, _ = await self.send(
            self.click_body(call, value, user, **kw), "application/x-www-form-urlencoded"
        )
        await self.settle()
        return status

    async def click_home(self, view: dict[str, Any], value: str, action_id: str,
                         user: str = "U_SAM") -> int:  # fmt: skip
        button = next(
            b
            for b in Call("views.publish", {"view": view}, None, 200, {}).buttons()
            if b["value"] == value and b["action_id"] == action_id
        )
        payload = {
            "type": "block_actions",
            "user": self.user(user),
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "container": {"type": "view", "view_id": view["id"]},
            "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
            "team": {"id": "T_HILL", "domain": "hill-school"},
            "view": view,
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": button["block_id"],
                    "text": button["text"],
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        status, _, _ = await self.send(
            self.interaction_body(payload), "application/x-www-form-urlencoded"
        )
        await self.settle()
        return status

    async def submit(
        self,
        opened: Call,
        values: dict[str, dict[str, Any]],
        user: str = "U_SAM",
        team: str = "T_HILL",
    ) -> dict[str, Any]:
        """A view_submission for a modal the bot opened, with these input values; the bot's
        answer ({} closes the form, or its field errors)."""
        view = {**opened.response["view"], "state": {"values": values}}
        payload = {
            "type": "view_submission",
            "team": {"id": team, "domain": "hill-school"},
            "user": self.user(user, team),
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        status, text, _ = await self.send(
            self.interaction_body(payload), "application/x-www-form-urlencoded"
        )
        assert status == 200
        await self.settle()
        return json.loads(text) if text.startswith("{") else {}

    # ----- reading what the bot posted ---------------------------------------------------

    def posted(self, channel: str = "D_SAM") -> list[Call]:
        return [c for c in self.mock.calls_to("chat.postMessage") if c.params["channel"] == channel]

    def on_screen(self, channel: str = "D_SAM") -> list[Call]:
        """The bot's messages in a channel as a person sees them now (updates applied), in
        the order they were posted."""
        shown = []
        for call in self.posted(channel):
            ts = str(call.response["ts"])
            message = self.mock.messages[(channel, ts)]
            shown.append(
                Call(
                    "chat.postMessage",
                    {"channel": channel, "text": message["text"], "blocks": message["blocks"]},
                    call.token,
                    200,
                    {"ok": True, "ts": ts},
                )
            )
        return shown

    def with_button(self, value: str, channel: str = "D_SAM", step: Step | None = None) -> Call:
        """The latest message on screen with a button of this value (for `step`'s question)."""
        for call in reversed(self.on_screen(channel)):
            for b in call.buttons():
                if b.get("value") == value and (step is None or f"|{step.value}|" in b["block_id"]):
                    return call
        raise AssertionError(f"no message with a {value!r} button")

    def texts(self, channel: str = "D_SAM") -> str:
        """Everything the bot has shown in the channel: posts and their updates, in order."""
        return "\n".join(
            c.text()
            for c in self.mock.calls
            if c.method in {"chat.postMessage", "chat.update"} and c.params["channel"] == channel
        )


def text_value(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text_input", "value": value}}


def url_value(value: str | None) -> dict[str, Any]:
    return {"url": {"type": "url_text_input", "value": value}}


def choice_value(value: str) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": value}, "value": value}
    return {"choice": {"type": "static_select", "selected_option": option}}


def users_value(users: list[str]) -> dict[str, Any]:
    return {"users": {"type": "multi_users_select", "selected_users": users}}


@pytest.fixture
async def mock() -> AsyncIterator[MockSlack]:
    slack = MockSlack()
    await slack.start()
    slack.add_user("U_SAM", "Sam Rivers")
    slack.add_user("U_NADIA", "Nadia Rahman")
    slack.add_user("U_PAT", "Pat Head")
    slack.add_user("U_ADMIN", "Ida Admin", admin=True)
    slack.add_user("U_OUT", "Olly Outsider", team="T_OTHER")
    yield slack
    await slack.close()


@asynccontextmanager
async def running(
    mock: MockSlack, url: str, database: Database | None = None, **changes: Any
) -> AsyncIterator[Slack]:
    app = init_app(settings_for(mock, url, **changes), database=database, clock=clock)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield Slack(server, mock)
    finally:
        await server.close()


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"


def url_of(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


@pytest.fixture
async def slack(mock: MockSlack, tmp_path: Path) -> AsyncIterator[Slack]:
    async with running(mock, sqlite_url(tmp_path)) as harness:
        yield harness


async def seed(slack: Slack, model: MaturityModel, lines: list[str] | None = None) -> int:
    """Hill School's Slack organisation with Sam (U_SAM) as Careers Leader and a review answered
    with `lines` (the whole seed-003 review by default), saved in one go."""
    organisation = await slack.service.chat_organisation("slack", "T_HILL")
    async with slack.db.transaction() as session:
        sam = await repo.person_for_identity(
            session, organisation.id, "slack", "U_SAM", "Sam Rivers", "T_HILL"
        )
        sam.role = "careers_leader"
        ctx = Context(
            model,
            load_glossary(),
            NOW,
            "Sam Rivers",
            (Person(sam.id, "Sam Rivers", "SR"),),
            default_calendar(),
            actor_id=sam.id,
        )
        state = new_review(model, "Careers Impact review – January 2025")
        review = await repo.create_review(session, organisation, state, NOW)
        after = open_review(state, ctx).state
        for line in full_review_lines(model) if lines is None else lines:
            after = handle(after, line, ctx).state
        await repo.save_state(session, review, state, after, sam.id, NOW)
    return organisation.id


async def review_state(slack: Slack, organisation_id: int) -> Any:
    state = await slack.service.state(organisation_id)
    assert state is not None
    return state


async def organisation_of(slack: Slack, team: str = "T_HILL") -> int:
    async with slack.db.transaction() as session:
        found = await repo.linked_organisation(session, "slack", team)
        assert found is not None
        return found.id


async def counts(db: Database) -> dict[str, int]:
    """Rows in every table that a request could change."""
    out = {}
    async with db.transaction() as session:
        for model in (m.Organisation, m.Person, m.Identity, m.Review, m.Response, m.Action,
                      m.HandledInput, m.ConversationRef, m.ChatLink, m.EvidenceLink):  # fmt: skip
            out[model.__tablename__] = int(
                await session.scalar(select(func.count()).select_from(model)) or 0
            )
    return out


# ----- a whole review ------------------------------------------------------------------------


async def test_one_message_per_statement_over_a_whole_review(
    slack: Slack, school: MaturityModel
) -> None:
    """Seed 003's whole review typed in the DM: each statement is one message updated in place
    (at most 1.5 new messages per statement over the review), no question answered by typing
    keeps live buttons, and the bot never reads the channel's history to do it."""
    await slack.command("review")
    await slack.settle()
    start = len(slack.posted())
    lines = full_review_lines(school)
    for line in lines:
        await slack.dm(line)
    state = await review_state(slack, await organisation_of(slack))
    assert state.completed
    new_messages = len(slack.posted()) - start
    total = len(school.statements)
    assert new_messages / total <= 1.5, (new_messages, total)
    assert not slack.mock.calls_to("conversations.history")
    # Every statement's message is on screen once, answered, without buttons.
    cards = [c for c in slack.on_screen() if "Statement " in c.text() and " of 32" in c.text()]
    assert len(cards) == total
    assert all(not c.buttons() for c in cards)


async def test_a_reopened_review_shows_exactly_the_pending_question(
    slack: Slack, school: MaturityModel
) -> None:
    """Left half-way through a statement (the bot waits for evidence), reopened: the
    statement's message comes back with the evidence question and only its controls (seen
    before: "Reply with a level to change it, or 'keep'" with no buttons at all)."""
    await seed(slack, school, ["just me", "2"])
    await slack.command("review")
    await slack.settle()
    card = slack.on_screen()[-1]
    assert "1.1" in card.text()
    assert "Any evidence links?" in card.text()
    assert "Reply with a level" not in card.text()
    assert [b["value"] for b in card.buttons()] == ["evidence", "done", "back", "skip", "pause"]
    # Typing "3" there is a link it cannot save, refused as such (not taken as a level).
    await slack.dm("3")
    assert "not a link" in slack.texts()


async def test_action_history_is_shown_in_the_organisations_timezone(
    slack: Slack, school: MaturityModel
) -> None:
    """Seen: history times were London time in Slack whatever the school's own timezone."""
    organisation_id = await seed(slack, school)
    async with slack.db.transaction() as session:
        organisation = await repo.get_organisation(session, organisation_id)
        assert organisation is not None
        organisation.timezone = "Asia/Dubai"  # a British school abroad: UTC+4
        action = (await repo.organisation_actions(session, organisation_id))[0]
    await slack.dm(f"progress {action.id} Met the Enterprise Adviser")
    await slack.dm(f"action {action.id}")
    shown = slack.posted()[-1].text()
    assert "Wed 15 Jan 2025 13:30 · progress" in shown  # 09:30 UTC is 13:30 in Dubai


async def test_a_careers_leaders_words_are_kept_as_typed_in_slack(
    slack: Slack, school: MaturityModel
) -> None:
    """Issue 9's "seen" cases, typed in the Slack DM: evidence with an action word, next
    steps that read like commands, a note that reads like a glossary question, "keep" with no
    note, an owner with "and" in the title, and the plan at the end with real dates."""
    organisation_id = await seed(slack, school, ["just me"])
    await slack.dm("2")
    await slack.dm("Progress 8 data https://school.example/p8")
    await slack.dm("done")
    await slack.dm("keep")  # no earlier note: refused, nothing saved as the note
    assert "There is no earlier note to keep" in slack.texts()
    await slack.dm("What is working: SLT buy-in")
    await slack.dm("priority")
    await slack.dm("3")
    await slack.dm("Explain the careers plan to parents at options evening; Edit handbook")
    await slack.dm("Head of Teaching and Learning")
    await slack.dm("HT3/4")
    state = await review_state(slack, organisation_id)
    answer = state.answers["1.1"]
    assert [(e.label, e.url) for e in answer.evidence] == [
        ("Progress 8 data", "https://school.example/p8")
    ]
    assert answer.note == "What is working: SLT buy-in"
    assert answer.action is not None
    assert answer.action.next_steps == (
        "Explain the careers plan to parents at options evening\nEdit handbook"
    )
    assert [o.name for o in answer.action.owners] == ["Head of Teaching and Learning"]
    assert answer.action.due == "HT3/4"
    assert "There is no statement" not in slack.texts()
    # The plan as every channel shows it: the deadline with its real date.
    await slack.dm("go 1.2")
    await slack.dm("plan")
    assert "HT3/4 (Fri 4 Apr 2025) – Head of Teaching and Learning" in slack.texts()


async def test_a_complete_review_through_slack(
    database: Database, school: MaturityModel, mock: MockSlack
) -> None:
    """Buttons and forms for 1.1 and 1.2, typed answers for the rest, then a changed answer."""
    async with running(mock, url_of(database)) as slack:
        status, _, elapsed = await slack.command("review")
        assert status == 200
        assert elapsed < 1.5
        await slack.settle()
        opened = mock.last("conversations.open")
        assert opened.params["users"] == "U_SAM"
        assert "Who is taking part" in slack.texts()
        organisation_id = await organisation_of(slack)

        await slack.dm("Sam Rivers, Nadia Rahman")
        prompt = slack.with_button("3", step=Step.LEVEL)
        shown = prompt.text()
        assert "Theme 1:" in shown and "1.1" in shown and "Statement 1 of 32" in shown
        statement = school.statement("1.1")
        assert statement.title in shown
        assert all(f"Level {n}" in shown for n in (1, 2, 3, 4))
        assert [b["value"] for b in prompt.buttons()] == [
            "1",
            "2",
            "3",
            "4",
            "back",
            "skip",
            "pause",
        ]

        # 1.1 by buttons: the statement's one message is updated in place: the level is
        # saved and the same message now asks for evidence, with only that question's buttons.
        posts = len(slack.posted())
        assert await slack.click(prompt, "3") == 200
        update = mock.last("chat.update")
        assert update.params["ts"] == prompt.response["ts"]
        assert "Level 3 saved for 1.1" in update.text()
        assert [
            b["value"] for b in Call("chat.update", update.params, None, 200, {}).buttons()
        ] == [
            "evidence",
            "done",
            "back",
            "skip",
            "pause",
        ]
        assert len(slack.posted()) == posts  # nothing new posted
        await slack.click(slack.with_button("done", step=Step.EVIDENCE), "done")
        await slack.click(slack.with_button("none", step=Step.NOTE), "none")
        await slack.click(slack.with_button("strength", step=Step.FLAG), "strength")
        assert (
            "Saved 1.1 Distributed careers leadership: level 3, area of strength." in slack.texts()
        )

        # 1.2 by buttons and both forms.
        await slack.click(slack.with_button("2", step=Step.LEVEL), "2")
        evidence_question = slack.with_button("evidence", step=Step.EVIDENCE)
        await slack.click(evidence_question, "evidence")
        form = mock.last("views.open")
        assert form.params["view"]["callback_id"] == "careers:evidence"
        answer = await slack.submit(
            form,
            {
                "link_1_url": url_value("https://school.example/evidence/1.2"),
                "link_1_label": text_value("Evidence for 1.2"),
            },
        )
        assert answer == {}
        assert mock.last("chat.update").params["ts"] == evidence_question.response["ts"]
        assert "Saved 1 link (1 in all)" in slack.texts()
        await slack.dm("Note on 1.2")
        await slack.click(slack.with_button("priority", step=Step.FLAG), "priority")
        await slack.click(slack.with_button("priority", step=Step.TARGET), "priority")
        form = mock.last("views.open")
        view = form.params["view"]
        assert view["callback_id"] == "careers:priority"
        selects = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
        assert [o["value"] for o in selects["target"]["options"]] == ["3", "4"]
        due = {o["value"]: o["text"]["text"] for o in selects["due"]["options"]}
        assert due["HT3"] == "HT3 - ends Fri 14 Feb 2025"  # the engine's label, with its real date
        assert selects["owners_people"]["type"] == "multi_users_select"
        values = {
            "target": choice_value("4"),
            "next_steps": text_value(
                "Create shared vision for careers\nShare vision with Governors and LT"
            ),
            "owners_people": users_value(["U_NADIA"]),
            "owners_text": text_value("SR"),
            "due": choice_value("HT3"),
        }
        answer = await slack.submit(form, {**values, "target": choice_value("1")})
        assert answer["response_action"] == "errors"
        assert "above your current level 2" in answer["errors"]["target"]
        answer = await slack.submit(form, values)
        assert answer == {}
        # Another action for 1.2? The second would open the same form again; here: No.
        another = slack.with_button("no", step=Step.ANOTHER)
        assert msg.ASK_ANOTHER in another.text()
        posts = len(slack.posted())
        await slack.click(another, "no")
        assert "Saved 1.2 Leaders' vision" in slack.texts()
        # The questions the form answered are not asked again: one new message, 1.3's.
        [new] = slack.posted()[posts:]
        assert "1.3" in new.text()
        assert "next steps" not in new.text() and "owns this action" not in new.text()

        # The rest, typed in the DM.
        priorities = {p.id: p for p in seed003_priorities()}
        for statement in school.statements[2:]:
            lines = statement_lines(statement.id, priorities.get(statement.id))
            if statement.id == "3.7":  # seed 003's two actions on 3.7, the first without a date
                lines = ["1", "done", "none", "priority", "3", "Learning journey", "SR",
                         "not decided yet", "add another action", "3",
                         "Learning journey to show connections with employers", "SR", "HT3/4",
                         "no"]  # fmt: skip
            if statement.id == "4.3":  # its by when / who cell is empty
                lines = [*lines[:-3], "TBC", "later", "no"]
            for line in lines:
                await slack.dm(line)
        texts = slack.texts()
        assert msg.COMPLETE in texts
        assert "Summary – " in texts and "Action plan – " in texts
        plan = mock.last("chat.postMessage", where=lambda c: "Action plan – " in c.text())
        assert len([b for b in plan.params["blocks"] if b["type"] == "section"]) == 24
        state = await review_state(slack, organisation_id)
        assert state.completed
        assert [a.next_steps for a in state.answers["3.7"].actions] == [
            "Learning journey",
            "Learning journey to show connections with employers",
        ]
        assert [(a.due, a.due_tbc) for a in state.answers["3.7"].actions] == [
            (None, True),
            ("HT3/4", False),
        ]
        tbc = state.answers["4.3"].actions[0]
        assert (tbc.owners, tbc.owners_tbc, tbc.due, tbc.due_tbc) == ([], True, None, True)
        assert state.answers["1.2"].action.owner_names == ["Nadia Rahman", "SR"]
        assert state.answers["1.2"].action.next_steps.splitlines() == [
            "Create shared vision for careers",
            "Share vision with Governors and LT",
        ]
        assert state.answers["1.2"].action.owners[0].person_id is not None
        assert [e.url for e in state.answers["1.2"].evidence] == [
            "https://school.example/evidence/1.2"
        ]

        # A changed answer: "go 1.1", a new level by button, the history kept.
        await slack.dm("go 1.1")
        prompt = slack.with_button("keep", step=Step.LEVEL)
        assert "Your answer: level 3, area of strength" in prompt.text()
        await slack.click(prompt, "2")
        for line in ("done", "none", "neither"):
            await slack.dm(line)
        assert msg.UPDATED_COMPLETE in slack.texts()
        state = await review_state(slack, organisation_id)
        assert state.answers["1.1"].level == 2
        async with slack.db.transaction() as session:
            review = await repo.latest_review(session, organisation_id)
            assert review is not None
            history = await repo.response_history(session, review.id, "1.1")
        assert (history[0].before["level"], history[0].after["level"]) == (3, 2)
        assert (history[-1].before["flag"], history[-1].after["flag"]) == ("strength", "none")
        # Every DM the bot used is kept for reminders.
        async with slack.db.transaction() as session:
            refs = await repo.conversation_refs(session, organisation_id, "slack", kind="personal")
        assert [r.conversation_id for r in refs] == ["D_SAM"]
        assert refs[0].person_id is not None


async def test_resume_after_leaving_and_after_a_restart(
    database: Database, school: MaturityModel, mock: MockSlack
) -> None:
    lines = full_review_lines(school)
    async with running(mock, url_of(database)) as slack:
        await slack.command("review")
        await slack.settle()
        for line in lines[:12]:  # participants, 1.1, then 1.2 up to its owners
            await slack.dm(line)
        await slack.click(slack.with_button("pause"), "pause")
        assert "Paused at 1.2" in slack.texts()
        await slack.command("review")
        await slack.settle()
        assert "Welcome back: 1 of 32 statements answered. Carrying on at 1.2" in slack.texts()
        organisation_id = await organisation_of(slack)

    # A new process on the same database: the review carries on where it stopped.
    before = len(mock.calls_to("chat.postMessage"))
    async with running(mock, url_of(database), database=Database(url_of(database))) as slack:
        assert await organisation_of(slack) == organisation_id
        # The bot waits for owners, so a typed "review" would be the owner: the slash command
        # (an explicit command) reopens it.
        await slack.command("review")
        await slack.settle()
        welcome = mock.calls_to("chat.postMessage")[before:]
        text = "\n".join(c.text() for c in welcome)
        assert "Welcome back: 1 of 32 statements answered" in text
        assert "1.2 Leaders' vision" in text
        assert "Who owns this action?" in text  # half-way through 1.2's priority
        await slack.dm("SR")
        await slack.dm("HT3")
        await slack.dm("no")  # no other action for 1.2
        state = await review_state(slack, organisation_id)
        assert state.answers["1.2"].complete
        assert state.cursor.statement_id == "1.3"


# ----- forms ---------------------------------------------------------------------------------


async def test_a_refused_link_is_shown_on_its_field_and_nothing_is_saved(
    slack: Slack, school: MaturityModel
) -> None:
    organisation_id = await seed(slack, school, ["just me", "2"])
    before = await counts(slack.db)
    await slack.dm("back")  # ask the level again, then answer it by button
    await slack.click(slack.with_button("2", step=Step.LEVEL), "2")
    question = slack.with_button("evidence", step=Step.EVIDENCE)
    await slack.click(question, "evidence")
    form = slack.mock.last("views.open")
    urls = [
        b["block_id"]
        for b in form.params["view"]["blocks"]
        if b.get("block_id", "").endswith("_url")
    ]
    assert urls == ["link_1_url", "link_2_url", "link_3_url"]
    updates = len(slack.mock.calls_to("chat.update"))
    answer = await slack.submit(
        form,
        {
            "link_1_url": url_value("https://school.example/careers-plan"),
            "link_2_url": url_value("ftp://files.example/plan.pdf"),
            "link_2_label": text_value("Old plan"),
        },
    )
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["link_2_url"]
    assert "ftp://files.example/plan.pdf" in answer["errors"]["link_2_url"]
    assert "http:// or https://" in answer["errors"]["link_2_url"]
    state = await review_state(slack, organisation_id)
    assert state.answers["1.1"].evidence == []
    assert state.cursor.step is Step.EVIDENCE
    assert len(slack.mock.calls_to("chat.update")) == updates  # the question still has its buttons
    assert (await counts(slack.db))["evidence_links"] == before["evidence_links"]

    # Corrected, the same form is saved whole: both links, and on to the note.
    answer = await slack.submit(
        form,
        {
            "link_1_url": url_value("https://school.example/careers-plan"),
            "link_1_label": text_value("Careers plan"),
            "link_2_url": url_value("https://school.example/plan.pdf"),
        },
    )
    assert answer == {}
    state = await review_state(slack, organisation_id)
    assert [(e.label, e.url) for e in state.answers["1.1"].evidence] == [
        ("Careers plan", "https://school.example/careers-plan"),
        (None, "https://school.example/plan.pdf"),
    ]
    assert state.cursor.step is Step.NOTE
    # A form submitted again (Slack retried it) is acknowledged and changes nothing more.
    answer = await slack.submit(form, {"link_1_url": url_value("https://school.example/x")})
    assert answer == {}
    assert len((await review_state(slack, organisation_id)).answers["1.1"].evidence) == 2


async def test_the_priority_form_offers_the_engines_choices(
    slack: Slack, school: MaturityModel
) -> None:
    organisation_id = await seed(slack, school, ["just me", "3", "done", "none"])
    await slack.dm("priority")
    question = slack.with_button("priority", step=Step.TARGET)
    assert [b["value"] for b in question.buttons()][:2] == ["priority", "4"]  # only above 3
    await slack.click(question, "priority")
    form = slack.mock.last("views.open")
    inputs = {
        b["block_id"]: b["element"] for b in form.params["view"]["blocks"] if b["type"] == "input"
    }
    assert [o["value"] for o in inputs["target"]["options"]] == ["4"]
    labels = [o["text"]["text"] for o in inputs["due"]["options"]]
    # In date order, the next deadline first (it is January 2025), spans included; HT1 and
    # HT2 of 2024/25 are over, so they are next year's and come last.
    assert labels[:3] == [
        "HT3 - ends Fri 14 Feb 2025",
        "HT2/3 - ends Fri 14 Feb 2025",
        "HT4 - ends Fri 4 Apr 2025",
    ]
    assert "HT3/4 - ends Fri 4 Apr 2025" in labels
    assert labels.index("HT1 - ends Fri 24 Oct 2025") > labels.index("HT6 - ends Tue 22 Jul 2025")
    assert labels[-2:] == ["Ongoing", "Not decided yet"]
    answer = await slack.submit(
        form,
        {
            "target": choice_value("4"),
            "next_steps": text_value("Share the plan"),
            "owners_people": users_value([]),
            "owners_text": text_value(""),
            "due": choice_value("HT3"),
        },
    )
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["owners_people"]
    assert "name at least one owner" in answer["errors"]["owners_people"]
    state = await review_state(slack, organisation_id)
    assert state.answers["1.1"].action.target_level is None  # nothing from the form saved
    answer = await slack.submit(
        form,
        {
            "target": choice_value("4"),
            "next_steps": text_value("Share the plan\nReview it"),
            "owners_people": users_value(["U_SAM"]),
            "owners_text": text_value("HOFS"),
            "due": choice_value("HT3/4"),
        },
    )
    assert answer == {}
    action = (await review_state(slack, organisation_id)).answers["1.1"].action
    assert action.target_level == 4
    assert action.next_steps == "Share the plan\nReview it"
    assert action.owner_names == ["Sam Rivers", "HOFS"]
    assert action.due == "HT3/4"
    assert "Deadline: HT3/4" in slack.texts()


# ----- acknowledgement, rate limits, the slash command ----------------------------------------


async def test_url_verification_answers_the_challenge(slack: Slack) -> None:
    body = json.dumps(
        {"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV", "type": "url_verification"}
    )
    status, text, _ = await slack.send(body, "application/json")
    assert status == 200
    assert json.loads(text) == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}
    assert slack.mock.calls == []


async def test_acknowledged_at_once_while_slack_rate_limits_the_reply(slack: Slack) -> None:
    slack.mock.fail("chat.postMessage", status=429, retry_after=1)
    slack.mock.fail("conversations.open", status=500)
    status, text, elapsed = await slack.command("review", channel="C_GENERAL")
    assert status == 200
    assert elapsed < 0.5, elapsed  # the ack never waits for the Web API
    assert text == slack_wording.SLACK_SENT_TO_DM
    delivered = await slack.mock.wait_for("chat.postMessage", timeout=10)
    attempts = slack.mock.calls_to("chat.postMessage", ok=None)
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0  # Retry-After was honoured
    assert "Who is taking part" in delivered[0].text()
    assert [c.status for c in slack.mock.calls_to("conversations.open", ok=None)] == [500, 200]


async def test_help_and_unknown_words_get_help(slack: Slack) -> None:
    for words in ("help", "", "frobnicate"):
        status, text, _ = await slack.command(words)
        assert status == 200
        assert "/careers review" in text
        assert "/careers setup" in text
    await slack.settle()
    assert "chat.postMessage" not in slack.mock.methods()


async def test_plan_posts_the_summary_and_uploads_the_documents(
    slack: Slack, school: MaturityModel
) -> None:
    await seed(slack, school)
    status, _, elapsed = await slack.command("plan")
    assert status == 200
    assert elapsed < 0.5  # the documents are built and uploaded after the ack
    await slack.mock.wait_for("files.completeUploadExternal", timeout=20)
    await slack.settle()
    assert "Summary – " in slack.texts() and "Action plan – " in slack.texts()
    asked = slack.mock.calls_to("files.getUploadURLExternal")
    assert [c.params["filename"].rsplit(".", 1)[1] for c in asked] == ["docx", "xlsx"]
    uploads = slack.mock.calls_to("upload")
    assert [u.params["head"] for u in uploads] == ["504b0304", "504b0304"]  # zip: Office files
    assert all(int(u.params["size"]) > 5000 for u in uploads)
    done = slack.mock.last("files.completeUploadExternal")
    assert done.params["channel_id"] == "D_SAM"
    assert [f["id"] for f in done.params["files"]] == [c.response["file_id"] for c in asked]
    # Plan before files: the messages come first.
    methods = slack.mock.methods()
    assert methods.index("files.getUploadURLExternal") > max(
        i for i, name in enumerate(methods) if name == "chat.postMessage"
    )


async def test_actions_mark_done_and_update(slack: Slack, school: MaturityModel) -> None:
    organisation_id = await seed(slack, school)
    await slack.command("actions mine")
    await slack.settle()
    listing = slack.with_button("1")
    assert "Your open actions" in listing.text()
    first = listing.buttons()[0]
    assert first["action_id"] == "careers:action_done"
    action_id = int(first["value"])
    await slack.click(listing, str(action_id))
    update = slack.mock.last("chat.update")
    assert f"Marked action #{action_id}" in update.text()
    remaining = [b["value"] for b in Call("x", update.params, None, 200, {}).buttons()]
    assert str(action_id) not in remaining and remaining  # only that action's buttons went
    # The same click again (a double click) is not applied twice.
    await slack.click(listing, str(action_id))
    assert len(slack.mock.calls_to("chat.update")) == 1
    # "Add an update…" opens a form; its note becomes a dated update.
    second = int(remaining[0])
    listing = slack.with_button(str(second))
    await slack.click(listing, str(second), action_id="careers:action_update")
    form = slack.mock.last("views.open")
    assert form.params["view"]["callback_id"] == "careers:update"
    answer = await slack.submit(
        form,
        {
            "note": text_value("Met the Enterprise Adviser"),
            "link": url_value("https://school.example/minutes"),
        },
    )
    assert answer == {}
    assert f"Noted progress on action #{second}" in slack.texts()
    async with slack.db.transaction() as session:
        updates = await repo.action_updates(session, [action_id, second])
        stored = await repo.get_action(session, action_id, organisation_id)
    assert stored is not None and stored.status == "done"
    assert [(u.action_id, u.kind) for u in updates] == [(action_id, "done"), (second, "progress")]
    assert updates[1].note == "Met the Enterprise Adviser"
    assert updates[1].link == "https://school.example/minutes"


# ----- App Home --------------------------------------------------------------------------------


async def test_app_home_shows_progress_profile_and_my_actions(
    slack: Slack, school: MaturityModel
) -> None:
    organisation_id = await seed(slack, school, full_review_lines(school)[:30])
    event = {
        "type": "app_home_opened",
        "user": "U_SAM",
        "channel": "D_SAM",
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    assert await slack.event(event) == 200
    published = await slack.mock.wait_for("views.publish")
    await slack.settle()
    view = published[0].params["view"]
    assert published[0].params["user_id"] == "U_SAM"
    assert view["type"] == "home"
    text = published[0].text()
    state = await review_state(slack, organisation_id)
    assert f"{state.answered()} of 32 statements answered" in text
    assert "Maturity profile by theme" in text
    assert "Theme 1: " in text and "▰" in text
    assert "Slack workspace T_HILL · your role: Careers Leader" in text
    done = [b for b in published[0].buttons() if b["action_id"] == "careers:action_done"]
    assert done, "my actions have buttons"
    action_id = done[0]["value"]
    await slack.click_home(published[0].response["view"], action_id, "careers:action_done")
    assert f"Marked action #{action_id}" in slack.texts()
    republished = await slack.mock.wait_for("views.publish", count=2)
    assert f"#{action_id} " not in republished[-1].text()  # done: no longer open
    # The old Home view clicked again: the same view hash, so nothing more happens.
    await slack.click_home(published[0].response["view"], action_id, "careers:action_done")
    assert len(slack.mock.calls_to("views.publish")) == 2


# ----- set-up and roles --------------------------------------------------------------------------


def setup_values(**changes: Any) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {
        "org_name": text_value("Hill School"),
        "edition": choice_value("school"),
        "slt_channel": {
            "channel": {"type": "conversations_select", "selected_conversation": "C_SLT"}
        },
        "digest_day": choice_value("wednesday"),
        "digest_time": {"time": {"type": "timepicker", "selected_time": "07:45"}},
        "leader": {"user": {"type": "users_select", "selected_user": "U_SAM"}},
        "colleagues": users_value(["U_NADIA"]),
        "slt": users_value(["U_PAT"]),
    }
    values.update(changes)
    return values


async def test_setup_saves_the_organisation_digest_and_roles(slack: Slack) -> None:
    await slack.command("setup")
    await slack.settle()
    form = slack.mock.last("views.open")
    view = form.params["view"]
    assert view["callback_id"] == "careers:setup"
    kinds = {b["block_id"]: b["element"]["type"] for b in view["blocks"] if b["type"] == "input"}
    assert kinds == {
        "org_name": "plain_text_input",
        "edition": "static_select",
        "slt_channel": "conversations_select",
        "digest_day": "static_select",
        "digest_time": "timepicker",
        "leader": "users_select",
        "colleagues": "multi_users_select",
        "slt": "multi_users_select",
    }
    answer = await slack.submit(form, setup_values(slt=users_value(["U_NADIA"])))
    assert answer == {
        "response_action": "errors",
        "errors": {"slt": msg.SETUP_TWO_ROLES},
    }
    answer = await slack.submit(form, setup_values())
    assert answer == {}
    organisation_id = await organisation_of(slack)
    async with slack.db.transaction() as session:
        organisation = await repo.get_organisation(session, organisation_id)
        assert organisation is not None
        assert organisation.name == "Hill School"
        # The SLT channel is the "channel" conversation below, not a setting.
        assert organisation.settings == {"digest_day": "wednesday", "digest_time": "07:45"}
        roles = {p.display_name: p.role for p in await repo.people(session, organisation_id)}
        channels = await repo.conversation_refs(session, organisation_id, "slack", kind="channel")
    assert roles == {"Sam Rivers": "careers_leader", "Nadia Rahman": "colleague", "Pat Head": "slt"}
    assert [c.conversation_id for c in channels] == ["C_SLT"]
    assert slack.mock.last("conversations.join").params["channel"] == "C_SLT"
    saved = slack.posted()[-1]
    assert "Set-up saved for Hill School" in saved.params["text"]
    assert "Senior leaders who view: Pat Head" in saved.params["text"]
    assert "Senior leaders who view: <@U_PAT>" in saved.text()
    assert "<#C_SLT> on Wednesdays at 07:45" in saved.text()

    # Pat (SLT) sees the review but cannot answer it; Nadia (a colleague) can.
    await slack.command("review")
    await slack.settle()
    await slack.dm("just me")
    await slack.command("review", user="U_PAT")
    await slack.settle()
    assert "You can see this review" in slack.texts("D_PAT")
    await slack.dm("4", user="U_PAT")
    refusal = slack.posted("D_PAT")[-1]
    assert refusal.text() == f":warning: {msg.VIEW_ONLY}"
    state = await review_state(slack, organisation_id)
    assert "1.1" not in state.answers
    # Nadia has her own place: her "2" answers nothing until she joins the review.
    await slack.dm("2", user="U_NADIA")
    assert "1.1" not in (await review_state(slack, organisation_id)).answers
    await slack.command("review", user="U_NADIA")
    await slack.settle()
    await slack.dm("2", user="U_NADIA")
    assert (await review_state(slack, organisation_id)).answers["1.1"].answered_by == "Nadia Rahman"

    # Only the Careers Leader (or a Slack admin) may change the set-up; the edition is fixed
    # once a review has started; a new SLT channel replaces the old one.
    await slack.command("setup", user="U_NADIA")
    refused = await slack.mock.wait_for(
        "response_url", where=lambda c: "Careers Leader" in str(c.params)
    )
    assert refused[0].params["text"] == slack_wording.SLACK_SETUP_NOT_ALLOWED
    await slack.command("setup", user="U_ADMIN")
    await slack.settle()
    form = slack.mock.last("views.open")
    initial = {
        b["block_id"]: b["element"] for b in form.params["view"]["blocks"] if b["type"] == "input"
    }
    assert initial["leader"]["initial_user"] == "U_SAM"
    assert initial["slt"]["initial_users"] == ["U_PAT"]
    assert initial["slt_channel"]["initial_conversation"] == "C_SLT"
    answer = await slack.submit(form, setup_values(edition=choice_value("college")), user="U_ADMIN")
    assert answer["errors"] == {"edition": msg.SETUP_EDITION_LOCKED}
    answer = await slack.submit(
        form,
        setup_values(
            slt_channel={
                "channel": {"type": "conversations_select", "selected_conversation": "G_PRIVATE"}
            },
            slt=users_value([]),
        ),
        user="U_ADMIN",
    )
    assert answer == {}
    async with slack.db.transaction() as session:
        channels = await repo.conversation_refs(session, organisation_id, "slack", kind="channel")
        roles = {p.display_name: p.role for p in await repo.people(session, organisation_id)}
    assert [c.conversation_id for c in channels] == ["G_PRIVATE"]
    assert roles["Pat Head"] is None
    assert "Please invite me to <#G_PRIVATE>" in slack.texts("D_ADMIN")


# ----- bad input and safety ----------------------------------------------------------------------


async def test_bad_signatures_and_stale_timestamps_are_refused_and_change_nothing(
    slack: Slack, school: MaturityModel
) -> None:
    await seed(slack, school, ["just me"])
    before = await counts(slack.db)
    calls = len(slack.mock.calls)
    now = int(time.time())
    event = slack.event_body(slack.dm_event("3"))
    command = urlencode(
        {
            "team_id": "T_HILL",
            "user_id": "U_SAM",
            "command": "/careers",
            "text": "review",
            "channel_id": "D_SAM",
            "response_url": slack.mock.response_url(),
            "trigger_id": "t",
        }
    )
    for body, kind in ((event, "application/json"), (command, "application/x-www-form-urlencoded")):
        for headers in (
            {},  # no signature at all
            {**sign(body), "X-Slack-Signature": "v0=" + "0" * 64},  # wrong signature
            sign(body, secret="another-secret"),
            sign(body, str(now - 6 * 60)),  # signed correctly, but more than 5 minutes old
            sign(body, str(now + 6 * 60)),  # and from the future
            {**sign(body), "X-Slack-Request-Timestamp": str(now - 1)},  # timestamp swapped
        ):
            status, _, _ = await slack.send(body, kind, headers)
            assert status == 401, headers
    await slack.settle()
    assert await counts(slack.db) == before
    assert len(slack.mock.calls) == calls  # not one Web API call


async def test_an_answer_the_database_could_not_take_is_never_lost_silently(
    slack: Slack, school: MaturityModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typed answer is saved before Slack gets its 200: if the database refuses it
    (locked, down) Slack gets a 500 and sends the event again, and that try saves it. On
    Slack's last try the person is told instead, so nothing is lost without a word."""
    organisation_id = await seed(slack, school, ["just me"])
    real = slack.service.handle

    async def locked(inbound: Any) -> Any:
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    monkeypatch.setattr(slack.service, "handle", locked)
    event = slack.dm_event("2")
    before = len(slack.posted())
    assert await slack.event(event, event_id="Ev0LOCKED") == 500
    await slack.settle()
    assert len(slack.posted()) == before  # nothing said: Slack will send it again
    assert "1.1" not in (await review_state(slack, organisation_id)).answers
    monkeypatch.setattr(slack.service, "handle", real)
    assert await slack.event(event, event_id="Ev0LOCKED", retry=1) == 200
    await slack.settle()
    assert (await review_state(slack, organisation_id)).answers["1.1"].level == 2

    monkeypatch.setattr(slack.service, "handle", locked)
    later = slack.dm_event("https://school.example/careers")
    assert await slack.event(later, event_id="Ev0LAST", retry=3) == 200
    await slack.settle()
    assert slack_wording.SLACK_NOT_SAVED in slack.texts()
    monkeypatch.setattr(slack.service, "handle", real)
    assert (await review_state(slack, organisation_id)).answers["1.1"].evidence == []


async def test_a_typed_answer_is_saved_before_slack_has_its_200(
    slack: Slack, school: MaturityModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acknowledgement waits for the save: when Slack's 200 arrives the answer is in the
    database (a process killed the moment after cannot lose it), the replies come after."""
    organisation_id = await seed(slack, school, ["just me"])
    real = slack.service.handle
    saved_before_reply: list[bool] = []

    async def slow(inbound: Any) -> Any:
        await asyncio.sleep(0.3)
        return await real(inbound)

    monkeypatch.setattr(slack.service, "handle", slow)
    assert await slack.event(slack.dm_event("2"), event_id="Ev0ACK") == 200
    saved_before_reply.append("1.1" in (await review_state(slack, organisation_id)).answers)
    await slack.settle()
    assert saved_before_reply == [True]


async def test_retries_concurrent_deliveries_and_double_clicks_record_once(
    slack: Slack, school: MaturityModel
) -> None:
    organisation_id = await seed(slack, school, ["just me"])
    # Slack retries a delivery it thinks timed out: same event_id, X-Slack-Retry-Num.
    event = slack.dm_event("2")
    assert await slack.event(event, event_id="Ev0RETRY") == 200
    assert await slack.event(event, event_id="Ev0RETRY", retry=1) == 200
    await slack.settle()
    state = await review_state(slack, organisation_id)
    assert state.answers["1.1"].level == 2
    assert state.cursor.step is Step.EVIDENCE  # a second "2" would have been refused as a link
    assert slack.texts().count("Level 2 saved for 1.1") == 1
    assert "not a link" not in slack.texts()

    # Two deliveries of one event at once.
    event = slack.dm_event("https://school.example/plan")
    statuses = await asyncio.gather(
        slack.event(event, event_id="Ev0TWICE"), slack.event(event, event_id="Ev0TWICE", retry=1)
    )
    assert statuses == [200, 200]
    await slack.settle()
    assert slack.texts().count("Saved 1 link") == 1
    assert "already saved" not in slack.texts()

    # A double click on one button: both requests arrive, one answer is taken.
    await slack.dm("done")
    question = slack.with_button("none", step=Step.NOTE)
    ts = question.response["ts"]

    def redraws() -> int:
        return len([c for c in slack.mock.calls_to("chat.update") if c.params["ts"] == ts])

    before = redraws()
    body = slack.click_body(question, "none")
    results = await asyncio.gather(
        *(slack.send(body, "application/x-www-form-urlencoded") for _ in range(3))
    )
    assert [r[0] for r in results] == [200, 200, 200]
    await slack.settle()
    state = await review_state(slack, organisation_id)
    assert state.cursor.step is Step.FLAG
    assert redraws() == before + 1  # one answer, one redraw of the statement's message
    flag_questions = [c for c in slack.on_screen() if "area of strength, a priority" in c.text()]
    assert len(flag_questions) == 1

    # Clicked again later, the old drawing of the note question changes nothing at all.
    await slack.click(question, "none")
    assert redraws() == before + 1
    # A question answered by typing, its button pressed afterwards (an old copy of the
    # message, as a second device shows it): refused, nothing changes, the message says so
    # and still asks the question it waits on.
    first_drawing = next(c for c in slack.posted() if c.response["ts"] == ts)
    await slack.click(first_drawing, "done")
    last = slack.mock.last("chat.update")
    assert last.params["ts"] == ts
    assert msg.STALE_QUESTION in last.text()
    assert "area of strength, a priority" in last.text()
    state = await review_state(slack, organisation_id)
    assert state.answers["1.1"].level == 2
    assert state.cursor.step is Step.FLAG


async def test_another_workspace_never_sees_or_changes_this_review(
    slack: Slack, school: MaturityModel
) -> None:
    organisation_id = await seed(slack, school, ["just me", "3"])
    before = await counts(slack.db)
    # The bot serves one workspace (its token's): a request for another team is refused.
    status, _, _ = await slack.command("review", user="U_OUT", team="T_OTHER", channel="D_OUT")
    assert status == 200
    assert await slack.event(slack.dm_event("1", user="U_OUT"), team="T_OTHER") == 200
    await slack.settle()
    assert "chat.postMessage" not in slack.mock.methods()
    assert await counts(slack.db) == before

    # Someone from another workspace reaching this one (Slack Connect) is told so, and nothing
    # of this workspace's review is shown or changed.
    await slack.command("review")
    await slack.settle()
    prompt = slack.with_button("done", step=Step.EVIDENCE)
    await slack.click(prompt, "done", user="U_OUT", user_team="T_OTHER")
    outsider = slack.mock.last("chat.postEphemeral")
    assert outsider.params["user"] == "U_OUT"
    assert outsider.params["text"] == slack_wording.SLACK_NOT_THIS_WORKSPACE
    await slack.send(
        slack.event_body(slack.dm_event("4", user="U_OUT", user_team="T_OTHER")), "application/json"
    )
    await slack.settle()
    assert slack_wording.SLACK_NOT_THIS_WORKSPACE in slack.texts("D_OUT")
    assert "Statement" not in slack.texts("D_OUT")
    state = await review_state(slack, organisation_id)
    assert state.cursor.step is Step.EVIDENCE
    async with slack.db.transaction() as session:
        names = [p.display_name for p in await repo.people(session, organisation_id)]
    assert "Olly Outsider" not in names


async def test_bot_messages_and_edits_are_not_answers(slack: Slack, school: MaturityModel) -> None:
    organisation_id = await seed(slack, school, ["just me"])
    for event in (
        slack.dm_event("2", bot_id="B0BOT", subtype="bot_message"),
        slack.dm_event("2", subtype="message_changed"),
        {**slack.dm_event("2"), "channel_type": "channel", "channel": "C_GENERAL"},
    ):
        assert await slack.event(event) == 200
    await slack.settle()
    assert "1.1" not in (await review_state(slack, organisation_id)).answers
    assert "chat.postMessage" not in slack.mock.methods()


async def test_uninstalled_marks_the_organisation_disconnected_and_keeps_its_data(
    slack: Slack, school: MaturityModel
) -> None:
    organisation_id = await seed(slack, school, ["just me", "3"])
    event = {"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"}
    assert await slack.event(event) == 200
    await slack.settle()
    async with slack.db.transaction() as session:
        organisation = await repo.get_organisation(session, organisation_id)
    assert organisation is not None and organisation.disconnected_at == NOW
    assert (await review_state(slack, organisation_id)).answers["1.1"].level == 3
    assert slack.mock.calls == []  # a revoked token is not even tried

    # Reinstalled, the next request reconnects it.
    await slack.dm("done")
    async with slack.db.transaction() as session:
        organisation = await repo.get_organisation(session, organisation_id)
    assert organisation is not None and organisation.disconnected_at is None
    event = {
        "type": "tokens_revoked",
        "tokens": {"oauth": [], "bot": [BOT_USER]},
        "event_ts": f"{time.time():.6f}",
    }
    assert await slack.event(event) == 200
    await slack.settle()
    async with slack.db.transaction() as session:
        organisation = await repo.get_organisation(session, organisation_id)
    assert organisation is not None and organisation.disconnected_at == NOW


# ----- OAuth, Socket Mode, configuration -----------------------------------------------------------


async def installations(db: Database) -> tuple[int, int]:
    async with db.transaction() as session:
        tables = m.Base.metadata.tables
        found = [
            int(await session.scalar(select(func.count()).select_from(tables[name])) or 0)
            for name in (m.SLACK_INSTALLATIONS, m.SLACK_BOTS)
        ]
    return found[0], found[1]


# slack_sdk's oauth.v2.access call uses aiohttp.BasicAuth, which aiohttp now deprecates.
@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
async def test_oauth_install_keeps_the_installation_and_uninstall_removes_it(
    mock: MockSlack, tmp_path: Path
) -> None:
    valley = Team("T_VALLEY", "valley-college", "Valley College")
    mock.oauth_install = ("xoxb-valley", valley, "U_VAL")
    mock.add_user("U_VAL", "Val Leader", team="T_VALLEY")
    oauth = {"slack_bot_token": None, "slack_client_id": "111.222", "slack_client_secret": "shh"}
    async with running(mock, sqlite_url(tmp_path), **oauth) as slack:
        async with aiohttp.ClientSession() as http:
            async with http.get(slack.server.make_url("/slack/install")) as response:
                assert response.status == 200
                page = await response.text()
                cookie = response.cookies["slack-app-oauth-state"].value
            link = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page)
            assert link is not None
            query = parse_qs(urlparse(link.group(1).replace("&amp;", "&")).query)
            assert query["client_id"] == ["111.222"]
            assert query["scope"] == [",".join(BOT_SCOPES)]
            assert query["redirect_uri"] == ["https://careers-bot.example.org/slack/oauth_redirect"]
            callback = slack.server.make_url("/slack/oauth_redirect").with_query(
                code="c0de", state=query["state"][0]
            )
            headers = {"Cookie": f"slack-app-oauth-state={cookie}"}
            async with http.get(callback, headers=headers) as response:
                assert response.status == 200
        assert await installations(slack.db) == (1, 1)
        assert mock.last("oauth.v2.access").params["code"] == "c0de"

        # The installed workspace is served with its own token, as its own organisation.
        await slack.command("review", user="U_VAL", team="T_VALLEY", channel="D_VAL")
        posted = await mock.wait_for(
            "chat.postMessage", where=lambda c: c.params["channel"] == "D_VAL"
        )
        await slack.settle()
        assert posted[0].token == "xoxb-valley"
        valley_id = await organisation_of(slack, "T_VALLEY")
        # A workspace that never installed the app gets nothing.
        await slack.command("review", user="U_SAM", team="T_HILL")
        await slack.settle()
        assert not [c for c in mock.calls_to("chat.postMessage") if c.params["channel"] == "D_SAM"]

        event = {"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"}
        assert await slack.event(event, team="T_VALLEY") == 200
        await slack.settle()
        assert await installations(slack.db) == (0, 0)
        async with slack.db.transaction() as session:
            organisation = await repo.get_organisation(session, valley_id)
        assert organisation is not None and organisation.disconnected_at == NOW
        assert (await slack.service.state(valley_id)) is not None  # its review stays


async def test_socket_mode_needs_an_app_token(mock: MockSlack, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="SLACK_APP_TOKEN"):
        init_app(settings_for(mock, sqlite_url(tmp_path), socket_mode=True))


async def test_socket_mode_connects_and_serves_over_the_socket(
    mock: MockSlack, tmp_path: Path
) -> None:
    socket = {"socket_mode": True, "slack_app_token": "xapp-1-A0CAREERS-test"}
    async with running(mock, sqlite_url(tmp_path), **socket) as slack:
        assert mock.last("apps.connections.open").token == "xapp-1-A0CAREERS-test"
        command = {
            "team_id": "T_HILL",
            "team_domain": "hill-school",
            "channel_id": "D_SAM",
            "channel_name": "directmessage",
            "user_id": "U_SAM",
            "user_name": "sam",
            "command": "/careers",
            "text": "help",
            "api_app_id": APP_ID,
            "response_url": mock.response_url(),
            "trigger_id": "t",
        }
        await mock.socket_send(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": command,
            }
        )
        acks = await mock.wait_for("socket_ack", where=lambda c: c.params["envelope_id"] == "env-1")
        assert "/careers review" in acks[0].params["payload"]["text"]
        event = json.loads(slack.event_body(slack.dm_event("review")))
        await mock.socket_send(
            {
                "envelope_id": "env-2",
                "type": "events_api",
                "accepts_response_payload": False,
                "payload": event,
            }
        )
        await mock.wait_for("socket_ack", where=lambda c: c.params["envelope_id"] == "env-2")
        posted = await mock.wait_for("chat.postMessage")
        await slack.settle()
        assert "Who is taking part" in posted[0].text()


async def test_slack_settings_are_checked_at_start(mock: MockSlack, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    with pytest.raises(ConfigurationError, match="SLACK_SIGNING_SECRET is set but empty"):
        init_app(settings_for(mock, url, slack_signing_secret=""))
    with pytest.raises(ConfigurationError, match="SLACK_SIGNING_SECRET is set but empty"):
        init_app(settings_for(mock, url, slack_signing_secret="  "))
    with pytest.raises(ConfigurationError, match="SLACK_BOT_TOKEN"):
        init_app(settings_for(mock, url, slack_bot_token=None))
    with pytest.raises(ConfigurationError, match="together"):
        init_app(settings_for(mock, url, slack_client_id="111.222"))


async def test_without_slack_settings_the_app_starts_without_slack(tmp_path: Path) -> None:
    settings = Settings(database_url=sqlite_url(tmp_path), _env_file=None)  # type: ignore[call-arg]
    server = TestServer(init_app(settings), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(server.make_url("/slack/events"), data=b"{}") as response:
                assert response.status in (404, 405)
            async with http.get(server.make_url("/healthz")) as response:
                assert (await response.json())["slack"] is False
        assert SLACK not in server.app
    finally:
        await server.close()


def test_the_manifest_asks_for_what_the_bot_uses() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text("utf-8"))
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    settings = manifest["settings"]
    assert sorted(settings["event_subscriptions"]["bot_events"]) == sorted(BOT_EVENTS)
    events_url = settings["event_subscriptions"]["request_url"]
    assert events_url == "https://careers-bot.example.org/slack/events"
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"] == events_url
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/careers" and command["url"] == events_url
    assert manifest["oauth_config"]["redirect_urls"] == [
        "https://careers-bot.example.org/slack/oauth_redirect"
    ]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True


# ----- reminders and digests (the scheduler's notifier) -------------------------------------------


async def test_reminders_and_digests_are_sent_and_their_buttons_work(
    slack: Slack, school: MaturityModel
) -> None:
    organisation_id = await seed(slack, school)
    await slack.dm("summary")  # the DM is remembered for reminders
    async with slack.db.transaction() as session:
        [dm] = await repo.conversation_refs(session, organisation_id, "slack", kind="personal")
        action = (await repo.organisation_actions(session, organisation_id))[0]
        slt = await repo.save_conversation_ref(
            session, organisation_id, "slack", "C_SLT", "channel", {"team_id": "T_HILL"}, NOW
        )
    notifier = SlackNotifier(slack.bot)
    buttons = [Choice(label, value.format(id=action.id)) for label, value in msg.REMINDER_BUTTONS]
    reminder = Notice(
        "reminder", msg.REMINDER_TITLES["due_week"], [("", ["1.2 Leaders' vision"])], buttons
    )
    await notifier.send(dm, reminder, None)
    sent = slack.mock.last("chat.postMessage")
    assert sent.params["channel"] == "D_SAM" and sent.token == "xoxb-test"
    assert [b["value"] for b in sent.buttons()] == [
        f"done {action.id}",
        f"progress {action.id}",
        f"snooze {action.id}",
    ]
    await slack.click(sent, f"progress {action.id}")
    assert slack.mock.last("views.open").params["view"]["callback_id"] == "careers:update"
    await slack.click(sent, f"done {action.id}")
    assert f"Marked action #{action.id}" in slack.mock.last("chat.update").text()
    async with slack.db.transaction() as session:
        stored = await repo.get_action(session, action.id, organisation_id)
    assert stored is not None and stored.status == "done"

    digest = Notice(
        "digest", "Careers digest – week 3", [("Overdue", ["1.3 – SR"])], attach_chart=True
    )
    await notifier.send(slt, digest, b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    assert slack.mock.last("chat.postMessage").params["channel"] == "C_SLT"
    assert slack.mock.last("files.completeUploadExternal").params["channel_id"] == "C_SLT"


# ----- translation in and out (no server) ----------------------------------------------------------


def test_slack_markup_is_read_back_as_typed() -> None:
    names = {"U024BE7LH": "Nadia Rahman"}
    assert from_slack("<@U024BE7LH>, HOFS / ALL STAFF", names) == "Nadia Rahman, HOFS / ALL STAFF"
    assert (
        from_slack("Plan <https://school.example/plan|Careers plan>")
        == "Plan Careers plan https://school.example/plan"
    )
    assert (
        from_slack("<https://school.example/a?b=1&amp;c=2>") == "https://school.example/a?b=1&c=2"
    )
    assert from_slack("Parents &amp; carers &lt;3") == "Parents & carers <3"
    assert from_slack("see <#C0SLT|slt>") == "see #slt"


def test_a_statement_prompt_in_block_kit(school: MaturityModel) -> None:
    """6.1 has no level-1 descriptor: its first button reads "Not yet at level 2"."""
    ctx = Context(school, load_glossary(), NOW, "Sam Rivers")
    state = open_review(new_review(school, "Review"), ctx).state
    state = handle(state, "just me", ctx).state
    state = handle(state, "go 6.1", ctx).state
    message = card_message(statement_card(state, ctx, "6.1"))
    assert message.statement_id == "6.1"
    assert len(message.blocks) <= 50
    header = message.blocks[0]
    assert header["type"] == "header" and header["text"]["text"].startswith("Theme 6:")
    call = Call("chat.postMessage", {"blocks": message.blocks}, None, 200, {})
    labels = [(b["text"]["text"], b["value"]) for b in call.buttons()]
    assert labels[:4] == [("Not yet at level 2", "1"), ("Level 2", "2"), ("Level 3", "3"),
                          ("Level 4", "4")]  # fmt: skip
    assert [value for _, value in labels[4:]] == ["back", "skip", "pause"]
    # The question's block ids name it, with a token for this drawing of it.
    ids = {b["block_id"] for b in call.buttons()}
    assert {i.rsplit("|", 1)[0] for i in ids} == {"q|6.1|level|0", "q|6.1|level|1"}
    assert len({i.rsplit("|", 1)[1] for i in ids}) == 1
    assert f"*Not yet at level 2*\n_{slack_wording.SLACK_NO_DESCRIPTOR}_" in call.text()
    assert message.blocks[-1]["type"] == "context"
    assert "Statement 30 of 32 - Theme 6" in message.blocks[-1]["elements"][0]["text"]
