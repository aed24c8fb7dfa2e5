"""Repository for reminders and digests: record once, claim with a lease, mark sent or failed.

Portable SQL: the claim is one `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)
RETURNING id`. PostgreSQL skips rows another claimer holds; SQLite ignores FOR UPDATE, but
every transaction there starts with BEGIN IMMEDIATE (storage.db), so claimers queue instead.

Leases are short and measured on the real clock (`lease_now`), not on the sweep's `as_of`
(which is what is due, and may be any moment in a test or a send by hand): the holder
renews them while it sends, so a crashed worker's claims are taken over within LEASE.
Each conversation a delivery goes to is a `DeliveryTarget` row of its own (docs/delivery.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, NotRequired, TypedDict, cast

from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import planning
from storage.db import among, rowcount
from storage.models import ChatLink, ConversationRef, Delivery, DeliveryTarget, Organisation
from storage.repo import DISCONNECTED

# Long enough for a few sends and a renewal's round trip; short enough that a crashed
# worker's claims go out again within seconds. The holder renews it every LEASE / 3.
LEASE = timedelta(seconds=30)
# A worker claims this many at once and sends them concurrently (bot/scheduler.py), with
# what they need loaded, their targets noted and their marks written in bulk statements.
# 200 rather than 100: half the transactions, each waiting on a loop busy with 100 messages
# in flight (bench sending: 1.64-1.72x the baseline instead of 1.79-1.86x).
CLAIM_BATCH = 200
MAX_ATTEMPTS = 8
BACKOFF = [timedelta(minutes=m) for m in (1, 5, 15, 30, 60, 120, 240)]

# Core tables: the sender's statements return plain rows (no ORM entities to build and
# track), and its marks are plain executemany, each row its own values (the ORM's bulk
# UPDATE by primary key would not keep the "still held by this worker" conditions).
_TARGETS = cast(Table, DeliveryTarget.__table__)
_DELIVERIES = cast(Table, Delivery.__table__)
_REFS = cast(Table, ConversationRef.__table__)


class SentTo(TypedDict):
    """Where a delivery went (Delivery.sent_to): a channel's conversation, or the outbox."""

    channel: str
    conversation: NotRequired[str]
    skipped: NotRequired[str]  # why it was not sent there (disconnected, no conversation)


async def record(
    session: AsyncSession,
    *,
    key: str,
    organisation_id: int,
    kind: str,
    due_at: datetime,
    stale_at: datetime,
    payload: dict[str, Any],
    person_id: int | None = None,
    action_id: int | None = None,
) -> bool:
    """Record a delivery unless its key exists already; True if this call recorded it
    (storage.planning.record, which a sweep uses for many at once)."""
    row = {
        "key": key, "organisation_id": organisation_id, "kind": kind, "person_id": person_id,
        "action_id": action_id, "payload": payload, "due_at": due_at, "stale_at": stale_at,
    }  # fmt: skip
    return await planning.record(session, [row]) == 1


async def drop_stale(
    session: AsyncSession, now: datetime, lease_now: datetime | None = None
) -> int:
    """What is no longer worth sending (a superseded reminder, last week's digest) is dropped.

    A claimed one only once its lease (on the real clock, `lease_now`) has run out."""
    lease_now = lease_now or now
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.stale_at <= now,
            or_(
                Delivery.status.in_(["pending", "failed"]),
                and_(Delivery.status == "claimed", Delivery.lease_until < lease_now),
            ),
        )
        .values(status="dropped", last_error="stale: its moment passed before it could be sent")
        .execution_options(synchronize_session=False)
    )
    return int(rowcount(result) or 0)


def _claiming(worker: str, now: datetime, limit: int, lease_now: datetime, lease: timedelta) -> Any:
    """UPDATE ... WHERE id IN (ready, FOR UPDATE SKIP LOCKED): the claim, without RETURNING."""
    disconnected = select(Organisation.id).where(Organisation.disconnected_at.is_not(None))
    ready = (
        select(Delivery.id)
        .where(
            Delivery.stale_at > now,
            Delivery.organisation_id.not_in(disconnected),
            or_(
                and_(Delivery.status.in_(["pending", "failed"]), Delivery.next_attempt_at <= now),
                and_(Delivery.status == "claimed", Delivery.lease_until < lease_now),
            ),
        )
        .order_by(Delivery.due_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (
        update(_DELIVERIES)
        .where(_DELIVERIES.c.id.in_(ready.scalar_subquery()))
        .values(
            status="claimed",
            claimed_by=worker,
            lease_until=lease_now + lease,
            attempts=_DELIVERIES.c.attempts + 1,
        )
    )


async def claim(
    session: AsyncSession,
    worker: str,
    now: datetime,
    limit: int = CLAIM_BATCH,
    lease_now: datetime | None = None,
    lease: timedelta = LEASE,
) -> list[Delivery]:
    """Take up to `limit` deliveries ready at `now` for `worker`, leased until `lease_now` +
    `lease`; another worker takes over a claim whose lease ran out (it crashed).

    A disconnected school's deliveries are left waiting: they go out if it reconnects before
    they are stale (`drop_stale` drops them otherwise). (The sender uses `claim_rows`: the
    same claim, returning plain rows in the same statement.)
    """
    lease_now = lease_now or now
    result = await session.execute(
        _claiming(worker, now, limit, lease_now, lease).returning(_DELIVERIES.c.id)
    )
    ids = [row[0] for row in result]
    if not ids:
        return []
    rows = await session.scalars(
        select(Delivery)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.due_at, Delivery.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


class Claimed(NamedTuple):
    """A claimed delivery as the sender needs it: a plain row, not an ORM entity."""

    id: int
    key: str
    organisation_id: int
    kind: str
    person_id: int | None
    attempts: int  # this claim's included
    payload: dict[str, Any]
    due_at: datetime


async def claim_rows(
    session: AsyncSession,
    worker: str,
    now: datetime,
    limit: int = CLAIM_BATCH,
    lease_now: datetime | None = None,
    lease: timedelta = LEASE,
) -> list[Claimed]:
    """`claim`, in one statement (UPDATE ... RETURNING what the sender needs), as plain rows
    in the order they were due."""
    lease_now = lease_now or now
    c = _DELIVERIES.c
    result = await session.execute(
        _claiming(worker, now, limit, lease_now, lease).returning(
            c.id, c.key, c.organisation_id, c.kind, c.person_id, c.attempts, c.payload, c.due_at
        )
    )
    rows = [Claimed(*row) for row in result]
    rows.sort(key=lambda row: (row.due_at, row.id))
    return rows


async def renew(
    session: AsyncSession,
    ids: list[int],
    worker: str,
    lease_now: datetime,
    lease: timedelta = LEASE,
) -> set[int]:
    """The holder keeps its claims while it sends; the ids it still holds."""
    if not ids:
        return set()
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.claimed_by == worker, Delivery.status == "claimed")
        .values(lease_until=lease_now + lease)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return {row[0] for row in result}


async def mark_sent(
    session: AsyncSession, delivery_id: int, worker: str, now: datetime, sent_to: list[SentTo]
) -> bool:
    """Only the worker holding the claim marks it sent."""
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id, Delivery.claimed_by == worker, Delivery.status == "claimed"
        )
        .values(status="sent", sent_at=now, sent_to=sent_to, lease_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(rowcount(result))


async def mark_failed(
    session: AsyncSession, delivery_id: int, worker: str, now: datetime, attempts: int, error: str
) -> None:
    """Try again later with backoff; after MAX_ATTEMPTS it is dropped with the last error.

    Only the worker holding the claim: one whose lease was taken over changes nothing."""
    status = "dropped" if attempts >= MAX_ATTEMPTS else "failed"
    delay = BACKOFF[min(attempts, len(BACKOFF)) - 1] if attempts else BACKOFF[0]
    await session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id, Delivery.claimed_by == worker, Delivery.status == "claimed"
        )
        .values(
            status=status, next_attempt_at=now + delay, lease_until=None, last_error=error[:2000]
        )
        .execution_options(synchronize_session=False)
    )


# ----- targets: each conversation of a delivery on its own -----------------------------------


async def targets(
    session: AsyncSession, delivery_id: int, wanted: list[tuple[str, str]] | None = None
) -> list[DeliveryTarget]:
    """A delivery's targets in the order they were first recorded; `wanted` (channel,
    conversation) pairs are recorded first if they are not yet."""
    if wanted:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        rows = [
            {"delivery_id": delivery_id, "channel": channel, "conversation_id": conversation,
             "status": "pending", "attempts": 0}
            for channel, conversation in dict.fromkeys(wanted)
        ]  # fmt: skip
        await session.execute(
            insert(DeliveryTarget)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["delivery_id", "channel", "conversation_id"])
        )
    found = await session.scalars(
        select(DeliveryTarget)
        .where(DeliveryTarget.delivery_id == delivery_id)
        .order_by(DeliveryTarget.id)
        .execution_options(populate_existing=True)
    )
    return list(found)


async def begin_target(
    session: AsyncSession, target_id: int, worker: str, lease_now: datetime
) -> bool:
    """Note an attempt at one target just before sending; False (send nothing) unless
    `worker` still holds its delivery's claim."""
    held = (
        select(Delivery.id)
        .where(Delivery.claimed_by == worker, Delivery.status == "claimed")
        .scalar_subquery()
    )
    result = await session.execute(
        update(DeliveryTarget)
        .where(
            DeliveryTarget.id == target_id,
            DeliveryTarget.status != "sent",
            DeliveryTarget.delivery_id.in_(held),
        )
        .values(attempts=DeliveryTarget.attempts + 1, attempted_at=lease_now)
        .execution_options(synchronize_session=False)
    )
    return bool(rowcount(result))


async def target_sent(
    session: AsyncSession, target_id: int, at: datetime, message_id: str | None
) -> None:
    await session.execute(
        update(DeliveryTarget)
        .where(DeliveryTarget.id == target_id)
        .values(status="sent", sent_at=at, message_id=message_id, last_error=None)
        .execution_options(synchronize_session=False)
    )


async def target_failed(session: AsyncSession, target_id: int, error: str) -> None:
    await session.execute(
        update(DeliveryTarget)
        .where(DeliveryTarget.id == target_id, DeliveryTarget.status != "sent")
        .values(status="failed", last_error=error[:2000])
        .execution_options(synchronize_session=False)
    )


async def due_now(session: AsyncSession, key: str, now: datetime) -> None:
    """A delivery waiting on its backoff (or for a channel) is tried now: asked for by hand."""
    await session.execute(
        update(Delivery)
        .where(Delivery.key == key, Delivery.status.in_(("pending", "failed")))
        .values(next_attempt_at=now)
    )


async def deliveries(
    session: AsyncSession, organisation_id: int | None = None, status: str | None = None
) -> list[Delivery]:
    query = select(Delivery).order_by(Delivery.id)
    if organisation_id is not None:
        query = query.where(Delivery.organisation_id == organisation_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    return list(await session.scalars(query))


# ----- in bulk: what a claimed batch needs, its attempts and its marks ------------------------


class Attempt(TypedDict):
    """A target's earlier attempt, as it was before this one began (for the Slack look-up)."""

    attempts: int
    attempted_at: datetime | None


class Conversation(NamedTuple):
    """A stored conversation (`ConversationRef`) as a plain row, with the same fields: what
    the sender gives a notifier."""

    id: int
    organisation_id: int
    channel: str
    conversation_id: str
    kind: str
    person_id: int | None
    reference: dict[str, Any]


async def batch_context(
    session: AsyncSession, organisation_ids: set[int]
) -> tuple[dict[int, set[str]], set[int], list[Conversation]]:
    """Everything a batch's deliveries need to know where they go, in two queries: each
    organisation's chat channels it removed the app from (`repo.disconnected_channels`) and
    whether it is linked to a chat workspace or team; then the stored conversations (in the
    order they were stored)."""
    ids = sorted(organisation_ids)
    linked_to_chat = select(ChatLink.id).where(ChatLink.organisation_id == Organisation.id).exists()
    gone: dict[int, set[str]] = {}
    linked: set[int] = set()
    for organisation, settings, is_linked in await session.execute(
        select(Organisation.id, Organisation.settings, linked_to_chat).where(
            among(session, Organisation.id, ids)
        )
    ):
        gone[organisation] = set((settings or {}).get(DISCONNECTED) or {})
        if is_linked:
            linked.add(organisation)
    c = _REFS.c
    refs = [
        Conversation(*row)
        for row in await session.execute(
            select(c.id, c.organisation_id, c.channel, c.conversation_id, c.kind, c.person_id,
                   c.reference)
            .where(among(session, c.organisation_id, ids))
            .order_by(c.id)
        )
    ]  # fmt: skip
    return gone, linked, refs


@dataclass(slots=True)
class Target:
    """A delivery's target as the sender needs it (a plain row of `delivery_targets`)."""

    id: int
    delivery_id: int
    channel: str
    conversation_id: str
    status: str
    attempts: int
    attempted_at: datetime | None


async def begin_batch(
    session: AsyncSession,
    wanted: dict[int, list[tuple[str, str]]],
    worker: str,
    lease_now: datetime,
) -> tuple[dict[int, list[Target]], set[int]]:
    """A batch's targets, by delivery id in the order they were first recorded, as they
    were before this attempt; and the ids whose attempt is noted now (only those may be
    sent). Called in the claim's transaction.

    Targets recorded now are inserted with their attempt already noted, and returned by
    the INSERT itself: a batch sent for the first time costs this one statement. A
    delivery tried before keeps its targets: those are read, and an attempt is noted on
    its unsent ones (one UPDATE, only while `worker` holds the claim)."""
    rows = [
        {"delivery_id": delivery_id, "channel": channel, "conversation_id": conversation,
         "status": "pending", "attempts": 1, "attempted_at": lease_now}
        for delivery_id, places in wanted.items()
        for channel, conversation in dict.fromkeys(places)
    ]  # fmt: skip
    found: dict[int, list[Target]] = {delivery_id: [] for delivery_id in wanted}
    begun: set[int] = set()
    if not rows:
        return found, begun
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    c = _TARGETS.c
    new = await session.execute(
        insert(_TARGETS)
        .on_conflict_do_nothing(index_elements=["delivery_id", "channel", "conversation_id"])
        .returning(c.id, c.delivery_id, c.channel, c.conversation_id),
        rows,
    )  # one multi-row INSERT ... RETURNING (SQLAlchemy's insertmanyvalues)
    for target_id, delivery_id, channel, conversation in sorted(new):
        found[delivery_id].append(
            Target(target_id, delivery_id, channel, conversation, "pending", 0, None)
        )
        begun.add(target_id)
    tried = [d for d, places in wanted.items() if len(found[d]) < len(dict.fromkeys(places))]
    if not tried:
        return found, begun
    for delivery_id in tried:
        found[delivery_id] = []
    for row in await session.execute(
        select(c.id, c.delivery_id, c.channel, c.conversation_id, c.status, c.attempts,
               c.attempted_at)
        .where(among(session, c.delivery_id, tried))
        .order_by(c.id)
    ):  # fmt: skip
        target = Target(*row)
        if target.id in begun:  # recorded just now: as it was before this attempt
            target.attempts, target.attempted_at = 0, None
        found[target.delivery_id].append(target)
    unsent = [t.id for d in tried for t in found[d] if t.status != "sent" and t.id not in begun]
    begun |= await begin_targets(session, unsent, worker, lease_now)
    return found, begun


async def begin_targets(
    session: AsyncSession, target_ids: list[int], worker: str, lease_now: datetime
) -> set[int]:
    """`begin_target` for many targets in one statement; the ids noted (those whose delivery
    `worker` still holds, and not already sent): only those may be sent."""
    if not target_ids:
        return set()
    held = (
        select(Delivery.id)
        .where(Delivery.claimed_by == worker, Delivery.status == "claimed")
        .scalar_subquery()
    )
    result = await session.execute(
        update(DeliveryTarget)
        .where(
            among(session, DeliveryTarget.id, target_ids),
            DeliveryTarget.status != "sent",
            DeliveryTarget.delivery_id.in_(held),
        )
        .values(attempts=DeliveryTarget.attempts + 1, attempted_at=lease_now)
        .returning(DeliveryTarget.id)
        .execution_options(synchronize_session=False)
    )
    return {row[0] for row in result}


async def targets_marked(
    session: AsyncSession,
    sent: list[tuple[int, datetime, str | None]],
    failed: list[tuple[int, str]],
) -> None:
    """`target_sent` (id, when, message id) and `target_failed` (id, error) for many
    targets: one executemany statement each."""
    if sent:
        await session.execute(
            update(_TARGETS)
            .where(_TARGETS.c.id == bindparam("t_id"))
            .values(
                status="sent",
                sent_at=bindparam("t_at"),
                message_id=bindparam("t_message"),
                last_error=None,
            ),
            [{"t_id": i, "t_at": at, "t_message": message} for i, at, message in sent],
        )
    if failed:
        await session.execute(
            update(_TARGETS)
            .where(_TARGETS.c.id == bindparam("t_id"), _TARGETS.c.status != "sent")
            .values(status="failed", last_error=bindparam("t_error")),
            [{"t_id": i, "t_error": error[:2000]} for i, error in failed],
        )


async def finish(
    session: AsyncSession,
    worker: str,
    now: datetime,
    sent: dict[int, list[SentTo]],
    failed: dict[int, tuple[int, str]],
) -> set[int]:
    """`mark_sent` and `mark_failed` for many deliveries (failed: id -> (attempts, error)):
    only those `worker` still holds; the ids marked.

    Each UPDATE carries the holder's conditions. Where the driver counts the rows an
    executemany matched (SQLite), that count is the check: when every row matched, as
    nearly always, nothing is read back, and otherwise the rows this worker marked are read.
    Elsewhere (asyncpg counts none) the held ids are read first, locked."""
    ids = sorted({*sent, *failed})
    if not ids:
        return set()
    counted = session.get_bind().dialect.supports_sane_multi_rowcount
    held = set(ids)
    if not counted:
        held = set(
            await session.scalars(
                select(Delivery.id)
                .where(
                    among(session, Delivery.id, ids),
                    Delivery.claimed_by == worker,
                    Delivery.status == "claimed",
                )
                .with_for_update()
            )
        )
    holding = and_(
        _DELIVERIES.c.id == bindparam("d_id"),
        _DELIVERIES.c.claimed_by == worker,
        _DELIVERIES.c.status == "claimed",
    )
    marked = 0
    done = [{"d_id": i, "d_sent_to": sent[i]} for i in ids if i in held and i in sent]
    if done:
        result = await session.execute(
            update(_DELIVERIES)
            .where(holding)
            .values(
                status="sent",
                sent_at=now,
                sent_to=bindparam("d_sent_to"),
                lease_until=None,
                last_error=None,
            ),
            done,
        )
        marked += rowcount(result)
    again = []
    for i in ids:
        if i in held and i in failed and i not in sent:
            attempts, error = failed[i]
            delay = BACKOFF[min(attempts, len(BACKOFF)) - 1] if attempts else BACKOFF[0]
            again.append({"d_id": i, "d_status": "dropped" if attempts >= MAX_ATTEMPTS else "failed",
                          "d_next": now + delay, "d_error": error[:2000]})  # fmt: skip
    if again:
        result = await session.execute(
            update(_DELIVERIES)
            .where(holding)
            .values(
                status=bindparam("d_status"),
                next_attempt_at=bindparam("d_next"),
                lease_until=None,
                last_error=bindparam("d_error"),
            ),
            again,
        )
        marked += rowcount(result)
    if counted and marked < len(done) + len(again):  # some claims were taken over meanwhile
        held = set(
            await session.scalars(
                select(Delivery.id).where(
                    among(session, Delivery.id, ids),
                    Delivery.claimed_by == worker,
                    Delivery.status != "claimed",
                    Delivery.lease_until.is_(None),
                )
            )
        )
    return held
