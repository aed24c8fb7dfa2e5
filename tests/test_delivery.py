"""Issue 11, "nothing lost, nothing sent twice": per-target records, leases renewed while a
slow worker sends, the delivery key looked for in Slack before a resend, migration 0006."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from slack_mock import MockSlack
from test_scheduler import SET_ON, Recorder, dispatcher, dm, london, seeded

from bot.notify import Pacer
from bot.reviews import ReviewService
from bot.scheduler import Dispatcher
from bot.slack.notifier import EVENT_TYPE, SlackNotifier
from model_data import MaturityModel
from storage import deliveries, repo
from storage import models as m
from storage.db import Database
from storage.models import ConversationRef
from workflows.notices import Notice

FRIDAY = "2025-01-31T08:00"  # 14 days before HT3 ends: Sam's reminders are due


async def no_sleep(_: float) -> None:
    return None


async def targets_of(database: Database, organisation_id: int) -> list[m.DeliveryTarget]:
    async with database.read() as session:
        rows = await deliveries.deliveries(session, organisation_id)
        return [t for r in rows for t in await deliveries.targets(session, r.id)]


async def test_a_retry_after_a_partial_failure_sends_only_to_the_targets_not_yet_sent(
    database: Database, school: MaturityModel
) -> None:
    """Sam has a Slack DM and a Teams chat; Teams fails once: Slack is not sent again."""
    organisation_id, sam = await seeded(database, school)
    await dm(database, organisation_id, sam, "slack")
    async with database.transaction() as session:
        await repo.save_conversation_ref(
            session, organisation_id, "teams", "a:sam", "personal", {}, SET_ON, sam
        )
    slack, teams = Recorder("slack"), Recorder("teams", failures=1)
    run = dispatcher(database, slack, teams)
    first = await run.run(london(FRIDAY))
    reminders = {n.sections[0][1][0] for _, n, _ in slack.sent}
    assert first.failed == 1 and len(reminders) == first.sent + 1
    targets = await targets_of(database, organisation_id)
    failed = [t for t in targets if t.status == "failed"]
    assert [(t.channel, t.attempts) for t in failed] == [("teams", 1)]
    assert all(t.message_id for t in targets if t.status == "sent")
    before = len(slack.sent)
    await run.run(london(FRIDAY) + timedelta(minutes=2))  # after the 1 minute backoff
    assert len(slack.sent) == before  # nothing twice on Slack
    assert len(teams.sent) == len(reminders)
    async with database.read() as session:
        [retried] = [
            d
            for d in await deliveries.deliveries(session, organisation_id)
            if d.id == failed[0].delivery_id
        ]
    assert retried.status == "sent"
    assert sorted(e["channel"] for e in retried.sent_to) == ["slack", "teams"]


class Slow(Recorder):
    """A live worker's chat service that takes a while per message."""

    def __init__(self, pause: float) -> None:
        super().__init__()
        self.pause = pause

    async def send(
        self, conversation: ConversationRef, notice: Notice, chart: bytes | None, key: str = ""
    ) -> str | None:
        await asyncio.sleep(self.pause)
        return await super().send(conversation, notice, chart, key)


async def test_a_slow_live_worker_keeps_its_claims_by_renewing_them(
    database: Database, school: MaturityModel
) -> None:
    """Lease 0.6 s, 1.5 s per send (a batch's sends run side by side): without the heartbeat
    the second worker would take over the first's batch and send it again. The margins
    are wide (a renewal is due every 0.2 s and may be 0.4 s late) because a renewal later
    than its lease on a loaded machine is a real takeover, not a flaky test."""
    organisation_id, sam = await seeded(database, school)
    await dm(database, organisation_id, sam)
    moment = london(FRIDAY)
    slow, eager = Slow(1.5), Recorder()

    def worker(notifier: Recorder) -> Dispatcher:
        return Dispatcher(
            ReviewService(database, lambda: SET_ON),
            {"slack": notifier},
            Pacer(sleep=no_sleep),
            clock=lambda: datetime.now(UTC),
            lease=timedelta(seconds=0.6),
        )

    first = worker(slow)
    await first.plan(moment)
    task = asyncio.create_task(first.deliver(moment))
    other = worker(eager)
    while not task.done():
        await asyncio.sleep(0.05)
        await other.deliver(moment)
    await task
    sent = Counter(n.sections[0][1][0] for _, n, _ in slow.sent + eager.sent)
    assert len(sent) >= 5 and set(sent.values()) == {1}
    # Its first batch (5 claims, one the digest that waits for an SLT channel) stayed its own.
    assert len(slow.sent) >= 4


def stub_bot(mock: MockSlack) -> Any:
    """What SlackNotifier uses of SlackBot: the token and the API's address."""

    async def token_for(team_id: str | None, enterprise_id: str | None = None) -> str:
        return "xoxb-test"

    return SimpleNamespace(
        token_for=token_for, settings=SimpleNamespace(slack_api_url=mock.api_url), session=None
    )


async def test_slack_finds_a_cut_off_send_by_its_key_instead_of_sending_again(
    database: Database, school: MaturityModel
) -> None:
    organisation_id, sam = await seeded(database, school)
    await dm(database, organisation_id, sam)
    mock = MockSlack()
    await mock.start()
    try:
        notifier = SlackNotifier(stub_bot(mock))
        run = Dispatcher(
            ReviewService(database, lambda: SET_ON),
            {"slack": notifier},  # type: ignore[dict-item]
            Pacer(sleep=no_sleep),
            clock=lambda: datetime.now(UTC),
        )
        await run.plan(london(FRIDAY))
        # A worker claims two reminders, notes its attempts, and Slack takes the first;
        # then it dies (kill -9) before marking either.
        async with database.transaction() as session:
            claimed = await deliveries.claim(
                session, "dead", london(FRIDAY), 3, datetime.now(UTC) - timedelta(minutes=1)
            )
        cut = [d for d in claimed if d.kind == "reminder"][:2]  # (the digest has no channel)
        assert len(cut) == 2
        for delivery in cut:
            async with database.transaction() as session:
                [target] = await deliveries.targets(session, delivery.id, [("slack", f"D-{sam}")])
                assert await deliveries.begin_target(session, target.id, "dead", datetime.now(UTC))
        async with database.read() as session:
            [ref] = await repo.conversation_refs(session, organisation_id, person_id=sam)
        posted = await notifier.send(ref, Notice.from_payload(cut[0].payload), None, cut[0].key)
        assert posted
        first = mock.last("chat.postMessage")
        assert first.params["metadata"] == {
            "event_type": EVENT_TYPE,
            "event_payload": {"key": cut[0].key, "target": f"D-{sam}"},
        }
        report = await run.deliver(london(FRIDAY))  # the lease ran out: taken over
        keys = Counter(
            c.params["metadata"]["event_payload"]["key"] for c in mock.calls_to("chat.postMessage")
        )
        assert report.sent == len(keys) > 2
        assert set(keys.values()) == {1}  # the cut-off one was found, not sent again
        history = mock.calls_to("conversations.history")
        assert len(history) == 2  # looked only where an attempt had begun
        assert all(c.params["include_all_metadata"] in ("1", "true", True) for c in history)
        targets = {t.delivery_id: t for t in await targets_of(database, organisation_id)}
        assert targets[cut[0].id].message_id == posted
        assert targets[cut[1].id].attempts == 2  # not found: sent, once
    finally:
        await mock.close()


async def test_0006_gives_sent_deliveries_their_sent_targets(database: Database) -> None:
    """Real data upgrades: a delivery sent before 0006 keeps its conversations as sent targets;
    a failed one gets none (nothing recorded where it went)."""
    await database.migrate("0005", down=True)
    at = datetime(2025, 2, 3, 8, 0, tzinfo=UTC)
    sent_to = [
        {"channel": "slack", "conversation": "C-SLT"},
        {"channel": "teams", "conversation": "19:slt"},
        {"channel": "slack", "conversation": "C-OLD", "skipped": "disconnected"},
        {"channel": "outbox"},
    ]
    async with database.transaction() as session:  # only the columns 0005 had, as SQL
        json, when = sa.JSON(), m.UTCDateTime()
        values = {
            "at": at, "week": at + timedelta(days=7), "sent_to": sent_to, "none": [], "p": {},
        }  # fmt: skip
        hill = await session.scalar(
            sa.text(
                "INSERT INTO organisations (name, edition, timezone, settings, created_at) "
                "VALUES ('Hill School', 'school', 'Europe/London', '{}', :at) RETURNING id"
            ).bindparams(sa.bindparam("at", type_=when)),
            values,
        )
        insert = sa.text(
            "INSERT INTO deliveries (key, organisation_id, kind, payload, due_at, stale_at, "
            "status, attempts, next_attempt_at, sent_at, sent_to, created_at) VALUES "
            "(:key, :hill, 'digest', :p, :at, :week, :status, :attempts, :at, :sent_at, "
            ":sent_to, :at)"
        ).bindparams(
            sa.bindparam("at", type_=when), sa.bindparam("week", type_=when),
            sa.bindparam("sent_at", type_=when), sa.bindparam("sent_to", type_=json),
            sa.bindparam("p", type_=json),
        )  # fmt: skip
        await session.execute(insert, {**values, "hill": hill, "key": "sent", "status": "sent",
                                       "attempts": 1, "sent_at": at})  # fmt: skip
        await session.execute(insert, {**values, "hill": hill, "key": "failed", "status": "failed",
                                       "attempts": 2, "sent_at": None, "sent_to": []})  # fmt: skip
    await database.migrate()
    async with database.read() as session:
        rows = list(
            await session.scalars(sa.select(m.DeliveryTarget).order_by(m.DeliveryTarget.id))
        )
        sent = await session.scalar(sa.select(m.Delivery.id).where(m.Delivery.key == "sent"))
    assert [(t.delivery_id, t.channel, t.conversation_id, t.status, t.sent_at) for t in rows] == [
        (sent, "slack", "C-SLT", "sent", at),
        (sent, "teams", "19:slt", "sent", at),
    ]
