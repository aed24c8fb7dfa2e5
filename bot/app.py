"""The aiohttp application behind `careers-bot serve`: Slack, Teams and health on one server."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy.orm import configure_mappers

from bot import plan_links, rendering
from bot.config import Settings, get_settings
from bot.dashboard import DashboardLinks, setup_dashboard
from bot.keys import DATABASE, NOTIFIERS, SERVICE, SETTINGS, WORKSPACES, ConfigurationError
from bot.notify import Notifier
from bot.reviews import ReviewService
from bot.scheduler import Dispatcher, scheduler_context
from bot.slack import setup_slack
from bot.workspaces import WorkspaceService
from model_data import load_all
from storage.db import Database
from workflows import messages as msg

log = logging.getLogger("careers_bot")

__all__ = [
    "DATABASE",
    "NOTIFIERS",
    "SERVICE",
    "SETTINGS",
    "WORKSPACES",
    "ConfigurationError",
    "init_app",
]


def settle() -> None:
    """Once the server has started: everything loaded so far (the model, the modules, the
    app) lives as long as the process, so the garbage collector stops scanning it. A full
    collection over those ~190,000 objects cost about 100 ms of the event loop each time
    a busy sweep set one off (bench sending); frozen, it is nearly free."""
    gc.collect()
    gc.freeze()


M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def fewer_malloc_arenas() -> None:
    """One malloc arena, not glibc's eight per core: each thread that allocates (every
    SQLite connection's aiosqlite thread, the executors') would get an arena of its own,
    and memory freed in one is not reused by another. Measured by `python -m bench hub`
    (peak RSS of serve at a Hub's size): two arenas instead of glibc's default saved about
    15 MB; one instead of two about 4 MB more (149-152 MB to 143-147). The threads hardly
    contend for it: they hold the GIL for most of what they allocate. MALLOC_ARENA_MAX in
    the environment wins; elsewhere, nothing."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1)
    except (OSError, AttributeError):  # not glibc (musl, say): its own allocator's rules
        log.debug("mallopt is not available; malloc arenas left as they are")


def load_at_start() -> None:
    """What a server loads before its first request: the model files (a broken one stops
    start-up here, naming file, statement and field) and the database mappings, so neither
    the first turn nor the first sweep pays for them (about 40 ms of a Hub's first digest
    sweep, measured by `python -m bench hub`)."""
    load_all()
    configure_mappers()


def init_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Callable[[], datetime] | None = None,
) -> web.Application:
    """Build the app; the database is migrated on start-up and closed on shutdown."""
    settings = settings or get_settings()
    fewer_malloc_arenas()  # before the first database or worker thread starts
    load_at_start()
    app = web.Application()
    app[SETTINGS] = settings
    db = database or Database(settings.database_url)
    app[DATABASE] = db
    app[SERVICE] = ReviewService(db, clock)
    app[WORKSPACES] = WorkspaceService(db, clock)
    links = dashboard_links(settings)
    if links is not None:
        app[SERVICE].dashboard_issuer = links.for_person
        app[SERVICE].group_dashboard_issuer = links.for_lead
    app[NOTIFIERS] = {}
    app.cleanup_ctx.append(_database)
    # Charts and documents are drawn in worker processes, stopped after the scheduler
    # (cleanup runs in reverse) has finished any sweep in flight.
    app.cleanup_ctx.append(rendering.pool_context)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/privacy", page(msg.PRIVACY_PAGE))
    app.router.add_get("/terms", page(msg.TERMS_PAGE))
    app.router.add_get("/plans/{token}.docx", plan_links.download)
    setup_dashboard(app)
    setup_slack(app)  # when its settings are present
    if settings.teams_enabled:  # local mode without an app id, refused in production
        # Imported only when Teams is on: the Bot Framework SDK and what it pulls in are
        # about 45 MB of a Slack-only server's memory (issue 12's RSS figure).
        from bot.teams import setup_teams

        setup_teams(app)
    if settings.scheduler_enabled:
        dispatcher = Dispatcher(
            app[SERVICE],
            app[NOTIFIERS],
            plan_link=plan_link(settings),
            report_link=report_link(settings),
            dashboard_link=links.for_digests if links is not None else None,
            lease=timedelta(seconds=settings.delivery_lease_seconds),
        )
        app.cleanup_ctx.append(scheduler_context(dispatcher, settings.sweep_seconds))
    return app


@asynccontextmanager
async def senders(
    settings: Settings, database: Database
) -> AsyncIterator[tuple[dict[str, Notifier], plan_links.PlanLinkIssuer | None]]:
    """The chat channels `serve` sends through, for a command run by hand (`remind`,
    `digest --send`): the same notifiers, started and stopped as the app starts and stops,
    with no scheduler and no Socket Mode connection of their own."""
    quiet = settings.model_copy(update={"scheduler_enabled": False, "socket_mode": False})
    app = init_app(quiet, database=database)
    runner = web.AppRunner(app)
    await runner.setup()  # runs the app's start-up: Slack's HTTP session, Teams' adapter
    try:
        yield app[NOTIFIERS], plan_link(settings)
    finally:
        await runner.cleanup()


async def _database(app: web.Application) -> AsyncIterator[None]:
    await app[DATABASE].migrate()
    yield
    await app[DATABASE].close()


def report_link(settings: Settings) -> plan_links.ReportLinkIssuer | None:
    """How a half-term's first digest links to the governors' report (Teams), if a secret is
    set; without one Teams' digest says how to ask for it."""
    secret = settings.plan_link_secret
    if not secret:
        return None
    return plan_links.report_issuer(secret, settings.public_url)


def plan_link(settings: Settings) -> plan_links.PlanLinkIssuer | None:
    """How digests link to the full plan (a recorded, revocable link), if a secret is set."""
    secret = settings.plan_link_secret
    if not secret:
        return None
    return plan_links.digest_issuer(secret, settings.public_url)


def dashboard_links(settings: Settings) -> DashboardLinks | None:
    """How people get signed links to the dashboard page (under the plan links' secret)."""
    if not settings.plan_link_secret:
        return None
    return DashboardLinks(settings.plan_link_secret, settings.public_url)


def page(text: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A plain public page (the Teams app manifest links to privacy and terms)."""

    async def handler(_: web.Request) -> web.Response:
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    return handler


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
        "slack": app[SETTINGS].slack_configured or app[SETTINGS].socket_mode,
        "teams": (bool(app[SETTINGS].microsoft_app_id) or "local")
        if app[SETTINGS].teams_enabled
        else False,
    }
    return web.json_response(body, status=200 if database == "ok" else 503)
