"""Every send and card update to the Bot Framework connector, retried the same way.

Teams' connector answers 429 (throttled), 412, 502 and 504 when it is busy; one such answer
used to turn a reply into "Sorry, something went wrong". Here one policy covers them all:
a bounded number of attempts, exponential backoff with full jitter (so replicas retrying
together spread out), `Retry-After` honoured when the connector sends it, and a bound on
the total time spent waiting. Any other error is raised at once.

`RetryingCloudAdapter` applies it to what the SDK sends: `TurnContext.send_activity(ies)`,
`update_activity` (in a turn, and in proactive `continue_conversation` callbacks, which
send through the same adapter) and `create_conversation`. An update that still fails is
logged and returned as `UpdateFailed` rather than raised: a card that could not be replaced
stays answerable, and the turn goes on. `ConnectorAuthentication` switches off the SDK's
own hidden retries for sends and updates (msrest's urllib3 policy retries 5xx on PUT in a
worker thread and then raises an error without its status), so one policy is in play.

This module, like the rest of `bot/teams/`, is where the Bot Framework SDK is allowed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)
from botbuilder.schema import Activity, ConversationParameters, ResourceResponse
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    ClaimsIdentity,
    ConnectorFactory,
)

log = logging.getLogger("careers_bot.teams")

T = TypeVar("T")

# The codes Teams' rate-limit guidance says to retry ("Optimize your bot with rate limiting
# in Teams", learn.microsoft.com): throttled (429), 412, and the gateway errors of a busy
# service (502, 504). Anything else is not transient as far as we know, so it is raised.
RETRYABLE = frozenset({412, 429, 502, 504})

Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. The defaults keep a reply inside Teams' patience (about 15 s)."""

    attempts: int = 4  # calls in all, the first one included
    base_delay: float = 0.5  # seconds; the n-th retry waits up to base * 2**(n-1)
    max_delay: float = 4.0  # no single jittered wait is longer than this
    max_total_wait: float = 10.0  # seconds of waiting, over all retries of one call


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True)
class UpdateFailed:
    """What `update_activity` returns when a card could not be replaced, even after retries.

    It is falsy, so `if not await turn_context.update_activity(...)` reads naturally; but a
    successful update may also return None, so test with `isinstance(result, UpdateFailed)`
    (or `update_failed(result)`).
    """

    activity_id: str | None
    status: int | None  # the connector's HTTP status, None if it never answered
    reason: str

    def __bool__(self) -> bool:
        return False


def update_failed(result: object) -> bool:
    """Whether an `update_activity` result says the card was left as it was."""
    return isinstance(result, UpdateFailed)


# ----- reading an error ----------------------------------------------------------------------


def _response(error: BaseException) -> Any:
    """The HTTP response behind an SDK error: msrest's `HttpOperationError.response` (a
    requests or aiohttp response), or the error itself for aiohttp's ClientResponseError."""
    response = getattr(error, "response", None)
    return error if response is None else response  # not `or`: a requests 4xx/5xx is falsy


def status_of(error: BaseException) -> int | None:
    """The HTTP status an error carries, if it came from an HTTP answer at all."""
    response = _response(error)
    for name in ("status_code", "status"):
        value = getattr(response, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _header(headers: Any, name: str) -> str | None:
    """A header by name, whatever mapping the HTTP library used (case-insensitive)."""
    if not isinstance(headers, Mapping):
        return None
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == lowered), None)
    return None if value is None else str(value)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds ("3") or an HTTP date; None if absent
    or unreadable (then the jittered backoff is used instead)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" in the date: UTC by RFC 9110
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def retry_after(error: BaseException, now: datetime) -> float | None:
    """The wait the connector asked for in its answer, if any."""
    return parse_retry_after(
        _header(getattr(_response(error), "headers", None), "Retry-After"), now
    )


def backoff(retry: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Full jitter: anywhere between 0 and the capped exponential step for this retry
    (1 for the first retry), so many clients throttled together do not retry together."""
    ceiling = min(policy.max_delay, policy.base_delay * 2 ** max(0, retry - 1))
    return rng.uniform(0.0, ceiling)


def _now() -> datetime:
    return datetime.now(UTC)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
    clock: Callable[[], datetime] = _now,
    retry_if: Callable[[BaseException], bool] | None = None,
    what: str = "Teams call",
) -> T:
    """Await `call()`, calling it again after a 429/412/502/504 as `policy` allows.

    `call` must make a fresh request each time (a lambda or partial, not a coroutine).
    `retry_if` can veto a retry (e.g. once a callback has started, repeating would
    duplicate what it did). The last error is raised when attempts or waiting run out.
    """
    rng = rng or random.Random()
    waited = 0.0
    attempt = 1
    while True:
        try:
            return await call()
        except Exception as error:
            status = status_of(error)
            if status not in RETRYABLE or (retry_if is not None and not retry_if(error)):
                raise
            if attempt >= policy.attempts:
                log.warning("%s: HTTP %s after %d attempts; giving up", what, status, attempt)
                raise
            asked = retry_after(error, clock())
            delay = asked if asked is not None else backoff(attempt, policy, rng)
            remaining = policy.max_total_wait - waited
            # Retry-After is the service's instruction: wait all of it or not at all. A
            # jittered wait is only a guess, so it is cut to what is left of the budget.
            if remaining <= 0 or (asked is not None and asked > remaining):
                log.warning(
                    "%s: HTTP %s, a wait of %.1fs does not fit in the %.1fs left; giving up",
                    what,
                    status,
                    delay,
                    max(0.0, remaining),
                )
                raise
            delay = min(delay, remaining)
            log.info(
                "%s: HTTP %s; retry %d of %d in %.2fs",
                what,
                status,
                attempt,
                policy.attempts - 1,
                delay,
            )
            await sleep(delay)
            waited += delay
            attempt += 1


# ----- the SDK, wired to the policy ------------------------------------------------------------


READS = frozenset({"GET", "HEAD", "OPTIONS"})


def without_hidden_retries(client: ConnectorClient) -> ConnectorClient:
    """Leave msrest's own urllib3 retries to reads only.

    msrest retries every 5xx (in a worker thread, with real sleeps, then raises an error
    with no status) on the methods urllib3 allows, which include PUT: an update would be
    tried up to 16 times under two policies. Sends (POST) and updates (PUT) now come back
    to `with_retries` at the first refusal; reads such as member look-ups keep the SDK's
    behaviour, and connection failures are still retried by urllib3 as before.
    """
    retry = client.config.retry_policy.policy
    retry.allowed_methods = READS
    return client


class _PlainConnectorFactory(ConnectorFactory):
    """Makes the SDK's connector clients, minus their hidden status retries."""

    def __init__(self, inner: ConnectorFactory) -> None:
        self.inner = inner

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        return without_hidden_retries(await self.inner.create(service_url, audience))


def _plain(result: AuthenticateRequestResult) -> AuthenticateRequestResult:
    if result.connector_factory is not None:
        result.connector_factory = _PlainConnectorFactory(result.connector_factory)
    return result


class ConnectorAuthentication(ConfigurationBotFrameworkAuthentication):
    """The SDK's configuration-based authentication, handing out `_PlainConnectorFactory`s:
    directly (proactive sends, new conversations) and inside each authenticated request's
    result (which is where a turn's connector client comes from)."""

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return _PlainConnectorFactory(super().create_connector_factory(claims_identity))

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        return _plain(await super().authenticate_request(activity, auth_header))

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        return _plain(await super().authenticate_streaming_request(auth_header, channel_id_header))


class RetryingCloudAdapter(CloudAdapter):
    """The SDK's CloudAdapter, with every connector call made through `with_retries`.

    Tests replace `sleep` (and `rng`) after start-up so nothing really waits.
    """

    def __init__(
        self,
        authentication: ConfigurationBotFrameworkAuthentication,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(authentication)
        self.retry_policy = policy
        self.sleep = sleep
        self.rng = rng or random.Random()

    async def _retried(
        self,
        call: Callable[[], Awaitable[T]],
        what: str,
        retry_if: Callable[[BaseException], bool] | None = None,
    ) -> T:
        return await with_retries(
            call,
            policy=self.retry_policy,
            sleep=self.sleep,
            rng=self.rng,
            retry_if=retry_if,
            what=what,
        )

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        """One activity at a time, so a retry never sends again what already went."""
        if not activities:
            return await super().send_activities(context, activities)  # the SDK's TypeError
        send = super().send_activities
        responses: list[ResourceResponse] = []
        for activity in activities:
            responses.extend(
                await self._retried(functools.partial(send, context, [activity]), "Teams send")
            )
        return responses

    async def update_activity(
        self, context: TurnContext, activity: Activity
    ) -> ResourceResponse | UpdateFailed | None:
        """Replace an activity; if that still fails, log it and say so instead of raising."""
        update = super().update_activity
        try:
            return await self._retried(functools.partial(update, context, activity), "Teams update")
        except Exception as error:
            status = status_of(error)
            log.warning(
                "could not update activity %s (HTTP %s): %s: %s; it stays as it was",
                activity.id,
                status,
                type(error).__name__,
                error,
            )
            return UpdateFailed(activity.id, status, f"{type(error).__name__}: {error}")

    async def create_conversation(  # type: ignore[override]
        self,
        bot_app_id: str,
        callback: Callable[[TurnContext], Awaitable[Any]] | None = None,
        conversation_parameters: ConversationParameters | None = None,
        channel_id: str | None = None,
        service_url: str | None = None,
        audience: str | None = None,
    ) -> None:
        """Open a conversation, retrying the create call only: once `callback` has begun,
        its own sends are retried one by one, and running it again would repeat them."""
        started = False

        async def run(context: TurnContext) -> None:
            nonlocal started
            started = True
            if callback is not None:
                await callback(context)

        create = super().create_conversation
        await self._retried(
            functools.partial(
                create,
                bot_app_id,
                run if callback is not None else None,
                conversation_parameters,
                channel_id,
                service_url,
                audience,
            ),
            "Teams create conversation",
            retry_if=lambda _: not started,
        )
