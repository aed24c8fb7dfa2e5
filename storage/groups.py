"""Groups (Careers Hubs and trusts): their leads, invitations and member schools, and the
set-based reads the group view needs (a constant number of statements for all of a
group's schools, however many: see `group_rows`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import models as m

CLOSED = ("done", "dropped")


# ----- groups and leads --------------------------------------------------------------------


async def create_group(session: AsyncSession, name: str, kind: str) -> m.Group:
    group = m.Group(name=name, kind=kind)
    session.add(group)
    await session.flush()
    return group


async def groups_matching(session: AsyncSession, reference: str) -> list[m.Group]:
    """A group by its id (`4`, `id:4`) or its exact name (case-insensitive)."""
    plain = reference.strip()
    digits = plain.removeprefix("id:")
    if digits.isdigit():
        found = await session.get(m.Group, int(digits))
        return [found] if found is not None else []
    rows = await session.scalars(
        select(m.Group).where(func.lower(m.Group.name) == plain.lower()).order_by(m.Group.id)
    )
    return list(rows)


async def get_group(session: AsyncSession, group_id: int) -> m.Group | None:
    return await session.get(m.Group, group_id)


@dataclass(frozen=True, slots=True)
class GroupCounts:
    group: m.Group
    leads: int
    members: int  # accepted, not left
    invited: int  # waiting for an answer


async def list_groups(session: AsyncSession) -> list[GroupCounts]:
    """Every group with its counts: three statements."""
    groups = list(await session.scalars(select(m.Group).order_by(m.Group.id)))
    leads = dict(
        (await session.execute(
            select(m.GroupLead.group_id, func.count()).group_by(m.GroupLead.group_id)
        )).tuples().all()
    )  # fmt: skip
    members: dict[int, int] = {}
    invited: dict[int, int] = {}
    rows = await session.execute(
        select(m.GroupMember.group_id, m.GroupMember.accepted_at.is_(None), func.count())
        .where(m.GroupMember.left_at.is_(None))
        .group_by(m.GroupMember.group_id, m.GroupMember.accepted_at.is_(None))
    )
    for group_id, waiting, n in rows:
        (invited if waiting else members)[group_id] = n
    return [
        GroupCounts(g, leads.get(g.id, 0), members.get(g.id, 0), invited.get(g.id, 0))
        for g in groups
    ]


async def add_lead(
    session: AsyncSession,
    group_id: int,
    name: str,
    role: str,
    channel: str,
    workspace: str,
    external_id: str,
) -> m.GroupLead:
    """A lead, known by their chat identity; added again, their name and role are updated."""
    lead = await session.scalar(
        select(m.GroupLead).where(
            m.GroupLead.group_id == group_id,
            m.GroupLead.channel == channel,
            m.GroupLead.workspace == workspace,
            m.GroupLead.external_id == external_id,
        )
    )
    if lead is None:
        lead = m.GroupLead(
            group_id=group_id, channel=channel, workspace=workspace, external_id=external_id,
            name=name, role=role,
        )  # fmt: skip
        session.add(lead)
    else:
        lead.name, lead.role = name, role
    await session.flush()
    return lead


async def remove_lead(
    session: AsyncSession, group_id: int, channel: str, workspace: str, external_id: str
) -> bool:
    result = await session.execute(
        delete(m.GroupLead).where(
            m.GroupLead.group_id == group_id,
            m.GroupLead.channel == channel,
            m.GroupLead.workspace == workspace,
            m.GroupLead.external_id == external_id,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def leads_of(session: AsyncSession, group_id: int) -> list[m.GroupLead]:
    rows = await session.scalars(
        select(m.GroupLead).where(m.GroupLead.group_id == group_id).order_by(m.GroupLead.id)
    )
    return list(rows)


async def groups_led_by(
    session: AsyncSession, channel: str, workspace: str, external_id: str
) -> list[m.Group]:
    """The groups this chat identity leads: how a lead's turn finds their groups (a lead
    need not belong to any school)."""
    rows = await session.scalars(
        select(m.Group)
        .join(m.GroupLead, m.GroupLead.group_id == m.Group.id)
        .where(
            m.GroupLead.channel == channel,
            m.GroupLead.workspace == workspace,
            m.GroupLead.external_id == external_id,
        )
        .order_by(m.Group.id)
    )
    return list(rows)


# ----- invitations and members -------------------------------------------------------------


async def membership(
    session: AsyncSession, group_id: int, organisation_id: int, lock: bool = False
) -> m.GroupMember | None:
    query = select(m.GroupMember).where(
        m.GroupMember.group_id == group_id, m.GroupMember.organisation_id == organisation_id
    )
    if lock:
        query = query.with_for_update()
    found: m.GroupMember | None = await session.scalar(query)
    return found


async def invite(
    session: AsyncSession, group_id: int, organisation_id: int, invited_by: str, now: datetime
) -> tuple[m.GroupMember, bool]:
    """Invite a school (again, if it left or declined); (row, False) if it is already a
    member or already invited."""
    row = await membership(session, group_id, organisation_id, lock=True)
    if row is not None and row.left_at is None:
        return row, False
    if row is None:
        row = m.GroupMember(group_id=group_id, organisation_id=organisation_id)
        session.add(row)
    row.invited_at, row.invited_by = now, invited_by
    row.accepted_at, row.accepted_by_id, row.left_at = None, None, None
    await session.flush()
    return row, True


async def schools_named(session: AsyncSession, name: str) -> list[m.Organisation]:
    """The schools of this name, whatever its case (a lead types it from memory)."""
    rows = await session.scalars(
        select(m.Organisation)
        .where(func.lower(m.Organisation.name) == name.strip().lower())
        .order_by(m.Organisation.id)
    )
    return list(rows)


async def careers_leaders(session: AsyncSession, organisation_id: int) -> list[int]:
    """The school's Careers Leader(s): the only people who can answer an invitation."""
    rows = await session.scalars(
        select(m.Person.id).where(
            m.Person.organisation_id == organisation_id, m.Person.role == "careers_leader"
        )
    )
    return list(rows)


async def invitations(session: AsyncSession, organisation_id: int) -> list[m.Group]:
    """The groups waiting for this school's answer."""
    rows = await session.scalars(
        select(m.Group)
        .join(m.GroupMember, m.GroupMember.group_id == m.Group.id)
        .where(
            m.GroupMember.organisation_id == organisation_id,
            m.GroupMember.accepted_at.is_(None),
            m.GroupMember.left_at.is_(None),
        )
        .order_by(m.Group.id)
    )
    return list(rows)


async def accept(
    session: AsyncSession, group_id: int, organisation_id: int, person_id: int, now: datetime
) -> m.GroupMember | None:
    """Accept a waiting invitation; None when there is none (never invited, declined, left).
    Already accepted: the row unchanged."""
    row = await membership(session, group_id, organisation_id, lock=True)
    if row is None or row.left_at is not None:
        return None
    if row.accepted_at is None:
        row.accepted_at, row.accepted_by_id = now, person_id
        await session.flush()
    return row


async def decline(session: AsyncSession, group_id: int, organisation_id: int) -> bool:
    """Decline a waiting invitation: the row goes (the group may invite again)."""
    result = await session.execute(
        delete(m.GroupMember).where(
            m.GroupMember.group_id == group_id,
            m.GroupMember.organisation_id == organisation_id,
            m.GroupMember.accepted_at.is_(None),
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def leave(session: AsyncSession, group_id: int, organisation_id: int, now: datetime) -> bool:
    """A school leaves (or an invitation is withdrawn): kept as history, counted no more."""
    row = await membership(session, group_id, organisation_id, lock=True)
    if row is None or row.left_at is not None:
        return False
    row.left_at = now
    await session.flush()
    return True


async def school_groups(session: AsyncSession, organisation_id: int) -> list[m.Group]:
    """The groups this school has joined (accepted, not left)."""
    rows = await session.scalars(
        select(m.Group)
        .join(m.GroupMember, m.GroupMember.group_id == m.Group.id)
        .where(m.GroupMember.organisation_id == organisation_id, _member(m.GroupMember))
        .order_by(m.Group.id)
    )
    return list(rows)


# ----- reads for peer review: who may review whom ------------------------------------------


def _member(alias: Any) -> Any:
    """Accepted and not left: a current member."""
    return and_(alias.accepted_at.is_not(None), alias.left_at.is_(None))


async def share_a_group(session: AsyncSession, school: int, other: int) -> bool:
    """Whether two schools are both accepted, current members of one group."""
    a, b = aliased(m.GroupMember), aliased(m.GroupMember)
    found = await session.scalar(
        select(a.group_id)
        .join(b, a.group_id == b.group_id)
        .where(a.organisation_id == school, b.organisation_id == other, _member(a), _member(b))
        .limit(1)
    )
    return found is not None


async def facilitators(
    session: AsyncSession, channel: str, workspace: str, external_id: str
) -> list[m.GroupLead]:
    """The facilitator roles this chat identity holds, in any group."""
    rows = await session.scalars(
        select(m.GroupLead).where(
            m.GroupLead.role == "facilitator",
            m.GroupLead.channel == channel,
            m.GroupLead.workspace == workspace,
            m.GroupLead.external_id == external_id,
        )
    )
    return list(rows)


async def facilitator_for(
    session: AsyncSession, leads: Sequence[m.GroupLead], school: int
) -> m.GroupLead | None:
    """Of these facilitator roles, one of a group the school is an accepted member of."""
    if not leads:
        return None
    member = await session.scalar(
        select(m.GroupMember.group_id).where(
            m.GroupMember.organisation_id == school,
            m.GroupMember.group_id.in_([lead.group_id for lead in leads]),
            _member(m.GroupMember),
        )
    )
    return next((lead for lead in leads if lead.group_id == member), None)


@dataclass(frozen=True, slots=True)
class MemberRow:
    organisation_id: int
    name: str
    edition: str
    timezone: str
    invited_at: datetime
    invited_by: str | None
    accepted_at: datetime | None


async def members(
    session: AsyncSession, group_id: int, *, waiting: bool = False
) -> list[MemberRow]:
    """The group's schools (accepted, not left); with `waiting`, the invited ones too."""
    query = (
        select(
            m.Organisation.id,
            m.Organisation.name,
            m.Organisation.edition,
            m.Organisation.timezone,
            m.GroupMember.invited_at,
            m.GroupMember.invited_by,
            m.GroupMember.accepted_at,
        )
        .join(m.GroupMember, m.GroupMember.organisation_id == m.Organisation.id)
        .where(m.GroupMember.group_id == group_id, m.GroupMember.left_at.is_(None))
        .order_by(m.Organisation.name, m.Organisation.id)
    )
    if not waiting:
        query = query.where(m.GroupMember.accepted_at.is_not(None))
    return [MemberRow(*row) for row in await session.execute(query)]


# ----- what the group view reads ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenActionRow:
    organisation_id: int
    due: str | None
    due_year: str | None
    owners: int
    owners_tbc: bool
    due_tbc: bool


@dataclass
class GroupRows:
    """Plain rows for the group view, read in a constant number of statements."""

    schools: list[MemberRow]
    latest: dict[int, int] = field(default_factory=dict)  # school -> its latest review id
    completed: dict[int, int] = field(default_factory=dict)  # -> latest completed review id
    levels: dict[int, dict[str, int]] = field(default_factory=dict)  # review -> answers
    actions: list[OpenActionRow] = field(default_factory=list)
    term_dates: dict[int, list[m.TermDate]] = field(default_factory=dict)


async def group_rows(session: AsyncSession, group_id: int) -> GroupRows:
    """Everything the group view needs for all of the group's schools: five statements
    (members, reviews, answered levels, open actions with owner counts, term dates)."""
    schools = await members(session, group_id)
    return await schools_rows(session, schools)


async def schools_rows(session: AsyncSession, schools: Sequence[MemberRow]) -> GroupRows:
    out = GroupRows(list(schools))
    ids = [s.organisation_id for s in schools]
    if not ids:
        return out
    reviews = await session.execute(
        select(m.Review.organisation_id, m.Review.id, m.Review.completed_at)
        .where(m.Review.organisation_id.in_(ids))
        .order_by(m.Review.organisation_id, m.Review.number)
    )
    for organisation_id, review_id, completed_at in reviews:
        out.latest[organisation_id] = review_id
        if completed_at is not None:
            out.completed[organisation_id] = review_id
    wanted = sorted({*out.latest.values(), *out.completed.values()})
    out.levels = {r: {} for r in wanted}
    if wanted:
        answers = await session.execute(
            select(m.Response.review_id, m.Response.statement_id, m.Response.level).where(
                m.Response.review_id.in_(wanted), m.Response.level.is_not(None)
            )
        )
        for review_id, statement_id, level in answers:
            if level is not None:
                out.levels[review_id][statement_id] = level
    owners = (
        select(func.count())
        .select_from(m.ActionOwner)
        .where(m.ActionOwner.action_id == m.Action.id)
        .scalar_subquery()
    )
    actions = await session.execute(
        select(
            m.Action.organisation_id,
            m.Action.due,
            m.Action.due_year,
            owners,
            m.Action.owners_tbc,
            m.Action.due_tbc,
        ).where(m.Action.organisation_id.in_(ids), m.Action.status.not_in(CLOSED))
    )
    out.actions = [OpenActionRow(*row) for row in actions]
    out.term_dates = {i: [] for i in ids}
    for row in await session.scalars(select(m.TermDate).where(m.TermDate.organisation_id.in_(ids))):
        out.term_dates[row.organisation_id].append(row)
    return out
