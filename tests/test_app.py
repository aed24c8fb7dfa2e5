"""The aiohttp server itself: started for real on a loopback port."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from bot.app import init_app
from bot.config import Settings


async def test_healthz_on_a_real_server(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'bot.sqlite3'}", _env_file=None)  # type: ignore[call-arg]
    server = TestServer(init_app(settings), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with (
            aiohttp.ClientSession() as client,
            client.get(server.make_url("/healthz")) as response,
        ):
            assert response.status == 200
            body = await response.json()
        assert body["status"] == "ok"
        assert body["database"] == "ok"
        assert body["slack"] is False
        async with (
            aiohttp.ClientSession() as client,
            client.get(server.make_url("/privacy")) as page,
        ):
            assert page.status == 200
            assert "It asks for no pupil data." in await page.text()
    finally:
        await server.close()


def test_a_slack_only_deployment_may_start_in_production(tmp_path: Path) -> None:
    """Production refuses an empty Teams app id, unless Teams is turned off altogether."""
    import pytest

    from bot.keys import ConfigurationError

    base = {
        "database_url": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        "careers_bot_env": "production",
    }
    with pytest.raises(ConfigurationError, match="MICROSOFT_APP_ID is empty"):
        init_app(Settings(**base, _env_file=None))  # type: ignore[arg-type, call-arg]
    app = init_app(Settings(**base, teams_enabled=False, _env_file=None))  # type: ignore[arg-type, call-arg]
    assert "/api/messages" not in {r.resource.canonical for r in app.router.routes() if r.resource}


async def test_a_digest_plan_link_downloads_the_plan_and_cannot_be_forged(tmp_path: Path) -> None:
    import io
    from datetime import UTC, datetime, timedelta

    import docx
    from review_scripts import seed_review

    from bot import plan_links
    from model_data import load_model
    from storage.db import Database

    now = datetime(2025, 1, 20, 8, 0, tzinfo=UTC)
    clock = [now]
    database = Database(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    await database.migrate()
    organisation, _ = await seed_review(database, load_model("school"), now)
    other, _ = await seed_review(
        database, load_model("school"), now, name="Valley School", workspace="valley"
    )
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        plan_link_secret="s3cret",
        public_url="https://bot.example",
        _env_file=None,
    )  # type: ignore[call-arg]
    server = TestServer(
        init_app(settings, database=database, clock=lambda: clock[0]), host="127.0.0.1", port=0
    )
    await server.start_server()
    try:
        issue = plan_links.digest_issuer("s3cret", "https://bot.example")
        async with database.transaction() as session:
            links = await issue(session, [organisation.id, other.id], now)
        link, other_link = links[organisation.id], links[other.id]
        assert link.startswith("https://bot.example/plans/")
        path = link.removeprefix("https://bot.example")
        async with aiohttp.ClientSession() as client:
            async with client.get(server.make_url(path)) as response:
                assert response.status == 200
                body = await response.read()
            heading = docx.Document(io.BytesIO(body)).paragraphs[0].text
            assert "Hill School" in heading
            token = path.removeprefix("/plans/").removesuffix(".docx")
            other_token = other_link.rsplit("/", 1)[1].removesuffix(".docx")
            forged = f"/plans/{token[:20]}{other_token[20:]}.docx"
            async with client.get(server.make_url(forged)) as response:
                assert response.status == 403
            clock[0] = now + timedelta(days=15)
            async with client.get(server.make_url(path)) as response:
                assert response.status == 410
    finally:
        await server.close()
