"""The slack_bolt `AsyncApp` behind `POST /slack/events`, its Web API client and its listeners.

Bolt verifies each request's signature and age (401 otherwise, before anything else runs),
authorises it (one bot token, or the OAuth installation kept in our database; either way
`auth.test` is called once per token, not per request, and a rate-limited `auth.test` is a
500 that Slack retries, never a 200 with nothing done), and, with
`process_before_response=False`, sends the HTTP response as soon as a listener calls `ack()`;
the rest of the listener runs afterwards. What saves an answer does so before the
acknowledgement, so a 200 means it is kept: a typed answer in a middleware (Bolt
acknowledges events itself before their listener), a button's answer before its `ack()`,
forms before they answer with field errors. Replies and other Web API calls come after.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.payloads import PayloadError, decoded, slack_body
from bot.reviews import ReviewService
from bot.slack import modals, render
from bot.slack.handlers import Origin, SlackAdapter
from bot.workspaces import WorkspaceService
from storage.db import Database
from storage.models import SLACK_BOTS, SLACK_INSTALLATIONS, SLACK_OAUTH_STATES
from storage.repo import ConcurrentTurn
from workflows import actions

log = logging.getLogger("careers_bot.slack")

COMMAND = "/careers"
EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# Every bot scope the adapter uses; manifest.yml lists the same (a test keeps them equal).
BOT_SCOPES = (
    "channels:join",  # join the SLT channel chosen at set-up (public channels)
    "chat:write",  # post, update and post ephemeral messages
    "commands",  # /careers
    "files:write",  # the plan as Word and Excel files
    "im:history",  # message.im: answers typed in the DM, and a form's question message
    "im:write",  # conversations.open: the DM with each person
    "users:read",  # people's names (users.info) and whether they are workspace admins
)
BOT_EVENTS = ("app_home_opened", "app_uninstalled", "message.im", "tokens_revoked")
OAUTH_STATE_SECONDS = 600


def retry_handlers() -> list[Any]:
    """Rate limits (429, waiting Retry-After: slack_sdk retries none by default), 500/503 and
    dropped connections. These sleeps happen after the ack, never inside Slack's 3 seconds."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        AsyncServerErrorRetryHandler(max_retry_count=2),
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
    ]


def make_client(
    settings: Settings, token: str | None = None, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        session=session,
        retry_handlers=retry_handlers(),
    )


class SingleWorkspace:
    """Authorises requests with the one bot token (SLACK_BOT_TOKEN), for its own team only.

    `auth.test` is called once, on a client that never waits out a rate limit: this runs
    before the acknowledgement.
    """

    def __init__(self, settings: Settings) -> None:
        assert settings.slack_bot_token
        self.token = settings.slack_bot_token
        self.client = AsyncWebClient(
            token=self.token,
            base_url=settings.slack_api_url,
            timeout=5,
            retry_handlers=[AsyncConnectionErrorRetryHandler()],
        )
        self.result: AuthorizeResult | None = None
        self.lock = asyncio.Lock()

    def function(self) -> Callable[..., Awaitable[AuthorizeResult | None]]:
        """For Bolt, which passes arguments by the names of a plain function's parameters."""

        async def authorize(
            enterprise_id: str | None, team_id: str | None
        ) -> AuthorizeResult | None:
            return await self.authorize(enterprise_id, team_id)

        return authorize

    async def authorize(
        self, enterprise_id: str | None, team_id: str | None
    ) -> AuthorizeResult | None:
        if self.result is None:
            async with self.lock:
                if self.result is None:
                    response = await self.client.auth_test()
                    self.result = AuthorizeResult.from_auth_test_response(
                        auth_test_response=response,
                        bot_token=self.token,
                        bot_scopes=response.headers.get("x-oauth-scopes"),
                    )
        own = self.result
        same_org = enterprise_id is not None and enterprise_id == own.enterprise_id
        if team_id and own.team_id and team_id != own.team_id and not same_org:
            log.warning("refused a request from team %s: this bot serves %s", team_id, own.team_id)
            return None
        return own


class SlackBusy(Exception):
    """`auth.test` was rate-limited or failed on Slack's side: the request is answered with a
    500 (Bolt's answer to an error before any listener), so Slack retries an event and shows
    the person that a command or a button failed, instead of a 200 with nothing done."""


class _AuthTestOnly:
    """What Bolt's authorisation calls on `context.client` (only `auth_test`): a client that
    never waits out a rate limit (this runs before the acknowledgement) and reports Slack
    being busy as `SlackBusy`, which Bolt does not mistake for a revoked token."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def auth_test(self, *, token: str) -> Any:
        try:
            return await self.client.auth_test(token=token)
        except SlackApiError as exc:
            status = exc.response.status_code
            if status == 429 or status >= 500:
                raise SlackBusy(f"auth.test answered {status}") from exc
            raise  # invalid_auth and the like: Bolt treats the installation as gone


class Installations(AsyncInstallationStoreAuthorize):
    """Bolt's own authorisation from the installation store, with its result cache on: one
    `auth.test` per installed bot token for the life of the process, not one per request.

    The cache is keyed by token and looked up only after the store has found the token, so
    an uninstalled workspace (its rows deleted) is refused at once, and a reinstall (a new
    token) is checked afresh."""

    def __init__(self, settings: Settings, store: AsyncInstallationStore) -> None:
        super().__init__(
            logger=logging.getLogger("careers_bot.slack.bolt"),
            installation_store=store,
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret,
            cache_enabled=True,
            client=make_client(settings),  # token rotation, if ever turned on
        )
        self.checker = _AuthTestOnly(
            AsyncWebClient(
                base_url=settings.slack_api_url,
                timeout=5,
                retry_handlers=[AsyncConnectionErrorRetryHandler()],
            )
        )

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        # Bolt calls `context.client.auth_test(token=...)`; the listeners' client is put back.
        client = context.get("client")
        context["client"] = self.checker
        try:
            return await super().__call__(
                context=context,
                enterprise_id=enterprise_id,
                team_id=team_id,
                user_id=user_id,
                actor_enterprise_id=actor_enterprise_id,
                actor_team_id=actor_team_id,
                actor_user_id=actor_user_id,
            )
        finally:
            context["client"] = client


@dataclass
class InFlight:
    """Listener work still running after its ack: held (asyncio keeps only weak references to
    tasks), and awaited on shutdown so nothing is cut off half-way."""

    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self.tasks.discard(task)

    async def idle(self, within: float = 10) -> None:
        """Wait until no listener is running (shutdown, and tests); TimeoutError after `within`."""
        async with asyncio.timeout(within):
            while self.tasks:
                await asyncio.wait(set(self.tasks))


@dataclass
class SlackBot:
    """Everything Slack needs at run time, kept on the aiohttp app under `SLACK`."""

    settings: Settings = field(repr=False)  # holds secrets
    app: AsyncApp
    adapter: SlackAdapter
    installation_store: AsyncInstallationStore | None
    tracker: InFlight
    session: aiohttp.ClientSession | None = None  # shared while the app runs

    async def events(self, request: web.Request) -> web.Response:
        """POST /slack/events: events, interactivity, slash commands and options.

        The signature is checked before the body is parsed, and the body's shape before
        Bolt sees it: a forged request is a 401 and a malformed one a 400, never a 500."""
        try:
            text = decoded(await request.read())
        except PayloadError as exc:
            return web.Response(status=400, text=str(exc))
        verifier = SignatureVerifier(self.settings.slack_signing_secret or "")
        if not verifier.is_valid_request(text, dict(request.headers)):
            return web.Response(status=401, text="invalid request")
        try:
            slack_body(text, request.headers.get("Content-Type", ""))
        except PayloadError as exc:
            log.warning("refused a malformed Slack request: %s", exc)
            return web.Response(status=400, text=str(exc))
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def oauth(self, request: web.Request) -> web.Response:
        """GET /slack/install and /slack/oauth_redirect (multi-workspace OAuth)."""
        flow = self.app.oauth_flow
        if flow is None:
            raise web.HTTPNotFound()
        bolt_request = await to_bolt_request(request)
        if request.path == flow.install_path:
            response = await flow.handle_installation(bolt_request)
        else:
            response = await flow.handle_callback(bolt_request)
        return await to_aiohttp_response(response)

    async def token_for(self, team_id: str | None, enterprise_id: str | None = None) -> str | None:
        """The bot token for a workspace: the single one, or its stored installation's."""
        if self.installation_store is None:
            return self.settings.slack_bot_token
        bot = await self.installation_store.async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id
        )
        return bot.bot_token if bot is not None else None

    def client(self, token: str | None) -> AsyncWebClient:
        return make_client(self.settings, token, self.session)


def build(
    settings: Settings,
    database: Database,
    service: ReviewService,
    workspaces: WorkspaceService | None = None,
) -> SlackBot:
    """The Bolt app for these settings: one workspace (bot token) or many (OAuth)."""
    store: AsyncSQLAlchemyInstallationStore | None = None
    kwargs: dict[str, Any] = {}
    if settings.slack_oauth:
        assert settings.slack_client_id
        assert settings.slack_client_secret
        store = AsyncSQLAlchemyInstallationStore(
            client_id=settings.slack_client_id,
            engine=database.engine,
            bots_table_name=SLACK_BOTS,
            installations_table_name=SLACK_INSTALLATIONS,
        )
        kwargs["oauth_settings"] = AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret,
            scopes=list(BOT_SCOPES),
            redirect_uri=settings.public_url.rstrip("/") + REDIRECT_PATH,
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            installation_store=store,
            state_store=AsyncSQLAlchemyOAuthStateStore(
                expiration_seconds=OAUTH_STATE_SECONDS,
                engine=database.engine,
                table_name=SLACK_OAUTH_STATES,
            ),
        )
        kwargs["installation_store"] = store
        kwargs["authorize"] = Installations(settings, store)
    else:
        kwargs["authorize"] = SingleWorkspace(settings).function()
    app = AsyncApp(
        name="careers-impact-bot",
        signing_secret=settings.slack_signing_secret or "",
        client=make_client(settings),
        process_before_response=False,
        logger=logging.getLogger("careers_bot.slack.bolt"),
        **kwargs,
    )
    bot = SlackBot(settings, app, SlackAdapter(service, workspaces), store, InFlight())
    register(bot)
    return bot


Listener = Callable[..., Awaitable[None]]

# What a turn's database work raises when it cannot be saved (locked, down, a race lost).
SAVE_ERRORS = (SQLAlchemyError, ConcurrentTurn, TimeoutError)
SLACK_RETRIES = 3  # Slack's Events API resends a failed event up to three times


def retries(req: Any) -> int:
    """Which resend of this event Slack says it is (0 the first delivery)."""
    headers = getattr(req, "headers", None) or {}
    values = headers.get("x-slack-retry-num") or ["0"]
    try:
        return int(values[0] if isinstance(values, list) else values)
    except ValueError:
        return 0


def register(bot: SlackBot) -> None:
    """Bolt listeners: acknowledge, then hand the request to the adapter (tracked)."""
    app, adapter, tracker = bot.app, bot.adapter, bot.tracker

    @app.command(COMMAND)
    async def careers(ack: Any, body: dict[str, Any], client: AsyncWebClient,
                      context: Any, respond: Any) -> None:  # fmt: skip
        text = adapter.command_ack(body)
        await (ack(text=text) if text else ack())
        async with tracker.track():
            await adapter.command(body, client, Origin.of(body, context), respond)

    @app.action(re.compile(rf"^{re.escape(render.ANSWER)}:"))
    async def answer(ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any) -> None:
        async with tracker.track():
            then = await adapter.answer_saved(body, client, Origin.of(body, context))
            await ack()  # only once the answer is saved
            if then is not None:
                await then()

    @app.action(render.EVIDENCE_FORM)
    async def evidence_form(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        await ack()
        async with tracker.track():
            await adapter.open_form(body, client, Origin.of(body, context), modals.EVIDENCE)

    @app.action(render.PRIORITY_FORM)
    async def priority_form(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        await ack()
        async with tracker.track():
            await adapter.open_form(body, client, Origin.of(body, context), modals.PRIORITY)

    @app.action(render.ACTION_DONE)
    async def action_done(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        await ack()
        async with tracker.track():
            done = actions.ActOn(actions.Verb.DONE, int(body["actions"][0]["value"]))
            await adapter.action_button(body, client, Origin.of(body, context), done)

    @app.action(render.ACTION_UPDATE)
    async def action_update(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        await ack()
        async with tracker.track():
            action_id = int(body["actions"][0]["value"])
            await adapter.open_update(body, client, Origin.of(body, context), action_id)

    @app.action(re.compile(rf"^{re.escape(render.NOTICE_BUTTON)}:"))
    async def notice_button(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        """A reminder's buttons: "done 12", "snooze 12", or "progress 12" (a form)."""
        await ack()
        async with tracker.track():
            value = str(body["actions"][0]["value"])
            origin = Origin.of(body, context)
            # The notice's own button: a command the bot wrote, read as one, never as an answer.
            command = actions.parse_command(value)
            if isinstance(command, actions.ActOn) and command.verb is actions.Verb.PROGRESS:
                await adapter.open_update(body, client, origin, command.number)
            elif command is not None:
                await adapter.action_button(body, client, origin, command)

    @app.action(render.OPEN_REVIEW)
    async def open_review(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        await ack()
        async with tracker.track():
            await adapter.open_review(client, Origin.of(body, context))

    # Forms answer with field errors, so they do their (database-only) checks before ack().
    @app.view(modals.EVIDENCE)
    async def evidence(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        async with tracker.track():
            await adapter.evidence_submitted(body, client, Origin.of(body, context), ack)

    @app.view(modals.PRIORITY)
    async def priority(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        async with tracker.track():
            await adapter.priority_submitted(body, client, Origin.of(body, context), ack)

    @app.view(modals.UPDATE)
    async def update(ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any) -> None:
        async with tracker.track():
            await adapter.update_submitted(body, client, Origin.of(body, context), ack)

    @app.view(modals.SETUP)
    async def setup(ack: Any, body: dict[str, Any], client: AsyncWebClient, context: Any) -> None:
        async with tracker.track():
            await adapter.setup_submitted(body, client, Origin.of(body, context), ack)

    # Bolt acknowledges an event before its listener runs, so a typed answer is saved in a
    # middleware, ahead of that: a 200 to Slack means it is kept. A database that cannot
    # take it makes the request a 500 and Slack sends the event again (three times, over
    # about five minutes); on its last try the person is told instead.
    @app.middleware
    async def typed_answers_saved_first(
        body: dict[str, Any], context: Any, req: Any, next: Callable[[], Awaitable[Any]]
    ) -> Any:
        event = body.get("event") if body.get("type") == "event_callback" else None
        if isinstance(event, dict) and event.get("type") == "message":
            async with tracker.track():
                try:
                    context["then"] = await adapter.message_saved(
                        body, context.client, Origin.of(body, context)
                    )
                except SAVE_ERRORS:
                    if retries(req) < SLACK_RETRIES:
                        log.exception("typed answer not saved: Slack will send it again")
                        raise
                    log.exception("typed answer not saved on Slack's last try")
                    await adapter.not_saved(body, context.client)
                    context["then"] = None
        return await next()

    @app.event("message")
    async def message(context: Any) -> None:
        then = context.get("then")
        if then is not None:
            async with tracker.track():
                await then()

    @app.event("app_home_opened")
    async def home(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient,
                   context: Any) -> None:  # fmt: skip
        if event.get("tab") != "home":
            return
        async with tracker.track():
            await adapter.publish_home(client, Origin.of(body, context))

    @app.event("app_uninstalled")
    async def uninstalled(body: dict[str, Any], context: Any) -> None:
        async with tracker.track():
            origin = Origin.of(body, context)
            if bot.installation_store is not None:
                await bot.installation_store.async_delete_installation(
                    enterprise_id=origin.enterprise_id, team_id=origin.team_id or None
                )
                await bot.installation_store.async_delete_bot(
                    enterprise_id=origin.enterprise_id, team_id=origin.team_id or None
                )
            await adapter.disconnected(origin)

    @app.event("tokens_revoked")
    async def revoked(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        async with tracker.track():
            origin = Origin.of(body, context)
            tokens = event.get("tokens") or {}
            store = bot.installation_store
            if store is not None:
                for user_id in tokens.get("oauth") or []:
                    await store.async_delete_installation(
                        enterprise_id=origin.enterprise_id,
                        team_id=origin.team_id or None,
                        user_id=user_id,
                    )
                if tokens.get("bot"):
                    await store.async_delete_bot(
                        enterprise_id=origin.enterprise_id, team_id=origin.team_id or None
                    )
            if tokens.get("bot"):
                await adapter.disconnected(origin)
