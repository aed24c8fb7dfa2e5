"""dashboard links: signed, expiring links to the dashboard page

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 22:26:01

One person and one school, or one group lead and one group, per link (issue 13); tokens
hashed as plan links are. A new table only; no existing row changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models


revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("group_lead_id", sa.Integer(), nullable=True),
        sa.Column("issued_to", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=120), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "(kind = 'school' AND organisation_id IS NOT NULL AND group_id IS NULL AND group_lead_id IS NULL) OR (kind = 'group' AND group_id IS NOT NULL AND group_lead_id IS NOT NULL AND organisation_id IS NULL AND person_id IS NULL)",
            name=op.f("ck_dashboard_links_one_school_or_group"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_dashboard_links_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_lead_id"],
            ["group_leads.id"],
            name=op.f("fk_dashboard_links_group_lead_id_group_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_dashboard_links_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_dashboard_links_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_links")),
        sa.UniqueConstraint("purpose", name=op.f("uq_dashboard_links_purpose")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_dashboard_links_token_hash")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("dashboard_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dashboard_links_group_id"), ["group_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_dashboard_links_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dashboard_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dashboard_links_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_dashboard_links_group_id"))

    op.drop_table("dashboard_links")
