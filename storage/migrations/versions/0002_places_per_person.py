"""each person's own place in a review

Reviews kept one cursor for everyone ({"cursor": {...}}); now each person has their own
({"cursors": {"<person id>": {...}}, "last_actor": "<person id>"}). The old cursor becomes
the place of whoever answered the review last (else its Careers Leader, else the first
participant the bot knows), so a review in progress resumes exactly where it was.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 17:45:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

reviews = sa.table(
    "reviews",
    sa.column("id", sa.Integer),
    sa.column("organisation_id", sa.Integer),
    sa.column("conversation", sa.JSON),
)
responses = sa.table(
    "responses",
    sa.column("review_id", sa.Integer),
    sa.column("answered_by_id", sa.Integer),
    sa.column("answered_at", sa.DateTime),
)
people = sa.table(
    "people",
    sa.column("id", sa.Integer),
    sa.column("organisation_id", sa.Integer),
    sa.column("role", sa.String),
)
participants = sa.table(
    "review_participants",
    sa.column("id", sa.Integer),
    sa.column("review_id", sa.Integer),
    sa.column("person_id", sa.Integer),
)


def _owner_of_place(bind: Any, review_id: int, organisation_id: int) -> str:
    last = bind.execute(
        sa.select(responses.c.answered_by_id)
        .where(responses.c.review_id == review_id, responses.c.answered_by_id.is_not(None))
        .order_by(responses.c.answered_at.desc())
        .limit(1)
    ).scalar()
    if last is None:
        last = bind.execute(
            sa.select(people.c.id)
            .where(people.c.organisation_id == organisation_id, people.c.role == "careers_leader")
            .order_by(people.c.id)
            .limit(1)
        ).scalar()
    if last is None:
        last = bind.execute(
            sa.select(participants.c.person_id)
            .where(participants.c.review_id == review_id, participants.c.person_id.is_not(None))
            .order_by(participants.c.id)
            .limit(1)
        ).scalar()
    return str(last) if last is not None else "legacy"


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(reviews.c.id, reviews.c.organisation_id, reviews.c.conversation)
    ).all()
    for review_id, organisation_id, conversation in rows:
        conversation = dict(conversation or {})
        if "cursor" not in conversation:
            continue
        cursor = conversation.pop("cursor")
        key = _owner_of_place(bind, review_id, organisation_id)
        conversation["cursors"] = {key: cursor}
        conversation["last_actor"] = key
        bind.execute(
            reviews.update().where(reviews.c.id == review_id).values(conversation=conversation)
        )


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(reviews.c.id, reviews.c.conversation)).all()
    for review_id, conversation in rows:
        conversation = dict(conversation or {})
        cursors = conversation.pop("cursors", {}) or {}
        last = conversation.pop("last_actor", None)
        if cursors:
            conversation["cursor"] = cursors.get(last) or next(iter(cursors.values()))
        bind.execute(
            reviews.update().where(reviews.c.id == review_id).values(conversation=conversation)
        )
