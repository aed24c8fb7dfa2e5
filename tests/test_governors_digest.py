"""Issue 14, the rest: the governors' report goes with the weekly digest in the first week of
each half-term when the school asked for it, once; the Careers Leader sets that, the link
governor and the Careers Hub in chat (Slack and Teams alike); the Teams plan card offers the
three documents.

Driven as the chat services would: the app `careers-bot serve` runs (its own scheduler, its
clock moved by the test), Slack is the local mock Web API, Teams the local mock connector.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from docx_reading import read_docx
from review_scripts import seed_review
from slack_mock import MockSlack
from teams_mock import Call as TeamsCall
from teams_mock import walk
from test_scheduler import dispatcher, london, seeded
from test_serve_delivers import PUBLIC, SET_ON, School, Served, Sweeps, serve
from test_serve_delivers import sweeps as sweeps  # the fixture
from test_slack import mock as mock  # the Slack mock fixture
from test_teams import (
    BOT_ID,
    CHANNEL_A,
    NADIA,
    SAM,
    TENANT,
    TeamsClient,
    sqlite_settings,
    teams_bot,
    texts_of,
)

from bot.reviews import CAREERS_HUB, GOVERNORS_REPORT, LINK_GOVERNOR, ReviewService, Who
from bot.teams import TEAMS
from model_data import MaturityModel, load_model
from storage import deliveries, repo
from storage import models as m
from storage.db import Database
from workflows import messages as msg
from workflows.notices import Notice
from workflows.replies import Message

REPORT_TITLE = "Careers report for governors – Hill School"


async def teams_slt(database: Database, hill: School, service_url: str) -> None:
    """Hill School's Teams tenant, Sam's Teams identity, and a Teams SLT channel beside
    Slack's C_SLT: the digest goes to both."""
    async with database.transaction() as session:
        await repo.link_organisation(session, hill.id, "teams", TENANT)
        session.add(
            m.Identity(person_id=hill.sam, channel="teams", workspace=TENANT, external_id=SAM.aad)
        )
        reference = {  # ConversationReference.serialize() of a team channel
            "bot": {"id": BOT_ID, "name": "Careers Impact Bot"},
            "channelId": "msteams",
            "conversation": {
                "id": CHANNEL_A,
                "conversationType": "channel",
                "isGroup": True,
                "tenantId": TENANT,
            },
            "locale": "en-GB",
            "serviceUrl": service_url,
        }
        await repo.save_conversation_ref(
            session, hill.id, "teams", CHANNEL_A, "channel", reference, SET_ON
        )


@asynccontextmanager
async def teams_client(served: Served) -> AsyncIterator[TeamsClient]:
    """Plays Teams against the same running app."""
    server = served.slack.server
    async with aiohttp.ClientSession() as http:
        yield TeamsClient(server.app, server, http, served.teams)


def slt_posts(mock: MockSlack) -> list[Any]:
    return [c for c in mock.calls_to("chat.postMessage") if c.params["channel"] == "C_SLT"]


def report_uploads(mock: MockSlack) -> list[Any]:
    return [
        c
        for c in mock.calls_to("files.getUploadURLExternal")
        if c.params["filename"].startswith("careers-governors-report-")
    ]


def report_links(calls: list[TeamsCall]) -> list[str]:
    return [
        e["url"]
        for c in calls
        if c.card is not None
        for e in walk(c.card)
        if e.get("type") == "Action.OpenUrl"
    ]


async def fetch(served: Served, url: str) -> tuple[int, bytes]:
    path = url.removeprefix(PUBLIC)
    async with (
        aiohttp.ClientSession() as http,
        http.get(served.slack.server.make_url(path)) as response,
    ):
        return response.status, await response.read()


async def test_the_first_digest_of_a_half_term_carries_the_report_once(
    mock: MockSlack, database: Database, school: MaturityModel, sweeps: Sweeps
) -> None:
    """Sat 22 Feb 2025; HT4 starts on Mon 24 Feb. Slack gets the report as a file after the
    digest, Teams a link that downloads it; a retry (Slack's post failed the first time) sends
    it only where it had not gone; a sweep later that week and the next week's digest carry
    none."""
    async with serve(mock, database, school, sweeps, "2025-02-22T09:00") as (served, hill):
        await served.sweeps.after(served.clock[0])
        await teams_slt(database, hill, served.teams.base_url)
        await served.slack.dm("governors report with digest on")
        assert msg.GOVERNORS_REPORT_ON in served.slack.texts("D_SAM")

        mock.fail("chat.postMessage", status=500, channel="C_SLT")
        report = await served.at("2025-02-24T08:00")
        assert report.failed == 1, report
        assert slt_posts(mock) == [] and report_uploads(mock) == []
        (card,) = served.teams.sent(CHANNEL_A)
        assert msg.DIGEST_GOVERNORS_REPORT in texts_of([card])
        (link,) = report_links([card])
        assert re.fullmatch(rf"{re.escape(PUBLIC)}/plans/[A-Za-z0-9_-]{{43}}\.docx", link)
        status, body = await fetch(served, link)
        assert status == 200
        assert read_docx(body).title.startswith(REPORT_TITLE)

        # The retry: Slack's digest now, with the report as a file; Teams has had both.
        report = await served.at("2025-02-24T08:05")
        assert report.failed == 0 and report.sent == 1, report
        (digest,) = slt_posts(mock)
        assert msg.DIGEST_GOVERNORS_REPORT in digest.text()
        (asked,) = report_uploads(mock)
        complete = mock.last("files.completeUploadExternal")
        assert complete.params["channel_id"] == "C_SLT"
        (file,) = complete.params["files"]
        assert read_docx(mock.uploads[file["id"]]).title.startswith(REPORT_TITLE)
        assert asked.response["file_id"] == file["id"]
        assert len(served.teams.sent(CHANNEL_A)) == 1

        # Later that week: nothing more in either SLT channel.
        await served.at("2025-02-26T08:00")
        assert len(slt_posts(mock)) == 1 and len(report_uploads(mock)) == 1
        assert len(served.teams.sent(CHANNEL_A)) == 1

        # The second week of the half-term: the digest alone.
        await served.at("2025-03-03T08:00")
        posts = slt_posts(mock)
        assert len(posts) == 2 and msg.DIGEST_GOVERNORS_REPORT not in posts[1].text()
        assert len(report_uploads(mock)) == 1
        teams = served.teams.sent(CHANNEL_A)
        assert len(teams) == 2 and report_links(teams[1:]) == []
        assert msg.DIGEST_GOVERNORS_REPORT not in texts_of(teams[1:])
        # The link issued with the first digest still opens the report.
        assert (await fetch(served, link))[0] == 200


async def test_the_careers_leader_sets_the_documents_in_slack_and_teams(
    mock: MockSlack, database: Database, school: MaturityModel, sweeps: Sweeps
) -> None:
    """The same words in both channels, the Careers Leader's only; with the report turned off
    again, the first digest of the half-term is the digest alone."""
    async with serve(mock, database, school, sweeps, "2025-02-22T09:00") as (served, hill):
        await served.sweeps.after(served.clock[0])
        await teams_slt(database, hill, served.teams.base_url)
        async with teams_client(served) as teams:
            await served.slack.dm("set link governor Jo Bloggs")
            assert msg.LINK_GOVERNOR_SET.format(name="Jo Bloggs") in served.slack.texts()
            before = served.teams.mark()
            await teams.say("set careers hub: Kent and Medway Careers Hub")
            said = texts_of(served.teams.since(before))
            assert msg.CAREERS_HUB_SET.format(name="Kent and Medway Careers Hub") in said
            # Somebody else is refused, in either channel, and nothing changes.
            await served.slack.dm("set link governor Someone Else", user="U_NADIA")
            assert msg.DOCUMENT_SETTINGS_LEADER_ONLY in served.slack.texts("D_NADIA")
            before = served.teams.mark()
            await teams.say("governors report with digest on", NADIA)
            assert msg.DOCUMENT_SETTINGS_LEADER_ONLY in texts_of(served.teams.since(before))
            # On in Slack, off in Teams.
            await served.slack.dm("governors report with digest on")
            before = served.teams.mark()
            await teams.say("governors report with digest off")
            assert msg.GOVERNORS_REPORT_OFF in texts_of(served.teams.since(before))
        async with database.read() as session:
            organisation = await repo.get_organisation(session, hill.id)
        assert organisation is not None
        settings = organisation.settings or {}
        assert settings[LINK_GOVERNOR] == "Jo Bloggs"
        assert settings[CAREERS_HUB] == "Kent and Medway Careers Hub"
        assert settings[GOVERNORS_REPORT] is False
        policy = await ReviewService(database, lambda: SET_ON).policy_draft(hill.id)
        assert "Jo Bloggs" in str(policy) and "Kent and Medway Careers Hub" in str(policy)

        await served.at("2025-02-24T08:00")
        (digest,) = slt_posts(mock)
        assert msg.DIGEST_GOVERNORS_REPORT not in digest.text()
        assert report_uploads(mock) == []
        (card,) = served.teams.sent(CHANNEL_A)
        assert report_links([card]) == [] and msg.DIGEST_GOVERNORS_REPORT not in texts_of([card])


async def test_a_late_start_to_the_half_term_still_sends_the_report_once(
    database: Database, school: MaturityModel
) -> None:
    """HT5 of 2024/25 starts on Tue 22 Apr (Easter Monday before it): the Monday digest goes
    on the Tuesday, and the next Monday is still in the half-term's first seven days. Only the
    first digest of the half-term carries the report."""
    organisation_id, _ = await seeded(database, school)
    async with database.transaction() as session:
        await repo.update_organisation(session, organisation_id, settings={GOVERNORS_REPORT: True})
    outbox = dispatcher(database)
    for moment in ("2025-04-22T09:00", "2025-04-28T09:00", "2025-05-06T09:00"):
        await outbox.run(london(moment))
    async with database.read() as session:
        rows = await deliveries.deliveries(session, organisation_id)
    digests = {r.key: Notice.from_payload(r.payload) for r in rows if r.kind == "digest"}
    assert {key: n.document for key, n in digests.items()} == {
        f"digest:{organisation_id}:2025-W17": "governors-report",
        f"digest:{organisation_id}:2025-W18": None,
        f"digest:{organisation_id}:2025-W19": None,
    }
    first = digests[f"digest:{organisation_id}:2025-W17"]
    assert msg.DIGEST_GOVERNORS_REPORT in first.text()


async def test_the_teams_plan_card_offers_the_three_documents(tmp_path: Path) -> None:
    """Sam asks for the plan in Teams and presses each document's button on the card the bot
    sent: each is drawn and offered to save, under its own name; the governors' report,
    accepted, is uploaded."""
    settings = sqlite_settings(tmp_path)
    database = Database(settings.database_url)
    await database.migrate()
    hill, _ = await seed_review(database, load_model("school"), SET_ON)
    async with database.transaction() as session:
        await repo.link_organisation(session, hill.id, "teams", TENANT)
    titles = ["Evidence pack", "Governors' report", "Policy draft"]
    async with teams_bot(settings, database) as teams:
        connector = teams.mock
        await teams.say("plan")
        plan = next(
            c
            for c in reversed(connector.sent(SAM.chat))
            if c.card is not None and "Action plan" in texts_of([c])
        )
        before = connector.mark()
        for button in titles:  # pressed one after another; each file is drawn meanwhile
            await teams.click(plan, button)

        def consents() -> list[dict[str, Any]]:
            return [
                {**a, "reply_to": c.activity_id}
                for c in connector.since(before)
                for a in c.attachments
                if a["contentType"].endswith("file.consent")
            ]

        await connector.wait_for(lambda: len(consents()) == len(titles), within=30)
        offered = {c["content"]["acceptContext"]["kind"]: c for c in consents()}
        assert sorted(offered) == ["evidence-pack", "governors-report", "policy-draft"]
        for kind, consent in offered.items():
            assert consent["name"].startswith(f"careers-{kind}-hill-school-") or (
                kind == "policy-draft" and consent["name"].startswith("ceiag-policy-draft-")
            ), consent["name"]
            assert consent["content"]["sizeInBytes"] > 10_000
        accepted = offered["governors-report"]
        invoke = teams.activity("file_consent_accept.json", replyToId=accepted["reply_to"])
        invoke["value"]["context"] = accepted["content"]["acceptContext"]
        invoke["value"]["uploadInfo"]["uploadUrl"] = connector.upload_url("report.docx")
        invoke["value"]["uploadInfo"]["name"] = "report.docx"
        assert await teams.post(invoke) == 200
        await teams.app[TEAMS].work.idle()
        assert read_docx(connector.uploads["report.docx"]).title.startswith(REPORT_TITLE)
    await database.close()


def test_the_cli_turns_the_report_on_and_off(tmp_path: Path) -> None:
    """`careers-bot org set --governors-report on|off`, beside the names it already set."""
    import asyncio

    from bot import cli

    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"

    async def prepare() -> None:
        database = Database(url)
        await database.migrate()
        await seed_review(database, load_model("school"), SET_ON)
        await database.close()

    async def settings() -> dict[str, Any]:
        database = Database(url)
        async with database.read() as session:
            (organisation,) = await repo.all_organisations(session)
        await database.close()
        return dict(organisation.settings or {})

    asyncio.run(prepare())
    base = ["--database-url", url, "org", "set", "--org", "Hill School"]
    assert cli.main([*base, "--governors-report", "on", "--link-governor", " Jo  Bloggs "]) == 0
    assert asyncio.run(settings()) == {GOVERNORS_REPORT: True, LINK_GOVERNOR: "Jo Bloggs"}
    assert cli.main([*base, "--governors-report", "off"]) == 0
    assert asyncio.run(settings()) == {GOVERNORS_REPORT: False, LINK_GOVERNOR: "Jo Bloggs"}


async def test_the_settings_words_are_content_where_free_text_is_asked(
    database: Database, school: MaturityModel
) -> None:
    """Typed as the participants or as a note, the settings' words are the answer; at a
    choice question (the level) they are the command."""
    service = ReviewService(database, lambda: SET_ON)
    organisation = await service.organisation("Hill School", "school")
    sam = Who("terminal", "sam", "Sam Rivers")
    await service.open(organisation.id, sam)
    await service.turn(organisation.id, sam, "set careers hub Sam's friends")  # participants
    for line in ["2", "done"]:
        await service.turn(organisation.id, sam, line)
    await service.turn(organisation.id, sam, "set link governor Jo Bloggs")  # the note
    state = await service.state(organisation.id)
    assert state is not None
    assert state.participants == ["Sam Rivers", "set careers hub Sam's friends"]
    assert state.answers["1.1"].note == "set link governor Jo Bloggs"
    async with database.read() as session:
        stored = await repo.get_organisation(session, organisation.id)
    assert stored is not None and not (stored.settings or {})
    # At the next statement's level question, the same words are the Careers Leader's command.
    for line in ["neither"]:
        await service.turn(organisation.id, sam, line)
    said = await service.turn(organisation.id, sam, "governors report with digest on")
    assert [r.text for r in said.replies if isinstance(r, Message)] == [msg.GOVERNORS_REPORT_ON]


def test_a_teams_digest_without_a_link_says_how_to_ask() -> None:
    """Without PLAN_LINK_SECRET no link can be signed: the card says where to ask instead."""
    from bot.teams import cards
    from bot.teams import wording as teams_wording

    notice = Notice("digest", "Careers weekly digest", [("", ["x"])], document="governors-report")
    linked = Notice.from_payload({**notice.to_payload(), "document_url": f"{PUBLIC}/plans/t.docx"})
    assert teams_wording.TEAMS_GOVERNORS_REPORT_ASK in texts_of(
        [TeamsCall("POST", "send", None, None, {"attachments": [cards_attachment(notice)]})]
    )
    assert report_links(
        [TeamsCall("POST", "send", None, None, {"attachments": [cards_attachment(linked)]})]
    ) == [f"{PUBLIC}/plans/t.docx"]
    assert cards.notice_card(linked)["version"] == "1.5"


def cards_attachment(notice: Notice) -> dict[str, Any]:
    from bot.teams import cards

    return {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": cards.notice_card(notice),
    }
