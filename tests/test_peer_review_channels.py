"""Issue 13, "What must be shown": a peer review driven through the real server.

Hill School's Careers Leader is on Slack (signed requests to /slack/events, the Web API a
mock on loopback); Valley School's is on Teams (activities POSTed to /api/messages, replies
caught by a mock connector). Both schools are in one Careers Hub. In one direction Hill
invites and Valley's Careers Leader rates from Teams; in the other Valley invites from Teams
and Hill's rates from Slack. Each test reads only what the bot sent and presses the buttons
that are really there: the invitation code, blind rating (no question shows the school's
level before the peer has answered it), the side by side with differences first, agreed
levels stored with both originals, accepted suggestions in the school's plan with owners and
a deadline, and the peer locked out once the school closes the peer review.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from conftest import NOW
from review_scripts import seed_review
from slack_mock import MockSlack
from sqlalchemy import select
from teams_mock import Call, MockConnector, walk
from test_slack import Slack, settings_for, url_of
from test_slack import mock as mock  # the Slack mock fixture (U_SAM, ...)
from test_teams import NADIA, TENANT, TeamsClient, texts_of

from bot.app import NOTIFIERS, SERVICE, init_app
from bot.reviews import ReviewService
from bot.scheduler import Dispatcher
from bot.teams import TEAMS
from model_data import MaturityModel
from storage import models as m
from storage import repo
from storage.db import Database
from workflows import peer_review as rules
from workflows.replies import Step

THEME = 1


class Side(Protocol):
    """One school's Careers Leader in their own chat, as the channel shows it."""

    async def say(self, text: str) -> None: ...
    async def press(self, value: str, step: Step) -> str: ...
    async def press_old(self, value: str, step: Step) -> None: ...
    def mark(self) -> int: ...
    def shown_since(self, mark: int, until: int | None = None) -> str: ...
    def has_button(self, step: Step) -> bool: ...


@dataclass
class SlackSide:
    slack: Slack

    async def say(self, text: str) -> None:
        await self.slack.dm(text)

    async def press(self, value: str, step: Step) -> str:
        """Press the button of this value on the latest message asking `step`; the message's
        text as it was before the press."""
        call = self.slack.with_button(value, step=step)
        before = call.text()
        assert await self.slack.click(call, value) == 200
        return before

    async def press_old(self, value: str, step: Step) -> None:
        """Press a button of the first message that asked `step`, as it was posted (a
        client that never refreshed the message)."""
        call = next(
            c
            for c in self.slack.posted()
            if any(
                b.get("value") == value and f"|{step.value}|" in str(b.get("block_id"))
                for b in c.buttons()
            )
        )
        assert await self.slack.click(call, value) == 200

    def mark(self) -> int:
        return len(self.slack.mock.calls)

    def shown_since(self, mark: int, until: int | None = None) -> str:
        return "\n".join(
            c.text()
            for c in self.slack.mock.calls[mark:until]
            if c.method in {"chat.postMessage", "chat.update"} and c.params["channel"] == "D_SAM"
        )

    def has_button(self, step: Step) -> bool:
        return any(
            f"|{step.value}|" in str(b.get("block_id"))
            for c in self.slack.on_screen()[-1:]
            for b in c.buttons()
        )


def _button(card: dict[str, Any], value: str, step: Step) -> str | None:
    for element in walk(card):
        data = element.get("data") or {}
        if (
            element.get("type") == "Action.Submit"
            and data.get("step") == step.value
            and data.get("text") == value
        ):
            return str(element["title"])
    return None


@dataclass
class TeamsSide:
    teams: TeamsClient

    def _cards(self) -> list[Call]:
        return [
            self.teams.mock.current(c.activity_id)
            for c in self.teams.mock.sent(NADIA.chat)
            if c.card is not None
        ]

    async def say(self, text: str) -> None:
        await self.teams.say(text, NADIA)

    async def press(self, value: str, step: Step) -> str:
        for call in reversed(self._cards()):
            assert call.card is not None
            title = _button(call.card, value, step)
            if title is not None:
                before = texts_of([call])
                await self.teams.click(call, title, NADIA)
                return before
        raise AssertionError(f"no card with a {value!r} button for {step}")

    async def press_old(self, value: str, step: Step) -> None:
        """Submit a button of the first card that asked `step`, as it was sent (a Teams
        client still showing it)."""
        for call in self.teams.mock.sent(NADIA.chat):
            data = next(
                (
                    e["data"]
                    for e in walk(call.card or {})
                    if (e.get("data") or {}).get("step") == step.value
                    and (e.get("data") or {}).get("text") == value
                ),
                None,
            )
            if data is not None:
                activity = self.teams.activity(
                    "card_submit_personal.json", NADIA, value=dict(data), replyToId=call.activity_id
                )
                activity["channelData"]["legacy"]["replyToId"] = call.activity_id
                assert await self.teams.post(activity) == 201
                return
        raise AssertionError(f"no card ever had a {value!r} button for {step}")

    def mark(self) -> int:
        return self.teams.mock.mark()

    def shown_since(self, mark: int, until: int | None = None) -> str:
        sent = [c for c in self.teams.mock.calls[mark:until] if c.conversation == NADIA.chat]
        return texts_of(sent)

    def has_button(self, step: Step) -> bool:
        cards = self._cards()
        return bool(cards) and any(
            (e.get("data") or {}).get("step") == step.value
            for e in walk(cards[-1].card)
            if e.get("type") == "Action.Submit"
        )


def newly_shown(side: Side, mark: int) -> set[str]:
    """Lines the bot showed since `mark` that it had not shown before it (an old message
    redrawn with a note adds only the note)."""
    before = set(side.shown_since(0, mark).splitlines())
    return {line for line in side.shown_since(mark).splitlines() if line.strip()} - before


async def _setup(database: Database, school: MaturityModel) -> tuple[int, int]:
    """Hill (Slack: U_SAM in T_HILL) and Valley (Teams: Nadia in the tenant), each with a
    finished review and its Careers Leader, both accepted members of one Careers Hub."""
    hill, sam = await seed_review(database, school, NOW, name="Hill School")
    valley, nadia = await seed_review(
        database, school, NOW, name="Valley School", workspace="valley"
    )
    async with database.transaction() as session:
        await repo.link_organisation(session, hill.id, "slack", "T_HILL")
        await repo.link_organisation(session, valley.id, "teams", TENANT)
        session.add(
            m.Identity(person_id=sam, channel="slack", workspace="T_HILL", external_id="U_SAM")
        )
        session.add(
            m.Identity(person_id=nadia, channel="teams", workspace=TENANT, external_id=NADIA.aad)
        )
        person = await session.get(m.Person, nadia)
        assert person is not None
        person.display_name, person.initials = "Nadia Rahman", "NR"
        hub = m.Group(name="North Hub", kind="hub", created_at=NOW)
        session.add(hub)
        await session.flush()
        for school_id in (hill.id, valley.id):
            session.add(
                m.GroupMember(
                    group_id=hub.id, organisation_id=school_id, invited_at=NOW, accepted_at=NOW
                )
            )
    return hill.id, valley.id


@asynccontextmanager
async def both(
    mock: MockSlack, database: Database
) -> AsyncIterator[tuple[SlackSide, TeamsSide, web.Application]]:
    """One app serving Slack and Teams on loopback, over the test's database."""
    connector = MockConnector()
    await connector.start()
    app = init_app(settings_for(mock, url_of(database)), database=database, clock=lambda: NOW)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    app[TEAMS].work.retry_delay = 0.01
    try:
        async with aiohttp.ClientSession() as http:
            yield (
                SlackSide(Slack(server, mock)),
                TeamsSide(TeamsClient(app, server, http, connector)),
                app,
            )
    finally:
        await server.close()
        await connector.close()


async def _peer_review(
    database: Database,
    school: MaturityModel,
    school_id: int,
    school_name: str,
    owner: Side,
    peer: Side,
    app: web.Application,
) -> None:
    statements = rules.statements_for(school, (THEME,))
    async with database.read() as session:
        review = await repo.latest_review(session, school_id)
        assert review is not None
        answers = await repo.load_answers(session, review.id)

    # The invitation: a one-time code, read from what the bot said.
    mark = owner.mark()
    await owner.say(f"peer review theme {THEME}")
    found = re.search(r"peer join (PR-[A-Z0-9-]+)", owner.shown_since(mark))
    assert found, owner.shown_since(mark)
    code = found.group(1)

    # Blind rating, in the peer's own chat: level (a real button), comment, suggestion.
    mark = peer.mark()
    await peer.say(f"peer join {code}")
    assert f"You are peer reviewing {school_name}" in peer.shown_since(mark)
    given: dict[str, int] = {}
    for n, sid in enumerate(statements):
        ours = answers[sid].level
        assert ours is not None
        level = (ours - 1 or 2) if n % 2 == 0 else ours  # differ on every other statement
        given[sid] = level
        mark = peer.mark()
        question = await peer.press(str(level), Step.PEER_LEVEL)
        assert sid in question
        assert "rated itself" not in question  # the school's level is not shown yet
        if answers[sid].note:
            assert answers[sid].note in question  # the school's note is
        assert f"{school_name} rated itself level {ours}" in peer.shown_since(mark)
        await peer.say(f"Seen in the careers plan, {sid}")
        await peer.say(f"Peer action for {sid}" if n < 2 else "skip")
    assert f"your peer review of {school_name} is complete" in peer.shown_since(mark)
    # The school's Careers Leader is told, unasked, through the scheduler's delivery path.
    mark = owner.mark()
    sent = await Dispatcher(app[SERVICE], app[NOTIFIERS]).deliver(NOW)
    assert sent.sent == 1, sent
    assert f"has finished peer reviewing {school_name}" in owner.shown_since(mark)

    # Side by side, differences first; agree each level with a real button ("peer").
    mark = owner.mark()
    await owner.say("peer results")
    shown = owner.shown_since(mark)
    positions = {sid: shown.index(school.statement(sid).short_label) for sid in statements}
    differing = [sid for sid in statements if given[sid] != answers[sid].level]
    same = [sid for sid in statements if sid not in differing]
    assert differing and same
    assert max(positions[s] for s in differing) < min(positions[s] for s in same)
    agreed_order = []
    while owner.has_button(Step.PEER_AGREE):
        question = await owner.press("peer", Step.PEER_AGREE)
        asked = re.search(r"(\d\.\d+) [^\n:]*: you said", question)
        assert asked, question
        agreed_order.append(asked.group(1))
    # Asked in the order shown: every difference before any statement rated the same.
    assert set(agreed_order[: len(differing)]) == set(differing)
    assert sorted(agreed_order) == sorted(statements)

    # The peer's suggestions as drafts: the first accepted (owners typed, a deadline
    # pressed), the second declined.
    first, second = statements[0], statements[1]
    await owner.press("accept", Step.PEER_DRAFT)
    await owner.say("me, Head of Sixth Form")
    await owner.press("HT4", Step.PEER_DUE)
    mark = owner.mark()
    await owner.press("decline", Step.PEER_DRAFT)
    assert "All agreed" in owner.shown_since(mark)

    async with database.read() as session:
        agreements = {a.statement_id: a for a in await session.scalars(select(m.PeerAgreement))}
        now = await repo.load_answers(session, review.id)
    for sid in statements:
        assert agreements[sid].school_level == answers[sid].level  # both originals
        assert agreements[sid].peer_level == given[sid] == agreements[sid].agreed_level
        assert now[sid].level == given[sid]  # the school's level of record, with history
    plan = await ReviewService(database, clock=lambda: NOW).plan_document(school_id, review.id)
    accepted = [r for r in plan.plan.rows if f"Peer action for {first}" in " ".join(r.next_steps)]
    assert len(accepted) == 1, [r.next_steps for r in plan.plan.rows]
    assert accepted[0].owners and "Head of Sixth Form" in accepted[0].owners
    assert accepted[0].by_when and "HT4" in accepted[0].by_when
    assert not [r for r in plan.plan.rows if f"Peer action for {second}" in " ".join(r.next_steps)]

    # Closed: a button still on the peer's screen (Skip, under the first comment question,
    # which was answered by typing) is refused and shows nothing of the school.
    await owner.say("close peer review")
    mark = peer.mark()
    await peer.press_old("skip", Step.PEER_COMMENT)
    mark_resume = peer.mark()
    await peer.say("peer resume")
    assert rules.CLOSED in peer.shown_since(mark, mark_resume)  # the button
    assert rules.CLOSED in peer.shown_since(mark_resume)  # typed
    for line in newly_shown(peer, mark):
        assert school_name not in line and "Seen in the careers plan" not in line
        assert not any(a.note and a.note in line for a in answers.values())
        assert not any(school.statement(sid).title in line for sid in statements)


async def test_school_on_slack_peer_on_teams(
    mock: MockSlack, database: Database, school: MaturityModel
) -> None:
    hill, _ = await _setup(database, school)
    async with both(mock, database) as (slack, teams, app):
        await _peer_review(database, school, hill, "Hill School", slack, teams, app)


async def test_school_on_teams_peer_on_slack(
    mock: MockSlack, database: Database, school: MaturityModel
) -> None:
    _, valley = await _setup(database, school)
    async with both(mock, database) as (slack, teams, app):
        await _peer_review(database, school, valley, "Valley School", teams, slack, app)


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
