"""Issue 10, "What must be shown": seed 003's plan as the school wrote it - both 3.7 actions,
and owners and dates left blank ("not decided yet") - answered through the terminal, through
Slack (signed requests to the real server) and through Teams (activities to /api/messages),
comes out row for row in docx, xlsx, csv, md and json: the same in every channel, each file
opened and read."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import openpyxl
from aiohttp.test_utils import TestServer
from docx import Document
from slack_mock import MockSlack
from sqlalchemy import select
from test_cli import careers_bot_process as careers_bot
from test_cross_channel import teams_server
from test_plan_as_written import FIRST_37, SECOND_37, TBC_ALL, seed_lines
from test_slack import Slack, settings_for
from test_slack import mock as mock  # the Slack mock fixture

from bot import exports
from bot.app import init_app
from bot.reviews import ReviewService
from model_data import MaturityModel
from storage import models as m
from storage.db import Database


async def through_slack(mock: MockSlack, url: str, lines: list[str]) -> None:
    app = init_app(settings_for(mock, url))  # the real clock, as the terminal
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        slack = Slack(server, mock)
        await slack.command("review")
        await slack.settle()
        for line in lines:
            await slack.dm(line)
    finally:
        await server.close()


async def through_teams(url: str, lines: list[str]) -> None:
    async with teams_server(url) as teams:
        await teams.say("review")
        for line in lines:
            await teams.say(line)


def through_terminal(db: Path, lines: list[str]) -> None:
    result = careers_bot(
        "chat", "--org", "Hill School", "--name", "Sam Rivers",
        stdin="\n".join(lines) + "\n", db=db,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


async def documents(url: str) -> dict[str, Any]:
    """Every format of the plan, opened and read as a reader's program would."""
    db = Database(url)
    try:
        async with db.read() as session:
            [organisation] = list(await session.scalars(select(m.Organisation)))
        document = await ReviewService(db).plan_document(organisation.id)
    finally:
        await db.close()
    name = organisation.name

    def same(text: str) -> str:
        return text.replace(name, "<organisation>")

    word = Document(io.BytesIO(exports.export(document, "docx")))
    book = openpyxl.load_workbook(io.BytesIO(exports.export(document, "xlsx")))
    sheet = book["Actions"]
    plan_tables = [
        t for t in word.tables if t.rows and t.rows[0].cells[0].text == "Leadership area"
    ]
    md = same(exports.export(document, "md").decode()).splitlines()
    start = next(i for i, line in enumerate(md) if line.startswith("| Leadership area"))
    end = next((i for i in range(start, len(md)) if not md[i].startswith("|")), len(md))
    return {
        "docx": [[same(c.text) for c in row.cells] for t in plan_tables for row in t.rows],
        "md_plan": md[start:end],
        "xlsx": [[cell for cell in row] for row in sheet.iter_rows(values_only=True)],
        "csv": list(
            csv.DictReader(io.StringIO(same(exports.export(document, "csv").decode("utf-8-sig"))))
        ),
        "md": same(exports.export(document, "md").decode()).splitlines(),
        "json": json.loads(same(exports.export(document, "json").decode())),
    }


def rows_of(found: dict[str, Any], statement: str) -> dict[str, list[Any]]:
    """The rows for one statement in every format."""
    prefix = f"{statement} "
    return {
        "docx": [r for r in found["docx"] if r and r[0].startswith(prefix)],
        "xlsx": [r for r in found["xlsx"] if r and r[0] == statement],
        "csv": [r for r in found["csv"] if r["Leadership area"].startswith(prefix)],
        "md": [line for line in found["md_plan"] if line.startswith(f"| {prefix}")],
        "json": [a for a in found["json"]["actions"] if a["statement_id"] == statement],
    }


async def test_seed_003_as_written_comes_out_row_for_row_in_every_channel(
    tmp_path: Path, mock: MockSlack, school: MaturityModel
) -> None:
    lines = seed_lines(school)
    urls = {
        channel: f"sqlite+aiosqlite:///{tmp_path / f'{channel}.sqlite3'}"
        for channel in ("terminal", "slack", "teams")
    }
    through_terminal(tmp_path / "terminal.sqlite3", lines)
    await through_slack(mock, urls["slack"], lines)
    await through_teams(urls["teams"], lines)
    found = {channel: await documents(url) for channel, url in urls.items()}

    # The same documents from every channel, format by format.
    for fmt in ("docx", "csv", "md", "json"):
        assert found["slack"][fmt] == found["terminal"][fmt], fmt
        assert found["teams"][fmt] == found["terminal"][fmt], fmt
    assert found["slack"]["xlsx"][1:] == found["terminal"]["xlsx"][1:]
    assert found["teams"]["xlsx"][1:] == found["terminal"]["xlsx"][1:]

    # 3.7's two actions, each its own row, in every format.
    terminal = found["terminal"]
    on_37 = rows_of(terminal, "3.7")
    assert all(len(rows) == 2 for rows in on_37.values()), {k: len(v) for k, v in on_37.items()}
    assert [a["next_steps"] for a in on_37["json"]] == [[FIRST_37], [SECOND_37]]
    assert (on_37["json"][0]["by_when"], on_37["json"][0]["owners"]) == ("TBC", ["SR"])
    assert on_37["json"][1]["by_when"].startswith("HT3/4")
    assert FIRST_37 in on_37["csv"][0]["Next steps"] and on_37["csv"][0]["By when"] == "TBC"
    assert SECOND_37 in on_37["csv"][1]["Next steps"]
    assert any(FIRST_37 in cell for cell in on_37["docx"][0])
    assert any(SECOND_37 in str(cell) for cell in on_37["xlsx"][1])
    assert FIRST_37 in on_37["md"][0] and SECOND_37 in on_37["md"][1]
    # Owners and dates not decided yet: "TBC", as the school's plan writes it.
    for statement in TBC_ALL:
        rows = rows_of(terminal, statement)
        assert all(len(r) == 1 for r in rows.values()), statement
        [row] = rows["json"]
        assert (row["by_when"], row["owners"], row["owners_tbc"]) == ("TBC", [], True)
        assert (rows["csv"][0]["By when"], rows["csv"][0]["Who"]) == ("TBC", "TBC")
        assert "| TBC | TBC |" in rows["md"][0]
