"""Peer reviews (issue 13): a school's invitations, its peers' places and ratings, the levels
agreed, and the few reads of groups the rules need (do two schools share a group; is this
chat identity a facilitator of a group the school is in). Only the hash of a code is kept."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models as m
from workflows.peer_review import PeerPlace, Rating
from workflows.replies import Step

OPEN, CLOSED = "open", "closed"


def code_hash(code: str) -> str:
    """A one-time code as kept: its SHA-256, so the table alone lets nobody join."""
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


# ----- peer reviews --------------------------------------------------------------------------


async def open_peer_review(
    session: AsyncSession, organisation_id: int, lock: bool = False
) -> m.PeerReview | None:
    query = (
        select(m.PeerReview)
        .where(m.PeerReview.organisation_id == organisation_id, m.PeerReview.state == OPEN)
        .order_by(m.PeerReview.id.desc())
        .limit(1)
    )
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def create_peer_review(
    session: AsyncSession,
    organisation_id: int,
    review_id: int,
    themes: Sequence[int],
    statements: Sequence[str],
    invited_by: str,
    invited_by_id: int,
    now: datetime,
) -> m.PeerReview:
    row = m.PeerReview(
        organisation_id=organisation_id,
        review_id=review_id,
        themes=list(themes),
        statements=list(statements),
        invited_by=invited_by,
        invited_by_id=invited_by_id,
        state=OPEN,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def invite(
    session: AsyncSession, peer_review: m.PeerReview, code: str, now: datetime
) -> m.PeerReviewer:
    row = m.PeerReviewer(
        peer_review_id=peer_review.id, code_hash=code_hash(code), invited_at=now, place={}
    )
    session.add(row)
    await session.flush()
    return row


async def invitation(
    session: AsyncSession, code: str
) -> tuple[m.PeerReviewer, m.PeerReview] | None:
    """The invitation a code opens (used or not), locked for this turn."""
    row = (
        await session.execute(
            select(m.PeerReviewer, m.PeerReview)
            .join(m.PeerReview, m.PeerReview.id == m.PeerReviewer.peer_review_id)
            .where(m.PeerReviewer.code_hash == code_hash(code))
            .with_for_update()
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def peer_places(
    session: AsyncSession, person_id: int, lead_ids: Sequence[int]
) -> list[tuple[m.PeerReviewer, m.PeerReview]]:
    """Every peer review this person (or facilitator) has joined, the active one first, then
    the latest joined."""
    who = m.PeerReviewer.person_id == person_id
    if lead_ids:
        who = who | m.PeerReviewer.lead_id.in_(list(lead_ids))
    rows = await session.execute(
        select(m.PeerReviewer, m.PeerReview)
        .join(m.PeerReview, m.PeerReview.id == m.PeerReviewer.peer_review_id)
        .where(who, m.PeerReviewer.joined_at.is_not(None))
        .order_by(m.PeerReviewer.active.desc(), m.PeerReviewer.joined_at.desc())
        .with_for_update()
    )
    return [(peer, review) for peer, review in rows.all()]


async def peers_of(session: AsyncSession, peer_review_id: int) -> list[m.PeerReviewer]:
    rows = await session.scalars(
        select(m.PeerReviewer)
        .where(m.PeerReviewer.peer_review_id == peer_review_id)
        .order_by(m.PeerReviewer.id)
    )
    return list(rows)


def place_of(peer: m.PeerReviewer) -> PeerPlace | None:
    """The peer's stored place; None if they have none yet."""
    place = peer.place or {}
    if "step" not in place:
        return None
    return PeerPlace(place.get("statement_id"), Step(place["step"]))


def set_place(peer: m.PeerReviewer, place: PeerPlace) -> None:
    peer.place = {"statement_id": place.statement_id, "step": place.step.value}


async def rating_rows(session: AsyncSession, peer_ids: Sequence[int]) -> list[m.PeerRating]:
    if not peer_ids:
        return []
    rows = await session.scalars(
        select(m.PeerRating)
        .where(m.PeerRating.peer_id.in_(list(peer_ids)))
        .order_by(m.PeerRating.id)
        .with_for_update()
    )
    return list(rows)


def rating_of(row: m.PeerRating) -> Rating:
    return Rating(row.level, row.comment, row.suggestion, done=row.answered_at is not None)


async def save_rating(
    session: AsyncSession, peer_id: int, statement_id: str, rating: Rating, now: datetime
) -> None:
    """One statement's rating as given so far; `answered_at` once all its questions are."""
    row = await session.scalar(
        select(m.PeerRating).where(
            m.PeerRating.peer_id == peer_id, m.PeerRating.statement_id == statement_id
        )
    )
    if row is None:
        row = m.PeerRating(peer_id=peer_id, statement_id=statement_id, draft_owners=[])
        session.add(row)
    row.level, row.comment, row.suggestion = rating.level, rating.comment, rating.suggestion
    row.answered_at = now if rating.done else None
    row.draft = "pending" if rating.done and rating.suggestion else None
    await session.flush()


async def agreement_rows(session: AsyncSession, peer_ids: Sequence[int]) -> list[m.PeerAgreement]:
    if not peer_ids:
        return []
    rows = await session.scalars(
        select(m.PeerAgreement).where(m.PeerAgreement.peer_id.in_(list(peer_ids)))
    )
    return list(rows)


async def record_agreement(
    session: AsyncSession,
    peer_id: int,
    statement_id: str,
    agreed: int,
    school_level: int | None,
    peer_level: int | None,
    by: str,
    now: datetime,
) -> m.PeerAgreement:
    row = m.PeerAgreement(
        peer_id=peer_id,
        statement_id=statement_id,
        agreed_level=agreed,
        school_level=school_level,
        peer_level=peer_level,
        agreed_by=by,
        agreed_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def close(session: AsyncSession, peer_review: m.PeerReview, now: datetime) -> None:
    """Closed: every peer loses their place in it, and nobody is agreeing any more."""
    peer_review.state, peer_review.closed_at, peer_review.agreeing_id = CLOSED, now, None
    for peer in await peers_of(session, peer_review.id):
        peer.active = False
    await session.flush()
