"""Issue 11: `org delete` erases everything that names a school; ids are never reused; admin
commands refuse an ambiguous name; plan links are recorded, counted and revocable."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import docx
import pytest
from aiohttp.test_utils import TestServer
from review_scripts import seed_review
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy import inspect, select, text

from bot import plan_links
from bot.app import init_app
from bot.cli import main
from bot.config import Settings
from bot.dashboard import DashboardLinks
from model_data import load_model
from storage import deliveries, repo
from storage import groups as repo_groups
from storage import models as m
from storage import peer_reviews as peer_store
from storage.db import Database
from workflows.peer_review import Rating

NOW = datetime(2025, 1, 20, 8, 0, tzinfo=UTC)
SECRET = "s3cret"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables printed whole, one row a line."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    else:
        yield request.getfixturevalue("postgresql_database_url")


def cli(url: str, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--database-url", url, *args])
    return code, capsys.readouterr().out


async def _used_school(db: Database, name: str, team: str, tenant: str) -> dict[str, Any]:
    """A school used on Slack (installation with its bot token, through the installation
    store the app uses) and on Teams, with a finished review, deliveries, bot messages,
    input keys and a plan link: everything a school in use leaves behind."""
    organisation, sam = await seed_review(db, load_model("school"), NOW, name=name, workspace=team)
    token = f"xoxb-{team}-secret-token"
    store = AsyncSQLAlchemyInstallationStore(
        client_id="111.222",
        engine=db.engine,
        bots_table_name=m.SLACK_BOTS,
        installations_table_name=m.SLACK_INSTALLATIONS,
    )
    await store.async_save(
        Installation(
            app_id="A1",
            team_id=team,
            team_name=f"{name} workspace",
            bot_token=token,
            bot_id=f"B-{team}",
            bot_user_id=f"U-BOT-{team}",
            user_id=f"U-ADMIN-{team}",
            user_token=f"xoxp-{team}-user-token",
            installed_at=NOW.timestamp(),
        )
    )
    conversation = f"19:{tenant}-channel@thread.tacv2"
    async with db.transaction() as session:
        await repo.link_organisation(session, organisation.id, "slack", team)
        await repo.link_organisation(session, organisation.id, "teams", tenant, f"team-{tenant}")
        person = await repo.person_for_identity(
            session, organisation.id, "slack", f"U-SAM-{team}", "Sam Rivers", team
        )
        await repo.person_for_identity(
            session, organisation.id, "teams", f"29:{tenant}-user", "Nadia Rahman", tenant
        )
        await repo.save_conversation_ref(
            session, organisation.id, "teams", conversation, "channel",
            {"conversation": {"id": conversation, "tenantId": tenant}}, NOW,
        )  # fmt: skip
        await repo.save_conversation_ref(
            session, organisation.id, "slack", f"D-{team}", "personal", {"team": team}, NOW,
            person.id,
        )  # fmt: skip
        await repo.claim_input(session, f"teams:welcome:{conversation}", None, organisation.id)
        review = await repo.latest_review(session, organisation.id)
        assert review is not None
        await repo.claim_input(session, f"slack:event:{team}:Ev1", review.id, organisation.id)
        await deliveries.record(
            session,
            key=f"digest:{organisation.id}:2025-W04",
            organisation_id=organisation.id,
            kind="digest",
            due_at=NOW,
            stale_at=NOW + timedelta(days=7),
            payload={"text": f"digest for {name} in {team}"},
            person_id=sam,
        )
        session.add(
            m.BotMessage(
                organisation_id=organisation.id,
                review_id=review.id,
                channel="slack",
                conversation_id=f"D-{team}",
                statement_id="1.1",
                message_id="1700000000.000100",
            )
        )
        _, url = await plan_links.issue(
            session, SECRET, "https://bot.example", organisation.id, NOW,
            purpose="digest:2025-W04", issued_to=f"weekly digest (slack C-{team})",
        )  # fmt: skip
        # A member of a Careers Hub (issue 13), accepted by its Careers Leader.
        hub = (await repo_groups.groups_matching(session, "Erasure Hub")) or [
            await repo_groups.create_group(session, "Erasure Hub", "hub")
        ]
        await repo_groups.invite(session, hub[0].id, organisation.id, "a lead", NOW)
        assert await repo_groups.accept(session, hub[0].id, organisation.id, sam, NOW)
        pages = DashboardLinks(SECRET, "https://bot.example")  # the dashboard's links (0011)
        await pages.for_person(session, organisation.id, sam, "Sam Rivers", NOW)
        await pages.for_digests(session, [organisation.id], NOW)
        people = [p.id for p in await repo.people(session, organisation.id)]

        reviews = [r.id for r in await repo.list_reviews(session, organisation.id)]
        actions = [a.id for a in await repo.organisation_actions(session, organisation.id)]
    return {
        "organisation": organisation.id,
        "ids": {
            "organisations": {organisation.id},
            "people": set(people),
            "reviews": set(reviews),
            "actions": set(actions),
        },
        "strings": [team, tenant, token, f"xoxp-{team}-user-token", conversation, name],
        "token": url.rsplit("/", 1)[1].removesuffix(".docx"),
    }


async def _peer_review(db: Database, school: dict[str, Any], peer: dict[str, Any]) -> None:
    """`peer`'s Careers Leader peer reviewed `school` (issue 13): the invitation, the peer's
    place and rating with a suggested action accepted into the plan, an agreed level."""
    async with db.transaction() as session:
        review = await repo.latest_review(session, school["organisation"])
        assert review is not None
        leader = min(school["ids"]["people"])
        name = school["strings"][-1]
        peer_review = await peer_store.create_peer_review(
            session, school["organisation"], review.id, [1], ["1.1"], f"Sam of {name}", leader, NOW
        )
        invitation = await peer_store.invite(session, peer_review, f"PR-{name[:4].upper()}", NOW)
        invitation.person_id = min(peer["ids"]["people"])
        invitation.name = f"Careers Leader of {peer['strings'][-1]}"
        invitation.joined_at = NOW
        await peer_store.save_rating(
            session, invitation.id, "1.1", Rating(3, f"Seen at {name}", "Do more", True), NOW
        )
        await peer_store.record_agreement(
            session, invitation.id, "1.1", 3, 2, 3, f"Sam of {name}", NOW
        )
        action = min(school["ids"]["actions"])
        rating = await session.scalar(
            select(m.PeerRating).where(m.PeerRating.peer_id == invitation.id)
        )
        assert rating is not None
        rating.action_id = action


async def _every_row(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (ours, Slack's installation store's, Alembic's)."""

    def tables(connection: Any) -> dict[str, list[tuple[str, str, str]]]:
        inspector = inspect(connection)
        found: dict[str, list[tuple[str, str, str]]] = {}
        for table in inspector.get_table_names():
            found[table] = [
                (column, fk["referred_table"], fk["referred_columns"][0])
                for fk in inspector.get_foreign_keys(table)
                for column in fk["constrained_columns"]
            ]
        return found

    async with db.engine.connect() as connection:
        shape = await connection.run_sync(tables)
        rows: dict[str, list[dict[str, Any]]] = {}
        for table in shape:
            result = await connection.execute(text(f'SELECT * FROM "{table}"'))
            rows[table] = [dict(r._mapping) for r in result]
    rows["__foreign_keys__"] = [{"table": t, "fks": fks} for t, fks in shape.items()]
    return rows


def _mentions(rows: dict[str, list[dict[str, Any]]], school: dict[str, Any]) -> list[str]:
    """Where a row still names the school: its id (or its people's, reviews', actions') in a
    column pointing at them, or one of its strings (team id, tenant, bot token, name) anywhere."""
    fks = {entry["table"]: entry["fks"] for entry in rows["__foreign_keys__"]}
    found = []
    for table, table_rows in rows.items():
        if table == "__foreign_keys__":
            continue
        for row in table_rows:
            if table in school["ids"] and row["id"] in school["ids"][table]:
                found.append(f"{table}.id={row['id']}")
            for column, referred, _ in fks.get(table, []):
                if row.get(column) in school["ids"].get(referred, set()):
                    found.append(f"{table}.{column}={row[column]}")
            text_of_row = repr(row)
            found += [f"{table}: {s!r}" for s in school["strings"] if s in text_of_row]
    return found


def test_org_delete_erases_everything_that_names_the_school(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def setup() -> tuple[dict[str, Any], dict[str, Any], int]:
        db = Database(database_url)
        await db.migrate()
        try:
            hill = await _used_school(db, "Hill School", "T-HILL", "tenant-hill")
            valley = await _used_school(db, "Valley School", "T-VALLEY", "tenant-valley")
            await _peer_review(db, hill, valley)
            await _peer_review(db, valley, hill)
            rows = await _every_row(db)
            assert len(rows[m.SLACK_BOTS]) == 2 and len(rows[m.SLACK_INSTALLATIONS]) == 2
            assert _mentions(rows, hill)  # the scan does see a school that is there
            return hill, valley, sum(len(v) for v in rows.values())
        finally:
            await db.close()

    hill, valley, before = asyncio.run(setup())
    code, out = cli(database_url, "org", "delete", "--org", "Hill School", "--yes", capsys=capsys)
    assert code == 0, out
    assert f"Deleted Hill School (id {hill['organisation']})" in out
    assert "Removed the Slack installation of workspace T-HILL" in out

    async def scan() -> dict[str, list[dict[str, Any]]]:
        db = Database(database_url)
        try:
            return await _every_row(db)
        finally:
            await db.close()

    rows = asyncio.run(scan())
    assert _mentions(rows, hill) == []
    # The other school is untouched, its installation and token included.
    assert len(rows[m.SLACK_BOTS]) == 1 and len(rows[m.SLACK_INSTALLATIONS]) == 1
    assert sorted(_mentions(rows, valley)) != []
    assert any(r.get("bot_token") == "xoxb-T-VALLEY-secret-token" for r in rows[m.SLACK_BOTS])
    assert before > sum(len(v) for v in rows.values())
    # The group stays, with the other school as its only member.
    assert [r["name"] for r in rows["groups"]] == ["Erasure Hub"]
    assert [r["organisation_id"] for r in rows["group_members"]] == [valley["organisation"]]


async def test_a_shared_slack_workspace_keeps_its_installation_until_its_last_school_goes(
    database: Database,
) -> None:
    """A trust's schools in one Slack workspace: the installation is theirs together."""
    store = AsyncSQLAlchemyInstallationStore(
        client_id="111.222",
        engine=database.engine,
        bots_table_name=m.SLACK_BOTS,
        installations_table_name=m.SLACK_INSTALLATIONS,
    )
    await store.async_save(
        Installation(
            app_id="A1",
            team_id="T-TRUST",
            bot_token="xoxb-trust",
            bot_id="B1",
            bot_user_id="U1",
            user_id="U2",
            installed_at=NOW.timestamp(),
        )
    )
    async with database.transaction() as session:
        first = await repo.create_organisation(session, "North Academy", "school")
        second = await repo.create_organisation(session, "South Academy", "school")
        await repo.link_organisation(session, first.id, "slack", "T-TRUST")
        await repo.link_organisation(session, second.id, "slack", "T-TRUST", "C-SOUTH")
    async with database.transaction() as session:
        erased = await repo.delete_organisation(session, first)
    assert erased == repo.Erased([], ["T-TRUST"])
    assert await store.async_find_bot(enterprise_id=None, team_id="T-TRUST") is not None
    async with database.transaction() as session:
        erased = await repo.delete_organisation(session, second)
    assert erased == repo.Erased(["T-TRUST"], [])
    assert await store.async_find_bot(enterprise_id=None, team_id="T-TRUST") is None


async def test_ids_are_never_reused(database: Database) -> None:
    async with database.transaction() as session:
        first = await repo.create_organisation(session, "Hill School", "school")
        person = await repo.person_for_identity(session, first.id, "terminal", "sam", "Sam")
        first_ids = (first.id, person.id)
    async with database.transaction() as session:
        await repo.delete_organisation(session, first)
    async with database.transaction() as session:
        second = await repo.create_organisation(session, "Valley School", "school")
        person = await repo.person_for_identity(session, second.id, "terminal", "sam", "Sam")
        assert second.id != first_ids[0]
        assert person.id != first_ids[1]


async def test_0007_keeps_every_row_and_foreign_key(database: Database) -> None:
    """A database at 0005 holding a finished review upgrades with every row, id and
    reference kept; afterwards a deleted id is not handed out again."""
    organisation, _ = await seed_review(database, load_model("school"), NOW)
    await seed_review(database, load_model("school"), NOW, name="Valley School", workspace="v")
    async with database.transaction() as session:
        await repo.claim_input(session, "slack:event:Ev1", None, organisation.id)
    await database.migrate("0005", down=True)
    before = await _every_row(database)
    await database.migrate()
    after = await _every_row(database)
    for table, rows in before.items():
        if table in ("__foreign_keys__", "alembic_version"):
            continue
        kept = [{k: v for k, v in row.items() if k in rows[0]} for row in after[table]]
        assert sorted(map(repr, kept)) == sorted(map(repr, rows)), table
    assert "plan_links" in after and "plan_links" not in before
    if database.dialect == "sqlite":
        async with database.engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA foreign_key_check"))).all() == []
            sequence = dict((await connection.execute(text("SELECT * FROM sqlite_sequence"))).all())
        assert sequence["organisations"] == max(r["id"] for r in after["organisations"])
        assert sequence["actions"] == max(r["id"] for r in after["actions"])
    newest = max(r["id"] for r in after["organisations"])
    async with database.transaction() as session:
        last = await repo.get_organisation(session, newest)
        assert last is not None
        await repo.delete_organisation(session, last)
    async with database.transaction() as session:
        again = await repo.create_organisation(session, "Brook School", "school")
    assert again.id > newest


def test_an_ambiguous_name_is_refused_and_an_id_is_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"

    async def two() -> list[int]:
        db = Database(url)
        await db.migrate()
        try:
            async with db.transaction() as session:
                a = await repo.create_organisation(session, "St Mary's", "school")
                b = await repo.create_organisation(session, "St Mary's", "college")
                return [a.id, b.id]
        finally:
            await db.close()

    first, second = asyncio.run(two())
    code, out = cli(url, "org", "list", capsys=capsys)
    assert code == 0
    assert str(first) in out and str(second) in out
    code, out = cli(url, "org", "delete", "--org", "St Mary's", "--yes", capsys=capsys)
    assert code == 1
    flat = " ".join(out.split())
    assert f"id:{first} St Mary's" in flat and f"id:{second} St Mary's" in flat
    assert "Nothing was done" in flat
    for command in (["reviews"], ["links", "list"], ["export", "--out", "-"]):
        code, out = cli(url, *command, "--org", "St Mary's", capsys=capsys)
        assert code == 1 and "2 organisations match" in " ".join(out.split()), command

    async def names() -> list[tuple[int, str]]:
        db = Database(url)
        try:
            async with db.read() as session:
                return [(o.id, o.edition) for o in await repo.all_organisations(session)]
        finally:
            await db.close()

    assert asyncio.run(names()) == [(first, "school"), (second, "college")]
    code, out = cli(url, "org", "delete", "--org", f"id:{second}", "--yes", capsys=capsys)
    assert code == 0, out
    assert asyncio.run(names()) == [(first, "school")]
    code, out = cli(url, "org", "delete", "--org", str(first), "--yes", capsys=capsys)
    assert code == 0, out
    assert asyncio.run(names()) == []
    code, out = cli(url, "org", "delete", "--org", "id:99", "--yes", capsys=capsys)
    assert code == 1 and "No organisation has the id" in out


async def test_plan_links_are_recorded_counted_revocable_and_never_cross_schools(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bot.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    clock = [NOW]
    database = Database(url)
    await database.migrate()
    hill, _ = await seed_review(database, load_model("school"), NOW)
    valley, _ = await seed_review(
        database, load_model("school"), NOW, name="Valley School", workspace="valley"
    )
    issuer = plan_links.digest_issuer(SECRET, "https://bot.example")
    async with database.transaction() as session:
        hill_url = (await issuer(session, [hill.id], NOW))[hill.id]
        later = await issuer(session, [hill.id, valley.id], NOW + timedelta(hours=1))  # a sweep
        again, valley_url = later[hill.id], later[valley.id]
    assert hill_url == again  # one link per school and week, however often it is rebuilt
    assert hill_url != valley_url
    settings = Settings(
        database_url=url, plan_link_secret=SECRET, public_url="https://bot.example",
        _env_file=None,
    )  # type: ignore[call-arg]  # fmt: skip
    server = TestServer(
        init_app(settings, database=database, clock=lambda: clock[0]), host="127.0.0.1", port=0
    )
    await server.start_server()

    async def fetch(link: str) -> tuple[int, bytes]:
        async with aiohttp.ClientSession() as client, client.get(server.make_url(link)) as got:
            return got.status, await got.read()

    def heading(body: bytes) -> str:
        return str(docx.Document(io.BytesIO(body)).paragraphs[0].text)

    def path_of(link: str) -> str:
        return link.removeprefix("https://bot.example")

    try:
        with caplog.at_level(logging.INFO, logger="careers_bot.plan_links"):
            status, body = await fetch(path_of(hill_url))
        assert status == 200 and "Hill School" in heading(body)
        token = hill_url.rsplit("/", 1)[1].removesuffix(".docx")
        async with database.read() as session:
            (link,) = [
                r for r in await repo.plan_links_of(session, hill.id) if r.purpose.startswith("d")
            ]
        assert (link.uses, link.last_used_at) == (1, NOW)
        assert link.issued_to == "weekly digest (outbox)"
        assert f"plan link {link.id} used (organisation {hill.id})" in caplog.text
        assert token not in caplog.text
        # The other school's link opens the other school's plan, and only that.
        status, body = await fetch(path_of(valley_url))
        assert status == 200 and "Valley School" in heading(body)
        # A tampered token, or one of the earlier signed form, opens nothing.
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        assert (await fetch(f"/plans/{tampered}.docx"))[0] == 403
        assert (await fetch(f"/plans/{valley.id}.{int(NOW.timestamp()) + 9999}.abc.docx"))[0] == 410
        # An administrator lists and revokes the school's links.
        code = await asyncio.to_thread(
            main, ["--database-url", url, "links", "revoke", "--org", f"id:{hill.id}", "--all"]
        )
        assert code == 0
        status, body = await fetch(path_of(hill_url))
        assert status == 410 and b"withdrawn" in body
        assert (await fetch(path_of(valley_url)))[0] == 200
        # Expired after two weeks.
        clock[0] = NOW + timedelta(days=15)
        status, body = await fetch(path_of(valley_url))
        assert status == 410 and b"expired" in body
        clock[0] = NOW
        # A deleted school's link is refused (its links went with it).
        code = await asyncio.to_thread(
            main, ["--database-url", url, "org", "delete", "--org", f"id:{valley.id}", "--yes"]
        )
        assert code == 0
        assert (await fetch(path_of(valley_url)))[0] == 403
        async with database.read() as session:
            assert await session.scalar(select(m.PlanLink).where(m.PlanLink.organisation_id == valley.id)) is None  # fmt: skip
    finally:
        await server.close()


def test_links_list_shows_issue_expiry_uses_and_revocation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"

    async def setup() -> int:
        db = Database(url)
        await db.migrate()
        try:
            organisation, _ = await seed_review(db, load_model("school"), NOW)
            async with db.transaction() as session:
                await plan_links.issue(
                    session, SECRET, "https://bot.example", organisation.id, NOW,
                    purpose="digest:2025-W04", issued_to="weekly digest (slack C-SLT)",
                )  # fmt: skip
            return organisation.id
        finally:
            await db.close()

    organisation_id = asyncio.run(setup())
    code, out = cli(url, "links", "list", "--org", "Hill School", capsys=capsys)
    assert code == 0
    flat = " ".join(out.split())
    assert "weekly digest (slack C-SLT)" in flat
    assert "20/01/2025 08:00" in flat and "03/02/2025 08:00" in flat
    code, out = cli(url, "links", "revoke", "--org", str(organisation_id), "--id", "99",
                    capsys=capsys)  # fmt: skip
    assert code == 1 and "no unrevoked plan link 99" in out
    code, out = cli(url, "links", "revoke", "--org", "Hill School", "--id", "1", capsys=capsys)
    assert code == 0 and "Revoked 1 plan link(s)" in out
    code, out = cli(url, "links", "list", "--org", "Hill School", capsys=capsys)
    today = datetime.now(UTC).astimezone(ZoneInfo("Europe/London"))
    assert f"{today:%d/%m/%Y}" in out  # revoked now (the real clock)
