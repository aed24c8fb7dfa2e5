"""One conversation turn on any channel: load the review, apply the engine, save, in ONE transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.groups import GroupService
from bot.inbound import Conversation, Inbound, OpenReview, What, Who
from bot.peer_reviews import PeerReviews, PeerTurn
from bot.workspaces import WorkspaceService
from model_data import Edition, load_benchmarks, load_glossary, load_model, load_policy
from storage import dashboards, repo
from storage.db import Database
from storage.models import Organisation, Person, Review
from workflows import actions, peer_review
from workflows import messages as msg
from workflows import review as engine
from workflows.answers import ActionDraft, Owner
from workflows.calendar import (
    CalendarError,
    HalfTerm,
    TermCalendar,
    calendar_of,
    default_calendar,
    format_date,
    local_date,
)
from workflows.deadlines import parse_by_when
from workflows.documents import Doc, DocumentKind
from workflows.evidence import build_evidence_pack
from workflows.glossary import glossary_query
from workflows.governors import build_governors_report
from workflows.groups import GROUP_COMMANDS
from workflows.inputs import (
    Choose,
    ClosePeerReview,
    Fields,
    InvitePeer,
    JoinPeerReview,
    PeerResults,
    ResumePeerReview,
    Text,
)
from workflows.plan import (
    ActionStatus,
    ActionUpdateView,
    PlanDocument,
    build_action_plan,
    build_summary,
)
from workflows.policy import PolicyPeople, build_policy_draft
from workflows.replies import (
    Message,
    Pending,
    Question,
    Refusal,
    Reply,
    SendDocument,
    ShowAction,
    ShowActions,
    ShowPlan,
    ShowSummary,
    StatementCard,
    StatementPrompt,
    Step,
    Tone,
)
from workflows.roles import (
    VIEW_WORDS,
    Role,
    leads,
    may_answer,
    may_change_action,
    may_configure,
)

__all__ = [
    "Conversation",
    "FormPreview",
    "Inbound",
    "OpenReview",
    "ReviewService",
    "TurnResult",
    "What",
    "Who",
]

MAX_ATTEMPTS = 5
# Typed with no review yet, these start one; in a review the engine reads them (a resume
# word at a choice step, the answer itself at a free-text step).
OPEN_WORDS = {"review", "start", "start review", "start the review", "resume", "continue"}


def _word(text: str) -> str:
    return " ".join(text.lower().split()).rstrip("!.")


@dataclass
class TurnResult:
    review_id: int | None
    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False
    completed: bool = False
    refused: bool = False  # a form was refused whole; the replies say why
    pending: Pending | None = None  # the question this person's place now waits on
    refusal: Refusal | None = None  # why an answer was not taken, and for which question
    # One message per statement: the bot's existing message for a `StatementCard` in
    # `replies` (statement id -> message id), to update in place rather than post; and
    # earlier messages to retire (drawn without controls) when the card is posted afresh.
    messages: dict[str, str] = field(default_factory=dict)
    retired: list[tuple[StatementCard, str]] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        """A button or form for a question no longer asked: nothing was changed."""
        return self.refusal is not None and self.refusal.stale


# Organisation.settings keys the documents read.
LINK_GOVERNOR = "link_governor"
CAREERS_HUB = "careers_hub"
# Whether the weekly digest carries the governors' report in a half-term's first week.
GOVERNORS_REPORT = "governors_report"

# Updates that belong to a later review of a carried action, left out of an earlier plan.
LATER_REVIEWS = {"edited", "carried"}


@dataclass(frozen=True)
class FormPreview:
    """One person's place in the review and the engine's context, to draw a form or a card
    from the engine's own questions, asked on a copy: nothing is replayed or saved. Shared by
    every channel (Slack's modals, Teams' cards)."""

    state: engine.ReviewState
    ctx: engine.Context

    @property
    def statement_id(self) -> str | None:
        return self.state.cursor_for(self.ctx.actor_key).statement_id

    def at(self, statement_id: str | None, step: Step) -> bool:
        """Whether this person's place waits on this question now."""
        return self.state.pending(self.ctx.actor_key) == Pending(step, statement_id)

    def question(self, step: Step) -> Question | None:
        """The engine's question for `step` of this person's current statement."""
        return engine.question_for(self.state, self.ctx, step)

    def card(self, statement_id: str) -> StatementCard:
        """A statement's one message as the engine draws it for this person now."""
        return engine.statement_card(self.state, self.ctx, statement_id)

    def current_action(self) -> ActionDraft | None:
        """The action this person's place is on (a statement may have several)."""
        return engine.current_action(self.state, self.ctx)


def default_title(now: datetime) -> str:
    """The month's title; repo.distinct_title numbers a second review in the same month."""
    return f"Careers Impact review – {now:%B %Y}"


# The session, the school, the person's id and name, the moment -> the person's dashboard
# link and when it expires (bot/dashboard.DashboardLinks.for_person).
DashboardIssuer = Callable[[AsyncSession, int, int, str, datetime], Awaitable[tuple[str, datetime]]]


class ReviewService:
    """Shared by the terminal, Slack and Teams adapters: no channel knowledge here."""

    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.clock = clock or (lambda: datetime.now(UTC))
        # Set by `serve` when links can be signed (PLAN_LINK_SECRET): the `dashboard` command
        # (a school's page; a group's for a group lead: group, lead id, name, moment).
        self.dashboard_issuer: DashboardIssuer | None = None
        self.group_dashboard_issuer: DashboardIssuer | None = None

    async def dashboard_link(self, organisation_id: int, who: Who) -> tuple[str, datetime] | None:
        """A person's dashboard link outside a turn (Slack's App Home): the same link the
        `dashboard` command gives them that day; None when links are not switched on."""
        if self.dashboard_issuer is None:
            return None
        async with self.db.transaction() as session:
            person = await repo.person_for_identity(
                session, organisation_id, who.channel, who.external_id, who.display_name,
                who.workspace,
            )  # fmt: skip
            return await self.dashboard_issuer(
                session, organisation_id, person.id, person.display_name, self.clock()
            )

    async def organisation(self, name: str, edition: Edition | str) -> Organisation:
        """The organisation called `name`, created with `edition` on first use."""
        async with self.db.transaction() as session:
            found = await repo.find_organisations(session, name)
            if found:
                return found[0]
            return await repo.create_organisation(session, name, Edition(edition).value)

    async def chat_organisation(
        self,
        channel: str,
        workspace: str,
        scope: str = "",
        name: str | None = None,
        edition: Edition | str = Edition.SCHOOL,
    ) -> Organisation:
        """The organisation a workspace (or tenant and team) belongs to: kept for callers of
        the turn service; the rule lives in `WorkspaceService.organisation_for`."""
        return await WorkspaceService(self.db, self.clock).organisation_for(
            channel, workspace, scope, name, edition
        )

    async def _context(
        self, session: AsyncSession, organisation: Organisation, who: Who
    ) -> tuple[Person, engine.Context]:
        person = await repo.person_for_identity(
            session, organisation.id, who.channel, who.external_id, who.display_name, who.workspace
        )
        ctx = await self.engine_context(session, organisation, person.display_name)
        return person, replace(ctx, actor_id=person.id)

    async def engine_context(
        self,
        session: AsyncSession,
        organisation: Organisation,
        actor: str,
        now: datetime | None = None,
    ) -> engine.Context:
        """What the engine needs for this organisation: its edition, people, calendar, clock."""
        return engine.Context(
            model=load_model(organisation.edition),
            glossary=load_glossary(),
            now=now or self.clock(),
            actor=actor,
            people=await repo.known_people(session, organisation.id),
            calendar=await self.calendar(session, organisation),
            timezone=organisation.timezone,
        )

    async def preview(
        self, organisation_id: int, who: Who, person_id: int | None = None
    ) -> FormPreview | None:
        """The review in progress as this person's place sees it, read only: for a form or
        card that shows the engine's own questions (choices, real dates) without answering.
        `person_id` when the channel knows it already; else found from `who`."""
        async with self.db.read() as session:
            organisation = await repo.get_organisation(session, organisation_id)
            review = await repo.open_review(session, organisation_id)
            if organisation is None or review is None:
                return None
            state = await repo.load_state(session, review)
            if person_id is None:
                person = await repo.person_by_identity(
                    session, who.channel, who.workspace, who.external_id, organisation_id
                )
                person_id = person.id if person is not None else None
            ctx = await self.engine_context(session, organisation, who.display_name)
        return FormPreview(state, replace(ctx, actor_id=person_id))

    async def handle(self, inbound: Inbound) -> TurnResult:
        """THE turn pipeline, for every channel, in one transaction: de-duplicate, resolve
        school and person, apply the engine to the person's place, save, reply.

        A retried delivery with the same key changes nothing (`duplicate`); two turns on one
        review at once are serialised by the review's version and retried from fresh state.
        """
        for attempt in range(MAX_ATTEMPTS):
            try:
                async with self.db.transaction() as session:
                    return await self._handle(session, inbound)
            except repo.ConcurrentTurn:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _handle(self, session: AsyncSession, inbound: Inbound) -> TurnResult:
        who, what = inbound.who, inbound.what
        organisation, review, person, leader_named, engaged = await repo.turn_rows(
            session, inbound.organisation_id, who.channel, who.workspace, who.external_id
        )
        if organisation is None:
            raise LookupError(f"no organisation {inbound.organisation_id}")
        if review is None and not isinstance(what, OpenReview):
            review = await repo.latest_review(session, organisation.id, lock=True)
        review_id = review.id if review is not None else None
        if inbound.key is not None and not await repo.claim_input(
            session, inbound.key, review_id, organisation.id
        ):
            return TurnResult(review_id, [], duplicate=True)
        if person is None:  # first contact: the person is made now
            person = await repo.person_for_identity(
                session, organisation.id, who.channel, who.external_id, who.display_name,
                who.workspace,
            )  # fmt: skip
        # The people and term dates are read only for the questions that use them (owners,
        # deadlines, the plan): a level answer needs neither.
        light = engine.Context(
            model=load_model(organisation.edition),
            glossary=load_glossary(),
            now=self.clock(),
            actor=person.display_name,
            calendar=default_calendar(),
            timezone=organisation.timezone,
            actor_id=person.id,
        )
        full: engine.Context | None = None

        async def everything() -> engine.Context:
            nonlocal full
            if full is None:
                full = replace(
                    light,
                    people=await repo.known_people(session, organisation.id),
                    calendar=await self.calendar(session, organisation),
                )
            return full

        if inbound.conversation is not None:
            where = inbound.conversation
            await repo.save_conversation_ref(
                session,
                organisation.id,
                inbound.who.channel,
                where.conversation_id,
                where.kind,
                where.reference,
                light.now,
                person_id=person.id if where.kind == "personal" else None,
            )
        # A peer review: a peer command, a button naming a peer review question, or words
        # typed while this person is rating (as a peer) or agreeing (for their school).
        peers = PeerReviews(session, organisation, person, who, light.now, everything)
        peer_turn: PeerTurn | None = None
        if isinstance(
            what, InvitePeer | JoinPeerReview | PeerResults | ResumePeerReview | ClosePeerReview
        ):
            return _peer_result(review_id, await peers.command(what), what)
        if isinstance(what, Choose) and what.step in peer_review.PEER_STEPS:
            peer_turn, _ = await peers.peer_answer(what)
        elif isinstance(what, Choose) and what.step in peer_review.SCHOOL_STEPS:
            peer_turn, _ = await peers.school_answer(what)
        elif isinstance(what, Text):
            peer_turn = await peers.typed(what, engaged)
        if peer_turn is not None:
            return _peer_result(review_id, peer_turn, what)
        if isinstance(what, OpenReview):
            ctx = await everything()
            return await self._open(session, organisation, person, ctx, review, what, inbound)
        if isinstance(what, actions.COMMANDS):
            ctx = await everything()
            return TurnResult(
                review_id, await self._act(session, organisation, person, ctx, what, who)
            )
        if review is None and isinstance(what, Text) and _word(what.text) in OPEN_WORDS:
            ctx = await everything()
            return await self._open(session, organisation, person, ctx, None, OpenReview(), inbound)
        if review is None:
            asked = peer_review.parse_command(what.text) if isinstance(what, Text) else None
            if asked is not None:
                return _peer_result(None, await peers.command(asked), what)
            command = actions.parse_command(what.text) if isinstance(what, Text) else None
            if command is not None:
                ctx = await everything()
                replies = await self._act(session, organisation, person, ctx, command, who)
                return TurnResult(None, replies)
            term = glossary_query(what.text) if isinstance(what, Text) else None
            if term is not None:  # the glossary answers whether or not a review is open
                model = load_model(organisation.edition)
                return TurnResult(None, [Message(engine.explanation(load_glossary(), model, term))])
            return TurnResult(None, [Message(msg.NO_REVIEW_YET, Tone.ERROR)])
        if not may_answer(person.role, leader_named):
            text = what.text if isinstance(what, Text) else ""
            asked = peer_review.parse_command(text)
            if asked is not None:  # refused there, unless a facilitator joining
                return _peer_result(review.id, await peers.command(asked), what)
            command = actions.parse_command(text)
            if command is not None:
                ctx = await everything()
                replies = await self._act(session, organisation, person, ctx, command, who)
                return TurnResult(review.id, replies)
            if not viewing(text):
                return TurnResult(review.id, [Message(msg.VIEW_ONLY, Tone.ERROR)])
        before = await repo.load_state(session, review)
        ctx = light
        if _needs_everything(before, light.actor_key, what):
            ctx = await everything()
        outcome = engine.handle(before, what, ctx)
        if ctx is light and _shows_everything(outcome):
            ctx = await everything()  # the next question offers people or dated deadlines
            outcome = engine.handle(before, what, ctx)
        if outcome.unrecognised and isinstance(what, Text):
            # Not an answer to this person's question, nor a review command: a peer review
            # command ("peer review themes 1,3", "peer join CODE")?
            asked = peer_review.parse_command(what.text)
            if asked is not None:
                return _peer_result(review.id, await peers.command(asked), what)
            # Or an action one?
            command = actions.parse_command(what.text)
            if command is not None:
                ctx = await everything()
                replies = await self._act(session, organisation, person, ctx, command, who)
                return TurnResult(review.id, replies, pending=outcome.pending)
        if outcome.state != before:
            await repo.save_state(session, review, before, outcome.state, person.id, ctx.now)
        elif outcome.refusal is not None and inbound.key is not None:
            await repo.release_input(session, inbound.key)  # corrected and sent again: taken
        result = TurnResult(
            review.id,
            outcome.replies,
            completed=outcome.state.completed,
            refused=outcome.refusal is not None and isinstance(what, Fields | Choose),
            pending=outcome.pending,
            refusal=outcome.refusal,
        )
        if inbound.conversation is not None:
            await self._cards(session, inbound, review.id, outcome, ctx, result)
        return result

    async def _cards(
        self,
        session: AsyncSession,
        inbound: Inbound,
        review_id: int,
        outcome: engine.Outcome,
        ctx: engine.Context,
        result: TurnResult,
        fresh: bool = False,
    ) -> None:
        """One message per statement: fold this turn's questions and the notes about each
        statement into `StatementCard`s, and say which of them are already on screen.

        A card is drawn for the statement the person is on now, and redrawn for any statement
        the turn left or spoke about that has a message already (so an answered question
        loses its controls at once). Refusals of typed words are also sent on their own, next
        to what was typed. `fresh` (opening the review) posts the current card anew at the
        bottom of the conversation and retires its older message.
        """
        assert inbound.conversation is not None
        where = inbound.conversation
        existing = await repo.bot_messages(
            session, inbound.who.channel, where.conversation_id, review_id, outcome.touched
        )
        current = outcome.pending.statement_id if outcome.pending else None
        typed = isinstance(inbound.what, Text)
        shown = [sid for sid in outcome.touched if sid in existing or sid == current]
        notices: dict[str, list[Message]] = {sid: [] for sid in shown}
        rest: list[Reply] = []
        for reply in outcome.replies:
            if isinstance(reply, StatementPrompt) and reply.statement.id in notices:
                continue  # drawn on its card
            if isinstance(reply, Question) and reply.statement_id in notices:
                continue
            if isinstance(reply, Message) and reply.about in notices:
                if typed and reply.tone is Tone.ERROR:
                    rest.append(reply)  # said next to the words it refuses
                else:
                    notices[reply.about].append(reply)
                continue
            rest.append(reply)
        cards = [engine.statement_card(outcome.state, ctx, sid, notices[sid]) for sid in shown]
        before = [r for r in rest if not isinstance(r, ShowSummary | ShowPlan)]
        after = [r for r in rest if isinstance(r, ShowSummary | ShowPlan)]
        result.replies = [*before, *cards, *after]
        result.messages = {sid: existing[sid] for sid in shown if sid in existing}
        if fresh and current in result.messages:
            old = result.messages.pop(current)
            bare = engine.statement_card(outcome.state, ctx, current, controls=False)
            result.retired.append((bare, old))

    async def remember_messages(
        self, organisation_id: int, review_id: int, who: Who, conversation_id: str,
        messages: dict[str, str],
    ) -> None:  # fmt: skip
        """The ids of the statement messages just posted, so later turns update them."""
        if not messages:
            return
        async with self.db.transaction() as session:
            await repo.remember_bot_messages(
                session,
                organisation_id,
                who.channel,
                conversation_id,
                review_id,
                messages,
                self.clock(),
            )

    async def _open(
        self,
        session: AsyncSession,
        organisation: Organisation,
        person: Person,
        ctx: engine.Context,
        review: Review | None,
        request: OpenReview,
        inbound: Inbound | None = None,
    ) -> TurnResult:
        if not await repo.careers_leader_named(session, organisation.id):
            person.role = Role.CAREERS_LEADER.value  # the first to start leads
        if not await self._may_answer(session, organisation, person):
            return await self._view_only(session, organisation, review, ctx)
        if review is None and not request.new:
            review = await repo.latest_review(session, organisation.id, lock=True)
        if review is None or (request.new and review.completed_at is not None):
            review = await self._start(session, organisation, ctx, request.blank)
        before = await repo.load_state(session, review)
        outcome = engine.open_review(before, ctx)
        if outcome.state != before:
            await repo.save_state(session, review, before, outcome.state, person.id, ctx.now)
        result = TurnResult(
            review.id, outcome.replies, completed=outcome.state.completed, pending=outcome.pending
        )
        if inbound is not None and inbound.conversation is not None:
            await self._cards(session, inbound, review.id, outcome, ctx, result, fresh=True)
        if leads(person.role):  # a group waiting for the Careers Leader's answer
            groups = GroupService(self.db, self.clock)
            result.replies.extend(await groups.invitations_for(session, organisation))
        return result

    async def open(
        self, organisation_id: int, who: Who, new: bool = False, blank: bool = False
    ) -> TurnResult:
        """Resume the review in progress, or start one (from the last answers unless `blank`)."""
        return await self.handle(Inbound(organisation_id, who, OpenReview(new, blank)))

    async def turn(
        self, organisation_id: int, who: Who, text: str, key: str | None = None
    ) -> TurnResult:
        """Typed text: an answer, a review command or an action command (content first)."""
        return await self.handle(Inbound(organisation_id, who, Text(text), key))

    async def state(self, organisation_id: int) -> engine.ReviewState | None:
        """The current review's state, to draw a home page or a form."""
        async with self.db.read() as session:
            review = await repo.open_review(session, organisation_id)
            if review is None:
                review = await repo.latest_review(session, organisation_id)
            return await repo.load_state(session, review) if review is not None else None

    async def _may_answer(
        self, session: AsyncSession, organisation: Organisation, person: Person
    ) -> bool:
        named = await repo.careers_leader_named(session, organisation.id)
        return may_answer(person.role, named)

    async def _view_only(
        self,
        session: AsyncSession,
        organisation: Organisation,
        review: Review | None,
        ctx: engine.Context,
    ) -> TurnResult:
        """For senior leaders: the summary and plan as they stand, and why they can't answer."""
        if review is None:
            review = await repo.latest_review(session, organisation.id)
        replies: list[Reply] = [Message(msg.VIEW_ONLY)]
        if review is not None:
            state = await repo.load_state(session, review)
            replies.append(ShowSummary(build_summary(ctx.model, state.answers, state.title)))
            replies.append(
                ShowPlan(build_action_plan(ctx.model, state.answers, state.title, ctx.calendar))
            )
        return TurnResult(review.id if review else None, replies)

    # ----- actions ------------------------------------------------------------------------

    async def act(
        self, organisation_id: int, who: Who, text: str, key: str | None = None
    ) -> TurnResult:
        """An action command from a button or form ("done 12"): never read as a review answer."""
        command = actions.parse_command(text)
        if command is None:
            raise ValueError(f"not an action command: {text!r}")
        return await self.handle(Inbound(organisation_id, who, command, key))

    async def _act(
        self,
        session: AsyncSession,
        organisation: Organisation,
        person: Person,
        ctx: engine.Context,
        command: actions.Command,
        who: Who | None = None,
    ) -> list[Reply]:
        if isinstance(command, GROUP_COMMANDS):
            assert who is not None, "a group command is answered for who typed it"
            groups = GroupService(self.db, self.clock)
            return await groups.command(session, organisation, person, who, command)
        if isinstance(command, actions.ListReviews):
            return await self._reviews(session, organisation)
        if isinstance(command, actions.AnswerHistory):
            return await self._history(session, organisation, ctx, command.statement_id)
        if isinstance(command, actions.AddAction):
            return await self._add_action(session, organisation, person, ctx, command)
        if isinstance(command, actions.SetDocumentPeople | actions.GovernorsReportWithDigest):
            return await self._document_settings(session, organisation, person, command)
        if isinstance(command, actions.OpenDashboard):
            if self.dashboard_issuer is None:
                return [Message(msg.DASHBOARD_OFF, Tone.ERROR)]
            url, until = await self.dashboard_issuer(
                session, organisation.id, person.id, person.display_name, ctx.now
            )
            day = local_date(until, organisation.timezone)
            replies: list[Reply] = [
                Message(msg.DASHBOARD_LINK.format(url=url, until=f"{day:%A} {day.day} {day:%B %Y}"))
            ]
            if self.group_dashboard_issuer is not None:
                for lead, group in await dashboards.groups_led_by(session, person.id):
                    url, until = await self.group_dashboard_issuer(
                        session, lead.group_id, lead.id, lead.name, ctx.now
                    )
                    day = local_date(until, organisation.timezone)
                    replies.append(
                        Message(
                            msg.GROUP_DASHBOARD_LINK.format(
                                group=group, url=url, until=f"{day:%A} {day.day} {day:%B %Y}"
                            )
                        )
                    )
            return replies
        if isinstance(command, actions.MakeDocument):
            review = await repo.plan_review(session, organisation.id)
            if review is None:
                return [Message(msg.NO_REVIEW_YET, Tone.ERROR)]
            return [SendDocument(command.kind, organisation.id, review.id, command.fmt)]
        if isinstance(command, actions.ListActions):
            views = await self._views(session, organisation, ctx)
            names = [person.display_name, person.initials or ""]
            chosen = actions.select(
                views, command.listing, ctx.today, person.id, names, ctx.calendar
            )
            if not chosen:
                return [Message(msg.NO_ACTIONS[command.listing.value])]
            title = msg.ACTION_LISTS[command.listing.value]
            return [ShowActions(title, chosen, ctx.today, ctx.timezone)]
        row = await repo.action_by_number(session, command.number, organisation.id, lock=True)
        if row is None:
            return [Message(msg.NO_SUCH_ACTION.format(id=command.number), Tone.ERROR)]
        updates = await repo.action_updates(session, [row.id])
        view = action_view(row, ctx, updates)
        if command.verb is actions.Verb.SHOW:
            return [ShowAction(view, ctx.today, ctx.timezone)]
        owns = view.owned_by(person.id, [person.display_name, person.initials or ""])
        leader_named = await repo.careers_leader_named(session, organisation.id)
        if not may_change_action(person.role, leader_named, owns):
            return [Message(msg.NOT_YOUR_ACTION.format(id=row.number), Tone.ERROR)]
        resolver = actions.OwnerResolver([(p.id, p.name, p.initials) for p in ctx.people])
        try:
            change = actions.change(command, view, ctx.today, ctx.calendar, resolver)
        except ValueError as exc:
            return [Message(str(exc), Tone.ERROR), Message(msg.ACTION_COMMANDS_HELP)]
        await repo.record_action_update(
            session,
            row,
            kind=change.kind,
            at=ctx.now,
            by=person.display_name,
            status=change.status.value if change.status else None,
            owners=[(o.name, o.person_id) for o in change.owners] if change.owners else None,
            due=(change.due, change.due_year) if change.due else None,
            note=change.note,
            link=change.link,
            before=change.before,
            # A snooze is one owner's: the reminders read whose it is from here.
            after={**change.after, "person_id": person.id}
            if change.kind == "snoozed"
            else change.after,
        )
        label = ctx.model.statement(row.statement_id).short_label
        by_when = ""
        if change.due:
            by_when = ctx.deadline(parse_by_when(change.due))[1]
        text = msg.ACTION_UPDATED[change.kind].format(
            id=row.number,
            label=label,
            owners=" / ".join(o.name for o in change.owners or ()),
            by_when=by_when,
        )
        return [Message(text, Tone.SUCCESS)]

    async def _document_settings(
        self,
        session: AsyncSession,
        organisation: Organisation,
        person: Person,
        command: actions.SetDocumentPeople | actions.GovernorsReportWithDigest,
    ) -> list[Reply]:
        """`set link governor ...`, `set careers hub ...`, `governors report with digest on`:
        the Careers Leader's (anyone's before one is named, as set-up), in every channel."""
        leader_named = await repo.careers_leader_named(session, organisation.id)
        if not may_configure(person.role, leader_named):
            return [Message(msg.DOCUMENT_SETTINGS_LEADER_ONLY, Tone.ERROR)]
        if isinstance(command, actions.GovernorsReportWithDigest):
            await repo.update_organisation(
                session, organisation.id, settings={GOVERNORS_REPORT: command.on}
            )
            text = msg.GOVERNORS_REPORT_ON if command.on else msg.GOVERNORS_REPORT_OFF
            return [Message(text, Tone.SUCCESS)]
        changes = document_people(command.link_governor, command.careers_hub)
        if not changes:
            return [Message(msg.DOCUMENT_PEOPLE_HOW)]
        await repo.update_organisation(session, organisation.id, settings=dict(changes))
        said: list[Reply] = []
        for key, value in changes.items():
            if key == LINK_GOVERNOR:
                text = msg.LINK_GOVERNOR_SET if value else msg.LINK_GOVERNOR_CLEARED
            else:
                text = msg.CAREERS_HUB_SET if value else msg.CAREERS_HUB_CLEARED
            said.append(Message(text.format(name=value), Tone.SUCCESS))
        return said

    async def _reviews(self, session: AsyncSession, organisation: Organisation) -> list[Reply]:
        """`reviews`: each review with its number, dates, status and counts, oldest first."""
        rows = await repo.review_counts(session, organisation.id)
        if not rows:
            return [Message(msg.NO_REVIEWS)]
        return [Message(reviews_text(rows, organisation.timezone))]

    async def _history(
        self,
        session: AsyncSession,
        organisation: Organisation,
        ctx: engine.Context,
        statement_id: str,
    ) -> list[Reply]:
        """`history 2.3`: how the answer changed in the latest review that has it."""
        try:
            ctx.model.statement(statement_id)
        except KeyError:
            return [Message(msg.NO_STATEMENT_HERE.format(statement=statement_id), Tone.ERROR)]
        review = await repo.latest_review(session, organisation.id)
        if review is None:
            return [Message(msg.NO_REVIEWS)]
        changes = await repo.response_history(session, review.id, statement_id)
        if not changes:
            text = msg.NO_HISTORY.format(statement=statement_id, title=review.title)
            return [Message(text)]
        lines = [msg.HISTORY_TITLE.format(statement=statement_id, title=review.title)]
        for change in changes:
            what = change_text(dict(change.before or {}), dict(change.after or {}))
            if what is not None:
                lines.append(
                    msg.HISTORY_LINE.format(
                        at=format_date(local_date(change.changed_at, organisation.timezone)),
                        by=change.changed_by or "someone",
                        what=what,
                    )
                )
        if len(lines) == 1:
            return [Message(msg.NO_HISTORY.format(statement=statement_id, title=review.title))]
        return [Message("\n".join(lines))]

    async def _add_action(
        self,
        session: AsyncSession,
        organisation: Organisation,
        person: Person,
        ctx: engine.Context,
        command: actions.AddAction,
    ) -> list[Reply]:
        """An action outside a review: from the latest answer's level to the next one, owned
        by whoever adds it, due at the end of this half-term; `move` and `reassign` adjust."""
        leader_named = await repo.careers_leader_named(session, organisation.id)
        if not may_answer(person.role, leader_named):
            return [Message(msg.VIEW_ONLY, Tone.ERROR)]
        try:
            statement = ctx.model.statement(command.statement_id)
        except KeyError:
            text = msg.NO_STATEMENT_HERE.format(statement=command.statement_id)
            return [Message(text, Tone.ERROR)]
        if not command.next_steps:
            return [Message(msg.ADD_ACTION_HOW.format(statement=statement.id), Tone.ERROR)]
        review = await repo.latest_review(session, organisation.id)
        if review is None:
            return [Message(msg.NO_REVIEW_YET, Tone.ERROR)]
        level = await repo.latest_level(session, organisation.id, statement.id) or 1
        due: str | None = None
        due_year: str | None = None
        if ctx.calendar is not None:
            try:
                half = ctx.calendar.current_or_next_half_term(ctx.today)
                due, due_year = f"HT{half.number}", half.year
            except CalendarError:
                pass
        row = await repo.add_action(
            session,
            organisation.id,
            review.id,
            statement.id,
            current_level=level,
            target_level=level + 1 if level < 4 else None,
            next_steps=command.next_steps,
            owners=[(person.initials or person.display_name, person.id)],
            due=due,
            due_year=due_year,
            now=ctx.now,
            by=person.display_name,
        )
        by_when = ctx.deadline(parse_by_when(due))[1] if due else "ongoing"
        text = msg.ACTION_ADDED.format(
            id=row.number,
            label=statement.short_label,
            next_steps=command.next_steps.rstrip(".") + ".",
            owners=person.initials or person.display_name,
            by_when=by_when,
        )
        return [Message(text, Tone.SUCCESS)]

    async def _views(
        self, session: AsyncSession, organisation: Organisation, ctx: engine.Context
    ) -> list[actions.ActionView]:
        rows = await repo.organisation_actions(session, organisation.id)
        return [action_view(row, ctx, ()) for row in rows]

    # ----- documents ----------------------------------------------------------------------

    async def plan_document(
        self, organisation_id: int, review_id: int | None = None, number: int | None = None
    ) -> PlanDocument:
        """The summary and action plan of a review, ready to export: by internal `review_id`
        (a stored link), by the school's own `number` (`--review 1`), or by default the last
        completed review, so a review just started does not replace the agreed plan.

        A completed review's plan is what was agreed at it: a later edit of a carried action
        is that action's history, not a rewrite of this plan."""
        async with self.db.read() as session:
            organisation = await self._organisation(session, organisation_id)
            if review_id is not None:
                review = await repo.get_review(session, review_id, organisation_id)
            elif number is not None:
                review = await repo.review_by_number(session, organisation_id, number)
            else:
                review = await repo.plan_review(session, organisation_id)
            if review is None:
                asked = number if number is not None else review_id
                raise LookupError(
                    f"{organisation.name} has no review"
                    + (f" #{asked}" if asked is not None else " yet")
                )
            calendar = await self.calendar(session, organisation)
            model = load_model(review.edition)
            closed = review.completed_at
            state = await repo.load_state(session, review, agreed=closed is not None)
            summary = build_summary(model, state.answers, review.title)
            plan = build_action_plan(model, state.answers, review.title, calendar)
            ids = [row.action_id for row in plan.rows if row.action_id is not None]
            stored = {a.id: a for a in await repo.organisation_actions(session, organisation_id)}
            history: dict[int, list[ActionUpdateView]] = {}
            for update in await repo.action_updates(session, ids):
                if closed is not None and update.at > closed and update.kind in LATER_REVIEWS:
                    continue  # a later review's edit or carry: not part of this plan
                history.setdefault(update.action_id, []).append(update_view(update))
            rows = [
                replace(
                    row,
                    status=ActionStatus(stored[row.action_id].status),
                    updates=tuple(history.get(row.action_id, [])),
                )
                if row.action_id in stored
                else row
                for row in plan.rows
            ]
            previous = None
            if review.based_on_id is not None:
                earlier = await repo.get_review(session, review.based_on_id, organisation_id)
                if earlier is not None:
                    answers = await repo.load_answers(session, earlier.id, agreed=True)
                    previous = build_summary(load_model(earlier.edition), answers, earlier.title)
            moment = review.completed_at or review.started_at
            return PlanDocument(
                organisation=organisation.name,
                review_title=review.title,
                edition=review.edition,
                as_of=local_date(moment, organisation.timezone),
                summary=summary,
                plan=replace(plan, rows=rows),
                participants=list(state.participants),
                evidence={sid: list(a.evidence) for sid, a in state.answers.items() if a.evidence},
                previous_summary=previous,
            )

    async def evidence_pack(
        self, organisation_id: int, review_id: int | None = None, number: int | None = None
    ) -> Doc:
        """For an inspector or assessor: each statement's level, descriptor, note, evidence,
        benchmarks and actions, gaps first, by Gatsby Benchmark and by theme."""
        document = await self.plan_document(organisation_id, review_id, number)
        return build_evidence_pack(load_model(document.edition), load_benchmarks(), document)

    async def governors_report(
        self, organisation_id: int, review_id: int | None = None, number: int | None = None
    ) -> Doc:
        """For the link governor: themes and their change, actions by half-term with RAG,
        owners to chase, three questions; as of today in the school's own time."""
        document = await self.plan_document(organisation_id, review_id, number)
        async with self.db.read() as session:
            organisation = await self._organisation(session, organisation_id)
            calendar = await self.calendar(session, organisation)
        today = local_date(self.clock(), organisation.timezone)
        return build_governors_report(document, calendar, today)

    async def policy_draft(
        self, organisation_id: int, review_id: int | None = None, number: int | None = None
    ) -> Doc:
        """A CEIAG policy in seed 004's sections, with the people set up in the bot."""
        document = await self.plan_document(organisation_id, review_id, number)
        async with self.db.read() as session:
            organisation = await self._organisation(session, organisation_id)
            people = await repo.people(session, organisation_id)
        settings = organisation.settings or {}
        leaders = [p.display_name for p in people if p.role == Role.CAREERS_LEADER.value]
        cast = PolicyPeople(
            careers_leader=leaders[0] if leaders else None,
            slt=tuple(p.display_name for p in people if p.role == Role.SLT.value),
            link_governor=str(settings.get(LINK_GOVERNOR) or "") or None,
            careers_hub=str(settings.get(CAREERS_HUB) or "") or None,
        )
        today = local_date(self.clock(), organisation.timezone)
        return build_policy_draft(
            load_model(document.edition),
            load_policy(),
            load_benchmarks(),
            document,
            cast,
            today,
        )

    async def document(
        self,
        kind: DocumentKind,
        organisation_id: int,
        review_id: int | None = None,
        number: int | None = None,
    ) -> Doc:
        """One of the three documents: the path every channel and the CLI take."""
        makers = {
            DocumentKind.EVIDENCE_PACK: self.evidence_pack,
            DocumentKind.GOVERNORS_REPORT: self.governors_report,
            DocumentKind.POLICY_DRAFT: self.policy_draft,
        }
        return await makers[kind](organisation_id, review_id, number)

    async def set_documents(
        self,
        organisation_id: int,
        *,
        link_governor: str | None = None,
        careers_hub: str | None = None,
        governors_report: bool | None = None,
    ) -> dict[str, Any]:
        """The few settings the documents use: the link governor's name, the Careers Hub,
        and whether the digest carries the governors' report (the CLI's `org set`)."""
        changes: dict[str, object] = dict(document_people(link_governor, careers_hub))
        if governors_report is not None:
            changes[GOVERNORS_REPORT] = governors_report
        async with self.db.transaction() as session:
            organisation = await repo.update_organisation(
                session, organisation_id, settings=changes
            )
            return dict(organisation.settings or {})

    # ----- term dates ---------------------------------------------------------------------

    async def calendar(self, session: AsyncSession, organisation: Organisation) -> TermCalendar:
        """England's default term dates, with the organisation's own years in their place."""
        return calendar_of(await repo.term_dates(session, organisation.id))

    async def set_term_dates(
        self, organisation_id: int, half_terms: list[HalfTerm]
    ) -> TermCalendar:
        """Replace whole years of an organisation's term dates; checked before anything is saved."""
        async with self.db.transaction() as session:
            organisation = await self._organisation(session, organisation_id)
            calendar = (await self.calendar(session, organisation)).with_overrides(half_terms)
            await repo.replace_term_dates(
                session, organisation_id, [(h.year, h.number, h.start, h.end) for h in half_terms]
            )
            return calendar

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
        answers = (
            await repo.load_answers(session, previous.id, open_actions_only=True)
            if previous
            else None
        )
        state = engine.new_review(
            ctx.model,
            await repo.distinct_title(session, organisation.id, default_title(ctx.now)),
            previous=answers,
            previous_title=previous.title if previous else None,
        )
        return await repo.create_review(session, organisation, state, ctx.now, based_on=previous)


class UpdateFields(Protocol):
    """What a view reads of an update: an ORM row, or storage.planning's plain record."""

    @property
    def at(self) -> datetime: ...
    @property
    def by(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def note(self) -> str | None: ...
    @property
    def link(self) -> str | None: ...
    @property
    def before(self) -> dict[str, Any]: ...
    @property
    def after(self) -> dict[str, Any]: ...


class OwnerFields(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def person_id(self) -> int | None: ...


class ActionFields(Protocol):
    """What a view reads of an action: an ORM row (a turn), or storage.planning's plain
    record (a sweep over thousands, where building ORM objects would be most of the work)."""

    @property
    def id(self) -> int: ...
    @property
    def number(self) -> int: ...
    @property
    def statement_id(self) -> str: ...
    @property
    def current_level(self) -> int: ...
    @property
    def target_level(self) -> int | None: ...
    @property
    def next_steps(self) -> str | None: ...
    @property
    def due(self) -> str | None: ...
    @property
    def due_year(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def owners(self) -> Sequence[OwnerFields]: ...


def document_people(link_governor: str | None, careers_hub: str | None) -> dict[str, str]:
    """The names to store (trimmed; "" clears one), from chat or the CLI alike."""
    changes: dict[str, str] = {}
    if link_governor is not None:
        changes[LINK_GOVERNOR] = " ".join(link_governor.split())[:200]
    if careers_hub is not None:
        changes[CAREERS_HUB] = " ".join(careers_hub.split())[:200]
    return changes


def update_view(update: UpdateFields) -> ActionUpdateView:
    return ActionUpdateView(
        at=update.at, by=update.by, kind=update.kind, note=update.note, link=update.link,
        before=dict(update.before or {}), after=dict(update.after or {}),
    )  # fmt: skip


def action_view(
    row: ActionFields, ctx: engine.Context, updates: Sequence[UpdateFields]
) -> actions.ActionView:
    """An action as the chat shows it, with its real due date from the organisation's calendar."""
    due_date = None
    if row.due and row.due_year and ctx.calendar is not None:
        try:
            due_date = ctx.calendar.due_in_year(parse_by_when(row.due), row.due_year)
        except ValueError:
            due_date = None
    return actions.ActionView(
        id=row.id,
        statement_id=row.statement_id,
        statement_label=ctx.model.statement(row.statement_id).short_label,
        current_level=row.current_level,
        target_level=row.target_level,
        next_steps=row.next_steps,
        owners=tuple(Owner(name=o.name, person_id=o.person_id) for o in row.owners),
        due=row.due,
        due_year=row.due_year,
        due_date=due_date,
        status=ActionStatus(row.status),
        updated_at=row.updated_at,
        updates=tuple(update_view(u) for u in updates),
        created_at=row.created_at,
        number=row.number,
    )


def reviews_text(rows: Sequence[repo.ReviewCounts], timezone: str) -> str:
    """The `reviews` list as plain lines, the same in every channel and the CLI."""
    lines = [msg.REVIEWS_TITLE]
    for row in rows:
        review = row.review
        status = (
            msg.REVIEW_COMPLETED.format(date=format_date(local_date(review.completed_at, timezone)))
            if review.completed_at is not None
            else msg.REVIEW_IN_PROGRESS
        )
        lines.append(
            msg.REVIEW_LINE.format(
                number=review.number,
                title=review.title,
                started=format_date(local_date(review.started_at, timezone)),
                status=status,
                answered=row.answered,
                total=len(load_model(review.edition).statements),
                priorities=row.priorities,
                actions=row.actions,
            )
        )
    return "\n".join(lines)


def change_text(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """What one stored change of an answer changed, in a few words (None if only ids moved)."""

    def fields(content: dict[str, Any]) -> dict[str, object]:
        # Kept as one action ("action") before a statement could have several ("actions").
        several = content.get("actions")
        listed = several if isinstance(several, list) else [content.get("action") or {}]
        out: dict[str, object] = {
            "level": content.get("level"),
            "flag": content.get("flag"),
            "note": content.get("note"),
            "evidence": len(content.get("evidence") or []),
        }
        for n, action in enumerate(listed or [{}]):
            suffix = f" (action {n + 1})" if n else ""
            out[f"target{suffix}"] = action.get("target_level")
            out[f"next steps{suffix}"] = action.get("next_steps")
            owners = " / ".join(o["name"] for o in action.get("owners") or [])
            out[f"owners{suffix}"] = owners or ("TBC" if action.get("owners_tbc") else None)
            out[f"by when{suffix}"] = action.get("due") or (
                "TBC" if action.get("due_tbc") else None
            )
        return out

    old, new = fields(before), fields(after)
    parts = [
        f"{key} {old.get(key) if old.get(key) not in (None, '') else '–'} -> "
        f"{new.get(key) if new.get(key) not in (None, '') else '–'}"
        for key in dict.fromkeys([*old, *new])
        if old.get(key) != new.get(key)
    ]
    return "; ".join(parts) or None


def _peer_result(review_id: int | None, turn: PeerTurn, what: What) -> TurnResult:
    """A peer review turn as the pipeline's result. A refused button (stale, or about a
    closed peer review) changes nothing and says so, as a review question's would."""
    return TurnResult(
        review_id,
        turn.replies,
        pending=turn.pending,
        refusal=turn.refusal,
        refused=turn.refusal is not None and isinstance(what, Choose),
    )


def _needs_everything(before: engine.ReviewState, key: str, what: What) -> bool:
    """Whether the answer itself uses the people (owners) or the term dates (deadlines)."""
    if isinstance(what, Fields):
        return True
    return before.cursor_for(key).step in {Step.OWNERS, Step.DUE}


def _shows_everything(outcome: engine.Outcome) -> bool:
    """Whether what the turn shows next needs them: owners' or deadlines' choices, a plan."""
    if outcome.pending is not None and outcome.pending.step in {Step.OWNERS, Step.DUE}:
        return True
    shows = (ShowPlan, ShowSummary, ShowActions, ShowAction)
    return any(isinstance(reply, shows) for reply in outcome.replies)


def viewing(text: str) -> bool:
    """A message that only looks (help, summary, plan, a glossary question)."""
    word = " ".join(text.lower().split()).rstrip("!.?")
    return word in VIEW_WORDS or glossary_query(text) is not None
