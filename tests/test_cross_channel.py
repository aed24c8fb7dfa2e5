"""Issue 9, "What must be shown": one scripted review, the same in every channel.

The same review - participants, priorities with a span deadline (HT3/4), evidence links, notes,
a pause and a resume half-way through a priority, and a changed answer after the end - is
driven through the real server as Slack (signed requests to /slack/events), as Teams
(activities POSTed to /api/messages, replies caught by a mock connector) and through the
terminal (`careers-bot chat` with the answers piped on stdin). Slack and Teams also press a
real button read from what the bot sent (1.1's level). Each channel has its own SQLite
database; afterwards the saved answers and the exported plan must be identical, once ids,
who answered, timestamps and the organisation's name are set aside.

All three run on the real clock (not the suites' fixed NOW): the terminal has no way to be
given a clock, and the review's title and the academic year of a half-term deadline depend on
the day, so every channel must see the same day.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from review_scripts import full_review_lines
from slack_mock import MockSlack
from sqlalchemy import select
from teams_mock import MockConnector
from test_cli import careers_bot_process as careers_bot
from test_slack import Slack, settings_for
from test_slack import mock as mock  # the Slack mock fixture (users U_SAM, U_NADIA, ...)
from test_teams import SAM, TeamsClient, texts_of

from bot import exports
from bot.app import init_app
from bot.config import Settings
from bot.reviews import ReviewService
from bot.teams import TEAMS
from model_data import MaturityModel
from storage import models as m
from storage import repo
from storage.db import Database
from workflows import messages as msg
from workflows.replies import Step

PARTICIPANTS = 0
LEVEL_1_1 = 1  # "3": pressed as a button in Slack and Teams, typed in the terminal
PAUSE_AT = 12  # 1.2's owners (a free-text question): pause here, resume, then answer it
CHANGE = ["go 1.1", "2", "done", "none", "neither"]  # 1.1 changed after the end


def script(school: MaturityModel) -> tuple[list[str], list[str]]:
    """The answers before the pause and after it (the change at the end included)."""
    lines = full_review_lines(school)
    assert lines[LEVEL_1_1] == "3"
    assert lines[PAUSE_AT - 1].startswith("Create shared vision")  # 1.2's next steps
    return lines[:PAUSE_AT], lines[PAUSE_AT:] + CHANGE


# ----- the three channels ----------------------------------------------------------------


async def run_slack(mock: MockSlack, url: str, school: MaturityModel) -> None:
    before, after = script(school)
    app = init_app(settings_for(mock, url))  # the real clock
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        slack = Slack(server, mock)
        status, _, _ = await slack.command("review")
        assert status == 200
        await slack.settle()
        assert "Who is taking part" in slack.texts()
        await slack.dm(before[PARTICIPANTS])
        # 1.1's level: the "3" button of the question the bot posted.
        prompt = slack.with_button(before[LEVEL_1_1], step=Step.LEVEL)
        assert "1.1" in prompt.text()
        assert await slack.click(prompt, before[LEVEL_1_1]) == 200
        # The statement's one message, updated in place: level saved, evidence asked.
        assert "Level 3 saved for 1.1" in mock.last("chat.update").text()
        for line in before[LEVEL_1_1 + 1 :]:
            await slack.dm(line)
        await slack.dm("pause")
        assert "Paused at 1.2" in slack.texts()
        await slack.command("review")  # the open command resumes
        await slack.settle()
        assert "Who owns this action?" in slack.posted()[-1].text()
        for line in after:
            await slack.dm(line)
        texts = slack.texts()
        assert msg.COMPLETE in texts
        assert msg.UPDATED_COMPLETE in texts
    finally:
        await server.close()


@asynccontextmanager
async def teams_server(url: str) -> AsyncIterator[TeamsClient]:
    """tests/test_teams.py's `teams_bot`, on the real clock."""
    connector = MockConnector()
    await connector.start()
    app = init_app(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    app[TEAMS].work.retry_delay = 0.01
    try:
        async with aiohttp.ClientSession() as http:
            yield TeamsClient(app, server, http, connector)
    finally:
        await server.close()
        await connector.close()


async def run_teams(url: str, school: MaturityModel) -> None:
    before, after = script(school)
    async with teams_server(url) as teams:
        connector = teams.mock
        await teams.say("review")
        assert msg.ASK_PARTICIPANTS in texts_of(connector.sent(SAM.chat)[-1:])
        await teams.say(before[PARTICIPANTS])
        # 1.1's level: "Level 3" pressed on the statement card the bot sent.
        card = connector.last_card()
        assert "1.1" in teams.card_texts(card)
        await teams.click(card, f"Level {before[LEVEL_1_1]}")
        # The statement's one card, updated in place: level saved, evidence asked.
        assert "Level 3 saved for 1.1" in teams.card_texts(card)
        for line in before[LEVEL_1_1 + 1 :]:
            await teams.say(line)
        card_1_2 = connector.last_card()
        await teams.say("pause")
        assert "Paused at 1.2" in texts_of(connector.sent(SAM.chat)[-1:])
        await teams.say("review")  # typed while paused: resumes, on 1.2's card
        assert "Who owns this action?" in teams.card_texts(card_1_2)
        for line in after:
            await teams.say(line)
        shown = [connector.current(c.activity_id) for c in connector.sent(SAM.chat)]
        texts = texts_of(shown)
        assert msg.COMPLETE in texts
        assert msg.UPDATED_COMPLETE in texts


def run_terminal(db: Path, school: MaturityModel) -> None:
    before, after = script(school)
    args = ("chat", "--org", "Hill School", "--name", "Sam Rivers")
    first = careers_bot(*args, stdin="\n".join([*before, "pause"]) + "\n", db=db)
    assert first.returncode == 0, first.stderr
    assert "Paused at 1.2" in first.stdout
    # Opening it again resumes where it stopped (typing "resume" here would be an owner).
    second = careers_bot(*args, stdin="\n".join(after) + "\n", db=db)
    assert second.returncode == 0, second.stderr
    assert "Welcome back: 1 of 32 statements answered. Carrying on at 1.2" in second.stdout
    assert "Who owns this action?" in second.stdout
    assert msg.COMPLETE in second.stdout
    assert msg.UPDATED_COMPLETE in second.stdout


# ----- what was saved ----------------------------------------------------------------------


WHO_AND_WHEN = {"answered_by", "answered_at", "person_id", "action_id", "id"}


def scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if k not in WHO_AND_WHEN}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


async def saved(url: str) -> dict[str, Any]:
    """One database's review, answers and plan export, without ids, people, times or name."""
    db = Database(url)
    try:
        async with db.transaction() as session:
            organisations = list(await session.scalars(select(m.Organisation)))
            assert len(organisations) == 1
            organisation = organisations[0]
            review = await repo.latest_review(session, organisation.id)
            assert review is not None
            answers = await repo.load_answers(session, review.id)
            history = await repo.response_history(session, review.id, "1.1")
        service = ReviewService(db)
        state = await service.state(organisation.id)
        assert state is not None
        document = await service.plan_document(organisation.id)
        plan_json = exports.export(document, "json").decode("utf-8")
        csv = exports.export(document, "csv").decode("utf-8")
    finally:
        await db.close()
    # The organisation's name differs by channel ("Slack workspace hill-school", the tenant's,
    # "Hill School"): set aside wherever the export shows it (the title includes it).
    plan = json.loads(plan_json.replace(organisation.name, "<organisation>"))
    return {
        "title": review.title,
        "edition": review.edition,
        "completed": review.completed_at is not None,
        "participants": state.participants,
        "answers": {sid: scrub(a.model_dump(mode="json")) for sid, a in sorted(answers.items())},
        "history_1.1": [(h.before.get("level"), h.after.get("level")) for h in history],
        "plan": scrub(plan),
        "csv": csv.replace(organisation.name, "<organisation>"),
    }


async def test_one_review_leaves_the_same_rows_and_plan_in_every_channel(
    tmp_path: Path, mock: MockSlack, school: MaturityModel
) -> None:
    urls = {
        "slack": f"sqlite+aiosqlite:///{tmp_path / 'slack.sqlite3'}",
        "teams": f"sqlite+aiosqlite:///{tmp_path / 'teams.sqlite3'}",
        "terminal": f"sqlite+aiosqlite:///{tmp_path / 'terminal.sqlite3'}",
    }
    await run_slack(mock, urls["slack"], school)
    await run_teams(urls["teams"], school)
    run_terminal(tmp_path / "terminal.sqlite3", school)

    results = {channel: await saved(url) for channel, url in urls.items()}
    terminal = results["terminal"]

    # The review is the one scripted: finished, with what issue 9 asks to be shown.
    assert terminal["completed"]
    assert terminal["participants"] == ["Sam Rivers", "Nadia Rahman"]
    answers = terminal["answers"]
    assert len(answers) == 32
    assert answers["1.1"]["level"] == 2 and answers["1.1"]["flag"] == "none"  # the change
    assert terminal["history_1.1"][0] == (3, 2)
    priorities = [a for a in answers.values() if a["flag"] == "priority"]
    assert len(priorities) == 23
    assert any(a["actions"][0]["due"] == "HT3/4" for a in priorities)  # a span deadline
    assert answers["1.2"]["evidence"] == [
        {"url": "https://school.example/evidence/1.2", "label": "Evidence for 1.2"}
    ]
    assert answers["1.2"]["note"] == "Note on 1.2"
    assert answers["1.2"]["actions"][0]["owners"]  # answered after the resume
    assert answers["1.2"]["actions"][0]["due"]
    plan = terminal["plan"]
    assert plan["participants"] == ["Sam Rivers", "Nadia Rahman"]
    assert len(plan["actions"]) == 23
    spans = [a for a in plan["actions"] if "HT3/4" in (a["by_when"] or "")]
    assert spans and all(a["due_date"] for a in spans)
    row_1_2 = next(a for a in plan["actions"] if a["statement_id"] == "1.2")
    assert {"url": "https://school.example/evidence/1.2", "label": "Evidence for 1.2"} in row_1_2[
        "evidence"
    ]
    assert next(i for i in plan["summary"] if i["statement_id"] == "1.1")["level"] == 2
    assert "<organisation>" in plan["title"]

    # Identical in every channel.
    for channel in ("slack", "teams"):
        for key in terminal:
            assert results[channel][key] == terminal[key], f"{channel} differs in {key}"
