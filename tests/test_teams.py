"""Microsoft Teams, end to end: the real server on a loopback port, a mock Bot Framework connector.

Activities shaped like Teams' own (tests/fixtures/teams/*.json) are posted to /api/messages
with `serviceUrl` pointing at the mock connector (tests/teams_mock.py), which records what
the bot sends back, as Teams would receive it.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import logging
import threading
import time
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from conftest import NOW
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from PIL import Image
from review_scripts import (
    full_review_lines,
    seed003_priorities,
    seed_review,
    statement_lines,
)
from teams_mock import Call, MockConnector, action, inputs, submit_actions, walk

from bot import cli
from bot.app import DATABASE, NOTIFIERS, ConfigurationError, init_app
from bot.config import Settings, get_settings
from bot.reviews import ReviewService, Who
from bot.teams import TEAMS, TEAMS_SDK_CONFIG, send_proactive, send_to_member
from bot.teams import cards as teams_cards
from bot.teams import wording as teams_wording
from bot.teams.package import build_package, manifest
from bot.teams.proactive import as_activities
from bot.teams.work import BackgroundWork
from model_data import MaturityModel, load_glossary, load_model
from storage import models as m
from storage import repo
from storage.db import Database
from workflows import messages as msg
from workflows import review as engine
from workflows.actions import ActionView
from workflows.notices import Notice
from workflows.plan import ActionPlan, ActionStatus, ActionUpdateView
from workflows.replies import Choice, ShowAction, ShowPlan

FIXTURES = Path(__file__).parent / "fixtures" / "teams"
LABEL = teams_wording.TEAMS_LABELS
TENANT = "d4b2c1a0-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
BOT_ID = "28:careers-impact-bot"
TEAM = "19:Hq3kT8vZpW2xYc7LmNbR5sJdFgA1eUi0@thread.tacv2"
TEAM_B = "19:Vb4nM7xQ2pL9wK5zR8tY1cH6jD3gF0sA@thread.tacv2"
CHANNEL_A = "19:Pr7sL2mQ9wZx4Yv6NbC1kJhT8gFdRe3U@thread.tacv2"
CHANNEL_B = "19:Kd2fG8hJ4kL6zX1cV9bN3mQ7wE5rT0yU@thread.tacv2"
ALEX_AAD = "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
APP_ID = "3f1c2b4a-9d8e-4f7a-b6c5-d4e3f2a1b0c9"
SERVICE_URL_CLAIM = "serviceurl"


@dataclass(frozen=True)
class User:
    name: str
    teams_id: str
    aad: str
    chat: str  # the personal chat's conversation id


SAM = User(
    "Sam Rivers",
    "29:1gH7kQp3vXwY2ZsTnRmB8cJdLfE4aUiO6yWqPzS0tVxNb5HjKlMeRrGuIoA9sDfCg",
    "6f0c1e2d-3b4a-4c5d-8e9f-0a1b2c3d4e5f",
    "a:1Xq8Zr2vTnWpYbKc3LmJhGfDsAe5RuIo7PkQwEtYxCvBnM4lKjHgFdSaZxCvBnMqWe",
)
NADIA = User(
    "Nadia Rahman",
    "29:1Nr5tY8uI2oP4aS6dF8gH0jK2lZ4xC6vB8nM0qW2eR4tY6uI8oP0aS2dF4gH6jK8l",
    "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "a:1Nd7Wq3eR5tY7uI9oP1aS3dF5gH7jK9lZ1xC3vB5nM7qW9eR1tY3uI5oP7aS9dF1g",
)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text("utf-8"))


class TeamsClient:
    """Plays the Teams service: posts activities to the bot and clicks the cards it sent."""

    def __init__(
        self,
        app: web.Application,
        server: TestServer,
        http: aiohttp.ClientSession,
        mock: MockConnector,
    ) -> None:
        self.app = app
        self.server = server
        self.http = http
        self.mock = mock
        self.bot_id = BOT_ID
        self.token: Callable[[dict[str, Any]], str | None] = lambda activity: None
        self._ids = itertools.count(1736933500000)

    @property
    def db(self) -> Database:
        return self.app[DATABASE]

    def activity(self, name: str, user: User = SAM, **fields: Any) -> dict[str, Any]:
        activity = fixture(name)
        activity["id"] = (
            str(next(self._ids)) if activity["type"] == "message" else f"f:{next(self._ids)}"
        )
        activity["serviceUrl"] = self.mock.base_url
        activity["from"] = {"id": user.teams_id, "name": user.name, "aadObjectId": user.aad}
        activity["recipient"]["id"] = self.bot_id
        for member in activity.get("membersAdded", []):
            if member["id"] == BOT_ID:
                member["id"] = self.bot_id
        for entity in activity.get("entities", []):
            if entity.get("type") == "mention":
                entity["mentioned"]["id"] = self.bot_id
        if activity["conversation"]["conversationType"] == "personal":
            activity["conversation"]["id"] = user.chat
        activity.update(fields)
        return activity

    async def post(self, activity: dict[str, Any], headers: dict[str, str] | None = None) -> int:
        headers = dict(headers or {})
        token = self.token(activity)
        if token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.post(
            self.server.make_url("/api/messages"), json=activity, headers=headers
        ) as response:
            await response.read()
            return response.status

    async def say(self, text: str, user: User = SAM) -> None:
        status = await self.post(self.activity("message_personal.json", user, text=text))
        assert status == 201, status

    async def say_in_channel(
        self, text: str, user: User = SAM, channel: str = CHANNEL_A, team: str = TEAM
    ) -> None:
        activity = self.activity(
            "message_channel_mention.json",
            user,
            text=f"<at>Careers Impact Bot</at> {text}",
        )
        activity["conversation"]["id"] = f"{channel};messageid={activity['id']}"
        activity["channelData"].update(
            {
                "teamsChannelId": channel,
                "teamsTeamId": team,
                "channel": {"id": channel},
                "team": {"id": team},
            }
        )
        assert await self.post(activity) == 201

    def submitted(self, call: Call, title: str, user: User = SAM, **values: str) -> dict[str, Any]:
        """The message activity Teams sends when `title` is pressed on the card as it is now."""
        card = self.mock.current(call.activity_id).card
        assert card is not None
        value = dict(action(card, title)["data"])
        for input_id, element in inputs(card).items():
            value[input_id] = values.pop(input_id, element.get("value", ""))
        assert not values, f"the card has no inputs {sorted(values)}"
        activity = self.activity(
            "card_submit_personal.json", user, value=value, replyToId=call.activity_id
        )
        activity["channelData"]["legacy"]["replyToId"] = call.activity_id
        return activity

    async def click(self, call: Call, title: str, user: User = SAM, **values: str) -> None:
        assert await self.post(self.submitted(call, title, user, **values)) == 201

    def card_now(self, call: Call) -> dict[str, Any]:
        """A card as Teams shows it now (after any update in place)."""
        card = self.mock.current(call.activity_id).card
        assert card is not None
        return card

    def statement_cards(self, conversation: str = SAM.chat) -> dict[str, Call]:
        """Each statement's card as first sent (the latest sent if there were several)."""
        found: dict[str, Call] = {}
        for call in self.mock.sent(conversation):
            statement = (call.body or {}).get("summary") or ""
            if call.card is not None and "Statement " in json.dumps(call.card):
                found[statement.split(" ", 1)[0]] = call
        return found

    def card_texts(self, call: Call) -> str:
        card = self.mock.current(call.activity_id).card or {}
        return "\n".join(e.get("text", "") for e in walk(card) if e.get("type") == "TextBlock")


def sqlite_settings(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{tmp_path / 'teams.sqlite3'}", **changes
    )


@asynccontextmanager
async def teams_bot(
    settings: Settings,
    database: Database | None = None,
    sdk_config: dict[str, str] | None = None,
    mock: MockConnector | None = None,
) -> AsyncIterator[TeamsClient]:
    """The real app on 127.0.0.1 (port 0) and a mock connector on another loopback port."""
    own_mock = mock is None
    mock = mock or MockConnector()
    if own_mock:
        await mock.start()
    app = init_app(settings, database=database, clock=lambda: NOW)
    if sdk_config:
        app[TEAMS_SDK_CONFIG] = sdk_config
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    app[TEAMS].work.retry_delay = 0.01
    try:
        async with aiohttp.ClientSession() as http:
            yield TeamsClient(app, server, http, mock)
    finally:
        await server.close()
        if own_mock:
            await mock.close()


async def organisation_of(db: Database, user: User = SAM) -> m.Organisation:
    async with db.transaction() as session:
        person = await repo.person_by_identity(session, "teams", TENANT, user.aad)
        assert person is not None
        organisation = await repo.get_organisation(session, person.organisation_id)
        assert organisation is not None
        return organisation


def texts_of(calls: list[Call]) -> str:
    out = []
    for call in calls:
        out.append(call.text)
        if call.card:
            out.extend(e.get("text", "") for e in walk(call.card) if e.get("type") == "TextBlock")
    return "\n".join(out)


# ----- a whole review ---------------------------------------------------------------------


async def test_a_complete_review_in_teams(database: Database, school: MaturityModel) -> None:
    """Installed, started from the welcome card, answered by cards and typing, finished."""
    priorities = {p.id: p for p in seed003_priorities()}
    lines = full_review_lines(school)
    per_statement = {s.id: statement_lines(s.id, priorities.get(s.id)) for s in school.statements}
    assert lines == [lines[0], *itertools.chain.from_iterable(per_statement.values())]
    by_card = {"1.1", "1.2"}  # one strength and one priority answered on cards, the rest typed

    async with teams_bot(Settings(_env_file=None), database) as teams:  # type: ignore[call-arg]
        mock = teams.mock
        # Teams sends both events on install; the welcome goes once.
        assert await teams.post(teams.activity("installation_update_add.json")) == 201
        assert await teams.post(teams.activity("conversation_update_personal.json")) == 201
        welcome = mock.sent(SAM.chat)
        assert len(welcome) == 1
        assert teams_wording.TEAMS_WELCOME_PERSONAL in teams.card_texts(welcome[0])
        async with teams.db.transaction() as session:
            refs = await repo.conversation_refs(session, (await organisation_of(teams.db)).id)
        assert [(r.kind, r.conversation_id, r.person_id is not None) for r in refs] == [
            ("personal", SAM.chat, True)
        ]
        assert refs[0].reference["conversation"]["id"] == SAM.chat
        assert refs[0].reference["serviceUrl"] == mock.base_url

        await teams.click(welcome[0], LABEL["start"])
        participants = mock.last_card()
        assert msg.ASK_PARTICIPANTS in teams.card_texts(participants)
        pressed = teams.submitted(participants, LABEL["save"], participants=lines[0])
        assert await teams.post(copy.deepcopy(pressed)) == 201
        assert "Your answer: Sam Rivers, Nadia Rahman" in teams.card_texts(participants)

        for statement in school.statements:
            card = mock.last_card()
            if statement.id not in by_card:
                for line in per_statement[statement.id]:
                    await teams.say(line)
                continue
            assert statement.label in teams.card_texts(card)
            if statement.id == "1.1":  # a strength, with an evidence link
                await teams.click(card, "Level 3")
                await teams.click(
                    mock.last_card(),
                    LABEL["save_links"],
                    label_1="Careers plan",
                    link_1="https://school.example/careers-plan",
                )
                await teams.click(mock.last_card(), "No note")
                await teams.click(mock.last_card(), "Area of strength")
            else:  # 1.2, a priority: level, evidence, note, then the priority details card
                seed = priorities["1.2"]
                await teams.click(card, f"Level {seed.current_level}")
                url = "https://school.example/evidence/1.2"
                await teams.click(
                    mock.last_card(), LABEL["save_links"], label_1="Evidence for 1.2", link_1=url
                )
                await teams.click(mock.last_card(), LABEL["save"], note="Note on 1.2")
                await teams.click(mock.last_card(), "Priority action area")
                details = mock.last_card()
                assert details.activity_id == card.activity_id  # the statement's one card
                form = inputs(teams.card_now(details))
                assert set(form) >= {"target", "next_steps", "owners_pick", "due"}
                await teams.click(
                    details,
                    LABEL["save"],
                    target=str(seed.target_level),
                    next_steps="\n".join(seed.next_steps),
                    owners_pick=",".join(seed.owners),
                    due=seed.by_when,
                )
                answered = json.dumps(teams.card_now(details))
                assert "priority action area (target 4, HT3" in answered
                assert "Create shared vision" in answered  # the action's next steps
                # Another action for 1.2? Its Yes / No buttons are on the same card: No.
                assert msg.ASK_ANOTHER in teams.card_texts(details)
                await teams.click(details, "No")
                assert not submit_actions(teams.card_now(details))

        # The end: summary grid and action plan cards, and the review saved as complete.
        last = mock.sent(SAM.chat)[-3:]
        assert msg.COMPLETE in last[0].text
        assert teams_wording.TEAMS_SUMMARY_TITLE.split("{")[0] in texts_of([last[1]])
        plan = last[2].card
        assert plan is not None and plan["version"] == "1.5"
        assert [a["title"] for a in submit_actions(plan)] == [
            LABEL["download_docx"],
            LABEL["download_xlsx"],
            LABEL["evidence_pack"],
            LABEL["governors_report"],
            LABEL["policy_draft"],
        ]
        organisation = await organisation_of(teams.db)
        service = ReviewService(teams.db, lambda: NOW)
        state = await service.state(organisation.id)
        assert state is not None and state.completed
        assert state.participants == ["Sam Rivers", "Nadia Rahman"]
        assert state.answers["1.1"].evidence[0].url == "https://school.example/careers-plan"
        document = await service.plan_document(organisation.id)
        expected = {
            p.id: (p.current_level, p.target_level, p.next_steps, p.owners)
            for p in priorities.values()
        }
        assert {
            r.statement_id: (r.current_level, r.target_level, r.next_steps, r.owners)
            for r in document.plan.rows
        } == expected
        assert len(document.summary.strengths) == 3

        # One card per statement, each updated in place as it was answered: none still
        # offers a button or a form.
        statement_cards = teams.statement_cards()
        assert sorted(statement_cards) == sorted(s.id for s in school.statements)
        assert all(not submit_actions(teams.card_now(c)) for c in statement_cards.values())
        updated = {c.activity_id for c in mock.calls if c.kind == "update"}
        assert {c.activity_id for c in statement_cards.values()} <= updated

        # A double click (or a retried delivery) of an answered card changes and sends nothing.
        before = mock.mark()
        assert await teams.post(pressed) == 201
        assert mock.since(before) == []


# ----- issue 9: one card per statement, updated in place ----------------------------------


async def test_one_card_per_statement_over_a_whole_review(
    tmp_path: Path, school: MaturityModel
) -> None:
    """Seed 003's whole review typed in the personal chat: each statement is one card updated
    in place (at most 1.5 new activities per statement), and at the end no card offers a
    button or a form."""
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        mock = teams.mock
        await teams.say("review")
        start = len(mock.sent(SAM.chat))
        for line in full_review_lines(school):
            await teams.say(line)
        assert (await review_state(teams)).completed
        total = len(school.statements)
        new_activities = len(mock.sent(SAM.chat)) - start
        print(
            f"new activities per statement: {new_activities}/{total} = {new_activities / total:.2f}"
        )
        assert new_activities / total <= 1.5, (new_activities, total)
        cards = teams.statement_cards()
        assert sorted(cards) == sorted(s.id for s in school.statements)
        live = [sid for sid, call in cards.items() if submit_actions(teams.card_now(call))]
        assert live == []
        # Nor any other card: the participants question was answered by typing too.
        assert not any(
            c.card and submit_actions(teams.card_now(c)) for c in mock.sent(SAM.chat)[:start]
        )
        # The plan card's download buttons are the only ones left in the chat.
        assert [a["title"] for a in submit_actions(mock.last_card().card or {})] == [
            LABEL["download_docx"],
            LABEL["download_xlsx"],
            LABEL["evidence_pack"],
            LABEL["governors_report"],
            LABEL["policy_draft"],
        ]


async def test_a_level_button_updates_its_card_in_place(tmp_path: Path) -> None:
    """A level pressed on a statement's card: that same activity (update_activity) now shows
    the level chosen, its descriptors folded behind their headings, and the next question;
    "back" asks the level again on the same card, and that new drawing takes a new answer."""
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        mock = teams.mock
        for line in ["review", "just me"]:
            await teams.say(line)
        card = mock.last_card()
        first = teams.card_now(card)
        assert "Action.ToggleVisibility" not in json.dumps(first)  # all four to read
        assert all(e.get("isVisible", True) is not False for e in walk(first))
        before = mock.mark()
        await teams.click(card, "Level 3")
        assert mock.since(before, "send") == []
        (update,) = mock.since(before, "update")
        assert update.activity_id == card.activity_id
        shown = teams.card_now(card)
        texts = teams.card_texts(card)
        assert "Level 3 saved for 1.1" in texts and msg.ASK_EVIDENCE in texts
        assert "Your answer so far: level 3" in texts
        titles = [a["title"] for a in submit_actions(shown)]
        assert not any(t.startswith("Level") for t in titles) and "Done" in titles
        # The four descriptors folded behind their level headings, the chosen one marked.
        toggles = [
            e["selectAction"]
            for e in walk(shown)
            if (e.get("selectAction") or {}).get("type") == "Action.ToggleVisibility"
        ]
        assert len(toggles) == 4
        folded = {e["id"]: e for e in walk(shown) if e.get("isVisible") is False}
        assert {t["targetElements"][0] for t in toggles} == set(folded)
        assert "Level 3 ✓" in texts
        statement = load_model("school").statement("1.1")
        descriptor = statement.level_text(3) or ""
        assert descriptor[:40] in json.dumps(folded, ensure_ascii=False)

        # Back: the level asked again on the same card, with its buttons; pressed, it is a new
        # answer (a new drawing of the question), not a double click of the first.
        await teams.click(card, LABEL["back"])
        assert (await sam_place(teams)).step.value == "level"
        assert "Level 2" in [a["title"] for a in submit_actions(teams.card_now(card))]
        before = mock.mark()
        await teams.click(card, "Level 2")
        assert mock.since(before, "send") == []
        assert (await review_state(teams)).answers["1.1"].level == 2
        assert (await sam_place(teams)).step.value == "evidence"
        assert "Your answer so far: level 2" in teams.card_texts(card)


# ----- cards: replaced, refused and shown again, out of date, changed answers --------------


async def test_changed_answer_stale_card_and_refused_link(tmp_path: Path) -> None:
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        mock = teams.mock
        for line in ["review", "just me", "3", "done", "none", "neither"]:
            await teams.say(line)
        card_12 = mock.last_card()  # 1.2's statement card, never answered
        level_1 = teams.submitted(card_12, "Level 1")  # pressed later, on a card not yet redrawn
        before = mock.mark()
        await teams.say("go 1.1")
        assert mock.since(before, "send") == []  # both cards redrawn in place
        card_11 = teams.statement_cards()["1.1"]
        shown = teams.card_texts(card_11)
        assert "Your answer so far: level 3, neither" in shown
        assert [a["title"] for a in submit_actions(teams.card_now(card_11))][:5] == [
            "Level 1", "Level 2", "Level 3", "Level 4", "Keep",
        ]  # fmt: skip
        assert not submit_actions(teams.card_now(card_12))  # left: its question is gone

        # The review has moved on from 1.2's question: pressing it changes nothing, and the
        # card says so, in place.
        before = mock.mark()
        assert await teams.post(level_1) == 201
        assert mock.since(before, "send") == []
        assert msg.STALE_QUESTION in teams.card_texts(card_12)
        assert "1.2 Leaders' vision" in teams.card_texts(card_12)  # still the statement
        assert not submit_actions(teams.card_now(card_12))
        organisation = await organisation_of(teams.db)
        service = ReviewService(teams.db, lambda: NOW)
        state = await service.state(organisation.id)
        assert state is not None and "1.2" not in state.answers

        # Change 1.1 from level 3 to 2 on its card; the change is kept in the answer's history.
        await teams.click(card_11, "Level 2")
        assert "Your answer so far: level 2" in teams.card_texts(card_11)
        assert msg.ASK_EVIDENCE in teams.card_texts(card_11)  # the next question, same card
        for line in ["done", "none", "neither"]:
            await teams.say(line)
        async with teams.db.transaction() as session:
            review = await repo.open_review(session, organisation.id)
            assert review is not None
            history = await repo.response_history(session, review.id, "1.1")
        assert [(h.before["level"], h.after["level"]) for h in history] == [(3, 2)]

        # 1.2 again: a link that is not http(s) is refused on the card itself, nothing lost.
        await teams.say("2")
        evidence = mock.last_card()
        before = mock.mark()
        await teams.click(
            evidence, LABEL["save_links"], label_1="Plan", link_1="ftp://files.school.example/plan"
        )
        assert mock.since(before, "send") == []  # the same card, shown again in place
        again = mock.current(evidence.activity_id).card
        assert "ftp://files.school.example/plan" in teams.card_texts(evidence)
        assert inputs(again)["link_1"]["value"] == "ftp://files.school.example/plan"
        assert inputs(again)["label_1"]["value"] == "Plan"
        state = await service.state(organisation.id)
        assert state is not None
        assert state.answers["1.2"].evidence == [] and state.cursor.step.value == "evidence"
        await teams.click(evidence, LABEL["save_links"], link_1="https://school.example/plan")
        state = await service.state(organisation.id)
        assert state is not None and state.cursor.step.value == "note"
        assert [e.url for e in state.answers["1.2"].evidence] == ["https://school.example/plan"]
        shown = teams.card_texts(evidence)
        assert "level 2, 1 evidence link" in shown and msg.ASK_NOTE in shown
        assert "(https://school.example/plan)" in shown


async def test_priority_card_with_people_picker_and_real_dates(tmp_path: Path) -> None:
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        mock = teams.mock
        mock.members[ALEX_AAD] = {
            "id": "29:1Alex",
            "name": "Alex Smith",
            "aadObjectId": ALEX_AAD,
            "userPrincipalName": "alex.smith@hillschool.org.uk",
            "tenantId": TENANT,
        }
        for line in ["review", "just me"]:
            await teams.say(line)
        await teams.say("hello", NADIA)  # Nadia is now known to the organisation ("NR")
        for line in ["go 1.1", "2", "done", "none", "priority"]:
            await teams.say(line)
        details = mock.last_card()
        form = inputs(teams.card_now(details))
        assert [c["value"] for c in form["target"]["choices"]] == ["3", "4"]
        assert form["owners_pick"]["choices.data"] == {
            "type": "Data.Query",
            "dataset": "graph.microsoft.com/users",
        }
        assert {c["value"] for c in form["owners_pick"]["choices"]} == {"SR", "NR"}
        due = {c["value"]: c["title"] for c in form["due"]["choices"]}
        assert due["HT3"] == "HT3 - ends Fri 14 Feb 2025"
        assert due["ongoing"] == "Ongoing"
        organisation = await organisation_of(teams.db)
        service = ReviewService(teams.db, lambda: NOW)

        # An empty box, then someone Teams doesn't know: refused on the card, nothing saved.
        await teams.click(
            details, LABEL["save"], target="4", next_steps="", owners_typed="SR", due="HT3"
        )
        assert teams_wording.TEAMS_FORM_MISSING.format(
            field=LABEL["next_steps"]
        ) in teams.card_texts(details)
        unknown = "00000000-1111-4222-8333-444444444444"
        await teams.click(
            details, LABEL["save"], target="4", next_steps="Plan", owners_pick=unknown, due="HT3"
        )
        assert teams_wording.TEAMS_UNKNOWN_PERSON in teams.card_texts(details)
        assert [c.activity_id for c in mock.calls if c.kind == "member"][-1] == unknown
        state = await service.state(organisation.id)
        assert state is not None and state.cursor.step.value == "target"

        # People picked (one the bot knows, one from Teams' directory) and initials typed.
        await teams.click(
            details,
            LABEL["save"],
            target="4",
            next_steps="Meet the Enterprise Adviser\nShare the plan with governors",
            owners_pick=f"{NADIA.aad},{ALEX_AAD}",
            owners_typed="HOFS",
            due="HT3",
        )
        state = await service.state(organisation.id)
        assert state is not None
        action_draft = state.answers["1.1"].action
        assert action_draft is not None
        assert action_draft.owner_names == ["NR", "Alex Smith", "HOFS"]
        assert action_draft.owners[0].person_id is not None
        assert (
            action_draft.next_steps == "Meet the Enterprise Adviser\nShare the plan with governors"
        )
        assert (action_draft.target_level, action_draft.due, action_draft.due_year) == (
            4,
            "HT3",
            "2024/25",
        )

        # The typed commands: actions, plan, help.
        before = mock.mark()
        for line in ["actions", "plan", "help"]:
            await teams.say(line)
        actions_card, plan_card, help_card = mock.since(before, "send")
        assert f"#{action_draft.action_id} 1.1 Distributed careers leadership" in texts_of(
            [actions_card]
        )
        assert "Alex Smith" in json.dumps(actions_card.card)
        assert "Meet the Enterprise Adviser" in json.dumps(plan_card.card)
        assert teams_wording.TEAMS_HELP in texts_of([help_card]) and msg.HELP in texts_of(
            [help_card]
        )

        # A reminder's button while the review waits for a note: the action, not the note.
        for line in ["no", "2", "done"]:  # no other action for 1.1
            await teams.say(line)
        async with teams.db.transaction() as session:
            refs = await repo.conversation_refs(session, organisation.id, "teams", kind="personal")
        sam_chat = next(r for r in refs if r.conversation_id == SAM.chat)
        reminder = Notice(
            kind="reminder",
            title="Action due this week",
            sections=[("", ["1.1: Meet the Enterprise Adviser"])],
            buttons=[Choice("Mark done", f"done {action_draft.action_id}")],
        )
        await teams.app[NOTIFIERS]["teams"].send(sam_chat, reminder, None)
        await teams.click(mock.last_card(SAM.chat), "Mark done")
        state = await service.state(organisation.id)
        assert state is not None and state.cursor.step.value == "note"
        assert state.answers["1.2"].note is None
        async with teams.db.transaction() as session:
            done = await repo.get_action(session, action_draft.action_id, organisation.id)
        assert done is not None and done.status == "done"


# ----- issue 9: typed intents, one transaction, each person's own place -------------------


async def review_state(teams: TeamsClient, user: User = SAM) -> engine.ReviewState:
    organisation = await organisation_of(teams.db, user)
    state = await ReviewService(teams.db, lambda: NOW).state(organisation.id)
    assert state is not None
    return state


async def sam_place(teams: TeamsClient) -> engine.Cursor:
    organisation = await organisation_of(teams.db)
    async with teams.db.transaction() as session:
        person = await repo.person_by_identity(session, "teams", TENANT, SAM.aad)
    assert person is not None and person.organisation_id == organisation.id
    return (await review_state(teams)).cursor_for(str(person.id))


async def test_a_double_click_saves_once(tmp_path: Path) -> None:
    """Two activities (new ids) from the same button of the same card: one answer."""
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        mock = teams.mock
        for line in ["review", "just me"]:
            await teams.say(line)
        card = mock.last_card()
        first = teams.submitted(card, "Level 3")
        second = teams.submitted(card, "Level 3")  # taken before the card was replaced
        assert first["id"] != second["id"] and first["replyToId"] == second["replyToId"]
        assert await teams.post(first) == 201
        before = mock.mark()
        assert await teams.post(second) == 201
        assert mock.since(before) == []  # not "out of date", not saved again
        place = await sam_place(teams)
        assert (place.statement_id, place.step.value) == ("1.1", "evidence")
        assert (await review_state(teams)).answers["1.1"].level == 3

        # The evidence card pressed twice: its links saved once, the review moved on once.
        evidence = mock.last_card()
        values = {"label_1": "Plan", "link_1": "https://school.example/plan"}
        first = teams.submitted(evidence, LABEL["save_links"], **values)
        second = teams.submitted(evidence, LABEL["save_links"], **values)
        assert await teams.post(first) == 201
        before = mock.mark()
        assert await teams.post(second) == 201
        assert mock.since(before) == []
        state = await review_state(teams)
        assert [e.url for e in state.answers["1.1"].evidence] == ["https://school.example/plan"]
        assert (await sam_place(teams)).step.value == "note"


async def test_links_typed_into_the_evidence_card_are_saved_with_done(tmp_path: Path) -> None:
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        mock = teams.mock
        for line in ["review", "just me", "3"]:
            await teams.say(line)
        evidence = mock.last_card()
        await teams.click(
            evidence,
            "Done",
            label_1="Careers plan",
            link_1="https://school.example/careers-plan",
            link_2="https://school.example/destinations",
        )
        state = await review_state(teams)
        assert [(e.label, e.url) for e in state.answers["1.1"].evidence] == [
            ("Careers plan", "https://school.example/careers-plan"),
            (None, "https://school.example/destinations"),
        ]
        assert (await sam_place(teams)).step.value == "note"
        assert "level 3, 2 evidence links" in teams.card_texts(evidence)

        # Pause pressed with a link typed: the link is kept, then the review pauses.
        await teams.say("back")
        again = mock.last_card()
        await teams.click(again, LABEL["pause"], link_1="https://school.example/employers")
        state = await review_state(teams)
        assert [e.url for e in state.answers["1.1"].evidence][-1] == (
            "https://school.example/employers"
        )
        assert (await sam_place(teams)).paused

        # A bad link with Done: refused beside the box, nothing saved, still at evidence.
        await teams.say("review")
        evidence = mock.last_card()
        before = mock.mark()
        await teams.click(evidence, "Done", link_1="ftp://files.school.example/plan")
        assert mock.since(before, "send") == []
        shown = mock.current(evidence.activity_id).card
        assert shown is not None and inputs(shown)["link_1"]["value"].startswith("ftp://")
        assert "ftp://files.school.example/plan" in teams.card_texts(evidence)
        assert len((await review_state(teams)).answers["1.1"].evidence) == 3
        assert (await sam_place(teams)).step.value == "evidence"


async def test_a_card_answered_by_typing_is_stale_and_says_so(tmp_path: Path) -> None:
    """A question typed away loses its buttons at once; a press that was already on its way
    (the card not yet redrawn on a phone) changes nothing, and the card says why."""
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        mock = teams.mock
        for line in ["review", "just me"]:
            await teams.say(line)
        level_card = mock.last_card()
        pressed = teams.submitted(level_card, "Level 1")
        before = mock.mark()
        await teams.say("3")  # answered by typing: the card is redrawn with the next question
        assert mock.since(before, "send") == []
        assert [c.activity_id for c in mock.since(before, "update")] == [level_card.activity_id]
        titles = [a["title"] for a in submit_actions(teams.card_now(level_card))]
        assert "Level 1" not in titles and "Done" in titles
        async with teams.db.transaction() as session:
            review = await repo.open_review(session, (await organisation_of(teams.db)).id)
            assert review is not None
            version = review.version
        before = mock.mark()
        assert await teams.post(pressed) == 201
        assert mock.since(before, "send") == []  # no new message: the card itself says so
        assert msg.STALE_QUESTION in teams.card_texts(level_card)
        assert msg.ASK_EVIDENCE in teams.card_texts(level_card)  # still the question now
        state = await review_state(teams)
        assert state.answers["1.1"].level == 3
        assert (await sam_place(teams)).step.value == "evidence"
        async with teams.db.transaction() as session:
            review = await repo.open_review(session, (await organisation_of(teams.db)).id)
            assert review is not None and review.version == version


async def test_priority_form_offers_spans_in_date_order(tmp_path: Path) -> None:
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        mock = teams.mock
        for line in ["review", "just me", "2", "done", "none", "priority"]:
            await teams.say(line)
        details = mock.last_card()
        due = inputs(teams.card_now(details))["due"]["choices"]
        codes = [c["value"] for c in due]
        assert codes[0] == "HT3" and codes[-2:] == ["ongoing", "tbc"]
        assert {"HT3/4", "HT4/5", "HT5/6"} <= set(codes)
        titles = {c["value"]: c["title"] for c in due}
        assert titles["HT3/4"].startswith("HT3/4") and "2025" in titles["HT3/4"]

        def ends(title: str) -> datetime:
            day = title.split("ends ")[-1]
            return datetime.strptime(day, "%a %d %b %Y")

        dated = [ends(c["title"]) for c in due if c["value"] not in ("ongoing", "tbc")]
        assert dated == sorted(dated)

        # Saved with a span: the whole form in one transaction.
        await teams.click(
            details,
            LABEL["save"],
            target="3",
            next_steps="Audit the careers programme",
            owners_typed="SR",
            due="HT3/4",
        )
        action_draft = (await review_state(teams)).answers["1.1"].action
        assert action_draft is not None and action_draft.due == "HT3/4"

        # A form refused by the engine: the reason beside the box it is about; nothing saved.
        for line in ["go 1.2", "2", "done", "none", "priority"]:
            await teams.say(line)
        details = mock.last_card()
        await teams.click(
            details,
            LABEL["save"],
            target="3",
            next_steps="Plan",
            owners_typed="x" * 200,
            due="HT4",
        )
        shown = mock.current(details.activity_id).card
        assert shown is not None
        body = [e for e in walk(shown)]
        typed = next(i for i, e in enumerate(body) if e.get("id") == "owners_typed")
        assert body[typed + 1]["type"] == "TextBlock"
        assert body[typed + 1]["color"] == "Attention"
        assert (await sam_place(teams)).step.value == "target"
        assert (await review_state(teams)).answers["1.2"].action.next_steps is None  # type: ignore[union-attr]


async def test_a_colleagues_my_actions_is_not_the_leaders_note(tmp_path: Path) -> None:
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        mock = teams.mock
        for line in ["review", "just me", "3", "done"]:
            await teams.say(line)
        assert (await sam_place(teams)).step.value == "note"
        before = mock.mark()
        await teams.say("my actions", NADIA)
        state = await review_state(teams)
        assert state.answers["1.1"].note is None
        assert (await sam_place(teams)).step.value == "note"
        shown = texts_of(mock.since(before))
        assert msg.NO_ACTIONS["mine"] in shown
        # Sam's own words at the note step are his note, even ones that look like commands.
        await teams.say("my actions are in the plan")
        assert (await review_state(teams)).answers["1.1"].note == "my actions are in the plan"


async def test_reopened_mid_statement_shows_exactly_the_pending_question(tmp_path: Path) -> None:
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        mock = teams.mock
        assert await teams.post(teams.activity("installation_update_add.json")) == 201
        welcome = mock.last_card()
        for line in ["review", "just me", "3", "pause"]:
            await teams.say(line)
        card = mock.last_card()  # 1.1's one card
        assert not submit_actions(teams.card_now(card))  # paused: nothing waits for an answer

        # Typed "review": the same card asks the evidence question, with only its controls.
        before = mock.mark()
        await teams.say("review")
        assert [c for c in mock.since(before, "send") if c.card] == []  # only "welcome back"
        shown = teams.card_now(card)
        assert msg.ASK_EVIDENCE in teams.card_texts(card)
        assert msg.ASK_LEVEL_KEEP not in teams.card_texts(card)
        assert set(inputs(shown)) == {f"{k}_{n}" for k in ("label", "link") for n in (1, 2, 3)}
        assert [a["title"] for a in submit_actions(shown)] == [
            LABEL["save_links"], "Done", LABEL["back"], LABEL["skip"], LABEL["pause"],
        ]  # fmt: skip
        await teams.click(card, "Done")
        assert (await sam_place(teams)).step.value == "note"

        # Paused at the note, opened again from the welcome card's button: the card comes
        # afresh at the bottom with the note box and its buttons; the old one keeps none.
        await teams.say("pause")
        before = mock.mark()
        await teams.click(welcome, LABEL["start"])
        (note,) = [c for c in mock.since(before, "send") if c.card]
        assert note.activity_id != card.activity_id
        assert msg.ASK_NOTE in teams.card_texts(note)
        assert set(inputs(teams.card_now(note))) == {"note"}
        titles = [a["title"] for a in submit_actions(teams.card_now(note))]
        assert not any(t.startswith("Level") for t in titles) and LABEL["save"] in titles
        assert not submit_actions(teams.card_now(card))
        assert "Your answer so far: level 3" in teams.card_texts(card)  # retired, readable
        await teams.click(note, LABEL["save"], note="Governors briefed in December")
        assert (await review_state(teams)).answers["1.1"].note == "Governors briefed in December"
        assert msg.ASK_FLAG in teams.card_texts(note)  # and the next question, same card


async def test_uninstall_marks_the_organisation_disconnected(tmp_path: Path) -> None:
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        await teams.say("review")
        assert await teams.post(teams.activity("conversation_update_team.json")) == 201

        async def disconnected() -> bool:
            return (await organisation_of(teams.db)).disconnected_at is not None

        # A colleague removing the app from their own chat only opts them out.
        removed = teams.activity("installation_update_add.json", NADIA, action="remove")
        assert await teams.post(removed) == 201
        assert not await disconnected()

        # Removed from the team: the school is disconnected (no reminders); data stays.
        removed = teams.activity("installation_update_add.json", action="remove")
        removed["conversation"] = {
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": TEAM,
            "isGroup": True,
        }
        removed["channelData"]["team"] = {"id": TEAM}
        assert await teams.post(removed) == 201
        assert (await organisation_of(teams.db)).disconnected_at == NOW
        async with teams.db.transaction() as session:
            assert await repo.open_review(session, (await organisation_of(teams.db)).id)

        # A message from the school again: reconnected.
        await teams.say("help")
        assert not await disconnected()

        # The bot removed from a team (conversationUpdate): disconnected as well.
        update = teams.activity("conversation_update_team.json")
        update["membersRemoved"] = update.pop("membersAdded")
        assert await teams.post(update) == 201
        assert await disconnected()
        assert await teams.post(teams.activity("installation_update_add.json")) == 201
        assert not await disconnected()


def test_action_history_in_the_organisations_time(school: MaturityModel) -> None:
    late = datetime(2025, 6, 10, 23, 30, tzinfo=UTC)  # 00:30 on the 11th in London (BST)
    view = ActionView(
        id=7,
        statement_id="1.1",
        statement_label="1.1 Distributed careers leadership",
        current_level=2,
        target_level=3,
        next_steps="Plan",
        owners=(),
        due="HT6",
        due_year="2024/25",
        due_date=None,
        status=ActionStatus.IN_PROGRESS,
        updated_at=late,
        updates=(ActionUpdateView(at=late, by="Sam Rivers", kind="progress"),),
    )
    reply = ShowAction(view, late.date())
    (london,) = teams_cards.render([reply], teams_cards.RenderOptions(model=school))
    assert "Wed 11 Jun 2025 00:30 · progress" in json.dumps(
        london.attachments[0].content, ensure_ascii=False
    )
    options = teams_cards.RenderOptions(model=school, timezone="UTC")
    (utc,) = teams_cards.render([reply], options)
    assert "Tue 10 Jun 2025 23:30 · progress" in json.dumps(
        utc.attachments[0].content, ensure_ascii=False
    )


# ----- proactive messages through stored references, after a restart ----------------------


async def test_proactive_message_after_a_restart(database: Database) -> None:
    mock = MockConnector()
    await mock.start()
    try:
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        async with teams_bot(settings, database, mock=mock) as teams:
            assert await teams.post(teams.activity("installation_update_add.json")) == 201
            await teams.say("review")
            assert await teams.post(teams.activity("conversation_update_team.json")) == 201
            assert teams_wording.TEAMS_WELCOME_TEAM in mock.sent(TEAM)[0].text
        # A new app on the same database: nothing in memory survives, the references do.
        async with teams_bot(settings, database, mock=mock) as teams:
            organisation = await organisation_of(teams.db)
            async with teams.db.transaction() as session:
                personal = await repo.conversation_refs(
                    session, organisation.id, "teams", kind="personal"
                )
                team = await repo.conversation_ref(session, "teams", TEAM)
            assert team is not None and team.kind == "team"
            before = mock.mark()
            ids = await send_proactive(
                teams.app, personal[0], "Reminder: action 3 is due on Friday."
            )
            sent = mock.since(before)
            assert [(c.kind, c.conversation, c.text) for c in sent] == [
                ("send", SAM.chat, "Reminder: action 3 is due on Friday.")
            ]
            assert ids == [sent[0].activity_id]
            assert "replyToId" not in sent[0].body  # a new message, not a reply

            # The scheduler's way in: a Notifier for "teams", with the chart inline.
            notice = Notice(
                kind="digest",
                title="Weekly careers digest",
                sections=[("Overdue", ["#3 1.2 Vision – SR"])],
                buttons=[Choice("Mark done", "done 3")],
            )
            before = mock.mark()
            await teams.app[NOTIFIERS]["teams"].send(team, notice, b"\x89PNG\r\n\x1a\nchart")
            (call,) = mock.since(before)
            assert call.conversation == TEAM and call.card is not None
            assert "Weekly careers digest" in texts_of([call])
            assert call.attachments[1]["contentType"] == "image/png"
            assert call.attachments[1]["contentUrl"].startswith("data:image/png;base64,")

            # Someone who never wrote to the bot: a personal chat is created through the team.
            before = mock.mark()
            row = await send_to_member(teams.app, team, "29:1Alex", "Hello Alex")
            created, hello = mock.since(before)
            assert created.kind == "create" and created.body["members"] == [{"id": "29:1Alex"}]
            assert created.body["channelData"] == {"tenant": {"id": TENANT}}
            assert (hello.conversation, hello.text) == (created.conversation, "Hello Alex")
            assert (row.kind, row.conversation_id) == ("personal", created.conversation)
    finally:
        await mock.close()


# ----- team channels: the SLT digest channel, set-up in a multi-academy trust -------------


async def test_digest_here_needs_the_careers_leader(tmp_path: Path) -> None:
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        mock = teams.mock
        assert await teams.post(teams.activity("conversation_update_team.json")) == 201
        before = mock.mark()
        await teams.say_in_channel("digest here", NADIA)
        assert teams_wording.TEAMS_DIGEST_NOT_LEADER.split("{")[0] in texts_of(mock.since(before))
        async with teams.db.transaction() as session:
            organisations = await repo.all_organisations(session)
            assert len(organisations) == 1 and organisations[0].settings == {}

        await teams.say("review")  # Sam starts the review: the Careers Leader
        await teams.say_in_channel("digest here", SAM)
        organisation = await organisation_of(teams.db)
        async with teams.db.transaction() as session:
            ref = await repo.conversation_ref(session, "teams", CHANNEL_A)
        assert ref is not None and ref.kind == "channel"
        assert ref.reference["conversation"]["id"] == CHANNEL_A  # the channel, not the thread

        # Moved to another channel: one digest channel; the first stays known as a team channel.
        await teams.say_in_channel("digest here", SAM, channel=CHANNEL_B)
        async with teams.db.transaction() as session:
            kinds = {
                r.conversation_id: r.kind
                for r in await repo.conversation_refs(session, organisation.id, "teams")
            }
        assert kinds == {
            SAM.chat: "personal",
            TEAM: "team",
            CHANNEL_A: "team",
            CHANNEL_B: "channel",
        }

        # Channels see the plan and summary (read-only cards); the review stays personal.
        for line in ["just me", "2", "done", "none", "neither"]:
            await teams.say(line)
        before = mock.mark()
        await teams.say_in_channel("summary", NADIA)
        (summary,) = mock.since(before)
        assert summary.card is not None and not submit_actions(summary.card)
        assert any(e["type"] == "Table" for e in walk(summary.card))
        before = mock.mark()
        await teams.say_in_channel("review", NADIA)
        assert teams_wording.TEAMS_REVIEW_IN_PERSONAL_CHAT in texts_of(mock.since(before))


async def test_a_trust_with_two_schools_in_one_tenant(tmp_path: Path) -> None:
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        mock = teams.mock
        await teams.say_in_channel("setup school Hill School", SAM, team=TEAM)
        await teams.say_in_channel(
            "setup school Vale School", NADIA, channel=CHANNEL_B, team=TEAM_B
        )
        assert "Set up: this team now belongs to Vale School" in texts_of(mock.sent())
        await teams.say("review", SAM)
        await teams.say("review", NADIA)
        hill, vale = await organisation_of(teams.db, SAM), await organisation_of(teams.db, NADIA)
        assert (hill.name, vale.name) == ("Hill School", "Vale School")
        async with teams.db.transaction() as session:
            assert (await repo.linked_organisation(session, "teams", TENANT, TEAM)).id == hill.id  # type: ignore[union-attr]
            assert (await repo.linked_organisation(session, "teams", TENANT, TEAM_B)).id == vale.id  # type: ignore[union-attr]
            assert await repo.open_review(session, hill.id) is not None
            assert await repo.open_review(session, vale.id) is not None

        # Nadia leads Vale, not Hill: she cannot take Hill's team over.
        before = mock.mark()
        await teams.say_in_channel("setup school Vale School", NADIA, team=TEAM)
        assert "Only the Careers Leader of Hill School" in texts_of(mock.since(before))
        async with teams.db.transaction() as session:
            assert (await repo.linked_organisation(session, "teams", TENANT, TEAM)).id == hill.id  # type: ignore[union-attr]


async def test_setup_in_a_personal_chat_names_the_tenants_school(tmp_path: Path) -> None:
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        for line in ["review", "just me", "3"]:
            await teams.say(line)
        first = await organisation_of(teams.db)
        assert first.name == f"Teams workspace {TENANT}"
        await teams.say("setup college Hill School", NADIA)  # not the Careers Leader
        assert "Only the Careers Leader of Teams workspace" in teams.mock.sent(NADIA.chat)[-1].text
        await teams.say("setup school “Hill School”")
        hill = await organisation_of(teams.db)
        assert (hill.id, hill.name, hill.edition) == (first.id, "Hill School", "school")
        assert "your Microsoft 365 organisation now belongs to Hill School" in texts_of(
            teams.mock.sent(SAM.chat)[-1:]
        )
        state = await ReviewService(teams.db, lambda: NOW).state(hill.id)
        assert state is not None and state.answers["1.1"].level == 3  # the review carries on


# ----- authentication ----------------------------------------------------------------------


class KeyServer:
    """OpenID metadata and signing keys on loopback, in a thread: the SDK fetches them with
    blocking `requests`, so they cannot be served by the event loop it blocks."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        body = {"keys": keys}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/keys"):
                    payload = body
                else:
                    payload = {
                        "issuer": "https://api.botframework.com",
                        "jwks_uri": outer.url + "/keys",
                    }
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[KeyServer]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    data = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**data, "kid": kid, "use": "sig", "endorsements": ["msteams"]}


def token(key: rsa.RSAPrivateKey, kid: str, service_url: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": "https://api.botframework.com",
        "aud": APP_ID,
        SERVICE_URL_CLAIM: service_url,
        "nbf": now - 60,
        "exp": now + 3600,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


async def test_requests_without_a_valid_token_are_refused(tmp_path: Path) -> None:
    key, forger = signing_key(), signing_key()
    settings = sqlite_settings(tmp_path, microsoft_app_id=APP_ID, microsoft_app_password="s3cret")
    with KeyServer([jwk(key, "bf-key-1")]).running() as keys:
        sdk_config = {
            "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": keys.url
            + "/v1/.well-known/openidconfiguration",
            "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL": keys.url
            + "/v2.0/.well-known/openid-configuration",
            "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": "https://api.botframework.com",
            "TO_CHANNEL_FROM_BOT_LOGIN_URL": "https://login.microsoftonline.com/botframework.com",
            "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE": "https://api.botframework.com",
            "OAUTH_URL": "https://api.botframework.com",
        }
        async with teams_bot(settings, sdk_config=sdk_config) as teams:
            teams.bot_id = f"28:{APP_ID}"
            url = teams.mock.base_url
            # A colleague joins the team: the bot stores the channel and says nothing.
            activity = teams.activity(
                "conversation_update_team.json", membersAdded=[{"id": NADIA.teams_id}]
            )
            bad = {
                "missing": None,
                "malformed": "Bearer not.a.jwt",
                "not a bearer token": "Basic c2FtOnBhc3N3b3Jk",
                "forged (another key)": "Bearer " + token(forger, "bf-key-1", url),
                "unknown key": "Bearer " + token(forger, "someone-elses-key", url),
                "wrong audience": "Bearer " + token(key, "bf-key-1", url, aud="another-bot"),
                "expired": "Bearer "
                + token(
                    key, "bf-key-1", url, exp=int(time.time()) - 3600, nbf=int(time.time()) - 7200
                ),
                "wrong issuer": "Bearer " + token(key, "bf-key-1", url, iss="https://evil.example"),
                "another service url": "Bearer " + token(key, "bf-key-1", "https://evil.example/"),
            }
            for case, header in bad.items():
                headers = {"Authorization": header} if header else {}
                assert await teams.post(copy.deepcopy(activity), headers) == 401, case
            # Not JSON at all, with a forged token: still 401, not 400 or 500.
            async with teams.http.post(
                teams.server.make_url("/api/messages"),
                data=b"{not json",
                headers={
                    "Content-Type": "application/json",
                    "Authorization": bad["forged (another key)"],
                },
            ) as response:
                assert response.status == 401
            # 100,000 nested brackets without a valid token: refused before it is read.
            async with teams.http.post(
                teams.server.make_url("/api/messages"),
                data=("[" * 100_000 + "]" * 100_000).encode(),
                headers={
                    "Content-Type": "application/json",
                    "Authorization": bad["forged (another key)"],
                },
            ) as response:
                assert response.status == 401
            async with teams.db.transaction() as session:
                assert await repo.all_organisations(session) == []
            assert teams.mock.calls == []

            # The same activity with the channel's valid token goes through; with a valid
            # token a body nested too deeply is a 400, nothing changed.
            valid = "Bearer " + token(key, "bf-key-1", url)
            async with teams.http.post(
                teams.server.make_url("/api/messages"),
                data=("[" * 100_000 + "]" * 100_000).encode(),
                headers={"Content-Type": "application/json", "Authorization": valid},
            ) as response:
                assert response.status == 400
            assert await teams.post(copy.deepcopy(activity), {"Authorization": valid}) == 201
            async with teams.db.transaction() as session:
                ref = await repo.conversation_ref(session, "teams", TEAM)
            assert ref is not None and ref.kind == "team"
            assert teams.mock.calls == []

    # With the public cloud's own configuration (no network needed to refuse these).
    (tmp_path / "public").mkdir()
    async with teams_bot(
        sqlite_settings(
            tmp_path / "public", microsoft_app_id=APP_ID, microsoft_app_password="s3cret"
        )
    ) as teams:
        activity = teams.activity("message_personal.json", text="review")
        for header in ({}, {"Authorization": "Bearer garbage"}, {"Authorization": "Bearer a.b.c"}):
            assert await teams.post(copy.deepcopy(activity), header) == 401
        other_issuer = jwt.encode(
            {"iss": "https://evil.example", "aud": APP_ID}, "k" * 32, algorithm="HS256"
        )
        assert await teams.post(activity, {"Authorization": f"Bearer {other_issuer}"}) == 401
        assert teams.mock.calls == []


def test_local_mode_is_loud_and_production_refuses_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="careers_bot.teams"):
        init_app(sqlite_settings(tmp_path))
    assert "TEAMS LOCAL MODE" in caplog.text
    with pytest.raises(ConfigurationError, match="MICROSOFT_APP_ID is empty"):
        init_app(sqlite_settings(tmp_path, careers_bot_env="production"))
    with pytest.raises(ConfigurationError, match="MICROSOFT_APP_TENANT_ID"):
        init_app(
            sqlite_settings(
                tmp_path,
                microsoft_app_id=APP_ID,
                microsoft_app_password="x",
                microsoft_app_type="SingleTenant",
            )
        )
    with pytest.raises(ConfigurationError, match="MICROSOFT_APP_PASSWORD"):
        init_app(sqlite_settings(tmp_path, microsoft_app_id=APP_ID))


# ----- one organisation, two chat services ------------------------------------------------


async def test_teams_and_slack_users_of_one_organisation_share_the_review(
    database: Database,
) -> None:
    async with database.transaction() as session:
        hill = await repo.create_organisation(session, "Hill School", "school")
        await repo.link_organisation(session, hill.id, "teams", TENANT)
        await repo.link_organisation(session, hill.id, "slack", "T0HILLSCH")
    async with teams_bot(Settings(_env_file=None), database) as teams:  # type: ignore[call-arg]
        for line in ["review", "Sam Rivers, Nadia Rahman", "3", "done", "none", "strength"]:
            await teams.say(line)
        assert (await organisation_of(teams.db)).id == hill.id

        service = ReviewService(teams.db, lambda: NOW)
        slack = Who("slack", "U07NADIA", "Nadia Rahman", "T0HILLSCH")
        organisation = await service.chat_organisation("slack", "T0HILLSCH")
        assert organisation.id == hill.id
        async with teams.db.transaction() as session:
            nadia = await repo.person_for_identity(
                session, hill.id, "slack", slack.external_id, slack.display_name, slack.workspace
            )
            await repo.set_role(session, nadia, "colleague")
        state = await service.state(hill.id)
        assert state is not None and state.answers["1.1"].level == 3
        assert state.answers["1.1"].answered_by == "Sam Rivers"
        resumed = await service.open(hill.id, slack)
        assert "1 of 32 statements answered" in " ".join(
            getattr(r, "text", "") for r in resumed.replies
        )
        for line in ["2", "done", "none", "neither"]:
            await service.turn(hill.id, slack, line)

        # Back in Teams, Sam carries on after Nadia's answer.
        before = teams.mock.mark()
        await teams.say("review")
        shown = texts_of(teams.mock.since(before))
        assert "2 of 32 statements answered" in shown
        state = await service.state(hill.id)
        assert state is not None and state.answers["1.2"].answered_by == "Nadia Rahman"


# ----- the plan as a document, after the reply --------------------------------------------


async def test_export_is_sent_after_the_reply_and_retried(
    tmp_path: Path, school: MaturityModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import rendering

    real_render = rendering.render_named

    async def slow_render(document: Any, fmt: str) -> tuple[bytes, str]:
        if fmt == "docx":
            await asyncio.sleep(0.5)  # a slow Word document: the turn must not wait for it
        return await real_render(document, fmt)

    # Documents are drawn in a worker process (bot/rendering.py); slowed down here.
    monkeypatch.setattr(rendering, "render_named", slow_render)
    settings = sqlite_settings(tmp_path)
    database = Database(settings.database_url)
    await database.migrate()
    hill, _ = await seed_review(database, school, NOW)
    async with database.transaction() as session:
        await repo.link_organisation(session, hill.id, "teams", TENANT)
    async with teams_bot(settings, database) as teams:
        mock = teams.mock

        def consent_sent() -> bool:
            return any(
                a["contentType"].endswith("file.consent")
                for c in mock.sent()
                for a in c.attachments
            )

        await teams.say("export docx")
        # The reply is in before the document is (it takes at least half a second).
        assert mock.sent(SAM.chat)[-1].text == teams_wording.TEAMS_EXPORT_PREPARING.format(
            format="docx"
        )
        assert not consent_sent()
        assert teams.app[TEAMS].work.pending == 1
        await mock.wait_for(consent_sent)
        consent_call = mock.sent(SAM.chat)[-1]
        consent = consent_call.attachments[0]
        assert consent["name"] == "careers-action-plan-hill-school-2025-01.docx"
        assert consent["content"]["sizeInBytes"] > 10_000

        def accept(name: str, fmt: str = "docx") -> dict[str, Any]:
            invoke = teams.activity("file_consent_accept.json", replyToId=consent_call.activity_id)
            invoke["value"]["context"] = {**consent["content"]["acceptContext"], "format": fmt}
            invoke["value"]["uploadInfo"]["uploadUrl"] = mock.upload_url(name)
            invoke["value"]["uploadInfo"]["name"] = name
            return invoke

        assert await teams.post(accept("plan.docx")) == 200  # answered before the upload
        assert "plan.docx" not in mock.uploads
        await teams.app[TEAMS].work.idle()
        assert mock.uploads["plan.docx"][:2] == b"PK"
        with zipfile.ZipFile(BytesIO(mock.uploads["plan.docx"])) as docx:
            assert "word/document.xml" in docx.namelist()
        info = mock.sent(SAM.chat)[-1].attachments[0]
        assert info["contentType"] == "application/vnd.microsoft.teams.card.file.info"
        assert info["content"]["fileType"] == "docx"
        assert mock.current(
            consent_call.activity_id
        ).text == teams_wording.TEAMS_EXPORT_UPLOADED.format(name="plan.docx")

        # OneDrive fails twice: tried once more, then the person is told; nothing is lost silently.
        mock.upload_failures = 2
        before = mock.mark()
        assert await teams.post(accept("plan.md", "md")) == 200
        await teams.app[TEAMS].work.idle()
        assert len(mock.since(before, "upload")) == 2
        assert mock.sent(SAM.chat)[-1].text == teams_wording.TEAMS_EXPORT_FAILED.format(format="md")
        assert teams.app[TEAMS].work.failures == 1
    await database.close()


# ----- cards and the app package, without a server ----------------------------------------


def test_cards_are_adaptive_cards_1_5_and_6_1_offers_not_yet_at_level_2(
    school: MaturityModel,
) -> None:
    ctx = engine.Context(school, load_glossary(), NOW, "Sam Rivers")
    state = engine.new_review(school, "Review")
    state = engine.handle(engine.open_review(state, ctx).state, "just me", ctx).state
    replies = engine.handle(state, "go 6.1", ctx).replies
    (activity,) = teams_cards.render(replies, teams_cards.RenderOptions(model=school))
    card = activity.attachments[0].content
    assert card["version"] == "1.5" and card["type"] == "AdaptiveCard"
    titles = [a["title"] for a in submit_actions(card)]
    assert titles[0] == "Not yet at level 2"
    assert titles[-3:] == [LABEL["back"], LABEL["skip"], LABEL["pause"]]
    assert action(card, "Not yet at level 2")["data"]["text"] == "1"
    known = {
        "AdaptiveCard", "TextBlock", "Container", "ColumnSet", "Column", "ActionSet",
        "Action.Submit", "FactSet", "Table", "TableRow", "TableCell", "Input.Text",
        "Input.ChoiceSet",
    }  # fmt: skip
    assert {e["type"] for e in walk(card)} <= known


def test_teams_app_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, microsoft_app_id=APP_ID, public_url="https://careers-bot.hillschool.org.uk/"
    )
    data = build_package(settings)
    with zipfile.ZipFile(BytesIO(data)) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest_json = json.loads(package.read("manifest.json"))
        color = Image.open(BytesIO(package.read("color.png")))
        outline = Image.open(BytesIO(package.read("outline.png")))
    assert manifest_json == manifest(settings)
    assert float(manifest_json["manifestVersion"]) >= 1.17
    assert manifest_json["id"] == APP_ID
    (bot_entry,) = manifest_json["bots"]
    assert bot_entry["botId"] == APP_ID
    assert set(bot_entry["scopes"]) == {"personal", "team"}
    personal = next(c for c in bot_entry["commandLists"] if c["scopes"] == ["personal"])
    assert {"review", "actions", "plan", "help"} <= {c["title"] for c in personal["commands"]}
    assert manifest_json["validDomains"] == ["careers-bot.hillschool.org.uk"]
    assert color.size == (192, 192)
    assert outline.size == (32, 32) and outline.mode == "RGBA"
    raw = outline.tobytes()
    colours = {raw[i : i + 4] for i in range(0, len(raw), 4) if raw[i + 3] != 0}
    assert colours and all(pixel[:3] == b"\xff\xff\xff" for pixel in colours)

    # The command line writes the same zip, and refuses without an app id.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MICROSOFT_APP_ID", APP_ID)
    monkeypatch.setenv("PUBLIC_URL", "https://careers-bot.hillschool.org.uk")
    get_settings.cache_clear()
    try:
        assert cli.main(["teams-package", "--out", str(tmp_path / "app.zip")]) == 0
        assert zipfile.ZipFile(tmp_path / "app.zip").read("manifest.json")
        monkeypatch.setenv("MICROSOFT_APP_ID", "")
        get_settings.cache_clear()
        assert cli.main(["teams-package", "--out", str(tmp_path / "none.zip")]) == 1
        assert not (tmp_path / "none.zip").exists()
    finally:
        get_settings.cache_clear()


def test_anything_can_be_said_proactively() -> None:
    """Text, an Adaptive Card or neutral replies all become Teams activities."""
    assert as_activities("Hello")[0].text == "Hello"
    card = teams_cards.welcome_card("Hello")
    assert as_activities(card)[0].attachments[0].content == card
    (plan,) = as_activities([ShowPlan(ActionPlan("Review", []))])
    assert teams_wording.TEAMS_PLAN_EMPTY in json.dumps(plan.attachments[0].content)


async def test_background_work_is_retried_once_and_awaited_on_shutdown() -> None:
    work = BackgroundWork(retry_delay=0.01, shutdown_timeout=5)
    attempts: list[str] = []
    told: list[str] = []

    async def flaky() -> None:
        attempts.append("flaky")
        if len(attempts) == 1:
            raise ConnectionError("OneDrive said 503")

    async def broken() -> None:
        attempts.append("broken")
        raise ConnectionError("still down")

    async def slow() -> None:
        await asyncio.sleep(0.05)
        attempts.append("slow")

    async def tell(exc: BaseException) -> None:
        told.append(str(exc))

    work.start("flaky", flaky, tell)
    work.start("broken", broken, tell)
    work.start("slow", slow, tell)
    await work.close()  # what the app does on shutdown: nothing is dropped
    assert sorted(attempts) == ["broken", "broken", "flaky", "flaky", "slow"]
    assert told == ["still down"] and work.failures == 1 and work.pending == 0


async def test_a_failing_turn_is_apologised_for_not_a_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        await teams.say("review")
        monkeypatch.setattr(ReviewService, "handle", broken)
        await teams.say("just me")
        assert teams.mock.sent(SAM.chat)[-1].text == teams_wording.TEAMS_ERROR
