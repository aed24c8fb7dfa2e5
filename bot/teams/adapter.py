"""`POST /api/messages`: the Bot Framework endpoint on the `careers-bot serve` app.

The SDK's `CloudAdapter` with `ConfigurationBotFrameworkAuthentication` checks the Bot
Framework token of every request when an app id is set. botbuilder 4.17 answers a garbage or
forged token with an unhandled exception (a 500, which Teams would retry); here the token is
checked first and *any* failure to validate it is a 401, before anything is read or written.
The checked result is then handed to the adapter, which runs the turn; the adapter
(`bot.teams.sending.RetryingCloudAdapter`) retries what the turn sends when Teams is busy.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from botbuilder.core import TurnContext, serializer_helper
from botbuilder.schema import Activity

from bot.config import Settings
from bot.keys import NOTIFIERS, SERVICE, SETTINGS, WORKSPACES, ConfigurationError
from bot.payloads import PayloadError, decoded, teams_activity
from bot.teams import cards
from bot.teams import wording as teams_wording
from bot.teams.bot import CareersBot
from bot.teams.proactive import TeamsNotifier
from bot.teams.runtime import TEAMS, TEAMS_SDK_CONFIG, TeamsRuntime
from bot.teams.sending import ConnectorAuthentication, RetryingCloudAdapter
from bot.teams.work import BackgroundWork

log = logging.getLogger("careers_bot.teams")

APP_TYPES = {"multitenant", "singletenant", "userassignedmsi"}
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=120)


class BotConfig:
    """The configuration object the SDK reads, in its own attribute names, from our Settings."""

    def __init__(self, settings: Settings, extra: Mapping[str, Any] | None = None) -> None:
        self.APP_ID = settings.microsoft_app_id
        self.APP_PASSWORD = settings.microsoft_app_password
        self.APP_TYPE = settings.microsoft_app_type
        self.APP_TENANTID = settings.microsoft_app_tenant_id
        for name, value in (extra or {}).items():
            setattr(self, name, value)


def check_settings(settings: Settings) -> None:
    """Refuse settings the Bot Framework would only reject at the first message.

    An empty app id means local mode (Emulator, tests): fine in development, refused in
    production, where it would let anyone post to /api/messages.
    """
    app_type = settings.microsoft_app_type.strip().lower()
    if not settings.microsoft_app_id:
        if settings.production:
            raise ConfigurationError(
                "MICROSOFT_APP_ID is empty and CAREERS_BOT_ENV is production: the Teams "
                "endpoint would accept messages without a Bot Framework token. Set "
                "MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD (see docs/teams.md)."
            )
        return
    if app_type not in APP_TYPES:
        raise ConfigurationError(
            f"MICROSOFT_APP_TYPE is {settings.microsoft_app_type!r}: use MultiTenant, "
            "SingleTenant or UserAssignedMSI."
        )
    if app_type != "userassignedmsi" and not settings.microsoft_app_password:
        raise ConfigurationError("MICROSOFT_APP_ID is set but MICROSOFT_APP_PASSWORD is empty.")
    if app_type != "multitenant" and not settings.microsoft_app_tenant_id:
        raise ConfigurationError(
            f"MICROSOFT_APP_TYPE {settings.microsoft_app_type} needs MICROSOFT_APP_TENANT_ID."
        )


def setup_teams(app: web.Application) -> None:
    """Add the Teams endpoint to the app; the adapter itself is built when the app starts."""
    settings = app[SETTINGS]
    if not settings.teams_enabled:
        return  # a Slack-only deployment: no /api/messages at all
    check_settings(settings)
    if not settings.microsoft_app_id:
        log.warning(
            "*** TEAMS LOCAL MODE: MICROSOFT_APP_ID is empty, so /api/messages accepts "
            "requests WITHOUT a Bot Framework token. Use this only with the Bot Framework "
            "Emulator or tests; set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD for Teams. ***"
        )
    app.router.add_post("/api/messages", messages)
    app.cleanup_ctx.append(_teams)
    app[NOTIFIERS][TeamsNotifier.channel] = TeamsNotifier(app)


async def _teams(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    config = BotConfig(settings, app.get(TEAMS_SDK_CONFIG))
    # Every send, card update and new conversation goes through one retry policy (sending.py).
    adapter = RetryingCloudAdapter(ConnectorAuthentication(config))
    work = BackgroundWork()
    http = aiohttp.ClientSession(timeout=UPLOAD_TIMEOUT)
    bot = CareersBot(app[SERVICE], settings, adapter, work, http, app[WORKSPACES])
    adapter.on_turn_error = _on_turn_error
    app[TEAMS] = TeamsRuntime(adapter, bot, work, settings.microsoft_app_id, http)
    try:
        yield
    finally:
        await work.close()  # before the database closes (cleanup runs in reverse order)
        await http.close()


async def _on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    """A turn that failed half-way: the person is told; what was saved before stays saved."""
    log.error("Teams turn failed", exc_info=error)
    try:
        await turn_context.send_activity(cards.text_activity(teams_wording.TEAMS_ERROR))
    except Exception:
        log.exception("could not tell the person the turn failed")


async def messages(request: web.Request) -> web.Response:
    """The Bot Framework messaging endpoint: the token first, then the body, then the turn.

    With an app id, a request whose token is missing or invalid is refused (401) before its
    body is read at all; a malformed body is a 400; nothing in either case is changed."""
    runtime = request.app[TEAMS]
    header = request.headers.get("Authorization", "")
    auth = runtime.adapter.bot_framework_authentication
    if not runtime.local:
        if not header:
            log.warning("refused a request to /api/messages without a token")
            return web.Response(status=401)
        try:  # the token alone (signature, issuer, audience): the body is not read yet
            await auth.authenticate_request(Activity(), header)
        except Exception as exc:  # missing, malformed, forged, expired, wrong audience
            log.warning("refused a request to /api/messages: %s: %s", type(exc).__name__, exc)
            return web.Response(status=401)
    if "application/json" not in request.headers.get("Content-Type", ""):
        return web.Response(status=415, text="expected a Bot Framework activity as JSON")
    try:
        body = teams_activity(decoded(await request.read()))
        activity = Activity().deserialize(body)
    except PayloadError as exc:
        return web.Response(status=400, text=str(exc))
    except Exception:  # msrest raises its own errors for wrongly typed fields
        return web.Response(status=400, text="expected a Bot Framework activity as JSON")
    try:  # again with the activity: its service URL must be the one the token names
        authenticated = await auth.authenticate_request(activity, header)
    except Exception as exc:
        log.warning("refused a request to /api/messages: %s: %s", type(exc).__name__, exc)
        return web.Response(status=401)
    if not activity.type:
        return web.Response(status=400, text="expected a Bot Framework activity as JSON")
    response = await runtime.adapter.process_activity(authenticated, activity, runtime.bot.on_turn)
    if response is not None:
        return web.json_response(serializer_helper(response.body), status=response.status)
    return web.Response(status=201)
