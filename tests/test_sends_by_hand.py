"""Issue 11: `careers-bot remind` and `digest --send` on a Slack deployment send through Slack,
as the scheduler does; the terminal outbox is only for schools with no chat channel. Seen
before: Slack got 0 of 4 reminders and 0 of 1 digest, all put in the outbox and marked sent."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from review_scripts import seed_review
from slack_mock import MockSlack
from test_cli import BIN
from test_scheduler import SET_ON
from test_slack import SECRET
from test_slack import mock as mock  # the Slack mock fixture

from model_data import MaturityModel
from storage import repo
from storage.db import Database


async def careers_bot(mock: MockSlack, url: str, *args: str) -> tuple[int, str]:
    """The console script, run without blocking the mock Slack it talks to."""
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": mock.api_url,
        "TEAMS_ENABLED": "false",
        "NO_COLOR": "1",
    }
    process = await asyncio.create_subprocess_exec(
        str(BIN), "--database-url", url, *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode()


async def test_remind_and_digest_by_hand_go_to_slack_not_the_outbox(
    tmp_path: Path, mock: MockSlack, school: MaturityModel
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    database = Database(url)
    await database.migrate()
    organisation, sam = await seed_review(database, school, SET_ON)
    async with database.transaction() as session:
        await repo.link_organisation(session, organisation.id, "slack", "T_HILL")
        dm = {"team_id": "T_HILL", "user_id": "U_SAM", "channel_id": "D_SAM"}
        await repo.save_conversation_ref(
            session, organisation.id, "slack", "D_SAM", "personal", dm, SET_ON, sam
        )
    await database.close()

    # Fri 31 Jan 2025: 14 days before HT3 ends, the owner's reminders are due.
    status, out = await careers_bot(mock, url, "remind", "--as-of", "2025-01-31T08:00")
    assert status == 0, out
    reminders = [c for c in mock.calls_to("chat.postMessage") if c.params["channel"] == "D_SAM"]
    assert reminders, out
    # No SLT channel chosen yet: the digest waits for one, it is not put in the outbox.
    status, out = await careers_bot(
        mock, url, "digest", "--org", "Hill School", "--send", "--as-of", "2025-02-03T08:00"
    )
    assert status == 0 and "waiting for an SLT channel" in out, out
    assert [c for c in mock.calls_to("chat.postMessage") if c.params["channel"] == "C_SLT"] == []
    database = Database(url)
    async with database.transaction() as session:
        slt = {"team_id": "T_HILL", "channel_id": "C_SLT"}
        await repo.save_conversation_ref(
            session, organisation.id, "slack", "C_SLT", "channel", slt, SET_ON
        )
    await database.close()
    status, out = await careers_bot(
        mock, url, "digest", "--org", "Hill School", "--send", "--as-of", "2025-02-03T08:00"
    )
    assert status == 0, out
    digests = [c for c in mock.calls_to("chat.postMessage") if c.params["channel"] == "C_SLT"]
    assert len(digests) == 1, out
    status, out = await careers_bot(mock, url, "outbox", "--org", "Hill School")
    assert "The outbox is empty." in out
