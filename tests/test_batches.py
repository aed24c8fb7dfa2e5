"""Issue 12, the sender's batches: targets recorded with their attempt in one INSERT, a
delivery tried before keeping its targets, marks that ride the next claim, a claim taken
over meanwhile never marked, and the pacer's fast path never letting two sends through one
conversation's slot. On SQLite and PostgreSQL (the `database` fixture)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from test_sending import AS_OF, reminders

from bot.notify import Pacer
from bot.reviews import ReviewService
from bot.scheduler import Dispatcher, Marks, Report
from storage import deliveries
from storage import models as m
from storage.db import Database

NOW = datetime(2025, 2, 3, 8, 0, 5, tzinfo=UTC)


async def claimed(database: Database, worker: str, size: int = 100) -> list[deliveries.Claimed]:
    async with database.transaction() as session:
        return await deliveries.claim_rows(session, worker, AS_OF, size, NOW)


async def test_new_targets_are_recorded_with_their_attempt_and_old_ones_keep_theirs(
    database: Database,
) -> None:
    """A delivery sent the first time gets its targets from the INSERT, attempt noted; one
    tried before keeps its targets' attempts (the sender looks in Slack before resending);
    a target already sent is never begun again; a target added since is new."""
    await reminders(database, ["D1", "D2"])
    first, second = await claimed(database, "w1")
    earlier = NOW - timedelta(minutes=5)
    async with database.transaction() as session:
        session.add_all([
            m.DeliveryTarget(delivery_id=second.id, channel="slack", conversation_id="D2",
                             status="failed", attempts=1, attempted_at=earlier),
            m.DeliveryTarget(delivery_id=second.id, channel="teams", conversation_id="T2",
                             status="sent", attempts=1, attempted_at=earlier),
        ])  # fmt: skip
    wanted = {
        first.id: [("slack", "D1")],
        second.id: [("slack", "D2"), ("teams", "T2"), ("teams", "T2b")],
    }
    async with database.transaction() as session:
        found, begun = await deliveries.begin_batch(session, wanted, "w1", NOW)

    assert [(t.conversation_id, t.attempts, t.attempted_at) for t in found[first.id]] == [
        ("D1", 0, None)
    ]
    old_slack, old_teams, new_teams = found[second.id]  # in the order first recorded
    assert (old_slack.conversation_id, old_slack.attempts) == ("D2", 1)
    assert old_slack.attempted_at is not None
    assert abs(old_slack.attempted_at - earlier) < timedelta(seconds=1)
    assert (old_teams.conversation_id, old_teams.status) == ("T2", "sent")
    assert (new_teams.conversation_id, new_teams.attempts, new_teams.attempted_at) == (
        "T2b",
        0,
        None,
    )
    assert begun == {found[first.id][0].id, old_slack.id, new_teams.id}  # not the sent one
    async with database.read() as session:
        stored = {
            t.conversation_id: (t.attempts, t.status)
            for t in await session.scalars(select(m.DeliveryTarget))
        }
    assert stored == {"D1": (1, "pending"), "D2": (2, "failed"), "T2": (1, "sent"),
                      "T2b": (1, "pending")}  # fmt: skip


async def test_a_claim_taken_over_meanwhile_is_not_marked_by_its_old_worker(
    database: Database,
) -> None:
    """`finish` marks only what the worker still holds, and says which it marked (SQLite
    by the rows its UPDATE matched, PostgreSQL by reading them first, locked)."""
    await reminders(database, ["D1", "D2", "D3"])
    one, two, three = await claimed(database, "w1")
    async with database.transaction() as session:
        await session.execute(
            update(m.Delivery).where(m.Delivery.id == two.id).values(claimed_by="w2")
        )
    async with database.transaction() as session:
        held = await deliveries.finish(
            session, "w1", NOW,
            {one.id: [{"channel": "slack", "conversation": "D1"}],
             two.id: [{"channel": "slack", "conversation": "D2"}]},
            {three.id: (0, "Slack: internal_error")},
        )  # fmt: skip
    assert held == {one.id, three.id}
    async with database.read() as session:
        rows = {d.id: d for d in await session.scalars(select(m.Delivery))}
    assert rows[one.id].status == "sent" and rows[one.id].lease_until is None
    assert rows[two.id].status == "claimed" and rows[two.id].claimed_by == "w2"
    assert rows[three.id].status == "failed" and rows[three.id].last_error


def dispatcher(database: Database) -> Dispatcher:
    return Dispatcher(ReviewService(database, lambda: AS_OF), {}, clock=lambda: datetime.now(UTC))


async def test_marks_waiting_ride_the_next_claim_and_are_kept_if_it_fails(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next batch's claim writes the marks waiting in its own transaction; if that
    transaction fails, they are kept, in order, and written by the next group."""
    await reminders(database, ["D1", "D2"])
    sender = dispatcher(database)
    (one, two) = await claimed(database, sender.worker)
    report = Report()
    marks = Marks(sender, AS_OF, report)
    await marks.delivery_sent(one.id, [{"channel": "outbox"}])

    async def broken(*_: object, **__: object) -> list[deliveries.Claimed]:
        raise RuntimeError("the database went away mid-claim")

    monkeypatch.setattr(deliveries, "claim_rows", broken)
    with pytest.raises(RuntimeError):
        await sender._claim(AS_OF, marks)
    await marks.delivery_sent(two.id, [{"channel": "outbox"}])
    assert list(marks.waiting_group.done) == [one.id, two.id]  # kept, first still first
    assert report.sent == 0
    monkeypatch.undo()

    assert await sender._claim(AS_OF, marks) == []  # nothing left to claim; marks written
    assert report.sent == 2 and marks.flushes == 1 and not len(marks.waiting_group)
    async with database.read() as session:
        assert set(await session.scalars(select(m.Delivery.status))) == {"sent"}


def test_the_pacer_never_lets_two_sends_through_one_slot_while_the_gate_is_busy() -> None:
    """With a shared limit of messages in flight: a conversation free now goes at once,
    others do not queue behind its pacing, and each further send to it waits its second."""
    now = [1000.0]
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)
        await asyncio.sleep(0)  # others run meanwhile
        now[0] += seconds

    pacer = Pacer(clock=lambda: now[0], sleep=sleep)

    async def run() -> list[tuple[str, float]]:
        gate = asyncio.Semaphore(3)
        seen: list[tuple[str, float]] = []

        async def send(conversation: str) -> None:
            async with pacer.turn("slack", conversation, gate):
                seen.append((conversation, now[0]))
                await asyncio.sleep(0)  # in flight: holds its place in the gate

        await asyncio.gather(*(send(c) for c in ["C1", "C1", "C2", "C3", "C1"]))
        return seen

    seen = asyncio.run(run())
    assert seen == [("C1", 1000.0), ("C2", 1000.0), ("C3", 1000.0), ("C1", 1001.0),
                    ("C1", 1002.0)]  # fmt: skip
    assert waited == [1.0, 1.0]
