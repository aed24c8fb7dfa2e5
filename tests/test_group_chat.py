"""Issue 13, groups through the running server, in Slack and in Teams: a lead is added and
invites a school (with the CLI in Slack; in Teams from the lead's own chat); the school's people see the invitation in chat; only its
Careers Leader can join, by pressing the button the bot really sent; a school not invited
cannot join; a lead sees only the groups they lead (resolved by who they are, even from a
workspace linked to no school); `compare` never names another school; a lead's `group
xlsx` arrives as a file that opens with openpyxl and matches the view. SQLite and
PostgreSQL."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import openpyxl
from aiohttp.test_utils import TestServer
from group_seed import SeededSchool, seed_group
from review_scripts import seed_review
from slack_mock import Call, MockSlack
from sqlalchemy import select
from teams_mock import MockConnector
from test_slack import Slack, settings_for, url_of
from test_slack import mock as mock  # the Slack mock fixture
from test_teams import NADIA, NOW, SAM, TENANT, Settings, TeamsClient
from test_two_schools import careers_bot

from bot.app import init_app
from bot.groups import GroupService
from bot.inbound import Who
from bot.teams import TEAMS
from model_data import MaturityModel
from storage import models as m
from storage import repo
from storage.db import Database
from workflows import messages as msg

HILL = "Hill School"


async def hill_and_groups(
    database: Database, school: MaturityModel
) -> tuple[int, int, int, list[SeededSchool]]:
    """Hill School (Sam, Careers Leader; Pat, a colleague) on Slack T_HILL and the Teams
    tenant; North Hub (6 schools) and South Trust (5), which Hill has not joined."""
    hill, sam = await seed_review(database, school, NOW)
    async with database.transaction() as session:
        await repo.link_organisation(session, hill.id, "slack", "T_HILL")
        await repo.link_organisation(session, hill.id, "teams", TENANT)
        session.add(
            m.Identity(person_id=sam, channel="slack", workspace="T_HILL", external_id="U_SAM")
        )
        session.add(
            m.Identity(person_id=sam, channel="teams", workspace=TENANT, external_id=SAM.aad)
        )
        pat = await repo.person_for_identity(
            session, hill.id, "slack", "U_PAT", "Pat Head", "T_HILL"
        )
        pat.role = "colleague"
    north, north_schools = await seed_group(database, "North Hub", 6, seed=5)
    south, south_schools = await seed_group(database, "South Trust", 5, seed=6, kind="trust")
    return hill.id, north, south, north_schools + south_schools


async def cli(url: str, *args: str) -> str:
    status, out = await careers_bot(url, "group", *args)
    assert status == 0, out
    return out


async def membership(database: Database, group: int, hill: int) -> m.GroupMember | None:
    async with database.read() as session:
        found: m.GroupMember | None = await session.scalar(
            select(m.GroupMember).where(
                m.GroupMember.group_id == group, m.GroupMember.organisation_id == hill
            )
        )
        return found


def posted_in(mock: MockSlack, channel: str, since: int = 0) -> list[Call]:
    return [
        c
        for c in mock.calls[since:]
        if c.method == "chat.postMessage" and c.params["channel"] == channel
    ]


def everything(calls: list[Call]) -> str:
    return "\n".join(json.dumps(c.params) for c in calls)


async def test_slack_invitation_accepted_by_the_careers_leader_only(
    mock: MockSlack, database: Database, school: MaturityModel
) -> None:
    url = url_of(database)
    hill, north, south, others = await hill_and_groups(database, school)
    # Nadia leads North Hub. She is in Hill's workspace (this single-workspace app serves
    # only T_HILL) but belongs to no group school: she is found by who she is, not by Hill.
    await cli(url, "lead", "add", "North Hub", "--channel", "slack", "--workspace", "T_HILL",
              "--user", "U_NADIA", "--name", "Nadia Rahman")  # fmt: skip
    # `serve` as deployed: the real clock and the scheduler, which sends the invitation.
    settings = settings_for(mock, url, scheduler_enabled=True, sweep_seconds=0.2)
    app = init_app(settings, database=database)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        slack = Slack(server, mock)
        # The lead sees North Hub (its schools named), nothing of South Trust.
        await slack.dm("group", user="U_NADIA")
        shown = slack.texts("D_NADIA")
        assert "North Hub (Careers Hub): 6 schools" in shown
        assert "South Trust" not in shown
        assert all(s.name in shown for s in others if s.name.startswith("North Hub"))
        assert not any(s.name in shown for s in others if s.name.startswith("South Trust"))
        # Sam is no lead: `group` is refused; a group never invited cannot be joined.
        await slack.dm("group")
        assert msg.NOT_A_GROUP_LEAD in slack.texts("D_SAM")
        await slack.dm(f"join group {north}")
        assert msg.NO_SUCH_INVITATION.format(id=north) in slack.texts("D_SAM")
        assert await membership(database, north, hill) is None

        await cli(url, "invite", "North Hub", "--org", HILL, "--by", "Nadia Rahman")
        # Pat (a colleague) sees the invitation and presses Join: refused, not joined.
        mark = len(mock.calls)
        await slack.dm("invitations", user="U_PAT")
        [invitation] = [c for c in posted_in(mock, "D_PAT", mark) if c.buttons()]
        assert await slack.click(invitation, f"join group {north}", user="U_PAT") == 200
        assert msg.ONLY_CAREERS_LEADER_JOINS in everything(mock.calls[mark:])
        row = await membership(database, north, hill)
        assert row is not None and row.accepted_at is None

        # The invitation reached Sam, the Careers Leader, unasked (the scheduler's notice in
        # his DM); he presses its Join button.
        [invitation] = await mock.wait_for(
            "chat.postMessage",
            where=lambda c: (
                c.params["channel"] == "D_SAM"
                and any(b.get("value") == f"join group {north}" for b in c.buttons())
            ),
        )
        assert "North Hub invites Hill School to join" in invitation.text()
        assert "South Trust" not in invitation.text()
        mark = len(mock.calls)
        assert await slack.click(invitation, f"join group {north}") == 200
        assert msg.JOINED_GROUP.format(group="North Hub")[:40] in everything(mock.calls[mark:])
        row = await membership(database, north, hill)
        async with database.read() as session:
            sam = await repo.person_by_identity(session, "slack", "T_HILL", "U_SAM")
        assert row is not None and row.accepted_at is not None and sam is not None
        assert row.accepted_by_id == sam.id
        # South Trust never invited Hill: typing its join command changes nothing.
        await slack.dm(f"join group {south}")
        assert await membership(database, south, hill) is None

        # `compare`: Hill's levels against the group's median, no other school named.
        mark = len(mock.calls)
        await slack.dm("compare")
        compared = everything(posted_in(mock, "D_SAM", mark))
        assert "Your school against North Hub (7 schools of your edition)" in compared
        assert "1.1 " in compared and "yours " in compared
        assert not any(s.name in compared for s in others)

        # The lead now sees Hill among North Hub's seven schools, and gets the workbook.
        await slack.dm("group", user="U_NADIA")
        assert HILL in slack.texts("D_NADIA")
        mark = len(mock.calls)
        await slack.dm("group xlsx", user="U_NADIA")
        await mock.wait_for("files.completeUploadExternal")
        [upload] = [c for c in mock.calls[mark:] if c.method == "upload"]
        book = openpyxl.load_workbook(io.BytesIO(mock.uploads[upload.params["file_id"]]))
    finally:
        await server.close()
    view = await GroupService(database).view(north)
    assert view is not None and view.schools == 7
    _matches(book, view)


def _matches(book: Any, view: Any) -> None:
    """The workbook's figures are the view's."""
    progress = {r[0]: r[1] for r in book["Progress"].iter_rows(min_row=3, values_only=True)}
    assert progress["Schools with a review completed"] == view.completed.value
    assert progress["Overdue actions"] == view.overdue.value
    [figures] = view.editions
    medians = [r[4] for r in book["Themes"].iter_rows(min_row=2, values_only=True)]
    assert medians == [t.maturity.median for t in figures.themes]
    schools = [r[0] for r in book["Schools"].iter_rows(min_row=2, values_only=True)]
    assert schools == [line.name for line in view.members] and HILL in schools


async def test_teams_invitation_accepted_by_the_careers_leader_only(
    database: Database, school: MaturityModel
) -> None:
    hill, north, south, others = await hill_and_groups(database, school)
    # (The Slack test adds its lead with the CLI; here the service, which the CLI calls.)
    nadia = Who("teams", NADIA.aad, NADIA.name, TENANT)
    await GroupService(database).add_lead(north, NADIA.name, "enterprise_coordinator", nadia)
    async with served_teams(database) as teams:
        connector = teams.mock
        await teams.say("group")  # Sam is no lead; his personal chat is now known to the bot
        assert msg.NOT_A_GROUP_LEAD in everything_teams(connector.sent(SAM.chat))
        # Sam is no lead: he cannot invite; Nadia invites Hill from her chat (any case).
        await teams.say("invite school Valley", SAM)
        assert msg.NOT_A_GROUP_LEAD in everything_teams(connector.sent(SAM.chat))
        await teams.say("invite school Nowhere Academy", NADIA)
        refused = everything_teams(connector.sent(NADIA.chat))
        assert "Nowhere Academy" in refused and "uses the bot here" in refused
        await teams.say("invite school hill school", NADIA)
        invited = msg.INVITED_SCHOOL.format(school=HILL, group="North Hub")
        assert invited in everything_teams(connector.sent(NADIA.chat))
        await teams.say("invite school Hill School", NADIA)  # again: nothing new
        again = msg.ALREADY_INVITED.format(school=HILL, group="North Hub")
        assert again in everything_teams(connector.sent(NADIA.chat))
        # Nadia leads North Hub: her `group` shows it, not South Trust.
        await teams.say("group", NADIA)
        shown = everything_teams(connector.sent(NADIA.chat))
        assert "North Hub (Careers Hub): 6 schools" in shown and "South Trust" not in shown
        # Nadia is no Careers Leader of Hill: its invitation's Join button refuses her.
        await teams.say("invitations", NADIA)
        card = connector.last_card(NADIA.chat)
        await teams.click(card, "Join the group", NADIA)
        assert msg.ONLY_CAREERS_LEADER_JOINS in everything_teams(connector.sent(NADIA.chat))
        row = await membership(database, north, hill)
        assert row is not None and row.accepted_at is None

        # The invitation reached Sam unasked (the scheduler's notice in his personal chat);
        # he presses its Join button.
        def notice() -> Any:
            return next(
                (c for c in connector.sent(SAM.chat)
                 if c.card and "North Hub invites Hill School" in json.dumps(c.card)),
                None,
            )  # fmt: skip

        await connector.wait_for(lambda: notice() is not None)
        await teams.click(notice(), "Join the group")
        assert "Your school has joined North Hub" in everything_teams(connector.sent(SAM.chat))
        row = await membership(database, north, hill)
        assert row is not None and row.accepted_at is not None
        await teams.say(f"join group {south}")
        assert await membership(database, south, hill) is None
        # compare: no other school's name anywhere in what was sent.
        before = connector.mark()
        await teams.say("compare")
        compared = everything_teams(connector.since(before))
        assert "Your school against North Hub" in compared
        assert not any(s.name in compared for s in others)
        # The lead's workbook: offered, accepted, uploaded, and it matches the view.
        await teams.say("group xlsx", NADIA)

        def consent_sent() -> bool:
            return any(
                a["contentType"].endswith("file.consent")
                for c in connector.sent(NADIA.chat)
                for a in c.attachments
            )

        await connector.wait_for(consent_sent)
        consent_call = connector.sent(NADIA.chat)[-1]
        consent = consent_call.attachments[0]
        invoke = teams.activity(
            "file_consent_accept.json", NADIA, replyToId=consent_call.activity_id
        )
        invoke["value"]["context"] = consent["content"]["acceptContext"]
        invoke["value"]["uploadInfo"]["uploadUrl"] = connector.upload_url("group.xlsx")
        invoke["value"]["uploadInfo"]["name"] = "group.xlsx"
        # Sam (no lead) accepting the same offer is refused: nothing uploaded for him.
        forged = teams.activity("file_consent_accept.json", SAM, replyToId="x")
        forged["value"]["context"] = consent["content"]["acceptContext"]
        forged["value"]["uploadInfo"]["uploadUrl"] = connector.upload_url("forged.xlsx")
        assert await teams.post(forged) == 200
        assert await teams.post(invoke) == 200
        await teams.app[TEAMS].work.idle()
        assert "forged.xlsx" not in connector.uploads
        book = openpyxl.load_workbook(io.BytesIO(connector.uploads["group.xlsx"]))
    view = await GroupService(database).view(north)
    assert view is not None and view.schools == 7
    _matches(book, view)


@asynccontextmanager
async def served_teams(database: Database) -> AsyncIterator[TeamsClient]:
    """`serve` as deployed, for Teams: the real clock and the scheduler sweeping."""
    connector = MockConnector()
    await connector.start()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=url_of(database), scheduler_enabled=True, sweep_seconds=0.2
    )
    app = init_app(settings, database=database)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    app[TEAMS].work.retry_delay = 0.01
    try:
        async with aiohttp.ClientSession() as http:
            yield TeamsClient(app, server, http, connector)
    finally:
        await server.close()
        await connector.close()


def everything_teams(calls: list[Any]) -> str:
    return "\n".join(json.dumps(c.body) for c in calls)
