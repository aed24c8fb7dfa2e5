"""Issue 11: two schools on one database, BOTH with actions. Hill School's `actions` in Slack and
in Teams, its weekly digest (`careers-bot digest --print`) and its exports (`careers-bot
export` as xlsx, csv, md and json) show only Hill School's actions, never Valley School's.

Valley School's actions are marked (their next steps, their owner, numbers from #101) so that any of them
leaking into Hill School's output is seen; Valley's own export shows the mark, so the mark is
one the outputs print. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from pathlib import Path

import aiohttp
import openpyxl
import pytest
from aiohttp.test_utils import TestServer
from review_scripts import full_review_lines, seed003_priorities, seed_review
from slack_mock import MockSlack
from teams_mock import MockConnector
from test_cli import BIN
from test_scheduler import SET_ON
from test_slack import Slack, settings_for, url_of
from test_slack import mock as mock  # the Slack mock fixture (U_SAM, ...)
from test_teams import SAM, TENANT, TeamsClient, texts_of

from bot.app import init_app
from bot.teams import TEAMS
from model_data import MaturityModel, load_glossary
from storage import models as m
from storage import repo
from storage.db import Database
from workflows.calendar import default_calendar
from workflows.review import Context, Person, handle, new_review, open_review

MARK = "VALLEYONLY"
HILL, VALLEY = "Hill School", "Valley School"


async def seed_valley(database: Database, model: MaturityModel) -> int:
    """Valley School: seed 003's review as Hill's, but every priority's next steps and owner
    carry the mark, and its actions are numbered from #101."""
    priorities = [
        replace(p, next_steps=[f"{MARK} step for {p.id}"], owners=[f"{MARK} Owner"])
        for p in seed003_priorities()
    ]
    async with database.transaction() as session:
        valley = await repo.create_organisation(session, VALLEY, model.edition.value)
        val = await repo.person_for_identity(
            session, valley.id, "terminal", "val", "Val Leader", "valley"
        )
        val.role = "careers_leader"
        ctx = Context(
            model, load_glossary(), SET_ON, "Val Leader",
            (Person(val.id, "Val Leader", "VL"),), default_calendar(), actor_id=val.id,
        )  # fmt: skip
        state = new_review(model, "Careers Leadership action plan and summary – January 2025")
        review = await repo.create_review(session, valley, state, SET_ON)
        after = open_review(state, ctx).state
        for line in full_review_lines(model, priorities):
            after = handle(after, line, ctx).state
        await repo.save_state(session, review, state, after, val.id, SET_ON)
        await session.flush()
        for action in await repo.organisation_actions(session, valley.id):
            action.number += 100
        return valley.id


async def two_schools(database: Database, school: MaturityModel) -> tuple[int, int]:
    """Hill School (seed 003's plan; Sam is U_SAM on Slack and SAM on Teams) and Valley."""
    hill, sam = await seed_review(database, school, SET_ON)
    valley = await seed_valley(database, school)
    async with database.transaction() as session:
        await repo.link_organisation(session, hill.id, "slack", "T_HILL")
        await repo.link_organisation(session, hill.id, "teams", TENANT)
        session.add(
            m.Identity(person_id=sam, channel="slack", workspace="T_HILL", external_id="U_SAM")
        )
        session.add(
            m.Identity(person_id=sam, channel="teams", workspace=TENANT, external_id=SAM.aad)
        )
    return hill.id, valley


ROOT = Path(__file__).resolve().parent.parent


async def careers_bot(url: str, *args: str) -> tuple[int, str]:
    """The console script on this checkout's code (the venv's editable install may point at
    another checkout: PYTHONPATH puts this one first)."""
    process = await asyncio.create_subprocess_exec(
        str(BIN), "--database-url", url, *args,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200",
             "TEAMS_ENABLED": "false"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode()


def xlsx_text(path: Path) -> str:
    book = openpyxl.load_workbook(path)
    return "\n".join(
        str(cell)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    )


async def exported(url: str, organisation: str, fmt: str, tmp_path: Path) -> str:
    out = tmp_path / f"{organisation}.{fmt}"
    status, text = await careers_bot(
        url, "export", "--org", organisation, "--format", fmt, "--out", str(out)
    )
    assert status == 0, text
    if fmt == "xlsx":
        return xlsx_text(out)
    return out.read_text("utf-8")


@pytest.fixture
async def schools(database: Database, school: MaturityModel) -> Database:
    await two_schools(database, school)
    return database


async def test_actions_in_chat_lists_only_the_schools_own(
    mock: MockSlack, schools: Database
) -> None:
    database, url = schools, url_of(schools)
    # In chat: "actions" typed in Sam's Slack DM and in his Teams personal chat.
    connector = MockConnector()
    await connector.start()
    app = init_app(settings_for(mock, url), database=database, clock=lambda: SET_ON)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    app[TEAMS].work.retry_delay = 0.01
    try:
        slack = Slack(server, mock)
        await slack.dm("actions")
        in_slack = slack.texts("D_SAM")
        async with aiohttp.ClientSession() as http:
            teams = TeamsClient(app, server, http, connector)
            await teams.say("actions")
            in_teams = texts_of(
                [connector.current(c.activity_id) for c in connector.sent(SAM.chat)]
            )
    finally:
        await server.close()
        await connector.close()
    for shown in (in_slack, in_teams):
        listed = {int(n) for n in re.findall(r"#(\d+) \d\.\d+", shown)}
        assert listed == set(range(1, 24)), shown  # Hill's 23, none of Valley's #101...
        assert MARK not in shown


async def test_the_digest_holds_only_the_schools_own_actions(schools: Database) -> None:
    url = url_of(schools)
    # The digest, printed for Hill School.
    status, digest = await careers_bot(
        url, "digest", "--org", HILL, "--print", "--as-of", "2025-03-03T08:00"
    )
    assert status == 0, digest
    assert "Careers weekly digest – Hill School" in digest and "Overdue" in digest
    assert MARK not in digest
    status, digest = await careers_bot(
        url, "digest", "--org", VALLEY, "--print", "--as-of", "2025-03-03T08:00"
    )
    assert status == 0 and MARK in digest, digest  # the mark is one the digest prints


async def test_the_exports_hold_only_the_schools_own_actions(
    schools: Database, tmp_path: Path
) -> None:
    url = url_of(schools)
    # The exports, in every text-bearing format (the commands run side by side).
    formats = ("xlsx", "csv", "md", "json")
    hill = await asyncio.gather(*(exported(url, HILL, fmt, tmp_path) for fmt in formats))
    valley = await asyncio.gather(*(exported(url, VALLEY, fmt, tmp_path) for fmt in formats))
    for fmt, hill_export, valley_export in zip(formats, hill, valley, strict=True):
        assert "1.2" in hill_export, fmt
        assert MARK not in hill_export, fmt
        assert MARK in valley_export, fmt  # the mark is printed
    plan = json.loads(hill[formats.index("json")])
    assert len(plan["actions"]) == 23
