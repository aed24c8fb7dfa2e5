"""peer reviews: a school's invitation to peers, their ratings, and the levels agreed

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 22:26:35

Peer-to-peer review in chat (issue 13): a peer review of a school's latest review, its
invited peers (only the hash of each one-time code is kept), each peer's ratings with the
suggested actions as drafts, and the levels agreed with both originals. New tables only;
every row hangs from the reviewed school, so `org delete` erases it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models


revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "peer_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column("statements", sa.JSON(), nullable=False),
        sa.Column("invited_by", sa.String(length=200), nullable=True),
        sa.Column("invited_by_id", sa.Integer(), nullable=True),
        sa.Column("agreeing_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('open', 'closed')", name=op.f("ck_peer_reviews_state")),
        sa.ForeignKeyConstraint(
            ["agreeing_id"],
            ["people.id"],
            name=op.f("fk_peer_reviews_agreeing_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"],
            ["people.id"],
            name=op.f("fk_peer_reviews_invited_by_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_peer_reviews_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["reviews.id"],
            name=op.f("fk_peer_reviews_review_id_reviews"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_reviews")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("peer_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_peer_reviews_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "peer_reviewers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_review_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("place", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("invited_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("joined_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["group_leads.id"],
            name=op.f("fk_peer_reviewers_lead_id_group_leads"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["peer_review_id"],
            ["peer_reviews.id"],
            name=op.f("fk_peer_reviewers_peer_review_id_peer_reviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_peer_reviewers_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_reviewers")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_peer_reviewers_code_hash")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("peer_reviewers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_peer_reviewers_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_peer_reviewers_peer_review_id"), ["peer_review_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_peer_reviewers_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "peer_agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.String(length=8), nullable=False),
        sa.Column("agreed_level", sa.Integer(), nullable=False),
        sa.Column("school_level", sa.Integer(), nullable=True),
        sa.Column("peer_level", sa.Integer(), nullable=True),
        sa.Column("agreed_by", sa.String(length=200), nullable=True),
        sa.Column("agreed_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["peer_reviewers.id"],
            name=op.f("fk_peer_agreements_peer_id_peer_reviewers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_agreements")),
        sa.UniqueConstraint(
            "peer_id", "statement_id", name=op.f("uq_peer_agreements_peer_id_statement_id")
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("peer_agreements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_peer_agreements_peer_id"), ["peer_id"], unique=False)

    op.create_table(
        "peer_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.String(length=8), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("suggestion", sa.Text(), nullable=True),
        sa.Column("answered_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("draft", sa.String(length=20), nullable=True),
        sa.Column("draft_owners", sa.JSON(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["actions.id"],
            name=op.f("fk_peer_ratings_action_id_actions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["peer_reviewers.id"],
            name=op.f("fk_peer_ratings_peer_id_peer_reviewers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_ratings")),
        sa.UniqueConstraint(
            "peer_id", "statement_id", name=op.f("uq_peer_ratings_peer_id_statement_id")
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("peer_ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_peer_ratings_peer_id"), ["peer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("peer_ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_peer_ratings_peer_id"))

    op.drop_table("peer_ratings")
    with op.batch_alter_table("peer_agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_peer_agreements_peer_id"))

    op.drop_table("peer_agreements")
    with op.batch_alter_table("peer_reviewers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_peer_reviewers_person_id"))
        batch_op.drop_index(batch_op.f("ix_peer_reviewers_peer_review_id"))
        batch_op.drop_index(batch_op.f("ix_peer_reviewers_lead_id"))

    op.drop_table("peer_reviewers")
    with op.batch_alter_table("peer_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_peer_reviews_organisation_id"))

    op.drop_table("peer_reviews")
