"""ids never reused; plan links stored; input keys know their school

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 19:40:00

SQLite reuses the largest rowid once its row is deleted, so a deleted school's id (in a plan
link, a delivery key, a button) could name the next school created. Organisations, people,
reviews, actions and deliveries become AUTOINCREMENT tables: each is rebuilt with its rows,
ids, indexes and constraints, and SQLite's sqlite_sequence starts at the largest id now kept
(ids deleted before this migration above that are not known, so not protected). PostgreSQL's
sequences never hand an id out twice: there the rebuild is skipped.

Plan links become rows (plan_links): issued, expiring, revocable, counted. Input keys
(handled_inputs) gain the school they were for, so deleting a school erases them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEVER_REUSED = ("organisations", "people", "reviews", "actions", "deliveries")


def _rebuild(autoincrement: bool) -> None:
    """SQLite only: copy each table into a new one with (or without) AUTOINCREMENT."""
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in NEVER_REUSED:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(autoincrement=True)
    with op.batch_alter_table("handled_inputs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_handled_inputs_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_handled_inputs_organisation_id_organisations"),
            "organisations",
            ["organisation_id"],
            ["id"],
            ondelete="CASCADE",
        )
    # What a school's open review says of a key recorded before this revision.
    op.execute(
        "UPDATE handled_inputs SET organisation_id = "
        "(SELECT organisation_id FROM reviews WHERE reviews.id = handled_inputs.review_id) "
        "WHERE review_id IS NOT NULL"
    )
    op.create_table(
        "plan_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("issued_to", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_plan_links_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_plan_links_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_links")),
        sa.UniqueConstraint(
            "organisation_id", "purpose", name=op.f("uq_plan_links_organisation_id_purpose")
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_plan_links_token_hash")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("plan_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plan_links_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("plan_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_links_organisation_id"))
    op.drop_table("plan_links")
    with op.batch_alter_table("handled_inputs", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_handled_inputs_organisation_id_organisations"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_handled_inputs_organisation_id"))
        batch_op.drop_column("organisation_id")
    _rebuild(autoincrement=False)
