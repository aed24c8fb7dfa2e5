"""The workspace service through the real server: uninstall and reinstall in Slack and Teams
(what the scheduler then sends, or not), a trust's teams, and set-up's edition rule.

Slack requests are signed as Slack signs them (tests/test_slack.py's harness); Teams
activities go to /api/messages with a mock connector (tests/test_teams.py's harness).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from test_slack import (
    MockSlack,
    Slack,
    choice_value,
    running,
    seed,
    setup_values,
    sqlite_url,
)
from test_teams import (
    CHANNEL_A,
    CHANNEL_B,
    NADIA,
    SAM,
    TEAM,
    TEAM_B,
    TENANT,
    User,
    organisation_of,
    sqlite_settings,
    teams_bot,
    texts_of,
)

from bot.keys import NOTIFIERS, SERVICE
from bot.notify import Pacer
from bot.reviews import Conversation, ReviewService, Who
from bot.scheduler import Dispatcher
from bot.workspaces import DIGEST, SetupField, SetupRefusal, SetupRequest, WorkspaceService
from model_data import MaturityModel
from storage import models as m
from storage import repo
from storage.db import Database
from workflows import messages as msg
from workflows.notices import Notice
from workflows.roles import Role

LONDON = ZoneInfo("Europe/London")
# A Friday in HT3 of 2024/25: two weeks before HT3 ends, so HT3 actions are reminded.
FRIDAY = datetime(2025, 1, 31, 9, 0, tzinfo=LONDON).astimezone(UTC)
SET_ON = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


async def no_sleep(_: float) -> None:
    return None


def dispatcher(app: Any) -> Dispatcher:
    """The scheduler's sweep over the app's own notifiers, driven with an explicit time."""
    return Dispatcher(app[SERVICE], app[NOTIFIERS], Pacer(sleep=no_sleep))


async def friday_digest(db: Database, organisation_id: int) -> None:
    async with db.transaction() as session:
        await repo.update_organisation(
            session, organisation_id, settings={"digest_day": "friday", "digest_time": "08:00"}
        )


async def give_action(db: Database, organisation_id: int, owner_id: int) -> int:
    """An HT3 action owned by one person, in the school's open review."""
    async with db.transaction() as session:
        review = await repo.open_review(session, organisation_id)
        assert review is not None
        action = m.Action(
            organisation_id=organisation_id,
            number=1,
            review_id=review.id,
            statement_id="1.2",
            current_level=2,
            target_level=3,
            next_steps="Agree a shared vision",
            due="HT3",
            due_year="2024/25",
            owners=[m.ActionOwner(position=0, name="Sam Rivers", person_id=owner_id)],
            created_at=SET_ON,
            updated_at=SET_ON,
        )
        session.add(action)
        await session.flush()
        return action.id


async def person_id(db: Database, user: User) -> int:
    async with db.read() as session:
        person = await repo.person_by_identity(session, "teams", TENANT, user.aad)
        assert person is not None
        return person.id


def removal(teams: Any, team: str, channel: str, action: str = "remove") -> dict[str, Any]:
    """Teams' installationUpdate when the app is removed from (or added back to) a team."""
    activity = teams.activity("installation_update_add.json", action=action)
    activity["conversation"] = {
        "conversationType": "channel",
        "tenantId": TENANT,
        "id": channel,
        "isGroup": True,
    }
    activity["channelData"]["team"] = {"id": team}
    activity["channelData"]["channel"] = {"id": channel}
    return dict(activity)


# ----- Teams ---------------------------------------------------------------------------------


async def test_teams_uninstall_from_one_team_stops_only_that_school_until_reinstalled(
    tmp_path: Path,
) -> None:
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        mock = teams.mock
        await teams.say_in_channel("setup school Hill School", SAM, team=TEAM)
        await teams.say_in_channel(
            "setup school Vale School", NADIA, channel=CHANNEL_B, team=TEAM_B
        )
        await teams.say("review", SAM)
        await teams.say("review", NADIA)
        await teams.say_in_channel("digest here", SAM, team=TEAM)
        await teams.say_in_channel("digest here", NADIA, channel=CHANNEL_B, team=TEAM_B)
        hill, vale = await organisation_of(teams.db, SAM), await organisation_of(teams.db, NADIA)
        assert (hill.name, vale.name) == ("Hill School", "Vale School")
        for school in (hill, vale):
            await friday_digest(teams.db, school.id)
        await give_action(teams.db, hill.id, await person_id(teams.db, SAM))

        # Hill's team removes the app: Hill is disconnected, Vale (same tenant) is not.
        assert await teams.post(removal(teams, TEAM, CHANNEL_A)) == 201
        hill, vale = await organisation_of(teams.db, SAM), await organisation_of(teams.db, NADIA)
        assert hill.disconnected_at is not None
        assert vale.disconnected_at is None

        before = mock.mark()
        await dispatcher(teams.app).run(FRIDAY)
        sent = mock.since(before, "send")
        assert {c.conversation for c in sent} == {CHANNEL_B}  # Vale's digest only
        assert "Vale School" in texts_of(sent)

        # Added back to the team: Hill is reconnected and hears again (digest and reminder).
        assert await teams.post(removal(teams, TEAM, CHANNEL_A, action="add")) == 201
        assert (await organisation_of(teams.db, SAM)).disconnected_at is None
        before = mock.mark()
        await dispatcher(teams.app).run(FRIDAY)
        sent = mock.since(before, "send")
        assert {c.conversation for c in sent} == {CHANNEL_A, SAM.chat}
        assert msg.REMINDER_TITLES["before"] in texts_of(
            [c for c in sent if c.conversation == SAM.chat]
        )


async def test_teams_skips_a_disconnected_schools_waiting_reminders_and_digest(
    tmp_path: Path,
) -> None:
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        mock = teams.mock
        await teams.say("review", SAM)
        assert await teams.post(teams.activity("conversation_update_team.json")) == 201
        await teams.say_in_channel("digest here", SAM)
        hill = await organisation_of(teams.db, SAM)
        await friday_digest(teams.db, hill.id)
        await give_action(teams.db, hill.id, await person_id(teams.db, SAM))
        run = dispatcher(teams.app)
        planned = await run.plan(FRIDAY)  # recorded while installed, not yet sent
        assert planned.recorded == 2

        assert await teams.post(removal(teams, TEAM, CHANNEL_A)) == 201
        before = mock.mark()
        report = await run.run(FRIDAY)
        assert (report.recorded, report.sent) == (0, 0)
        assert mock.since(before, "send") == []

        await teams.say("help", SAM)  # the school writes again: reconnected
        before = mock.mark()
        report = await run.run(FRIDAY)
        assert report.sent == 2
        assert {c.conversation for c in mock.since(before, "send")} >= {CHANNEL_A, SAM.chat}


async def test_teams_setup_refuses_an_edition_change_once_a_review_started(
    tmp_path: Path,
) -> None:
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        for line in ["review", "just me", "3"]:
            await teams.say(line)
        await teams.say("setup school Hill School")
        await teams.say("setup college Hill School")
        assert msg.SETUP_EDITION_LOCKED in texts_of(teams.mock.sent(SAM.chat)[-1:])
        hill = await organisation_of(teams.db)
        assert (hill.name, hill.edition) == ("Hill School", "school")


# ----- Slack ---------------------------------------------------------------------------------


@pytest.fixture
async def slack_hill(tmp_path: Path) -> AsyncIterator[Slack]:
    """Hill School's workspace (the Slack tests' users) on the real server."""
    mock = MockSlack()
    await mock.start()
    mock.add_user("U_SAM", "Sam Rivers")
    mock.add_user("U_NADIA", "Nadia Rahman")
    mock.add_user("U_PAT", "Pat Head")
    try:
        async with running(mock, sqlite_url(tmp_path)) as harness:
            yield harness
    finally:
        await mock.close()


async def test_slack_skips_a_disconnected_schools_reminders_and_digest(
    slack_hill: Slack, school: MaturityModel
) -> None:
    slack = slack_hill
    organisation_id = await seed(slack, school)
    await slack.command("setup")
    await slack.settle()
    form = slack.mock.last("views.open")
    assert await slack.submit(form, setup_values(digest_day=choice_value("friday"))) == {}
    await slack.settle()
    await slack.command("review")  # the DM is remembered for reminders
    await slack.settle()
    run = dispatcher(slack.server.app)
    planned = await run.plan(FRIDAY)
    assert planned.recorded > 1  # the digest and Sam's reminders, waiting

    await slack.event({"type": "app_uninstalled", "event_ts": "1736933500.000100"})
    await slack.settle()
    posts = len(slack.mock.calls_to("chat.postMessage"))
    report = await run.run(FRIDAY)
    assert (report.recorded, report.sent) == (0, 0)
    assert len(slack.mock.calls_to("chat.postMessage")) == posts

    await slack.dm("help")  # reinstalled: the next request reconnects the school
    report = await run.run(FRIDAY)
    assert report.sent == planned.recorded
    assert slack.posted("C_SLT")  # the digest
    assert any(msg.REMINDER_TITLES["before"] in c.text() for c in slack.posted("D_SAM"))
    async with slack.db.read() as session:
        organisation = await repo.get_organisation(session, organisation_id)
    assert organisation is not None and organisation.disconnected_at is None


async def test_slack_setup_refuses_an_edition_change_with_the_same_reason_as_teams(
    slack_hill: Slack, school: MaturityModel
) -> None:
    slack = slack_hill
    await seed(slack, school, ["just me", "3"])
    await slack.command("setup")
    await slack.settle()
    form = slack.mock.last("views.open")
    answer = await slack.submit(form, setup_values(edition=choice_value("college")))
    assert answer["errors"] == {"edition": msg.SETUP_EDITION_LOCKED}


# ----- the service itself ---------------------------------------------------------------------


class Recorder:
    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.sent: list[str] = []

    async def send(
        self, conversation: m.ConversationRef, notice: Notice, chart: bytes | None, key: str = ""
    ) -> str | None:
        self.sent.append(conversation.conversation_id)
        return None


async def test_one_channel_of_a_school_disconnected_leaves_the_other_sending(
    database: Database,
) -> None:
    now = datetime(2025, 1, 31, 8, 30, tzinfo=UTC)
    workspaces = WorkspaceService(database, lambda: now)
    hill = await workspaces.organisation_for("slack", "T_HILL", name="Hill School")
    await workspaces.link_team("teams", TENANT, TEAM, hill.id)
    sam = Who("slack", "U_SAM", "Sam Rivers", "T_HILL")
    slack_digest = Conversation("C_SLT", DIGEST, {"channel_id": "C_SLT"})
    saved = await workspaces.save_setup(
        hill.id,
        SetupRequest(
            sam,
            "Hill School",
            "school",
            "friday",
            "08:00",
            [(sam, Role.CAREERS_LEADER)],
            slack_digest,
        ),
    )
    assert not isinstance(saved, SetupRefusal)
    teams_sam = Who("teams", SAM.aad, "Sam Rivers", TENANT)
    await workspaces.person(hill.id, teams_sam)
    assert not await workspaces.set_digest_channel(  # not the Careers Leader there
        hill.id, Who("teams", NADIA.aad, "Nadia", TENANT), Conversation(CHANNEL_A, DIGEST, {})
    )
    async with database.transaction() as session:  # Sam leads on Teams too (one person each)
        person = await repo.person_by_identity(session, "teams", TENANT, SAM.aad)
        assert person is not None
        await repo.set_role(session, person, Role.CAREERS_LEADER.value)
    assert await workspaces.set_digest_channel(
        hill.id, teams_sam, Conversation(CHANNEL_A, DIGEST, {})
    )

    assert await workspaces.disconnect("slack", "T_HILL") == [hill.id]
    school = await workspaces.organisation(hill.id)
    assert school is not None and school.disconnected_at is None  # Teams still installed
    assert repo.disconnected_channels(school) == {"slack"}
    slack, teams = Recorder("slack"), Recorder("teams")
    run = Dispatcher(
        ReviewService(database, lambda: now),
        {"slack": slack, "teams": teams},
        Pacer(sleep=no_sleep),
    )
    await run.send_digest(hill.id, now)
    assert (slack.sent, teams.sent) == ([], [CHANNEL_A])

    # Both gone: the whole school is disconnected; the edition rule is the service's.
    assert await workspaces.disconnect("teams", TENANT, TEAM) == [hill.id]
    school = await workspaces.organisation(hill.id)
    assert school is not None and school.disconnected_at == now
    assert await workspaces.reconnect(hill.id, "slack")
    school = await workspaces.organisation(hill.id)
    assert school is not None and school.disconnected_at is None
    assert repo.disconnected_channels(school) == {"teams"}
    twice = SetupRequest(sam, None, "school", people=[(sam, Role.COLLEAGUE), (sam, Role.SLT)])
    assert [r.field for r in await workspaces.check_setup(hill.id, twice)] == [SetupField.PEOPLE]
