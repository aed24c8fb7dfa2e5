"""reviews over the year: per-school numbers, each review's agreed plan

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_when = storage.models.UTCDateTime(timezone=True)
reviews = sa.table(
    "reviews",
    sa.column("id", sa.Integer),
    sa.column("organisation_id", sa.Integer),
    sa.column("number", sa.Integer),
    sa.column("completed_at", _when),
)
actions = sa.table(
    "actions",
    sa.column("id", sa.Integer),
    sa.column("organisation_id", sa.Integer),
    sa.column("number", sa.Integer),
    sa.column("current_level", sa.Integer),
    sa.column("target_level", sa.Integer),
    sa.column("next_steps", sa.Text),
    sa.column("due", sa.String),
    sa.column("due_year", sa.String),
)
owners = sa.table(
    "action_owners",
    sa.column("action_id", sa.Integer),
    sa.column("position", sa.Integer),
    sa.column("name", sa.String),
    sa.column("person_id", sa.Integer),
)
updates = sa.table(
    "action_updates",
    sa.column("id", sa.Integer),
    sa.column("action_id", sa.Integer),
    sa.column("at", _when),
    sa.column("before", sa.JSON),
)
responses = sa.table(
    "responses",
    sa.column("id", sa.Integer),
    sa.column("review_id", sa.Integer),
    sa.column("action_id", sa.Integer),
    sa.column("agreed", sa.JSON),
)
AGREED = ("current_level", "target_level", "next_steps", "due", "due_year")


def _number(table: Any) -> None:
    """Number each school's rows 1, 2, ... in the order they were made (by id)."""
    bind = op.get_bind()
    counts: dict[int, int] = {}
    rows = bind.execute(sa.select(table.c.id, table.c.organisation_id).order_by(table.c.id))
    for row_id, organisation_id in list(rows):
        counts[organisation_id] = counts.get(organisation_id, 0) + 1
        bind.execute(
            table.update().where(table.c.id == row_id).values(number=counts[organisation_id])
        )


def _agree() -> None:
    """Each completed review's plan as it stood when it was completed: the action as it is
    now, with every change made after that moment undone from the updates' `before`."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(responses.c.id, responses.c.action_id, reviews.c.completed_at)
        .join(reviews, reviews.c.id == responses.c.review_id)
        .where(reviews.c.completed_at.is_not(None), responses.c.action_id.is_not(None))
    )
    for response_id, action_id, completed_at in list(rows):
        action = bind.execute(sa.select(actions).where(actions.c.id == action_id)).mappings().one()
        agreed: dict[str, Any] = {key: action[key] for key in AGREED}
        agreed["owners"] = [
            {"name": name, "person_id": person_id}
            for name, person_id in bind.execute(
                sa.select(owners.c.name, owners.c.person_id)
                .where(owners.c.action_id == action_id)
                .order_by(owners.c.position)
            )
        ]
        later = bind.execute(
            sa.select(updates.c.at, updates.c.before)
            .where(updates.c.action_id == action_id)
            .order_by(updates.c.at.desc(), updates.c.id.desc())
        )
        for at, before in list(later):
            if at is None or at <= completed_at:
                break
            for key, value in (before or {}).items():
                if key == "owners":
                    agreed["owners"] = [{"name": n, "person_id": None} for n in value or []]
                elif key in AGREED:
                    agreed[key] = value
        bind.execute(responses.update().where(responses.c.id == response_id).values(agreed=agreed))


def upgrade() -> None:
    # Plain ADD COLUMN and CREATE INDEX: on SQLite a batch (copy and drop) of reviews or
    # actions would fire ON DELETE CASCADE on their children inside this transaction.
    op.add_column("reviews", sa.Column("number", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("actions", sa.Column("number", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("responses", sa.Column("agreed", sa.JSON(), nullable=True))
    _number(reviews)
    _number(actions)
    _agree()
    op.create_index(
        "ix_reviews_organisation_number", "reviews", ["organisation_id", "number"], unique=True
    )
    op.create_index(
        "ix_actions_organisation_number", "actions", ["organisation_id", "number"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_actions_organisation_number", table_name="actions")
    op.drop_index("ix_reviews_organisation_number", table_name="reviews")
    op.drop_column("responses", "agreed")
    op.drop_column("actions", "number")
    op.drop_column("reviews", "number")
