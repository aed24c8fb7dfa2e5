"""Typed SQLAlchemy 2 models. Portable SQL only: the same schema runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import (
    false as sa_false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Always timezone-aware UTC in Python, whatever the database keeps (SQLite keeps none)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# "Look at it at the next sweep, whatever that sweep's clock says" (a sweep's `as_of` may be
# any moment: tests, `remind --as-of`), for the stored next-reminder and next-digest times.
LOOK_NOW = datetime(2000, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Organisation(Base):
    """A school or college; several can share one Teams tenant or Slack workspace."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    edition: Mapped[str] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disconnected_at: Mapped[datetime | None] = mapped_column(default=None)
    # When the sweep next needs to look at this school's weekly digest (storage/planning.py):
    # LOOK_NOW after any change to its settings or term dates, None when none is scheduled.
    next_digest_at: Mapped[datetime | None] = mapped_column(default=LOOK_NOW, index=True)

    # Ids are never reused (SQLite AUTOINCREMENT, migration 0007): a deleted school's id,
    # in an old link, key or message, can never name another school.
    __table_args__ = (
        CheckConstraint("edition IN ('school', 'college')", name="edition"),
        {"sqlite_autoincrement": True},
    )


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    display_name: Mapped[str] = mapped_column(String(200))
    initials: Mapped[str | None] = mapped_column(String(20), default=None)
    role: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    identities: Mapped[list[Identity]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 (SQLAlchemy's own shape)


class Identity(Base):
    """Who a person is on one channel: a Slack user in a workspace, a Teams user in a tenant."""

    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    workspace: Mapped[str] = mapped_column(String(200), default="")
    external_id: Mapped[str] = mapped_column(String(200))

    person: Mapped[Person] = relationship(back_populates="identities")

    __table_args__ = (UniqueConstraint("channel", "workspace", "external_id"),)


class Review(Base):
    """One self-evaluation cycle, e.g. "Internal leadership review, January 2025"."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    # The school's own review number (1, 2, ...): what people see and type (`--review 1`).
    number: Mapped[int] = mapped_column(Integer)
    edition: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    based_on_id: Mapped[int | None] = mapped_column(
        ForeignKey("reviews.id", ondelete="SET NULL"), default=None
    )
    # The conversation's position (cursor, participants) as JSON; answers live in `responses`.
    conversation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Optimistic lock: each turn saves only if nobody else saved since it loaded.
    version: Mapped[int] = mapped_column(Integer, default=0)

    # Written as rows by repo.save_state; a turn reads them from the conversation JSON, so
    # its queries leave them out (repo.open_review / latest_review: lazyload).
    participants: Mapped[list[ReviewParticipant]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ReviewParticipant.id"
    )

    __table_args__ = (
        Index("ix_reviews_organisation_number", "organisation_id", "number", unique=True),
        {"sqlite_autoincrement": True},
    )


class ReviewParticipant(Base):
    __tablename__ = "review_participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )


class Response(Base):
    """The answer to one statement in one review, saved piece by piece."""

    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    statement_id: Mapped[str] = mapped_column(String(8))
    level: Mapped[int | None] = mapped_column(default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    flag: Mapped[str | None] = mapped_column(String(20), default=None)
    carried: Mapped[bool] = mapped_column(default=False)
    answered_by: Mapped[str | None] = mapped_column(String(200), default=None)
    answered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    # The first action this answer's priority is tracked by (kept for readers of one action);
    # all of them, in order, are `links` (response_actions, migration 0004b).
    action_id: Mapped[int | None] = mapped_column(
        ForeignKey("actions.id", ondelete="SET NULL"), default=None
    )
    # The action's fields as agreed when this review was completed (repo._agree): a later
    # edit of a carried action is the action's history and leaves this review's plan alone.
    agreed: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    evidence: Mapped[list[EvidenceLink]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="EvidenceLink.position"
    )
    # Loaded with the answers in one joined query (repo.load_answers); never implicitly.
    action: Mapped[Action | None] = relationship(lazy="raise", foreign_keys=[action_id])
    # A priority's actions in order: created here, or carried forward from an earlier review.
    links: Mapped[list[ResponseAction]] = relationship(
        cascade="all, delete-orphan", lazy="raise", order_by="ResponseAction.position"
    )
    # Read through repo.response_history; never loaded implicitly.
    history: Mapped[list[ResponseChange]] = relationship(
        cascade="all, delete-orphan", lazy="raise", passive_deletes=True
    )

    __table_args__ = (
        UniqueConstraint("review_id", "statement_id"),
        CheckConstraint("level IS NULL OR (level BETWEEN 1 AND 4)", name="level"),
        CheckConstraint("flag IS NULL OR flag IN ('strength', 'priority', 'none')", name="flag"),
    )


class ResponseAction(Base):
    """One of an answer's actions: a statement may have several (seed 003 has two on 3.7)."""

    __tablename__ = "response_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)

    action: Mapped[Action] = relationship(lazy="raise")

    __table_args__ = (UniqueConstraint("response_id", "position"),)


class EvidenceLink(Base):
    __tablename__ = "evidence_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    url: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(300), default=None)


class ResponseChange(Base):
    """A changed answer: what it was before, who changed it and when."""

    __tablename__ = "response_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Action(Base):
    """A priority turned into work: from current to target level, with owners and a deadline.

    `review_id` is the review it was first set in (or, added outside the review's questions,
    the review current then); later reviews carry it forward through `ResponseAction` links
    (a statement may have several) rather than duplicating it.
    """

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    # The school's own action number: what people see and type (`done 3`).
    number: Mapped[int] = mapped_column(Integer)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    statement_id: Mapped[str] = mapped_column(String(8))
    current_level: Mapped[int] = mapped_column()
    target_level: Mapped[int | None] = mapped_column(default=None)
    next_steps: Mapped[str | None] = mapped_column(Text, default=None)
    due: Mapped[str | None] = mapped_column(String(20), default=None)  # "HT3", "HT3/4", "ongoing"
    due_year: Mapped[str | None] = mapped_column(String(9), default=None)  # "2025/26"
    status: Mapped[str] = mapped_column(String(20), default="not_started")
    # Which of its statement's actions in the review it was set in (0 first, 1 second ...).
    position: Mapped[int] = mapped_column(default=0, server_default="0")
    # Owners or deadline "not decided yet" (shown as TBC), rather than a person called TBC.
    owners_tbc: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    due_tbc: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the sweep next needs to look at this action (its next reminder, worked out by
    # workflows.reminders.next_reminder_at): LOOK_NOW after any change to the action, its
    # owners, updates, school settings or term dates; None once it has no more reminders.
    next_reminder_at: Mapped[datetime | None] = mapped_column(default=LOOK_NOW, index=True)

    owners: Mapped[list[ActionOwner]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ActionOwner.position"
    )
    updates: Mapped[list[ActionUpdate]] = relationship(
        cascade="all, delete-orphan", lazy="raise", passive_deletes=True
    )

    __table_args__ = (
        UniqueConstraint("review_id", "statement_id", "position"),
        Index("ix_actions_organisation_number", "organisation_id", "number", unique=True),
        CheckConstraint(
            "status IN ('not_started', 'in_progress', 'done', 'dropped')", name="status"
        ),
        CheckConstraint("target_level IS NULL OR target_level > current_level", name="target"),
        {"sqlite_autoincrement": True},
    )


class ActionOwner(Base):
    """An owner: a known person, or a name or initials typed as text ("HOFS", "ALL STAFF")."""

    __tablename__ = "action_owners"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )


class ActionUpdate(Base):
    """A dated update on an action: progress, done, reassigned, deadline moved."""

    __tablename__ = "action_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by: Mapped[str | None] = mapped_column(String(200), default=None)
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text, default=None)
    link: Mapped[str | None] = mapped_column(Text, default=None)
    before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(default=dict)


class TermDate(Base):
    """An organisation's own dates for one half-term, overriding the England defaults."""

    __tablename__ = "term_dates"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    academic_year: Mapped[str] = mapped_column(String(9))
    half_term: Mapped[int] = mapped_column()
    starts_on: Mapped[date] = mapped_column()
    ends_on: Mapped[date] = mapped_column()

    __table_args__ = (
        UniqueConstraint("organisation_id", "academic_year", "half_term"),
        CheckConstraint("half_term BETWEEN 1 AND 6", name="half_term"),
        CheckConstraint("starts_on <= ends_on", name="order"),
    )


class ChatLink(Base):
    """Which organisation a Slack workspace or a Teams tenant (and team) belongs to.

    `scope` narrows a Teams tenant to one team where a trust holds several schools; it is
    "" for a whole workspace or tenant.
    """

    __tablename__ = "chat_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    workspace: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(200), default="")
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("channel", "workspace", "scope"),)


class ConversationRef(Base):
    """Where the bot can speak later (reminders, digests): a DM or a channel, as JSON."""

    __tablename__ = "conversation_refs"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))  # slack, teams
    conversation_id: Mapped[str] = mapped_column(String(400))
    kind: Mapped[str] = mapped_column(String(20))  # personal, channel
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), default=None, index=True
    )
    reference: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("channel", "conversation_id"),)


class Delivery(Base):
    """A reminder or digest: recorded first (unique key), then claimed, sent, and marked sent.

    The key (what, for whom, which period) makes two schedulers, a restart or a retry
    produce one message; the lease lets another process take over a crashed claim.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # reminder, digest
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), default=None
    )
    action_id: Mapped[int | None] = mapped_column(
        ForeignKey("actions.id", ondelete="CASCADE"), default=None
    )
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    due_at: Mapped[datetime] = mapped_column()
    stale_at: Mapped[datetime] = mapped_column()  # after this it is no longer worth sending
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_to: Mapped[list[Any]] = mapped_column(JSON, default=list)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'claimed', 'sent', 'failed', 'dropped')", name="status"
        ),
        Index("ix_deliveries_ready", "status", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )


class DeliveryTarget(Base):
    """One conversation a delivery goes to, recorded on its own (migration 0006).

    The truth for "already sent there": a retry after a partial failure sends only to the
    targets not yet sent. `attempts` > 0 without `sent_at` means an earlier send may have
    been cut off, so a channel that can search its history (Slack) looks before resending.
    """

    __tablename__ = "delivery_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))  # slack, teams
    conversation_id: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    attempted_at: Mapped[datetime | None] = mapped_column(default=None)  # the last attempt began
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    message_id: Mapped[str | None] = mapped_column(String(300), default=None)  # Slack ts, Teams id
    last_error: Mapped[str | None] = mapped_column(Text, default=None)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        UniqueConstraint("delivery_id", "channel", "conversation_id"),
    )


class HandledInput(Base):
    """Idempotency: a delivery (Slack event id, Teams activity id) is applied once only."""

    __tablename__ = "handled_inputs"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    review_id: Mapped[int | None] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), default=None
    )
    # The school it was for, so that deleting the school erases its keys even where no
    # review was open (a welcome, a first message); None for keys recorded before 0007.
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), default=None, index=True
    )
    handled_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # pruned by age


Index("ix_reviews_open", Review.organisation_id, Review.completed_at)


# Slack's OAuth installations and states, in slack_sdk's own table shapes, so that its
# AsyncSQLAlchemyInstallationStore and OAuth state store work on our database and Alembic
# creates them with everything else.
SLACK_INSTALLATIONS = "slack_installations"
SLACK_BOTS = "slack_bots"
SLACK_OAUTH_STATES = "slack_oauth_states"


def _slack_tables() -> None:
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    SQLAlchemyInstallationStore.build_installations_table(Base.metadata, SLACK_INSTALLATIONS)
    SQLAlchemyInstallationStore.build_bots_table(Base.metadata, SLACK_BOTS)
    SQLAlchemyOAuthStateStore.build_oauth_states_table(Base.metadata, SLACK_OAUTH_STATES)


_slack_tables()


class BotMessage(Base):
    """The bot's own message for one statement of a review in one conversation (a Slack ts, a
    Teams activity id): updated in place as the statement is answered, never posted again."""

    __tablename__ = "bot_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    conversation_id: Mapped[str] = mapped_column(String(300))
    statement_id: Mapped[str] = mapped_column(String(8))
    message_id: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("channel", "conversation_id", "review_id", "statement_id"),)


class PlanLink(Base):
    """A link to a school's plan as a Word document (`/plans/<token>.docx`), as issued.

    The token is never stored: it is HMAC-SHA256(PLAN_LINK_SECRET, `nonce`), a random
    nonce, and the link is found again by the token's SHA-256 hash. Neither the database
    alone nor the secret alone opens a plan. A link belongs to one school, is issued for a
    person or a place (`issued_to`: the digest's channel), expires, can be revoked, and
    counts its uses.
    """

    __tablename__ = "plan_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(64))
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    issued_to: Mapped[str] = mapped_column(String(200))
    # What the link was issued for ("digest:2025-W10"): one link per school and purpose, so
    # a digest rebuilt on every sweep of its week carries the same link (see bot/plan_links).
    purpose: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    uses: Mapped[int] = mapped_column(default=0, server_default="0")

    __table_args__ = (
        UniqueConstraint("organisation_id", "purpose"),
        {"sqlite_autoincrement": True},
    )


class Group(Base):
    """A Careers Hub or a multi-academy trust: schools and colleges that work together and
    the leads who follow them (issue 13). A school joins only when its Careers Leader accepts
    an invitation (`GroupMember.accepted_at`); leads see only their own group's schools."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # hub, trust
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('hub', 'trust')", name="kind"),
        {"sqlite_autoincrement": True},
    )


class GroupLead(Base):
    """Someone who follows a group rather than one school: a Hub lead, an Enterprise
    Co-ordinator, a trust careers lead or a peer-review facilitator. Known by who they are on
    a channel (as `Identity`), since a lead need not belong to any school in the bot."""

    __tablename__ = "group_leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))  # slack, teams, terminal
    workspace: Mapped[str] = mapped_column(String(200), default="")
    external_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("group_id", "channel", "workspace", "external_id"),
        CheckConstraint(
            "role IN ('hub_lead', 'enterprise_coordinator', 'trust_careers_lead', 'facilitator')",
            name="role",
        ),
        {"sqlite_autoincrement": True},
    )


class GroupMember(Base):
    """A school's place in a group: invited, then accepted by its Careers Leader (or left).
    Only accepted, not-left members count in the group's figures."""

    __tablename__ = "group_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)
    invited_by: Mapped[str | None] = mapped_column(String(200), default=None)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    accepted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    left_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        UniqueConstraint("group_id", "organisation_id"),
        {"sqlite_autoincrement": True},
    )


class PeerReview(Base):
    """A school's invitation to peers to rate chosen themes (or all) of its latest review
    (issue 13). Open until its Careers Leader closes it; after that no peer sees anything of
    the school. `agreeing_id` is the school's person now going through the side by side, so
    what they type answers it (free text is content) until they pause or it is done."""

    __tablename__ = "peer_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    themes: Mapped[list[int]] = mapped_column(JSON, default=list)  # empty: the whole model
    statements: Mapped[list[str]] = mapped_column(JSON, default=list)
    invited_by: Mapped[str | None] = mapped_column(String(200), default=None)
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    agreeing_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    state: Mapped[str] = mapped_column(String(20), default="open")  # open, closed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        CheckConstraint("state IN ('open', 'closed')", name="state"),
        {"sqlite_autoincrement": True},
    )


class PeerReviewer(Base):
    """One invitation of a peer review, then the peer who took it: a Careers Leader of
    another school (`person_id`) or a facilitator of a shared group (`lead_id`). Only the
    SHA-256 of its one-time code is kept. The peer's own place (`place`) is JSON like a
    review's cursors; `active` says their typed words answer this peer review now.

    Erasing the peer's own school sets `person_id` to null and keeps the ratings, which are
    the reviewed school's record; the reviewed school's erasure removes everything here."""

    __tablename__ = "peer_reviewers"

    id: Mapped[int] = mapped_column(primary_key=True)
    peer_review_id: Mapped[int] = mapped_column(
        ForeignKey("peer_reviews.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None, index=True
    )
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("group_leads.id", ondelete="SET NULL"), default=None, index=True
    )
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    place: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=False)
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)
    joined_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = ({"sqlite_autoincrement": True},)


class PeerRating(Base):
    """A peer's answer for one statement, saved as given: level, short comment, and the
    suggested highest-leverage action, which becomes a draft the school accepts (with owners
    and a deadline: `draft` is pending, owners, due, accepted or declined) or declines."""

    __tablename__ = "peer_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    peer_id: Mapped[int] = mapped_column(
        ForeignKey("peer_reviewers.id", ondelete="CASCADE"), index=True
    )
    statement_id: Mapped[str] = mapped_column(String(8))
    level: Mapped[int | None] = mapped_column(default=None)
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    suggestion: Mapped[str | None] = mapped_column(Text, default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    draft: Mapped[str | None] = mapped_column(String(20), default=None)
    draft_owners: Mapped[list[Any]] = mapped_column(JSON, default=list)
    action_id: Mapped[int | None] = mapped_column(
        ForeignKey("actions.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (
        UniqueConstraint("peer_id", "statement_id"),
        {"sqlite_autoincrement": True},
    )


class PeerAgreement(Base):
    """The level a school and its peer agreed for a statement, with both originals as they
    stood when agreed (the school's answer is then changed through the review's own history)."""

    __tablename__ = "peer_agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    peer_id: Mapped[int] = mapped_column(
        ForeignKey("peer_reviewers.id", ondelete="CASCADE"), index=True
    )
    statement_id: Mapped[str] = mapped_column(String(8))
    agreed_level: Mapped[int] = mapped_column()
    school_level: Mapped[int | None] = mapped_column(default=None)
    peer_level: Mapped[int | None] = mapped_column(default=None)
    agreed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    agreed_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("peer_id", "statement_id"),
        {"sqlite_autoincrement": True},
    )


class DashboardLink(Base):
    """A signed, expiring link to the dashboard page (`/dashboard/<token>/...`) for one person
    and one school, or one group lead and one group (issue 13).

    Made the way plan links are (`PlanLink`): the token is HMAC-SHA256(PLAN_LINK_SECRET,
    `nonce`) and is never stored; the row is found by the token's SHA-256 hash. A school link
    names the school and the person it was issued to (none for the weekly digest's link,
    issued to the digest's channel); a group link names the group and the lead. Deleting the
    school, the group, the person or the lead deletes their links. Expires, can be revoked,
    counts its uses.
    """

    __tablename__ = "dashboard_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))  # school, group
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True, default=None
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), index=True, default=None
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), default=None
    )
    group_lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("group_leads.id", ondelete="CASCADE"), default=None
    )
    issued_to: Mapped[str] = mapped_column(String(200))
    # What it was issued for ("digest:<school>:2026-W06", "chat:<person>:<moment>"): one link
    # per purpose, so the digest rebuilt on the next sweep of its week carries the same link.
    purpose: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    uses: Mapped[int] = mapped_column(default=0, server_default="0")

    __table_args__ = (
        CheckConstraint(
            "(kind = 'school' AND organisation_id IS NOT NULL AND group_id IS NULL"
            " AND group_lead_id IS NULL)"
            " OR (kind = 'group' AND group_id IS NOT NULL AND group_lead_id IS NOT NULL"
            " AND organisation_id IS NULL AND person_id IS NULL)",
            name="one_school_or_group",
        ),
        {"sqlite_autoincrement": True},
    )
