"""The aiohttp application behind `careers-bot serve`: Slack, Teams and health on one server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from bot.config import Settings, get_settings
from bot.notify import Notifier
from bot.reviews import ReviewService
from bot.scheduler import Dispatcher, scheduler_context
from model_data import load_all
from storage.db import Database

log = logging.getLogger("careers_bot")

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
SERVICE = web.AppKey("service", ReviewService)
# Chat channels register how to send reminders and digests here (channel name -> Notifier).
NOTIFIERS = web.AppKey("notifiers", dict[str, Notifier])


class ConfigurationError(Exception):
    """Settings that must not start a server (e.g. an empty Slack signing secret)."""


def init_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Callable[[], datetime] | None = None,
) -> web.Application:
    """Build the app; the database is migrated on start-up and closed on shutdown."""
    settings = settings or get_settings()
    load_all()  # a broken model file stops start-up here, naming file, statement and field
    app = web.Application()
    app[SETTINGS] = settings
    db = database or Database(settings.database_url)
    app[DATABASE] = db
    app[SERVICE] = ReviewService(db, clock)
    app[NOTIFIERS] = {}
    app.cleanup_ctx.append(_database)
    app.router.add_get("/healthz", healthz)
    # -- Slack --
    # -- Teams --
    if settings.scheduler_enabled:
        dispatcher = Dispatcher(app[SERVICE], app[NOTIFIERS])
        app.cleanup_ctx.append(scheduler_context(dispatcher, settings.sweep_seconds))
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    await app[DATABASE].migrate()
    yield
    await app[DATABASE].close()


async def healthz(request: web.Request) -> web.Response:
    """For load balancers and uptime checks: is the database reachable, which channels are on."""
    app = request.app
    try:
        async with app[DATABASE].engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")
        database = "ok"
    except Exception:  # the check reports any failure rather than raising it
        log.exception("health check: database unreachable")
        database = "unreachable"
    body = {
        "status": "ok" if database == "ok" else "degraded",
        "database": database,
        "slack": app[SETTINGS].slack_configured,
        "teams": bool(app[SETTINGS].microsoft_app_id) or "local",
    }
    return web.json_response(body, status=200 if database == "ok" else 503)
