"""delivery targets: each conversation a delivery goes to, recorded on its own

Existing deliveries already marked sent get one "sent" target row per conversation their
`sent_to` summary names (entries without a conversation, or marked "skipped", are not
targets), so the targets table is the whole truth of where things went from this revision
on. Pending, failed and claimed deliveries get none: before this revision a failed send
recorded nowhere which of its conversations had it, so there is nothing true to copy; they
are sent to their conversations afresh, once, on their next attempt.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 19:33:32.096975
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import storage.models


revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    targets = op.create_table(
        "delivery_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("conversation_id", sa.String(length=400), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempted_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_delivery_targets_status")
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_targets_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_targets")),
        sa.UniqueConstraint(
            "delivery_id",
            "channel",
            "conversation_id",
            name=op.f("uq_delivery_targets_delivery_id_channel_conversation_id"),
        ),
    )
    with op.batch_alter_table("delivery_targets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_targets_delivery_id"), ["delivery_id"], unique=False
        )

    deliveries = sa.table(
        "deliveries",
        sa.column("id", sa.Integer()),
        sa.column("status", sa.String()),
        sa.column("sent_at", storage.models.UTCDateTime(timezone=True)),
        sa.column("sent_to", sa.JSON()),
    )
    bind = op.get_bind()
    rows: list[dict[str, Any]] = []
    sent = bind.execute(
        sa.select(deliveries.c.id, deliveries.c.sent_at, deliveries.c.sent_to).where(
            deliveries.c.status == "sent"
        )
    )
    for delivery_id, sent_at, sent_to in sent:
        seen: set[tuple[str, str]] = set()
        for entry in sent_to or []:
            if not isinstance(entry, dict) or entry.get("skipped"):
                continue
            channel, conversation = entry.get("channel"), entry.get("conversation")
            if not channel or not conversation or (channel, conversation) in seen:
                continue
            seen.add((channel, conversation))
            rows.append(
                {
                    "delivery_id": delivery_id,
                    "channel": channel,
                    "conversation_id": conversation,
                    "status": "sent",
                    "attempts": 1,
                    "attempted_at": sent_at,
                    "sent_at": sent_at,
                }
            )
    if rows:
        op.bulk_insert(targets, rows)


def downgrade() -> None:
    with op.batch_alter_table("delivery_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_targets_delivery_id"))

    op.drop_table("delivery_targets")
