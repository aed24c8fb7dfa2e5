"""Issue 13, the dashboard's links and how people get them: signed, expiring, revocable links
for one person and one school (or one lead and one group), checked on every page, on SQLite
and PostgreSQL; the `dashboard` command typed in Slack and the App Home's link, through the
running server with the Slack mock; and the group figures' suppression under five schools.
(The pages themselves are driven in a real browser in test_dashboard_browser.py.)"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from slack_mock import MockSlack
from sqlalchemy import select, update
from test_slack import Slack, running, seed, url_of
from test_slack import mock as mock  # the Slack mock fixture

from bot.app import init_app
from bot.config import Settings
from bot.dashboard import DashboardLinks
from model_data import MaturityModel
from storage import dashboards, repo
from storage import models as m
from storage.db import Database

SECRET = "dashboard-secret"
PUBLIC = "https://bot.example"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def get(server: TestServer, url: str) -> tuple[int, str, str]:
    """Status, final path and body of a link opened as a browser would (redirects followed)."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.make_url(url.removeprefix(PUBLIC))) as response,
    ):
        return response.status, response.url.path, await response.text()


def heading(body: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", body)
    assert found, body
    return found.group(1)


async def test_links_are_hashed_checked_counted_expire_and_revoke(database: Database) -> None:
    async with database.transaction() as session:
        hill = await repo.create_organisation(session, "Hill School", "school")
        valley = await repo.create_organisation(session, "Valley School", "school")
        sam = await repo.person_for_identity(session, hill.id, "slack", "U_SAM", "Sam Rivers")
        sam.role = "slt"
        hub = m.Group(name="North Hub", kind="hub")
        other_hub = m.Group(name="South Hub", kind="hub")
        session.add_all([hub, other_hub])
        await session.flush()
        lead = m.GroupLead(group_id=hub.id, name="Hana Lee", role="hub_lead", channel="slack",
                           workspace="T_HUB", external_id="U_HANA")  # fmt: skip
        session.add(lead)
        await session.flush()
        ids = (hill.id, valley.id, sam.id, hub.id, other_hub.id, lead.id)
    hill_id, valley_id, sam_id, hub_id, other_hub_id, lead_id = ids
    links = DashboardLinks(SECRET, PUBLIC)
    async with database.transaction() as session:
        url, until = await links.for_person(session, hill_id, sam_id, "Sam Rivers", NOW)
        again, _ = await links.for_person(session, hill_id, sam_id, "Sam Rivers", NOW)
        group_url, _ = await links.for_lead(session, hub_id, lead_id, "Hana Lee", NOW)
    assert url == again  # the same day: the same link (App Home asks on every visit)
    assert until == NOW + timedelta(days=7)
    token = url.rsplit("/", 1)[1]
    async with database.read() as session:
        [row] = await dashboards.dashboard_links_of(session, organisation_id=hill_id)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.nonce, row.token_hash)  # the token itself is never stored

    clock = [NOW]
    settings = Settings(
        database_url=url_of(database), plan_link_secret=SECRET, public_url=PUBLIC,
        scheduler_enabled=False, _env_file=None,
    )  # type: ignore[call-arg]  # fmt: skip
    server = TestServer(
        init_app(settings, database=database, clock=lambda: clock[0]), host="127.0.0.1", port=0
    )
    await server.start_server()
    try:
        # Its own page (a school with no review yet says so), for a senior leader too.
        status, path, body = await get(server, url)
        assert (status, path) == (200, f"/dashboard/{token}/school/{hill_id}")
        assert heading(body) == "No review yet" and "Sam Rivers (senior leader)" in body
        # Another school's page, a group's page: refused, naming neither.
        for other in (f"/school/{valley_id}", f"/group/{hub_id}"):
            status, _, body = await get(server, url + other)
            assert status == 403 and heading(body) == "This link does not open that page"
            assert "Valley" not in body and "North Hub" not in body
        # A forged token, a token of the wrong shape.
        assert (await get(server, url[:-3] + "abc"))[0] == 403
        assert (await get(server, f"{PUBLIC}/dashboard/short/school/{hill_id}"))[0] == 404
        # The group link: its own group only.
        status, path, body = await get(server, group_url)
        assert status == 200 and path.endswith(f"/group/{hub_id}")
        assert heading(body) == "North Hub" and "Figures not shown" in body
        assert (await get(server, group_url + f"/group/{other_hub_id}"))[0] == 403
        assert (await get(server, group_url + f"/school/{hill_id}"))[0] == 403
        async with database.read() as session:
            [row] = await dashboards.dashboard_links_of(session, organisation_id=hill_id)
        assert row.uses == 1 and row.last_used_at == NOW  # its own page, opened once

        # Sam moves to Valley School: Hill's link no longer opens Hill's page.
        async with database.transaction() as session:
            await session.execute(
                update(m.Person).where(m.Person.id == sam_id).values(organisation_id=valley_id)
            )
        status, _, body = await get(server, url)
        assert status == 403 and heading(body) == "This link no longer opens the page"
        async with database.transaction() as session:
            await session.execute(
                update(m.Person).where(m.Person.id == sam_id).values(organisation_id=hill_id)
            )
        assert (await get(server, url))[0] == 200

        # Expired a week on, with how to get a new one.
        clock[0] = until + timedelta(seconds=1)
        status, _, body = await get(server, url)
        assert status == 410 and heading(body) == "This link has expired"
        assert "Type dashboard to the Careers Impact Bot" in body
        clock[0] = NOW

        # Revoked: one school's revocation touches no other's links.
        async with database.transaction() as session:
            assert (
                await dashboards.revoke_dashboard_links(session, NOW, organisation_id=valley_id)
                == 0
            )
            assert (
                await dashboards.revoke_dashboard_links(session, NOW, organisation_id=hill_id) == 1
            )
        status, _, body = await get(server, url)
        assert status == 410 and heading(body) == "This link was withdrawn"
        assert (await get(server, group_url))[0] == 200
        # Asked again the same day: a new link, not the withdrawn one.
        async with database.transaction() as session:
            fresh, _ = await links.for_person(session, hill_id, sam_id, "Sam Rivers", NOW)
        assert fresh != url and (await get(server, fresh))[0] == 200

        # The lead removed from the group: the link goes with them.
        async with database.transaction() as session:
            await session.delete(await session.get(m.GroupLead, lead_id))
        assert (await get(server, group_url))[0] == 403
        async with database.read() as session:
            left = list(await session.scalars(select(m.DashboardLink.kind)))
        assert left == ["school", "school"]  # Sam's two; the lead's went with the lead
    finally:
        await server.close()


def home_event() -> dict[str, Any]:
    return {"type": "app_home_opened", "user": "U_SAM", "channel": "D_SAM", "tab": "home",
            "event_ts": f"{time.time():.6f}"}  # fmt: skip


async def test_the_dashboard_command_and_the_app_home_give_a_working_link_in_slack(
    mock: MockSlack, tmp_path: Any, school: MaturityModel
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    async with running(mock, url, plan_link_secret=SECRET) as slack:
        organisation_id = await seed(slack, school)
        async with slack.db.transaction() as session:  # Sam also leads a Careers Hub
            hub = m.Group(name="North Hub", kind="hub")
            session.add(hub)
            await session.flush()
            session.add(m.GroupLead(group_id=hub.id, name="Sam Rivers", role="hub_lead",
                                    channel="slack", workspace="T_HILL", external_id="U_SAM"))  # fmt: skip
            hub_id = hub.id
        # Typed in the DM, through the one turn pipeline.
        await slack.dm("dashboard")
        await slack.settle()
        said = slack.texts()
        found = re.findall(r"https://careers-bot\.example\.org/dashboard/[A-Za-z0-9_-]{43}", said)
        assert len(found) == 2, said  # the school's page, and the hub's for its lead
        typed = re.search(re.escape(found[0]), said)
        assert typed and "North Hub's dashboard, for you as its lead" in said
        status, path, body = await get_public(slack, found[1])
        assert status == 200 and path.endswith(f"/group/{hub_id}") and heading(body) == "North Hub"
        assert "for you alone" in said
        status, path, body = await get_public(slack, typed.group(0))
        assert status == 200 and path.endswith(f"/school/{organisation_id}")
        assert heading(body) == "Slack workspace T_HILL"  # the school's name until set up
        assert "Opened for Sam Rivers (Careers Leader)" in body and "Maturity profile" in body
        # The App Home, published for Sam on opening it: the same day's link.
        assert await slack.event(home_event()) == 200
        [published] = await slack.mock.wait_for("views.publish")
        home = published.text()
        shown = re.search(
            r"<(https://[^|>]+/dashboard/[A-Za-z0-9_-]{43})\|Open your dashboard>", home
        )
        assert shown, home
        assert shown.group(1) == typed.group(0)
        status, path, _ = await get_public(slack, shown.group(1))
        assert status == 200 and path.endswith(f"/school/{organisation_id}")


async def get_public(slack: Slack, url: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(slack.server.make_url(urlpath(url))) as response,
    ):
        return response.status, response.url.path, await response.text()


def urlpath(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


async def test_without_a_secret_the_command_says_the_dashboard_is_off(
    mock: MockSlack, tmp_path: Any, school: MaturityModel
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    async with running(mock, url) as slack:
        await seed(slack, school)
        await slack.dm("dashboard")
        await slack.settle()
        assert "The dashboard is not switched on here" in slack.texts()


@pytest.mark.parametrize("typed", ["Dashboard", "my dashboard", "open the dashboard"])
def test_the_dashboard_command_is_recognised(typed: str) -> None:
    from workflows.actions import OpenDashboard, parse_command

    assert parse_command(typed) == OpenDashboard()
    assert parse_command(f"{typed} for governors on Tuesday") is None  # a sentence is content


async def test_the_teams_tab_is_declared_and_its_page_says_how_to_get_a_link(
    tmp_path: Any,
) -> None:
    from bot.teams.package import manifest

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        public_url="https://careers-bot.hillschool.org.uk",
        microsoft_app_id="3f1c2b4a-9d8e-4f7a-b6c5-d4e3f2a1b0c9",
        scheduler_enabled=False, _env_file=None,
    )  # type: ignore[call-arg]  # fmt: skip
    declared = manifest(settings)
    chat, tab = declared["staticTabs"]
    assert chat == {"entityId": "conversations", "scopes": ["personal"]}  # the chat stays
    assert tab["contentUrl"] == "https://careers-bot.hillschool.org.uk/dashboard/teams"
    assert "careers-bot.hillschool.org.uk" in declared["validDomains"]
    local = settings.model_copy(update={"microsoft_app_id": ""})  # Teams' local mode
    server = TestServer(init_app(local), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(server.make_url("/dashboard/teams")) as response,
        ):
            assert response.status == 200
            body = await response.text()
            # Teams shows the tab in a frame: the page allows Teams, and only Teams, to frame it.
            policy = response.headers["Content-Security-Policy"]
            assert "frame-ancestors 'self' https://teams.microsoft.com" in policy
        assert heading(body) == "Your careers dashboard"
        assert "Type <strong>dashboard</strong>" in body
    finally:
        await server.close()


def test_an_admin_lists_and_revokes_a_schools_dashboard_links(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from bot.cli import main

    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"

    async def setup() -> None:
        db = Database(url)
        await db.migrate()
        try:
            async with db.transaction() as session:
                hill = await repo.create_organisation(session, "Hill School", "school")
                sam = await repo.person_for_identity(session, hill.id, "slack", "U_SAM", "Sam")
                links = DashboardLinks(SECRET, PUBLIC)
                await links.for_person(session, hill.id, sam.id, "Sam Rivers", datetime.now(UTC))
                await links.for_digests(session, [hill.id], datetime.now(UTC))
        finally:
            await db.close()

    asyncio.run(setup())

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["--database-url", url, "links", *args, "--org", "Hill School", "--dashboard"])
        return code, capsys.readouterr().out

    code, out = run("list")
    assert code == 0 and "Dashboard links – Hill School" in out
    assert "Sam" in out and "weekly" in out  # issued to (the table wraps its cells)
    code, out = run("revoke", "--id", "1")
    assert code == 0 and "Revoked 1 dashboard link(s) of Hill School" in out
    code, out = run("revoke", "--id", "1")
    assert code == 1 and "no unrevoked dashboard link 1" in out
    code, out = run("revoke", "--all")
    assert code == 0 and "Revoked 1 dashboard link(s)" in out


async def test_the_pages_read_in_a_constant_number_of_statements_without_the_write_lock(
    tmp_path: Any,
) -> None:
    from dashboard_seed import NOW as SEEDED_NOW
    from dashboard_seed import seed as seed_schools
    from test_stored_times import statements

    from bot.dashboard import read_school
    from bot.groups import GroupService
    from bot.inbound import Inbound, Who
    from bot.reviews import ReviewService
    from workflows.actions import AddAction

    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await database.migrate()
    try:
        seeded = await seed_schools(database)
        service = ReviewService(database, lambda: SEEDED_NOW)
        counts = []
        for extra in range(2):  # Valley's page, then again with ten more actions
            if extra:
                sam = Who("terminal", "sam", "Sam Rivers", "Valley")
                for n in range(10):
                    what = AddAction("2.3", f"Extra action {n}")
                    await service.handle(Inbound(seeded.valley, sam, what))
            with statements(database, read_only=True) as seen:
                board = await read_school(service, seeded.valley, {"status": "all"})
            counts.append((len(seen), len(board.actions)))
        assert counts[0][0] == counts[1][0] and counts[1][1] == counts[0][1] + 10
        with statements(database, read_only=True) as seen:  # with the review before it too
            await read_school(service, seeded.hill, {})
        assert len(seen) <= counts[0][0] + 5
        groups = []
        for group_id in (seeded.hub, seeded.small):  # six schools and three
            with statements(database, read_only=True) as seen:
                view = await GroupService(database, lambda: SEEDED_NOW).view(group_id)
            groups.append(len(seen))
            assert view is not None
        assert groups[0] == groups[1]
    finally:
        await database.close()


async def test_dashboard_typed_in_the_terminal_opens_the_page_serve_shows(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from test_cli import careers_bot_process as careers_bot  # from a running loop: a process

    monkeypatch.setenv("PLAN_LINK_SECRET", SECRET)
    monkeypatch.setenv("PUBLIC_URL", PUBLIC)
    db = tmp_path / "bot.sqlite3"
    result = await asyncio.to_thread(
        careers_bot, "chat", "--org", "Hill <i>School</i> & Co", "--name", "Sam <b>Rivers",
        stdin="Sam Rivers\ndashboard\npause\n", db=db,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    link = re.search(r"https://bot\.example/dashboard/[A-Za-z0-9_-]{43}", result.stdout)
    assert link, result.stdout
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{db}", plan_link_secret=SECRET, public_url=PUBLIC,
        scheduler_enabled=False, _env_file=None,
    )  # type: ignore[call-arg]  # fmt: skip
    server = TestServer(init_app(settings), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        status, path, body = await get(server, link.group(0))
        assert status == 200 and re.search(r"/school/\d+$", path)
        # What the school typed is escaped for HTML: no markup of theirs reaches the page.
        assert heading(body) == "Hill &lt;i&gt;School&lt;/i&gt; &amp; Co"
        assert "Opened for Sam &lt;b&gt;Rivers" in body and "<i>" not in body
    finally:
        await server.close()
