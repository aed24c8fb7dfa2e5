"""Slack: the review, actions and set-up in Slack, on our own aiohttp server.

`setup_slack(app)` mounts `POST /slack/events` (and the OAuth install pages when
SLACK_CLIENT_ID / SLACK_CLIENT_SECRET are set), or connects by Socket Mode, when Slack
settings are present; without them the app starts without Slack.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bot.config import Settings
from bot.keys import DATABASE, NOTIFIERS, SERVICE, SETTINGS, WORKSPACES, ConfigurationError
from bot.slack.bolt import EVENTS_PATH, INSTALL_PATH, REDIRECT_PATH, SlackBot, build
from bot.slack.notifier import SlackNotifier

log = logging.getLogger("careers_bot.slack")

SLACK = web.AppKey("slack", SlackBot)
SHUTDOWN_GRACE_SECONDS = 10


def slack_enabled(settings: Settings) -> bool:
    """Slack is on when a signing secret is given (HTTP) or Socket Mode is asked for."""
    return settings.slack_configured or settings.socket_mode


def check(settings: Settings) -> list[str]:
    """What is wrong with the Slack settings (each makes start-up fail)."""
    problems = []
    if settings.slack_signing_secret is not None and not settings.slack_signing_secret.strip():
        problems.append("SLACK_SIGNING_SECRET is set but empty: give the app's signing secret")
    if bool(settings.slack_client_id) != bool(settings.slack_client_secret):
        problems.append("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET must be given together")
    if not settings.slack_bot_token and not settings.slack_oauth:
        problems.append(
            "Slack needs SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and "
            "SLACK_CLIENT_SECRET (OAuth, several workspaces)"
        )
    if settings.socket_mode and not settings.slack_app_token:
        problems.append("Socket Mode needs SLACK_APP_TOKEN (an xapp- app-level token)")
    return problems


def setup_slack(app: web.Application) -> SlackBot | None:
    """Mount Slack on the app if its settings are present; raise ConfigurationError if wrong."""
    settings = app[SETTINGS]
    if not slack_enabled(settings):
        return None
    problems = check(settings)
    if problems:
        raise ConfigurationError("; ".join(problems))
    bot = build(settings, app[DATABASE], app[SERVICE], app[WORKSPACES])
    app[SLACK] = bot
    app[NOTIFIERS]["slack"] = SlackNotifier(bot)
    if settings.slack_configured:
        app.router.add_post(EVENTS_PATH, bot.events)
        if settings.slack_oauth:
            app.router.add_get(INSTALL_PATH, bot.oauth)
            app.router.add_get(REDIRECT_PATH, bot.oauth)
    app.cleanup_ctx.append(http_session)
    if settings.socket_mode:
        app.cleanup_ctx.append(socket_mode)
    app.on_shutdown.append(_drain)
    return bot


async def http_session(app: web.Application) -> AsyncIterator[None]:
    """One connection pool for every Web API call (Bolt's per-request clients share it)."""
    bot = app[SLACK]
    async with aiohttp.ClientSession() as session:
        bot.session = session
        bot.app.client.session = session
        try:
            yield
        finally:
            bot.session = None
            bot.app.client.session = None


async def socket_mode(app: web.Application) -> AsyncIterator[None]:
    """Socket Mode (no public URL): connect when the app starts, close when it stops."""
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    bot = app[SLACK]
    handler = AsyncSocketModeHandler(
        bot.app, app_token=bot.settings.slack_app_token, web_client=bot.app.client
    )
    await handler.connect_async()
    log.info("Slack Socket Mode connected")
    try:
        yield
    finally:
        await handler.close_async()


async def _drain(app: web.Application) -> None:
    """Let listeners that are still running (after their ack) finish before the database closes."""
    tracker = app[SLACK].tracker
    try:
        await tracker.idle(SHUTDOWN_GRACE_SECONDS)
    except TimeoutError:
        log.warning("shutting down with %s Slack listeners still running", len(tracker.tasks))


__all__ = ["SLACK", "SlackBot", "setup_slack"]
