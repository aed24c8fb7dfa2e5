"""stored next-reminder and next-digest times

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 20:10:00

A sweep reads only the actions whose next reminder is due (`actions.next_reminder_at`,
indexed) and the schools whose digest is due (`organisations.next_digest_at`), instead of
every action ever made. Existing open actions and every school are set to "look now"
(2000-01-01 UTC): the first sweep after the upgrade works out each real time. Done and
dropped actions get none and are never read again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_reminder_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_actions_next_reminder_at"), ["next_reminder_at"], unique=False
        )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_digest_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_organisations_next_digest_at"), ["next_digest_at"], unique=False
        )
    look_now = sa.bindparam("look_now", storage.models.LOOK_NOW, type_=storage.models.UTCDateTime())
    op.get_bind().execute(
        sa.text(
            "UPDATE actions SET next_reminder_at = :look_now "
            "WHERE status NOT IN ('done', 'dropped')"
        ).bindparams(look_now)
    )
    op.get_bind().execute(
        sa.text("UPDATE organisations SET next_digest_at = :look_now").bindparams(look_now)
    )


def downgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisations_next_digest_at"))
        batch_op.drop_column("next_digest_at")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_actions_next_reminder_at"))
        batch_op.drop_column("next_reminder_at")
