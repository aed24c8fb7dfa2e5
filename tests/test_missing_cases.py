"""Issue 11, the tests that were missing, driven as a school uses the bot.

1. Glossary aliases: every alias in model_data/glossary.yaml, asked as "what is <alias>?" in a
   review, through the turn service (ReviewService.handle with typed Text, SQLite and
   PostgreSQL), gets its entry's definition; one alias through the real Slack server (a signed
   DM event) and one through the real Teams endpoint (an activity to /api/messages) too.
2. Owners guessed, through the real Slack server and the real Teams endpoint: "me" is the
   speaker even when someone else in the school has the same name (and was there first);
   initials two people share make the bot ask which one, and the action's reminder (a sweep of
   the dispatcher over the app's own senders) reaches only the person chosen.
3. Teams double click: one level button pressed twice (two activities, one card) leaves one
   response row, at most one response_changes row, and one card update.

The engine-level cases (tests/test_glossary.py, tests/test_free_text.py) are not repeated here:
these check what the bot sent on the channel and what the database holds.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp.test_utils import TestServer
from slack_mock import MockSlack
from sqlalchemy import func, select
from test_scheduler import london
from test_slack import Slack, clock, settings_for, url_of
from test_slack import mock as mock  # the Slack mock fixture (U_SAM, U_NADIA, ...)
from test_teams import SAM, User, sam_place, teams_bot, texts_of
from test_workspaces import no_sleep

from bot.app import NOTIFIERS, SERVICE, init_app
from bot.config import Settings
from bot.notify import Pacer
from bot.reviews import Inbound, ReviewService, Who
from bot.scheduler import Dispatcher
from model_data import GlossaryTerm, load_glossary
from storage import models as m
from storage.db import Database
from workflows import messages as msg
from workflows.inputs import Text
from workflows.replies import Message, Step

GLOSSARY = load_glossary()


@asynccontextmanager
async def slack_app(mock: MockSlack, database: Database) -> AsyncIterator[tuple[Slack, Dispatcher]]:
    """The real app (Slack on the mock Web API) and a dispatcher over the app's own senders."""
    app = init_app(settings_for(mock, url_of(database)), database=database, clock=clock)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield Slack(server, mock), Dispatcher(app[SERVICE], app[NOTIFIERS], Pacer(sleep=no_sleep))
    finally:
        await server.close()


def answer_to(term: GlossaryTerm) -> str:
    return msg.GLOSSARY_ANSWER.format(term=term.term, definition=term.definition)


# ----- 1. glossary aliases -------------------------------------------------------------------


async def test_every_alias_answers_through_the_turn_service(database: Database) -> None:
    service = ReviewService(database, clock)
    organisation = await service.organisation("Hill School", "school")
    leader = Who("slack", "U_SAM", "Sam Rivers", workspace="T_HILL")
    colleague = Who("teams", "aad-nadia", "Nadia Rahman", workspace="tenant")
    await service.open(organisation.id, leader)
    await service.turn(organisation.id, leader, "just me")
    before = await service.state(organisation.id)
    assert before is not None
    asked = 0
    for term in GLOSSARY.terms:
        assert term.aliases, term.term
        for alias in term.aliases:
            # The leader in the review, and a colleague who is not in it (view only).
            for who in (leader, colleague):
                result = await service.handle(
                    Inbound(organisation.id, who, Text(f"what is {alias}?"))
                )
                said = [r.text for r in result.replies if isinstance(r, Message)]
                assert said and said[0] == answer_to(term), (alias, said[:1])
                asked += 1
    assert asked == 2 * sum(len(t.aliases) for t in GLOSSARY.terms)
    after = await service.state(organisation.id)
    assert after is not None
    assert after.answers == before.answers and after.cursors == before.cursors  # only looked


def alias_of(term_name: str, alias: str) -> GlossaryTerm:
    term = next(t for t in GLOSSARY.terms if t.term == term_name)
    assert alias in term.aliases and alias.lower() != term.term.lower()
    return term


async def test_an_alias_answers_in_a_slack_dm(mock: MockSlack, database: Database) -> None:
    term = alias_of("Enterprise Adviser", "EA")
    async with slack_app(mock, database) as (slack, _):
        await slack.dm("review")
        await slack.dm("just me")
        await slack.dm("what is an EA?")
        shown = slack.texts()
    assert term.definition in shown
    assert f"{term.term}:" in shown


async def test_an_alias_answers_in_a_teams_chat(database: Database) -> None:
    term = alias_of("Quality First Teaching", "QFT")
    async with teams_bot(Settings(_env_file=None), database) as teams:  # type: ignore[call-arg]
        await teams.say("review")
        await teams.say("just me")
        mark = teams.mock.mark()
        await teams.say("what does QFT stand for?")
        shown = texts_of(teams.mock.since(mark))
    assert term.definition in shown
    assert f"{term.term}:" in shown


# ----- 2. owners guessed: "me" and shared initials -------------------------------------------

# 1.1: a priority its speaker owns ("me"); 1.2: one owned by "TH", which two people share.
BEFORE_OWNERS = ["2", "done", "none", "priority", "3", "Plan"]
DUE = "HT3"  # ends Fri 14 Feb 2025: "due this week" on Mon 10 Feb
SWEEP_AT = "2025-02-10T08:00"
AMBIGUOUS = re.compile(r"“TH” could be (?P<first>[\w ]+?) or (?P<second>[\w ]+?):")


async def owners_of(database: Database, statement_id: str) -> list[tuple[str, int | None]]:
    async with database.transaction() as session:
        rows = await session.execute(
            select(m.ActionOwner.name, m.ActionOwner.person_id)
            .join(m.Action, m.Action.id == m.ActionOwner.action_id)
            .where(m.Action.statement_id == statement_id)
        )
        return [(name, person_id) for name, person_id in rows]


async def person_id(database: Database, channel: str, external_id: str) -> int:
    async with database.transaction() as session:
        found = await session.scalar(
            select(m.Identity.person_id).where(
                m.Identity.channel == channel, m.Identity.external_id == external_id
            )
        )
    assert found is not None, external_id
    return int(found)


async def test_owners_me_and_shared_initials_in_slack(mock: MockSlack, database: Database) -> None:
    # Another Sam Rivers (first in the school), and two people whose initials are both TH.
    mock.add_user("U_SAM2", "Sam Rivers")
    mock.add_user("U_TOM", "Tom Hale")
    mock.add_user("U_TARA", "Tara Hughes")
    async with slack_app(mock, database) as (slack, dispatcher):
        for user in ("U_SAM2", "U_TOM", "U_TARA"):  # each says hello first: their DMs are known
            await slack.dm("help", user=user)
        await slack.dm("review")
        await slack.dm("just me")
        for line in [*BEFORE_OWNERS, "me", DUE, "no"]:
            await slack.dm(line)
        for line in BEFORE_OWNERS:
            await slack.dm(line)
        shown = len(slack.posted())
        await slack.dm("TH")
        asked = "\n".join(c.text() for c in slack.posted()[shown:])
        found = AMBIGUOUS.search(asked)
        assert found, asked
        assert {found["first"], found["second"]} == {"Tom Hale", "Tara Hughes"}
        await slack.dm(found["second"])  # the one named second: not the first match
        for line in [DUE, "no"]:
            await slack.dm(line)
        chosen = {"Tom Hale": "U_TOM", "Tara Hughes": "U_TARA"}[found["second"]]
        other = {"U_TOM": "U_TARA", "U_TARA": "U_TOM"}[chosen]

        sam = await person_id(database, "slack", "U_SAM")
        assert sam > await person_id(database, "slack", "U_SAM2")  # the other Sam came first
        assert await owners_of(database, "1.1") == [("Sam Rivers", sam)]
        assert await owners_of(database, "1.2") == [
            (found["second"], await person_id(database, "slack", chosen))
        ]

        report = await dispatcher.run(london(SWEEP_AT))
        assert report.errors == [] and report.sent >= 2

        def reminders(user: str) -> list[str]:
            dm = "D" + user.removeprefix("U")
            return [
                c.text()
                for c in mock.calls_to("chat.postMessage")
                if c.params["channel"] == dm and "due this week" in c.text()
            ]

        assert reminders("U_SAM") and all("– 1.1 " in t for t in reminders("U_SAM"))
        assert reminders(chosen) and all("– 1.2 " in t for t in reminders(chosen))
        assert reminders(other) == [] and reminders("U_SAM2") == []


def teams_user(name: str, tag: str) -> User:
    """A Teams user of Hill School's tenant, with a personal chat of their own."""
    digits = "".join(str(ord(c) % 10) for c in tag)[:12].ljust(12, "0")
    return User(
        name,
        f"29:1{tag}Teams{tag}Id",
        f"{digits[:8]}-0000-4000-8000-{digits}",
        f"a:1{tag}PersonalChat{tag}",
    )


OTHER_SAM = teams_user("Sam Rivers", "OtherSam")
TOM = teams_user("Tom Hale", "TomHale")
TARA = teams_user("Tara Hughes", "TaraHughes")


async def test_owners_me_and_shared_initials_in_teams(database: Database) -> None:
    async with teams_bot(Settings(_env_file=None), database) as teams:  # type: ignore[call-arg]
        connector = teams.mock
        for user in (OTHER_SAM, TOM, TARA):  # each says hello first: their chats are known
            await teams.say("help", user=user)
        for line in ["review", "just me", *BEFORE_OWNERS, "me", DUE, "no", *BEFORE_OWNERS]:
            await teams.say(line)
        mark = connector.mark()
        await teams.say("TH")
        asked = texts_of(connector.since(mark))
        found = AMBIGUOUS.search(asked)
        assert found, asked
        assert {found["first"], found["second"]} == {"Tom Hale", "Tara Hughes"}
        await teams.say(found["second"])  # the one named second: not the first match
        for line in [DUE, "no"]:
            await teams.say(line)
        chosen, other = (TARA, TOM) if found["second"] == TARA.name else (TOM, TARA)

        sam = await person_id(database, "teams", SAM.aad)
        assert sam > await person_id(database, "teams", OTHER_SAM.aad)  # the other Sam first
        assert await owners_of(database, "1.1") == [("Sam Rivers", sam)]
        assert await owners_of(database, "1.2") == [
            (chosen.name, await person_id(database, "teams", chosen.aad))
        ]

        app = teams.app
        dispatcher = Dispatcher(app[SERVICE], app[NOTIFIERS], Pacer(sleep=no_sleep))
        report = await dispatcher.run(london(SWEEP_AT))
        assert report.errors == [] and report.sent >= 2

        def reminders(user: User) -> list[str]:
            shown = [texts_of([call]) for call in connector.sent(user.chat)]
            return [text for text in shown if "due this week" in text]

        assert reminders(SAM) and all("– 1.1 " in t for t in reminders(SAM))
        assert reminders(chosen) and all("– 1.2 " in t for t in reminders(chosen))
        assert reminders(other) == [] and reminders(OTHER_SAM) == []


# ----- 3. Teams: a double click is one row -----------------------------------------------------


async def responses_for(database: Database, statement_id: str) -> list[tuple[int, int | None]]:
    """(response id, level) of every response row for a statement, in every review."""
    async with database.transaction() as session:
        rows = await session.execute(
            select(m.Response.id, m.Response.level).where(m.Response.statement_id == statement_id)
        )
        return [(rid, level) for rid, level in rows]


async def changes_of(database: Database, response_id: int) -> int:
    async with database.transaction() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(m.ResponseChange)
            .where(m.ResponseChange.response_id == response_id)
        )
    return int(count or 0)


@pytest.mark.parametrize("at_once", [False, True], ids=["one-after-the-other", "at-once"])
async def test_a_double_click_on_a_level_is_one_row_and_one_update(
    database: Database, at_once: bool
) -> None:
    """The same card's "Level 3" pressed twice: two activities (their own ids), one card."""
    async with teams_bot(Settings(_env_file=None), database) as teams:  # type: ignore[call-arg]
        connector = teams.mock
        for line in ["review", "just me"]:
            await teams.say(line)
        card = connector.last_card()
        assert "1.1" in teams.card_texts(card)
        first = teams.submitted(card, "Level 3")
        second = teams.submitted(card, "Level 3")  # taken before the card was replaced
        assert first["id"] != second["id"] and first["value"] == second["value"]
        mark = connector.mark()
        if at_once:
            statuses = list(await asyncio.gather(teams.post(first), teams.post(second)))
        else:
            statuses = [await teams.post(first), await teams.post(second)]
        assert statuses == [201, 201]
        answered = connector.since(mark)
        assert [(c.kind, c.activity_id) for c in answered] == [("update", card.activity_id)], [
            (c.kind, c.text, teams.card_texts(c) if c.card else "") for c in answered
        ]
        assert "Level 3 saved for 1.1" in teams.card_texts(card)

        rows = await responses_for(database, "1.1")
        assert len(rows) == 1 and rows[0][1] == 3, rows
        assert await changes_of(database, rows[0][0]) <= 1
        assert (await sam_place(teams)).step is Step.EVIDENCE
