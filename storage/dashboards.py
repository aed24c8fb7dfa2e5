"""Dashboard links (`dashboard_links`): issued, found by their token's hash, checked, counted,
revoked. The page's figures are read through the existing subjects (storage/repo.py,
storage/planning.py); this module keeps only who may open which page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models as m
from storage.db import rowcount


async def issue_dashboard_links(
    session: AsyncSession, wanted: list[dict[str, Any]]
) -> list[m.DashboardLink]:
    """Record these links (one per purpose) in two statements, however many: a purpose
    recorded before (the digest rebuilt in the same week) keeps its first link."""
    if not wanted:
        return []
    insert = (
        postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    )(m.DashboardLink)
    await session.execute(
        insert.values([{**row, "uses": 0} for row in wanted]).on_conflict_do_nothing(
            index_elements=["purpose"]
        )
    )
    purposes = [row["purpose"] for row in wanted]
    rows = await session.scalars(
        select(m.DashboardLink)
        .where(m.DashboardLink.purpose.in_(purposes))
        .execution_options(populate_existing=True)
    )
    found = {row.purpose: row for row in rows}
    return [found[p] for p in purposes]


async def dashboard_link_by_hash(session: AsyncSession, token_hash: str) -> m.DashboardLink | None:
    return await session.scalar(
        select(m.DashboardLink).where(m.DashboardLink.token_hash == token_hash)
    )


async def holder_of(session: AsyncSession, link: m.DashboardLink) -> tuple[str, str | None] | None:
    """Who the link was issued to, as they stand now: (name, role) if they still belong to
    the link's school or group, None if not (moved to another school, no longer a lead). A
    digest's link, issued to the school's channel rather than a person, is ("", None)."""
    if link.kind == "group":
        lead = await session.scalar(
            select(m.GroupLead).where(
                m.GroupLead.id == link.group_lead_id, m.GroupLead.group_id == link.group_id
            )
        )
        return (lead.name, lead.role) if lead is not None else None
    if link.person_id is None:
        return ("", None)
    row = (
        await session.execute(
            select(m.Person.display_name, m.Person.role).where(
                m.Person.id == link.person_id, m.Person.organisation_id == link.organisation_id
            )
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def record_dashboard_link_use(session: AsyncSession, link_id: int, now: datetime) -> None:
    """Count a page opened (one UPDATE: two at once both count)."""
    await session.execute(
        update(m.DashboardLink)
        .where(m.DashboardLink.id == link_id)
        .values(uses=m.DashboardLink.uses + 1, last_used_at=now)
    )


async def dashboard_links_of(
    session: AsyncSession, *, organisation_id: int | None = None, group_id: int | None = None
) -> list[m.DashboardLink]:
    query = select(m.DashboardLink).order_by(m.DashboardLink.id)
    if group_id is not None:
        query = query.where(m.DashboardLink.group_id == group_id)
    else:
        query = query.where(m.DashboardLink.organisation_id == organisation_id)
    return list(await session.scalars(query))


async def revoke_dashboard_links(
    session: AsyncSession,
    now: datetime,
    *,
    organisation_id: int | None = None,
    group_id: int | None = None,
    link_id: int | None = None,
) -> int:
    """Revoke one of a school's (or a group's) links (`link_id`), or all of them; how many
    were still unrevoked. A link id of another school or group revokes nothing."""
    if organisation_id is None and group_id is None:
        raise ValueError("name the school or the group whose links to revoke")
    query = update(m.DashboardLink).where(m.DashboardLink.revoked_at.is_(None))
    if group_id is not None:
        query = query.where(m.DashboardLink.group_id == group_id)
    else:
        query = query.where(m.DashboardLink.organisation_id == organisation_id)
    if link_id is not None:
        query = query.where(m.DashboardLink.id == link_id)
    return rowcount(await session.execute(query.values(revoked_at=now)))


async def groups_led_by(session: AsyncSession, person_id: int) -> list[tuple[m.GroupLead, str]]:
    """The groups a person leads (a lead is known by a chat identity, as the person is), with
    each group's name, in one statement: a lead who types `dashboard` gets the group's link."""
    rows = await session.execute(
        select(m.GroupLead, m.Group.name)
        .join(m.Group, m.Group.id == m.GroupLead.group_id)
        .join(
            m.Identity,
            (m.Identity.channel == m.GroupLead.channel)
            & (m.Identity.workspace == m.GroupLead.workspace)
            & (m.Identity.external_id == m.GroupLead.external_id),
        )
        .where(m.Identity.person_id == person_id)
        .order_by(m.GroupLead.id)
    )
    return [(lead, name) for lead, name in rows]
