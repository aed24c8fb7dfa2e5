"""One conversation turn on any channel: load the review, apply the engine, save, in ONE transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from model_data import Edition, load_glossary, load_model
from storage import repo
from storage.db import Database
from storage.models import Organisation, Person, Review
from workflows import review as engine
from workflows.replies import Reply

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Who:
    """A chat identity as an adapter sees it."""

    channel: str
    external_id: str
    display_name: str
    workspace: str = ""


@dataclass
class TurnResult:
    review_id: int | None
    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False
    completed: bool = False


def default_title(now: datetime) -> str:
    return f"Careers Impact review – {now:%B %Y}"


class ReviewService:
    """Shared by the terminal, Slack and Teams adapters: no channel knowledge here."""

    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.clock = clock or (lambda: datetime.now(UTC))

    async def organisation(self, name: str, edition: Edition | str) -> Organisation:
        """The organisation called `name`, created with `edition` on first use."""
        async with self.db.transaction() as session:
            found = await repo.find_organisations(session, name)
            if found:
                return found[0]
            return await repo.create_organisation(session, name, Edition(edition).value)

    async def _context(
        self, session: AsyncSession, organisation: Organisation, who: Who
    ) -> tuple[Person, engine.Context]:
        person = await repo.person_for_identity(
            session, organisation.id, who.channel, who.external_id, who.display_name, who.workspace
        )
        ctx = engine.Context(
            model=load_model(organisation.edition),
            glossary=load_glossary(),
            now=self.clock(),
            actor=person.display_name,
            people=await repo.known_people(session, organisation.id),
        )
        return person, ctx

    async def open(
        self, organisation_id: int, who: Who, new: bool = False, blank: bool = False
    ) -> TurnResult:
        """Resume the review in progress, or start one (from the last answers unless `blank`)."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                async with self.db.transaction() as session:
                    organisation = await self._organisation(session, organisation_id)
                    person, ctx = await self._context(session, organisation, who)
                    review = await repo.open_review(session, organisation_id, lock=True)
                    if review is None and not new:
                        review = await repo.latest_review(session, organisation_id, lock=True)
                    if review is None or (new and review.completed_at is not None):
                        review = await self._start(session, organisation, ctx, blank)
                    before = await repo.load_state(session, review)
                    outcome = engine.open_review(before, ctx)
                    await repo.save_state(
                        session, review, before, outcome.state, person.id, ctx.now
                    )
                    return TurnResult(review.id, outcome.replies, completed=outcome.state.completed)
            except repo.ConcurrentTurn:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def turn(
        self, organisation_id: int, who: Who, text: str, key: str | None = None
    ) -> TurnResult:
        """Apply one message to the organisation's current review; `key` makes retries harmless."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                async with self.db.transaction() as session:
                    organisation = await self._organisation(session, organisation_id)
                    review = await repo.open_review(session, organisation_id, lock=True)
                    if review is None:
                        review = await repo.latest_review(session, organisation_id, lock=True)
                    if review is None:
                        return TurnResult(None, [])
                    if key is not None and not await repo.claim_input(session, key, review.id):
                        return TurnResult(review.id, [], duplicate=True)
                    person, ctx = await self._context(session, organisation, who)
                    before = await repo.load_state(session, review)
                    outcome = engine.handle(before, text, ctx)
                    await repo.save_state(
                        session, review, before, outcome.state, person.id, ctx.now
                    )
                    return TurnResult(review.id, outcome.replies, completed=outcome.state.completed)
            except repo.ConcurrentTurn:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _organisation(self, session: AsyncSession, organisation_id: int) -> Organisation:
        organisation = await repo.get_organisation(session, organisation_id)
        if organisation is None:
            raise LookupError(f"no organisation {organisation_id}")
        return organisation

    async def _start(
        self, session: AsyncSession, organisation: Organisation, ctx: engine.Context, blank: bool
    ) -> Review:
        previous = (
            None if blank else await repo.latest_review(session, organisation.id, completed=True)
        )
        answers = await repo.load_answers(session, previous.id) if previous else None
        state = engine.new_review(
            ctx.model,
            default_title(ctx.now),
            previous=answers,
            previous_title=previous.title if previous else None,
        )
        return await repo.create_review(session, organisation, state, ctx.now, based_on=previous)
