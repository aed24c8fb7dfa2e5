"""Issue 11: the app `careers-bot serve` runs (bot.app.init_app with the scheduler on) delivers
what is due through its own scheduler: reminders into a Slack DM and a Teams personal chat,
the weekly digest (with a link to the plan) into the SLT channel; nothing on a Saturday, and
nothing for an action its owner snoozed (pressing the reminder's own button) until the snooze
has ended.

Slack is the local mock Web API, Teams the local mock connector; the app's clock is moved by
the test and its sweep (every 0.2 s) is watched, never slept on.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import docx
import pytest
from aiohttp.test_utils import TestServer
from review_scripts import seed_review
from slack_mock import Call as SlackCall
from slack_mock import MockSlack
from sqlalchemy import select
from teams_mock import MockConnector, walk
from test_scheduler import london
from test_slack import Slack, settings_for, url_of
from test_slack import mock as mock  # the Slack mock fixture (U_SAM, U_NADIA, ...)
from test_teams import BOT_ID, NADIA, TENANT

from bot.app import init_app
from bot.notify import Pacer
from bot.scheduler import Dispatcher, Report
from bot.teams import TEAMS
from model_data import MaturityModel
from storage import models as m
from storage import repo
from storage.db import Database

PUBLIC = "https://careers-bot.example.org"
SET_ON = london("2025-01-15T09:30")


@dataclass
class School:
    id: int
    sam: int
    nadia: int


async def hill_school(database: Database, model: MaturityModel, service_url: str) -> School:
    """Hill School with seed 003's plan. Sam Rivers (SR) is U_SAM in its Slack workspace, with
    a DM; Nadia Rahman (NR, an owner of 2.4 and 6.3) is on Teams, with a personal chat; the
    SLT channel for the digest is Slack's C_SLT."""
    organisation, sam = await seed_review(database, model, SET_ON)
    async with database.transaction() as session:
        await repo.link_organisation(session, organisation.id, "slack", "T_HILL")
        session.add(
            m.Identity(person_id=sam, channel="slack", workspace="T_HILL", external_id="U_SAM")
        )
        nadia = await repo.person_for_identity(
            session, organisation.id, "teams", NADIA.aad, "Nadia Rahman", TENANT
        )
        owners = list(
            await session.scalars(select(m.ActionOwner).where(m.ActionOwner.name == "NR"))
        )
        assert owners, "seed 003 names NR as an owner"
        for owner in owners:
            owner.person_id = nadia.id
        dm = {"team_id": "T_HILL", "user_id": "U_SAM", "channel_id": "D_SAM"}
        await repo.save_conversation_ref(
            session, organisation.id, "slack", "D_SAM", "personal", dm, SET_ON, sam
        )
        slt = {"team_id": "T_HILL", "channel_id": "C_SLT"}
        await repo.save_conversation_ref(
            session, organisation.id, "slack", "C_SLT", "channel", slt, SET_ON
        )
        chat = {  # ConversationReference.serialize() of Nadia's personal chat
            "activityId": "1736933500001",
            "bot": {"id": BOT_ID, "name": "Careers Impact Bot"},
            "channelId": "msteams",
            "conversation": {"id": NADIA.chat, "conversationType": "personal", "tenantId": TENANT},
            "locale": "en-GB",
            "serviceUrl": service_url,
            "user": {"id": NADIA.teams_id, "name": "Nadia Rahman", "aadObjectId": NADIA.aad},
        }
        await repo.save_conversation_ref(
            session, organisation.id, "teams", NADIA.chat, "personal", chat, SET_ON, nadia.id
        )
    return School(organisation.id, sam, nadia.id)


@dataclass
class Sweeps:
    """Every run of the app's scheduler sweep, with the moment it swept for."""

    runs: list[tuple[datetime, Report]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def after(self, moment: datetime, within: float = 30) -> Report:
        """The report of the first sweep that started at `moment` and has finished."""

        async def wait() -> Report:
            while True:
                for as_of, report in self.runs:
                    if as_of == moment:
                        return report
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(wait(), within)


@pytest.fixture
def sweeps(monkeypatch: pytest.MonkeyPatch) -> Sweeps:
    seen = Sweeps()
    run = Dispatcher.run

    async def watched(self: Dispatcher, as_of: datetime) -> Report:
        report = await run(self, as_of)
        seen.runs.append((as_of, report))
        seen.changed.set()
        return report

    monkeypatch.setattr(Dispatcher, "run", watched)
    # Pacing inside Slack's one message a second per channel is tested in test_scheduler.py;
    # here it would only make a dozen reminders take a dozen seconds.
    monkeypatch.setattr(Pacer, "delay", lambda self, channel, conversation: 0.0)
    return seen


@dataclass
class Served:
    slack: Slack
    teams: MockConnector
    clock: list[datetime]
    sweeps: Sweeps

    async def at(self, moment: str) -> Report:
        """Move the app's clock and wait for its own sweep at that moment."""
        self.clock[0] = london(moment)
        return await self.sweeps.after(self.clock[0])


@asynccontextmanager
async def serve(
    mock: MockSlack, database: Database, school: MaturityModel, sweeps: Sweeps, start: str
) -> AsyncIterator[tuple[Served, School]]:
    connector = MockConnector()
    await connector.start()
    hill = await hill_school(database, school, connector.base_url)
    clock = [london(start)]
    settings = settings_for(
        mock,
        url_of(database),
        public_url=PUBLIC,
        scheduler_enabled=True,
        sweep_seconds=0.2,
        plan_link_secret="plan-secret",
    )
    app = init_app(settings, database=database, clock=lambda: clock[0])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    app[TEAMS].work.retry_delay = 0.01
    try:
        yield Served(Slack(server, mock), connector, clock, sweeps), hill
    finally:
        await server.close()
        await connector.close()


def dm_reminders(mock: MockSlack) -> list[SlackCall]:
    return [c for c in mock.calls_to("chat.postMessage") if c.params["channel"] == "D_SAM"]


def card_text(body: dict[str, Any]) -> str:
    card = next(
        a["content"]
        for a in body.get("attachments") or []
        if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
    )
    return "\n".join(str(e.get("text", "")) for e in walk(card) if e.get("type") == "TextBlock")


def action_number(text: str) -> int:
    found = re.search(r"Action #(\d+)", text)
    assert found, text
    return int(found.group(1))


async def test_serve_delivers_reminders_to_slack_and_teams_and_a_digest_with_the_plan(
    mock: MockSlack, database: Database, school: MaturityModel, sweeps: Sweeps
) -> None:
    async with serve(mock, database, school, sweeps, "2025-02-10T08:00") as (served, _hill):
        # Mon 10 Feb 2025: HT3 ends on Friday; the first sweep runs at start-up.
        report = await served.sweeps.after(served.clock[0])
        assert report.errors == []
        assert report.outbox == 0  # every school here has a chat channel: nothing to the outbox
        # Sam's reminders in his Slack DM, with the reminder's own buttons.
        sam = dm_reminders(mock)
        assert sam and all("Your careers action is due this week" in c.text() for c in sam)
        assert any(b["value"].startswith("snooze ") for b in sam[0].buttons())
        # Nadia's in her Teams personal chat (2.4 is HT3/4; 6.3 is due this week).
        nadia = served.teams.sent(NADIA.chat)
        assert nadia, served.teams.dump()
        assert any("6.3" in card_text(c.body) for c in nadia)
        assert all("due this week" in card_text(c.body) for c in nadia)
        # Only her own actions' reminders reach her.
        assert all(re.search(r"– (6\.3|2\.4) ", card_text(c.body)) for c in nadia)
        # The weekly digest in the SLT channel, with a link that downloads the school's plan.
        digest = [c for c in mock.calls_to("chat.postMessage") if c.params["channel"] == "C_SLT"]
        assert len(digest) == 1
        text = digest[0].text()
        assert "Careers weekly digest – Hill School" in text
        link = re.search(r"https?://\S+?/plans/\S+?\.docx", text)
        assert link, text
        path = link.group(0).removeprefix(PUBLIC)
        async with (
            aiohttp.ClientSession() as http,
            http.get(served.slack.server.make_url(path)) as response,
        ):
            assert response.status == 200
            body = await response.read()
        assert "Hill School" in docx.Document(io.BytesIO(body)).paragraphs[0].text
        # ... and a link to the school's dashboard page, which opens it (issue 13).
        page = re.search(r"https?://\S+?/dashboard/[A-Za-z0-9_-]{43}", text)
        assert page, text
        async with (
            aiohttp.ClientSession() as http,
            http.get(served.slack.server.make_url(page.group(0).removeprefix(PUBLIC))) as response,
        ):
            assert response.status == 200
            assert re.search(r"/dashboard/[A-Za-z0-9_-]{43}/school/\d+$", response.url.path)
            assert "<h1>Hill School</h1>" in await response.text()


async def test_serve_sends_nothing_on_a_saturday_nor_while_an_action_is_snoozed(
    mock: MockSlack, database: Database, school: MaturityModel, sweeps: Sweeps
) -> None:
    async with serve(mock, database, school, sweeps, "2025-02-01T09:00") as (served, _hill):
        # Sat 1 Feb: the two-week reminders (due Fri 31 Jan) wait for a school day.
        report = await served.sweeps.after(served.clock[0])
        assert report.errors == [] and report.recorded == report.sent == 0
        assert dm_reminders(mock) == [] and served.teams.sent() == []
        # Mon 3 Feb: they go, to Slack and to Teams.
        await served.at("2025-02-03T08:00")
        monday = dm_reminders(mock)
        assert monday and all("due in two weeks" in c.text() for c in monday)
        assert served.teams.sent(NADIA.chat)
        # Tue 4 Feb: Sam presses "Snooze" on one of them (pauses it for a week, to 11 Feb).
        served.clock[0] = london("2025-02-04T10:00")
        snoozed_call = monday[0]
        snoozed = action_number(snoozed_call.text())
        assert await served.slack.click(snoozed_call, f"snooze {snoozed}") == 200
        others = {action_number(c.text()) for c in monday} - {snoozed}
        # Mon 10 Feb, inside the snooze: the due-week reminders go, but not the snoozed one.
        before = len(dm_reminders(mock))
        await served.at("2025-02-10T08:00")
        week = [c for c in dm_reminders(mock)[before:] if "due this week" in c.text()]
        assert {action_number(c.text()) for c in week} == others
        # Mon 24 Feb, the snooze long over (and half-term too): its overdue reminder goes.
        before = len(dm_reminders(mock))
        await served.at("2025-02-24T08:00")
        overdue = [c for c in dm_reminders(mock)[before:] if "overdue" in c.text()]
        assert snoozed in {action_number(c.text()) for c in overdue}
