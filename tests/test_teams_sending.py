"""Teams sends when the connector is busy: 429/412/502/504 retried, anything else not.

The end-to-end tests drive the real server over loopback, as tests/test_teams.py does, with
the mock connector told to refuse calls first (`MockConnector.fail`); the adapter's `sleep`
is replaced by a recorder, so nothing really waits and the waits asked for can be checked.
The unit tests check the policy itself: jitter bounds, Retry-After in both forms, limits.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ActivityTypes, ConversationReference
from teams_mock import Call
from test_teams import LABEL, TeamsClient, organisation_of, sqlite_settings, teams_bot
from test_teams import texts_of as texts

from bot.teams import TEAMS, send_to_member
from bot.teams import wording as teams_wording
from bot.teams.proactive import speak
from bot.teams.sending import (
    RETRYABLE,
    RetryPolicy,
    UpdateFailed,
    backoff,
    parse_retry_after,
    retry_after,
    status_of,
    update_failed,
    with_retries,
)
from storage import repo
from workflows import messages as msg

POLICY = RetryPolicy()


class Sleeps(list[float]):
    """Stands in for asyncio.sleep: remembers each wait instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@asynccontextmanager
async def busy_teams(tmp_path: Path) -> AsyncIterator[tuple[TeamsClient, Sleeps]]:
    """The real app and mock connector, with the adapter's waits recorded, not slept."""
    async with teams_bot(sqlite_settings(tmp_path)) as teams:
        sleeps = Sleeps()
        adapter = teams.app[TEAMS].adapter
        adapter.sleep = sleeps
        adapter.rng = random.Random(7)
        yield teams, sleeps


def ceiling(retry: int, policy: RetryPolicy = POLICY) -> float:
    return min(policy.max_delay, policy.base_delay * 2 ** (retry - 1))


def personal_reference(teams: TeamsClient) -> ConversationReference:
    """Where SAM's personal chat is, as a stored reference would say."""
    activity = Activity().deserialize(teams.activity("message_personal.json"))
    reference = TurnContext.get_conversation_reference(activity)
    reference.activity_id = None
    return reference


def count_of(calls: list[Call], text: str) -> int:
    return sum(text in texts([call]) for call in calls)


# ----- through the real server ---------------------------------------------------------------


async def test_a_throttled_reply_is_sent_once_after_retry_after(tmp_path: Path) -> None:
    async with busy_teams(tmp_path) as (teams, sleeps):
        mock = teams.mock
        mock.fail("send", 429, retry_after="1")
        before = mock.mark()
        await teams.say("review")
        sent = mock.since(before, "send")
        assert count_of(sent, msg.ASK_PARTICIPANTS) == 1
        assert count_of(sent, teams_wording.TEAMS_ERROR) == 0
        assert [c.kind for c in mock.refused] == ["send"]
        assert sleeps == [1.0]  # Retry-After honoured, not the jittered backoff


async def test_a_bad_gateway_twice_then_the_reply(tmp_path: Path) -> None:
    async with busy_teams(tmp_path) as (teams, sleeps):
        mock = teams.mock
        mock.fail("send", 502, times=2)
        before = mock.mark()
        await teams.say("review")
        sent = mock.since(before, "send")
        assert count_of(sent, msg.ASK_PARTICIPANTS) == 1
        assert count_of(sent, teams_wording.TEAMS_ERROR) == 0
        assert len(mock.refused) == 2 and not mock.refusals["send"]
        assert len(sleeps) == 2
        assert all(0.0 <= wait <= ceiling(n) for n, wait in enumerate(sleeps, start=1))


async def test_a_bad_request_is_not_retried(tmp_path: Path) -> None:
    async with busy_teams(tmp_path) as (teams, sleeps):
        mock = teams.mock
        mock.fail("send", 400)
        before = mock.mark()
        await teams.say("review")
        assert len(mock.refused) == 1 and sleeps == []
        # Raised at once into the turn, which apologises (that send is accepted).
        assert [c.text for c in mock.since(before, "send")] == [teams_wording.TEAMS_ERROR]


async def test_a_card_that_cannot_be_replaced_stays_and_the_bot_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with busy_teams(tmp_path) as (teams, sleeps):
        mock = teams.mock
        await teams.say("review")
        participants = mock.last_card()
        assert msg.ASK_PARTICIPANTS in teams.card_texts(participants)

        mock.fail("update", 504, times=5)
        before = mock.mark()
        with caplog.at_level(logging.WARNING, logger="careers_bot.teams"):
            await teams.click(participants, LABEL["save"], participants="just me")
        # Four attempts (the policy's bound), then given up: logged, not raised.
        assert [c.kind for c in mock.refused] == ["update"] * POLICY.attempts
        assert len(mock.refusals["update"]) == 5 - POLICY.attempts
        assert len(sleeps) == POLICY.attempts - 1
        assert f"could not update activity {participants.activity_id}" in caplog.text
        sent = mock.since(before, "send")
        assert sent and count_of(sent, teams_wording.TEAMS_ERROR) == 0
        assert mock.since(before, "update") == []
        # The card is as it was: still answerable, its Save button still there.
        assert mock.current(participants.activity_id).card == participants.card

        # The next activity is answered normally: the statement's card is updated in place.
        question = mock.last_card()
        before = mock.mark()
        await teams.say("3")
        assert count_of(mock.since(before, "send"), teams_wording.TEAMS_ERROR) == 0
        assert [c.activity_id for c in mock.since(before, "update")] == [question.activity_id]


async def test_proactive_sends_and_updates_use_the_same_policy(tmp_path: Path) -> None:
    async with busy_teams(tmp_path) as (teams, sleeps):
        mock = teams.mock
        await teams.say("review")
        runtime = teams.app[TEAMS]
        reference = personal_reference(teams)

        # A reminder throttled with an HTTP-date Retry-After in the past: sent at once.
        mock.fail("send", 429, retry_after="Wed, 01 Jan 2020 00:00:00 GMT")
        before = mock.mark()
        ids = await speak(runtime.adapter, runtime.app_id, reference, [Activity(text="Due")])
        assert [c.text for c in mock.since(before, "send")] == ["Due"]
        assert ids == [mock.since(before, "send")[0].activity_id] and sleeps == [0.0]

        # An update that keeps failing comes back as UpdateFailed, for the caller to check.
        card = mock.last_card()
        mock.fail("update", 412, times=POLICY.attempts)
        results: list[Any] = []

        async def replace(context: TurnContext) -> None:
            replacement = Activity(type=ActivityTypes.message, id=card.activity_id, text="Done")
            results.append(await context.update_activity(replacement))

        await runtime.adapter.continue_conversation(reference, replace, bot_app_id=None)
        (result,) = results
        assert isinstance(result, UpdateFailed) and update_failed(result) and not result
        assert (result.activity_id, result.status) == (card.activity_id, 412)
        assert mock.current(card.activity_id).card == card.card

        # When it works, the SDK's own result comes back, which is not a failure.
        results.clear()
        await runtime.adapter.continue_conversation(reference, replace, bot_app_id=None)
        assert not update_failed(results[0]) and mock.current(card.activity_id).text == "Done"


async def test_creating_a_conversation_is_retried_but_its_messages_are_not_repeated(
    tmp_path: Path,
) -> None:
    async with busy_teams(tmp_path) as (teams, sleeps):
        mock = teams.mock
        await teams.say("review")
        organisation = await organisation_of(teams.db)
        async with teams.db.transaction() as session:
            (via,) = await repo.conversation_refs(session, organisation.id, "teams")
        mock.fail("create", 429, retry_after="0")
        mock.fail("send", 502)
        before = mock.mark()
        row = await send_to_member(teams.app, via, "29:1Alex", "Hello Alex")
        created, hello = mock.since(before)
        assert created.kind == "create" and hello.text == "Hello Alex"
        assert row.conversation_id == created.conversation == hello.conversation
        assert [c.kind for c in mock.refused] == ["create", "send"]
        assert sleeps[0] == 0.0 and len(sleeps) == 2


# ----- the policy ----------------------------------------------------------------------------


@dataclass
class HttpAnswer:
    """An HTTP answer as msrest keeps it on `HttpOperationError.response`."""

    status_code: int
    headers: dict[str, str] = field(default_factory=dict)


class ConnectorError(Exception):
    """Shaped like the SDK's ErrorResponseException: the answer is on `.response`."""

    def __init__(self, status: int, **headers: str) -> None:
        super().__init__(f"HTTP {status}")
        self.response = HttpAnswer(status, {k.replace("_", "-"): v for k, v in headers.items()})


class Connector:
    """A call that fails with the given errors, in order, then answers "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Highest(random.Random):
    """Always the top of the jitter range: the longest wait the policy can choose."""

    def uniform(self, a: float, b: float) -> float:
        return b


NOW = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


def test_full_jitter_stays_within_the_capped_exponential_step() -> None:
    rng = random.Random(1)
    for retry in range(1, 8):
        waits = [backoff(retry, POLICY, rng) for _ in range(200)]
        assert all(0.0 <= wait <= ceiling(retry) for wait in waits)
        assert len(set(waits)) > 1  # jittered, not a fixed step
    assert [backoff(n, POLICY, Highest()) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        ("0", 0.0),
        (" 1.5 ", 1.5),
        (format_datetime(NOW + timedelta(seconds=7), usegmt=True), 7.0),
        ("Wed, 15 Jan 2025 09:30:05 -0000", 5.0),
        (format_datetime(NOW - timedelta(minutes=5), usegmt=True), 0.0),
        ("-4", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(value: str | None, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_the_status_and_retry_after_are_read_from_the_sdk_error() -> None:
    error = ConnectorError(429, retry_after="2")
    assert status_of(error) == 429 and retry_after(error, NOW) == 2.0
    lower = ConnectorError(503)
    lower.response.headers = {"retry-after": "4"}
    assert retry_after(lower, NOW) == 4.0
    assert status_of(ValueError("no answer at all")) is None
    assert {412, 429, 502, 504} == RETRYABLE


async def test_retry_after_is_honoured_over_the_backoff() -> None:
    sleeps = Sleeps()
    date = format_datetime(NOW + timedelta(seconds=3), usegmt=True)
    call = Connector(ConnectorError(429, retry_after="2"), ConnectorError(412, retry_after=date))
    assert await with_retries(call, sleep=sleeps, clock=lambda: NOW) == "ok"
    assert call.calls == 3 and sleeps == [2.0, 3.0]


@pytest.mark.parametrize("status", sorted(RETRYABLE))
async def test_each_retryable_status_is_retried_with_jitter(status: int) -> None:
    sleeps = Sleeps()
    call = Connector(ConnectorError(status), ConnectorError(status))
    assert await with_retries(call, sleep=sleeps, rng=random.Random(3)) == "ok"
    assert call.calls == 3 and len(sleeps) == 2
    assert all(0.0 <= wait <= ceiling(n) for n, wait in enumerate(sleeps, start=1))


@pytest.mark.parametrize("error", [ConnectorError(400), ConnectorError(500), RuntimeError("x")])
async def test_other_errors_are_raised_at_once(error: Exception) -> None:
    sleeps = Sleeps()
    call = Connector(error)
    with pytest.raises(type(error)):
        await with_retries(call, sleep=sleeps)
    assert call.calls == 1 and sleeps == []


async def test_attempts_are_bounded() -> None:
    sleeps = Sleeps()
    call = Connector(*[ConnectorError(502) for _ in range(10)])
    with pytest.raises(ConnectorError):
        await with_retries(call, sleep=sleeps)
    assert call.calls == POLICY.attempts and len(sleeps) == POLICY.attempts - 1


async def test_the_total_wait_is_bounded() -> None:
    policy = RetryPolicy(attempts=6, base_delay=4.0, max_delay=8.0, max_total_wait=10.0)
    sleeps = Sleeps()
    call = Connector(*[ConnectorError(504) for _ in range(10)])
    with pytest.raises(ConnectorError):
        await with_retries(call, policy=policy, sleep=sleeps, rng=Highest())
    assert sleeps == [4.0, 6.0]  # 4, then what is left of the 10 s; then no more
    assert call.calls == 3


async def test_a_retry_after_longer_than_the_budget_gives_up_without_waiting() -> None:
    sleeps = Sleeps()
    call = Connector(ConnectorError(429, retry_after="120"))
    with pytest.raises(ConnectorError):
        await with_retries(call, sleep=sleeps)
    assert call.calls == 1 and sleeps == []


async def test_a_caller_can_veto_a_retry() -> None:
    call = Connector(ConnectorError(429))
    with pytest.raises(ConnectorError):
        await with_retries(call, sleep=Sleeps(), retry_if=lambda error: False)
    assert call.calls == 1
