"""several actions per statement; owners and deadlines "not decided yet"

Revision ID: 0004b
Revises: 0004
Create Date: 2026-12-01 10:00:00

Existing data is kept: every response's action becomes its first linked action (position 0),
and existing actions are the first of their statement (position 0, owners and deadline decided).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004b"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("owners_tbc", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("due_tbc", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.drop_constraint("uq_actions_review_id_statement_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_actions_review_id_statement_id_position"),
            ["review_id", "statement_id", "position"],
        )
    op.create_table(
        "response_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["actions.id"],
            name=op.f("fk_response_actions_action_id_actions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_response_actions_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_actions")),
        sa.UniqueConstraint(
            "response_id", "position", name=op.f("uq_response_actions_response_id_position")
        ),
    )
    with op.batch_alter_table("response_actions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_response_actions_action_id"), ["action_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_response_actions_response_id"), ["response_id"], unique=False
        )
    op.execute(
        "INSERT INTO response_actions (response_id, action_id, position) "
        "SELECT id, action_id, 0 FROM responses WHERE action_id IS NOT NULL"
    )


def downgrade() -> None:
    # Only each statement's first action survives a downgrade (the old schema has one).
    op.execute("DELETE FROM actions WHERE position > 0")
    with op.batch_alter_table("response_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_response_actions_response_id"))
        batch_op.drop_index(batch_op.f("ix_response_actions_action_id"))
    op.drop_table("response_actions")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_actions_review_id_statement_id_position", type_="unique")
        batch_op.create_unique_constraint(
            "uq_actions_review_id_statement_id", ["review_id", "statement_id"]
        )
        batch_op.drop_column("due_tbc")
        batch_op.drop_column("owners_tbc")
        batch_op.drop_column("position")
