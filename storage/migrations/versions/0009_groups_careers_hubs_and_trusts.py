"""groups: Careers Hubs and trusts

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 22:23:03

Careers Hubs and multi-academy trusts (issue 13): a group, its leads (known by their
channel identity, since a lead need not belong to a school) and its member schools, each
invited and then accepted by its Careers Leader. New tables only; no existing row changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models


revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('hub', 'trust')", name=op.f("ck_groups_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_groups_name")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "group_leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("workspace", sa.String(length=200), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('hub_lead', 'enterprise_coordinator', 'trust_careers_lead', 'facilitator')",
            name=op.f("ck_group_leads_role"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_group_leads_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_leads")),
        sa.UniqueConstraint(
            "group_id",
            "channel",
            "workspace",
            "external_id",
            name=op.f("uq_group_leads_group_id_channel_workspace_external_id"),
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("group_leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_leads_group_id"), ["group_id"], unique=False)

    op.create_table(
        "group_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("invited_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("invited_by", sa.String(length=200), nullable=True),
        sa.Column("accepted_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_by_id", sa.Integer(), nullable=True),
        sa.Column("left_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["accepted_by_id"],
            ["people.id"],
            name=op.f("fk_group_members_accepted_by_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_group_members_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_group_members_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_members")),
        sa.UniqueConstraint(
            "group_id", "organisation_id", name=op.f("uq_group_members_group_id_organisation_id")
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_members_group_id"), ["group_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_group_members_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_members_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_group_members_group_id"))

    op.drop_table("group_members")
    with op.batch_alter_table("group_leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_leads_group_id"))

    op.drop_table("group_leads")
    op.drop_table("groups")
