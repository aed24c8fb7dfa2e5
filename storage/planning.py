"""What a reminder-and-digest sweep reads and writes, set-based: a constant number of queries
per sweep, however many schools, and only the actions and schools that are due.

Each open action stores when the sweep next needs to look at it (`next_reminder_at`), each
school when its digest next falls due (`next_digest_at`), both indexed. The sweep works the
real times out (workflows.reminders.next_reminder_at, workflows.digest.next_digest_at) and
stores them; anything that could move them sets them to LOOK_NOW instead, here, in one ORM
hook, so no write path can forget: a change to an action, its owners or updates, its
school's settings, timezone or term dates. Closed actions get None and are never read again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any, cast

from sqlalchemy import (
    DateTime,
    Integer,
    Select,
    Table,
    bindparam,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction

from storage import models as m
from storage.db import among

CLOSED = ("done", "dropped")
# What, changed on a school, can move its reminders or digest.
ORGANISATION_FIELDS = ("settings", "timezone", "disconnected_at", "edition")
_PENDING = "careers_look_again"


# ----- keeping the stored times right --------------------------------------------------------


def _changed(obj: Any, fields: Iterable[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in fields)


@event.listens_for(Session, "before_flush")
def _look_again(session: Session, flush_context: UOWTransaction, instances: object) -> None:
    """Anything that could move a reminder or a digest marks it for the next sweep."""
    actions: set[int] = set()
    organisations: set[int] = set()
    handled: set[int] = set()
    for obj in chain(session.new, session.dirty):
        if isinstance(obj, m.Action) and (obj in session.new or session.is_modified(obj)):
            obj.next_reminder_at = None if obj.status in CLOSED else m.LOOK_NOW
            if obj.id is not None:
                handled.add(obj.id)
        elif (
            isinstance(obj, m.Organisation)
            and obj not in session.new
            and _changed(obj, ORGANISATION_FIELDS)
        ):
            obj.next_digest_at = m.LOOK_NOW
            organisations.add(obj.id)
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, m.ActionOwner | m.ActionUpdate) and obj.action_id is not None:
            actions.add(obj.action_id)
        elif isinstance(obj, m.TermDate) and obj.organisation_id is not None:
            organisations.add(obj.organisation_id)
    actions -= handled
    if actions or organisations:
        pending = session.info.setdefault(_PENDING, (set(), set()))
        pending[0].update(actions)
        pending[1].update(organisations)


@event.listens_for(Session, "after_flush")
def _mark(session: Session, flush_context: UOWTransaction) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        look_again(session, actions=pending[0], organisations=pending[1])


def look_again(
    session: Session, *, actions: Iterable[int] = (), organisations: Iterable[int] = ()
) -> None:
    """Mark open actions, and every open action and the digest of whole schools, for the
    next sweep (sync: called from the flush hook, and through `run_sync` elsewhere)."""
    action_ids, organisation_ids = sorted(set(actions)), sorted(set(organisations))
    connection = session.connection()
    if action_ids:
        connection.execute(
            update(m.Action)
            .where(m.Action.id.in_(action_ids), m.Action.status.not_in(CLOSED))
            .values(next_reminder_at=m.LOOK_NOW)
        )
    if organisation_ids:
        connection.execute(
            update(m.Action)
            .where(m.Action.organisation_id.in_(organisation_ids), m.Action.status.not_in(CLOSED))
            .values(next_reminder_at=m.LOOK_NOW)
        )
        connection.execute(
            update(m.Organisation)
            .where(m.Organisation.id.in_(organisation_ids))
            .values(next_digest_at=m.LOOK_NOW)
        )


async def look_again_at(session: AsyncSession, organisation_id: int) -> None:
    """For writes the hook cannot see (bulk statements: term dates replaced)."""
    await session.run_sync(lambda s: look_again(s, organisations=[organisation_id]))


# ----- what is due -------------------------------------------------------------------------


async def anything_due(session: AsyncSession, as_of: datetime) -> bool:
    """One cheap indexed look before a sweep takes the write lock for nothing."""
    action = await session.scalar(
        select(m.Action.id).where(m.Action.next_reminder_at <= as_of).limit(1)
    )
    if action is not None:
        return True
    school = await session.scalar(
        select(m.Organisation.id).where(m.Organisation.next_digest_at <= as_of).limit(1)
    )
    return school is not None


def _skip_locked(session: AsyncSession, query: Any, of: Any) -> Any:
    """On PostgreSQL another replica's sweep planning these rows is skipped, not waited for
    (SQLite has one writer at a time anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=of)
    return query


@dataclass(frozen=True, slots=True)
class OwnerRecord:
    name: str
    person_id: int | None


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """An action as a sweep reads it: plain values, no ORM object (thousands at a time)."""

    id: int
    organisation_id: int
    number: int
    statement_id: str
    current_level: int
    target_level: int | None
    next_steps: str | None
    due: str | None
    due_year: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    owners: tuple[OwnerRecord, ...]


@dataclass(frozen=True, slots=True)
class UpdateRecord:
    action_id: int
    at: datetime
    by: str | None
    kind: str
    note: str | None
    link: str | None
    before: dict[str, Any]
    after: dict[str, Any]


_ACTION_COLUMNS = (
    m.Action.id, m.Action.organisation_id, m.Action.number, m.Action.statement_id,
    m.Action.current_level, m.Action.target_level, m.Action.next_steps, m.Action.due,
    m.Action.due_year, m.Action.status, m.Action.created_at, m.Action.updated_at,
)  # fmt: skip


async def _actions(session: AsyncSession, query: Select[*tuple[Any, ...]]) -> list[ActionRecord]:
    """The actions `query` (of _ACTION_COLUMNS) reads, with their owners, in id order: two
    statements, however many."""
    rows = sorted((await session.execute(query)).all(), key=lambda row: row[0])
    if not rows:
        return []
    owners: dict[int, list[OwnerRecord]] = {}
    for action_id, name, person_id in await session.execute(
        select(m.ActionOwner.action_id, m.ActionOwner.name, m.ActionOwner.person_id)
        .where(among(session, m.ActionOwner.action_id, [row[0] for row in rows]))
        .order_by(m.ActionOwner.action_id, m.ActionOwner.position)
    ):
        owners.setdefault(action_id, []).append(OwnerRecord(name, person_id))
    none: tuple[OwnerRecord, ...] = ()  # columns in the order of ActionRecord's fields
    return [ActionRecord(*row, owners=tuple(owners.get(row[0], none))) for row in rows]  # type: ignore[misc]


async def due_actions(session: AsyncSession, as_of: datetime, limit: int) -> list[ActionRecord]:
    """Open actions of connected schools whose next reminder is due, the longest-waiting
    first, held against another replica's sweep (a sweep works in batches of `limit`).

    One statement straight down the next-reminder index. Not `id IN (that as a subquery)`:
    PostgreSQL's generic plan for it, which a pooled connection settles on after five runs,
    hash-joins a scan of every action (26 ms at 100,000 instead of 12). Not
    `organisation_id IN (connected schools)`: SQLite walks the organisation index through
    every action with it (19 ms at 100,000, against 0.8 ms for the due range)."""
    query = (
        select(*_ACTION_COLUMNS)
        .join(m.Organisation, m.Organisation.id == m.Action.organisation_id)
        .where(m.Action.next_reminder_at <= as_of, m.Organisation.disconnected_at.is_(None))
        .order_by(m.Action.next_reminder_at, m.Action.id)
        .limit(limit)
    )
    return await _actions(session, _skip_locked(session, query, m.Action))


async def open_actions(
    session: AsyncSession, organisation_ids: Sequence[int]
) -> list[ActionRecord]:
    """Every open action of these schools (a send by hand ignores the stored times)."""
    return await _actions(
        session,
        select(*_ACTION_COLUMNS).where(
            among(session, m.Action.organisation_id, organisation_ids),
            m.Action.status.not_in(CLOSED),
        ),
    )


async def schools_actions(
    session: AsyncSession, organisation_ids: Sequence[int]
) -> dict[int, list[ActionRecord]]:
    out: dict[int, list[ActionRecord]] = {i: [] for i in organisation_ids}
    if organisation_ids:
        query = select(*_ACTION_COLUMNS).where(
            among(session, m.Action.organisation_id, organisation_ids)
        )
        for record in await _actions(session, query):
            out[record.organisation_id].append(record)
    return out


_UPDATE_COLUMNS = (
    m.ActionUpdate.action_id, m.ActionUpdate.at, m.ActionUpdate.by, m.ActionUpdate.kind,
    m.ActionUpdate.note, m.ActionUpdate.link, m.ActionUpdate.before, m.ActionUpdate.after,
)  # fmt: skip


async def snoozes(session: AsyncSession, action_ids: Sequence[int]) -> list[UpdateRecord]:
    """Only the snoozes of the actions planned: all a reminder needs of their history."""
    rows = await session.execute(
        select(*_UPDATE_COLUMNS).where(
            among(session, m.ActionUpdate.action_id, action_ids), m.ActionUpdate.kind == "snoozed"
        )
    )
    return [UpdateRecord(**row._asdict()) for row in rows]


async def counted_levels(
    session: AsyncSession, review_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    """Each review's levels as its profile counts them (workflows.plan.build_summary): one
    statement, and only the answered statements not carried over unconfirmed. A Hub's digest
    sweep reads 32,000 answers, and a profile needs nothing else of them."""
    out: dict[int, dict[str, int]] = {i: {} for i in review_ids}
    if review_ids:
        rows = await session.execute(
            select(m.Response.review_id, m.Response.statement_id, m.Response.level).where(
                among(session, m.Response.review_id, review_ids),
                m.Response.level.is_not(None),
                m.Response.carried.is_(False),
            )
        )
        for review_id, statement_id, level in rows:
            if level is not None:  # as the query says: the column's type does not know
                out[review_id][statement_id] = level
    return out


async def due_digests(
    session: AsyncSession, as_of: datetime, limit: int | None = None
) -> list[m.Organisation]:
    query = (
        select(m.Organisation)
        .where(m.Organisation.next_digest_at <= as_of, m.Organisation.disconnected_at.is_(None))
        .order_by(m.Organisation.id)
        .limit(limit)
    )
    return list(await session.scalars(_skip_locked(session, query, m.Organisation)))


async def organisations(session: AsyncSession, ids: Iterable[int]) -> dict[int, m.Organisation]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.scalars(
        select(m.Organisation).where(among(session, m.Organisation.id, wanted))
    )
    return {row.id: row for row in rows}


async def term_dates(session: AsyncSession, ids: Iterable[int]) -> dict[int, list[m.TermDate]]:
    wanted = sorted(set(ids))
    out: dict[int, list[m.TermDate]] = {i: [] for i in wanted}
    if wanted:
        for row in await session.scalars(
            select(m.TermDate).where(among(session, m.TermDate.organisation_id, wanted))
        ):
            out[row.organisation_id].append(row)
    return out


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """A review as a digest reads it: which one, of which edition, finished when, based on
    which (plain values: a Hub's sweep reads thousands, and ORM objects cost 4x as much)."""

    id: int
    organisation_id: int
    edition: str
    title: str
    completed_at: datetime | None
    based_on_id: int | None


async def reviews(
    session: AsyncSession, organisation_ids: Sequence[int]
) -> dict[int, list[ReviewRecord]]:
    """Each school's reviews, oldest first (the digest picks its plan and the one before)."""
    out: dict[int, list[ReviewRecord]] = {i: [] for i in organisation_ids}
    if organisation_ids:
        rows = await session.execute(
            select(
                m.Review.id, m.Review.organisation_id, m.Review.edition, m.Review.title,
                m.Review.completed_at, m.Review.based_on_id,
            )
            .where(among(session, m.Review.organisation_id, organisation_ids))
            .order_by(m.Review.id)
        )  # fmt: skip
        for row in rows.all():
            out[row[1]].append(ReviewRecord(*row))
    return out


async def last_digests(
    session: AsyncSession, organisation_ids: Sequence[int]
) -> dict[int, datetime]:
    """When each school's last digest went out (its "since")."""
    if not organisation_ids:
        return {}
    rows = await session.execute(
        select(m.Delivery.organisation_id, func.max(m.Delivery.sent_at))
        .where(
            among(session, m.Delivery.organisation_id, organisation_ids),
            m.Delivery.kind == "digest",
            m.Delivery.status == "sent",
        )
        .group_by(m.Delivery.organisation_id)
    )
    return {organisation: sent for organisation, sent in rows if sent is not None}


async def digests_from(
    session: AsyncSession, starts: dict[int, datetime], exclude: Iterable[str] = ()
) -> set[int]:
    """The schools with a digest recorded (sent or not) due at or after their `starts` moment,
    other than the `exclude`d keys (the week being built): a half-term's governors' report
    goes with its first digest only, whatever sends it (the sweep or a send by hand)."""
    if not starts:
        return set()
    skip = set(exclude)
    rows = await session.execute(
        select(m.Delivery.organisation_id, m.Delivery.key, m.Delivery.due_at).where(
            among(session, m.Delivery.organisation_id, sorted(starts)),
            m.Delivery.kind == "digest",
            m.Delivery.due_at >= min(starts.values()),
        )
    )
    return {
        organisation
        for organisation, key, due_at in rows
        if key not in skip and due_at >= starts[organisation]
    }


async def recorded(session: AsyncSession, keys: Iterable[str]) -> set[str]:
    """Which of these delivery keys exist already (a digest is built only if its key does not)."""
    wanted = sorted(set(keys))
    if not wanted:
        return set()
    return set(
        await session.scalars(select(m.Delivery.key).where(among(session, m.Delivery.key, wanted)))
    )


async def record(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Record deliveries in one statement, skipping keys that exist; how many were new."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = [
        {
            "person_id": None,
            "action_id": None,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": row["due_at"],
            "sent_to": [],
            **row,
        }
        for row in rows
    ]
    table = cast(Table, m.Delivery.__table__)  # Core, not the ORM's bulk path (3x slower)
    result = await session.execute(
        insert(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id),
        values,  # sent as few multi-row statements as the driver's parameter limit allows
    )
    return len(result.all())


async def store_next_reminders(session: AsyncSession, times: dict[int, datetime | None]) -> None:
    """The worked-out times, in one statement. The sweep holds these rows (FOR UPDATE on
    PostgreSQL, the single writer on SQLite) from reading them to this write, so a change
    made meanwhile waits, then marks its action LOOK_NOW after this."""
    await _store_times(session, cast(Table, m.Action.__table__), "next_reminder_at", times)


async def _store_times(
    session: AsyncSession, table: Table, column: str, times: dict[int, datetime | None]
) -> None:
    """PostgreSQL: one UPDATE joined to two arrays unnested, a single prepared statement
    whatever the count (an executemany of 1,000 rows took 21-27 ms, this 11-14 ms; a
    VALUES list is a new statement to prepare for every size). SQLite, in process, has no
    round trips to save: an executemany of the plain UPDATE."""
    if not times:
        return
    if session.get_bind().dialect.name == "postgresql":
        ids = bindparam("ids", type_=postgresql.ARRAY(Integer))
        moments = bindparam("times", type_=postgresql.ARRAY(DateTime(timezone=True)))
        given = func.unnest(ids, moments).table_valued("id", "moment").render_derived(name="given")
        await session.execute(
            update(table)
            # The ids again as `id = ANY(ids)` give the planner the rows by key: its first
            # five (custom) plans otherwise see 1,000 unnested rows and hash-join a scan of
            # the whole table.
            .where(table.c.id == given.c.id, among(session, table.c.id, list(times)))
            .values({column: given.c.moment}),
            {"ids": list(times), "times": list(times.values())},
        )
        return
    await session.execute(
        update(table).where(table.c.id == bindparam("row")).values({column: bindparam("moment")}),
        [{"row": i, "moment": t} for i, t in times.items()],
    )


async def store_next_digests(session: AsyncSession, times: dict[int, datetime | None]) -> None:
    await _store_times(session, cast(Table, m.Organisation.__table__), "next_digest_at", times)
