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
