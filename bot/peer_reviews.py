"""Peer review turns (issue 13), inside `ReviewService.handle`'s one transaction.

Two sides, one pipeline. The peer (a Careers Leader of another school sharing a group, or
a facilitator of such a group) rates statements from their OWN chat: their turns arrive as
their own school's `Inbound`, and are routed here while they have an active place in a peer
review, or when a button names a peer question. The school's Careers Leader invites, sees
the ratings side by side, agrees levels and accepts suggested actions. The rules are in
workflows/peer_review.py; rows in storage/peer_reviews.py. No channel knowledge here.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.inbound import Who
from model_data import MaturityModel, load_model
from storage import deliveries, repo
from storage import groups as groups_store
from storage import models as m
from storage import peer_reviews as store
from workflows import peer_review as rules
from workflows import review as engine
from workflows.answers import Answer, Flag
from workflows.inputs import (
    Choose,
    InvitePeer,
    JoinPeerReview,
    PeerCommand,
    PeerResults,
    ResumePeerReview,
    Text,
)
from workflows.replies import (
    Message,
    PeerComparisonRow,
    Pending,
    Refusal,
    Reply,
    ShowPeerComparison,
    Step,
    Tone,
)
from workflows.roles import leads

# How long the "ratings are ready" notice is worth sending (the school can always ask).
NOTICE_KEPT = timedelta(days=14)
# Codes are read aloud or pasted: no 0/O or 1/I to confuse.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_code() -> str:
    """A one-time invitation code, about 50 bits: PR-XXXX-XXXX-XX."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"PR-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


@dataclass
class PeerTurn:
    """What a peer review turn said, and the question the speaker's place now waits on."""

    replies: list[Reply] = field(default_factory=list)
    pending: Pending | None = None
    refusal: Refusal | None = None


@dataclass
class _Side:
    """One finished peer's ratings as the school sees them."""

    peer: m.PeerReviewer
    name: str
    rows: list[PeerComparisonRow]
    ratings: dict[str, m.PeerRating]


class PeerReviews:
    """One turn's peer review work, on the turn's session, for the person speaking."""

    def __init__(
        self,
        session: AsyncSession,
        organisation: m.Organisation,
        person: m.Person,
        who: Who,
        now: datetime,
        context: Callable[[], Awaitable[engine.Context]],
    ) -> None:
        self.session = session
        self.organisation = organisation
        self.person = person
        self.who = who
        self.now = now
        self.context = context

    # ----- routing ----------------------------------------------------------------------

    async def typed(self, text: Text, engaged: tuple[bool, bool]) -> PeerTurn | None:
        """Typed words while rating or agreeing (`engaged`, read with the turn's first rows:
        as a peer, for the school): the answer to that question (free text is content), or
        a peer command; None when they are neither, for the review to read."""
        as_peer, as_school = engaged
        if not as_peer and not as_school:
            return None
        turn, unrecognised = (
            await self.peer_answer(text) if as_peer else await self.school_answer(text)
        )
        if not unrecognised:
            return turn
        command = rules.parse_command(text.text)
        if command is not None:
            return await self.command(command)
        return None if _other_command(text.text) else turn

    async def command(self, command: PeerCommand) -> PeerTurn:
        if isinstance(command, JoinPeerReview):
            return await self.join(command.code)
        if isinstance(command, ResumePeerReview):
            return await self.resume()
        if isinstance(command, InvitePeer):
            return await self.invite(command.themes)
        if isinstance(command, PeerResults):
            return await self.results()
        return await self.close()

    # ----- the peer's side ------------------------------------------------------------------

    async def join(self, code: str) -> PeerTurn:
        found = await store.invitation(self.session, code) if code else None
        if found is None or found[0].joined_at is not None:
            return _refused(rules.BAD_CODE)
        peer, peer_review = found
        if peer_review.state == store.CLOSED:
            return _refused(rules.CLOSED)
        school = await self._school(peer_review)
        if self.person.organisation_id == school.id:
            return _refused(rules.OWN_SCHOOL)
        lead = await groups_store.facilitator_for(
            self.session,
            await groups_store.facilitators(
                self.session, self.who.channel, self.who.workspace, self.who.external_id
            ),
            school.id,
        )
        colleague = leads(self.person.role) and await groups_store.share_a_group(
            self.session, school.id, self.person.organisation_id
        )
        if lead is None and not colleague:
            return _refused(rules.NOT_A_PEER.format(school=school.name))
        await self._step_out_of_others()
        peer.person_id, peer.lead_id = self.person.id, lead.id if lead else None
        peer.name = self.person.display_name
        peer.joined_at, peer.active = self.now, True
        model, state = await self._peer_state(peer, peer_review, school)
        place = rules.first_place(state.statements, state.ratings)
        store.set_place(peer, place)
        state = rules.PeerState(
            state.school, state.statements, state.school_answers, state.ratings, place
        )
        scope = rules.scope_text(peer_review.themes or [])
        replies: list[Reply] = [
            Message(
                rules.JOINED.format(school=school.name, count=len(state.statements), scope=scope),
                Tone.SUCCESS,
            )
        ]
        question = rules.peer_question(state, model)
        if question is not None:
            replies.append(question)
        return PeerTurn(replies, Pending(place.step, place.statement_id))

    async def resume(self) -> PeerTurn:
        places = await store.peer_places(self.session, self.person.id, ())
        if not places:
            return _refused(rules.NOTHING_TO_RESUME)
        peer, peer_review = places[0]
        if peer_review.state == store.CLOSED:
            peer.active = False
            return _refused(rules.CLOSED)
        if peer.finished_at is not None:
            return _refused(rules.NOTHING_TO_RESUME)
        await self._step_out_of_others(keep=peer.id)
        peer.active = True
        model, state = await self._peer_state(peer, peer_review)
        outcome = rules.resume(state, model)
        return PeerTurn(outcome.replies, outcome.pending)

    async def peer_answer(self, given: Text | Choose) -> tuple[PeerTurn, bool]:
        """A peer's answer: typed while rating, or a button naming a peer question. A button
        about a closed peer review is refused and shows nothing of the school."""
        places = await store.peer_places(self.session, self.person.id, ())
        step = given.step if isinstance(given, Choose) else Step.PEER_LEVEL
        if not places:
            return _refused(rules.NOTHING_TO_RESUME, step, stale=True), False
        peer, peer_review = places[0]
        if peer_review.state == store.CLOSED:
            # Not stale: refused with its reason, so every channel says it is closed.
            peer.active = False
            return _refused(rules.CLOSED, step), False
        model, state = await self._peer_state(peer, peer_review)
        outcome = rules.rate(state, given, model)
        for sid in dict.fromkeys(outcome.changed):
            rating = outcome.state.ratings[sid]
            await store.save_rating(self.session, peer.id, sid, rating, self.now)
        if outcome.refusal is None or not outcome.refusal.stale:
            peer.active = not outcome.paused and not outcome.state.finished
            if peer.active:
                await self._step_out_of_others(keep=peer.id)
        store.set_place(peer, outcome.state.place)
        if outcome.state.finished and peer.finished_at is None:
            peer.finished_at = self.now
            await self._tell_the_school(peer, peer_review)
        turn = PeerTurn(outcome.replies, outcome.pending, outcome.refusal)
        return turn, outcome.unrecognised

    async def _tell_the_school(self, peer: m.PeerReviewer, peer_review: m.PeerReview) -> None:
        """The Careers Leader who invited the peer is told, in their own chat, that the
        ratings are ready: recorded as a delivery in this turn (sent once, never lost, by
        the scheduler like a reminder), keyed by the peer so a retry records nothing more."""
        if peer_review.invited_by_id is None:
            return
        school = await self._school(peer_review)
        notice = rules.finished_notice(peer.name or "Your peer", school.name)
        await deliveries.record(
            self.session,
            key=f"peer-review:{peer.id}:finished",
            organisation_id=peer_review.organisation_id,
            kind="peer_review",
            due_at=self.now,
            stale_at=self.now + NOTICE_KEPT,
            payload=notice.to_payload(),
            person_id=peer_review.invited_by_id,
        )

    async def _step_out_of_others(self, keep: int | None = None) -> None:
        """One active peer place per person: their typed words answer one peer review."""
        for other, _ in await store.peer_places(self.session, self.person.id, ()):
            if other.id != keep:
                other.active = False

    async def _peer_state(
        self,
        peer: m.PeerReviewer,
        peer_review: m.PeerReview,
        school: m.Organisation | None = None,
    ) -> tuple[MaturityModel, rules.PeerState]:
        school = school or await self._school(peer_review)
        review = await self.session.get(m.Review, peer_review.review_id)
        assert review is not None  # cascades with the peer review
        model = load_model(review.edition)
        answers = await repo.load_answers(self.session, review.id)
        seen = {
            sid: rules.SchoolAnswer(a.level, a.note, tuple(e.url for e in a.evidence))
            for sid, a in answers.items()
        }
        rows = await store.rating_rows(self.session, [peer.id])
        ratings = {row.statement_id: store.rating_of(row) for row in rows}
        statements = tuple(peer_review.statements)
        place = store.place_of(peer) or rules.first_place(statements, ratings)
        return model, rules.PeerState(school.name, statements, seen, ratings, place)

    async def _school(self, peer_review: m.PeerReview) -> m.Organisation:
        school = await repo.get_organisation(self.session, peer_review.organisation_id)
        assert school is not None  # the peer review cascades with its school
        return school

    # ----- the school's side --------------------------------------------------------------

    async def invite(self, themes: tuple[int, ...]) -> PeerTurn:
        if not leads(self.person.role):
            return _refused(rules.NOT_LEADER)
        review = await repo.latest_review(self.session, self.organisation.id)
        if review is None:
            return _refused(rules.NO_REVIEW)
        model = load_model(review.edition)
        try:
            statements = rules.statements_for(model, themes)
        except ValueError as exc:
            return _refused(str(exc))
        code = new_code()
        open_one = await store.open_peer_review(self.session, self.organisation.id, lock=True)
        if open_one is not None:
            scope = rules.scope_text(open_one.themes or [])
            if tuple(open_one.themes or ()) != themes:
                asked = rules.scope_text(themes)
                return _refused(rules.OTHER_SCOPE_OPEN.format(scope=scope, asked=asked))
            await store.invite(self.session, open_one, code, self.now)
            return PeerTurn([Message(rules.ANOTHER_CODE.format(scope=scope, code=code))])
        peer_review = await store.create_peer_review(
            self.session,
            self.organisation.id,
            review.id,
            themes,
            statements,
            self.person.display_name,
            self.person.id,
            self.now,
        )
        await store.invite(self.session, peer_review, code, self.now)
        text = rules.INVITED.format(scope=rules.scope_text(themes), title=review.title, code=code)
        return PeerTurn([Message(text, Tone.SUCCESS)])

    async def results(self) -> PeerTurn:
        """Each finished peer's ratings beside the school's, differences first; then the
        first level to agree (or suggested action to settle)."""
        if not leads(self.person.role):
            return _refused(rules.NOT_LEADER)
        peer_review = await store.open_peer_review(self.session, self.organisation.id, lock=True)
        if peer_review is None:
            return _refused(rules.NO_PEER_REVIEW)
        model, sides, _ = await self._sides(peer_review)
        if not sides:
            peers = await store.peers_of(self.session, peer_review.id)
            joined = sum(1 for p in peers if p.joined_at is not None)
            return PeerTurn(
                [Message(rules.NO_RESULTS_YET.format(joined=joined, invited=len(peers)))]
            )
        scope = rules.scope_text(peer_review.themes or [])
        replies: list[Reply] = [
            ShowPeerComparison(
                rules.COMPARISON_TITLE.format(peer=s.name, scope=scope), s.name, s.rows
            )
            for s in sides
        ]
        peer_review.agreeing_id = self.person.id
        turn = PeerTurn(replies)
        await self._ask_next(turn, peer_review, model, sides)
        return turn

    async def close(self) -> PeerTurn:
        if not leads(self.person.role):
            return _refused(rules.NOT_LEADER)
        peer_review = await store.open_peer_review(self.session, self.organisation.id, lock=True)
        if peer_review is None:
            return _refused(rules.NO_PEER_REVIEW)
        await store.close(self.session, peer_review, self.now)
        return PeerTurn([Message(rules.PEER_CLOSED.format(school=self.organisation.name))])

    async def school_answer(self, given: Text | Choose) -> tuple[PeerTurn, bool]:
        """The school's answer to the question its side by side waits on: a level to agree,
        accept or decline a suggested action, its owners, its deadline."""
        step = given.step if isinstance(given, Choose) else Step.PEER_AGREE
        peer_review = await store.open_peer_review(self.session, self.organisation.id, lock=True)
        if peer_review is None:
            return _refused(rules.NO_PEER_REVIEW, step, stale=True), False
        if not leads(self.person.role):
            return _refused(rules.NOT_LEADER, step), False
        model, sides, drafts = await self._sides(peer_review)
        pending = _school_pending(sides, drafts)
        turn = PeerTurn()
        if pending is None:
            turn.replies.append(Message(rules.ALL_AGREED))
            return turn, False
        if isinstance(given, Choose) and (
            given.step is not pending.step or given.statement_id != pending.statement_id
        ):
            from workflows import messages as msg

            turn.refusal = Refusal(given.step, msg.STALE_QUESTION, stale=True)
            turn.replies.append(Message(msg.STALE_QUESTION, Tone.ERROR))
            await self._ask_next(turn, peer_review, model, sides)
            return turn, False
        value = given.value if isinstance(given, Choose) else given.text
        word = " ".join(value.lower().split()).rstrip("!.")
        if word == "pause":
            peer_review.agreeing_id = None
            turn.replies.append(Message(rules.AGREEING_PAUSED))
            return turn, False
        peer_review.agreeing_id = self.person.id
        if pending.step is Step.PEER_AGREE:
            side, row = _first_unagreed(sides)
            level = rules.agreed_level(value, row)
            if level is None:
                return await self._refuse(turn, peer_review, model, sides, rules.NOT_AN_AGREEMENT)
            await self._agree(peer_review, side, row, level)
            turn.replies.append(
                Message(
                    rules.AGREED.format(
                        level=level,
                        label=row.label,
                        ours=row.school_level if row.school_level is not None else "–",
                        peer=side.name,
                        theirs=row.peer_level,
                    ),
                    Tone.SUCCESS,
                )
            )
            model, sides, drafts = await self._sides(peer_review)
            await self._ask_next(turn, peer_review, model, sides)
            return turn, False
        draft, rating = drafts[0]
        label = model.statement(draft.statement_id).short_label
        ctx = await self.context()
        if pending.step is Step.PEER_DRAFT:
            decision = rules.draft_decision(value)
            if decision is None:
                return await self._refuse(turn, peer_review, model, sides, rules.NOT_ACCEPT_DECLINE)
            rating.draft = "owners" if decision else "declined"
            if not decision:
                turn.replies.append(Message(rules.DECLINED.format(label=label)))
        elif pending.step is Step.PEER_OWNERS:
            owners = engine.parse_owners(value, ctx)
            if isinstance(owners, str):
                return await self._refuse(turn, peer_review, model, sides, owners, text=False)
            rating.draft_owners = [o.model_dump(mode="json") for o in owners]
            rating.draft = "due"
        else:
            by_when = rules.deadline_of(value)
            if isinstance(by_when, str):
                return await self._refuse(turn, peer_review, model, sides, by_when)
            due_year, by_when_text = ctx.deadline(by_when)
            level = await self._agreed_or_school_level(peer_review, draft.statement_id)
            owners_given = [(o["name"], o.get("person_id")) for o in rating.draft_owners or []]
            action = await repo.add_action(
                self.session,
                self.organisation.id,
                peer_review.review_id,
                draft.statement_id,
                current_level=level,
                target_level=level + 1 if level < 4 else None,
                next_steps=draft.suggestion,
                owners=owners_given,
                due=by_when.code,
                due_year=due_year,
                now=self.now,
                by=self.person.display_name,
            )
            rating.draft, rating.action_id = "accepted", action.id
            await self._make_priority(peer_review, draft.statement_id)
            turn.replies.append(
                Message(
                    rules.ACTION_MADE.format(
                        number=action.number,
                        label=label,
                        owners=" / ".join(name for name, _ in owners_given),
                        by_when=by_when_text,
                    ),
                    Tone.SUCCESS,
                )
            )
        await self.session.flush()
        model, sides, drafts = await self._sides(peer_review)
        await self._ask_next(turn, peer_review, model, sides, drafts)
        return turn, False

    async def _refuse(
        self,
        turn: PeerTurn,
        peer_review: m.PeerReview,
        model: MaturityModel,
        sides: list[_Side],
        reason: str,
        text: bool = True,
    ) -> tuple[PeerTurn, bool]:
        """Not an answer to the school's question: said, and the question asked again.
        Typed words that are no answer may still be a command (`unrecognised`)."""
        turn.refusal = Refusal(Step.PEER_AGREE, reason)
        turn.replies.append(Message(reason, Tone.ERROR))
        await self._ask_next(turn, peer_review, model, sides)
        if turn.pending is not None:
            turn.refusal = Refusal(turn.pending.step, reason)
        return turn, text

    async def _ask_next(
        self,
        turn: PeerTurn,
        peer_review: m.PeerReview,
        model: MaturityModel,
        sides: list[_Side],
        drafts: list[tuple[rules.Draft, m.PeerRating]] | None = None,
    ) -> None:
        if drafts is None:
            drafts = _drafts(sides, peer_review)
        pending = _school_pending(sides, drafts)
        turn.pending = pending
        if pending is None:
            peer_review.agreeing_id = None
            turn.replies.append(Message(rules.ALL_AGREED, Tone.SUCCESS))
            return
        if pending.step is Step.PEER_AGREE:
            side, row = _first_unagreed(sides)
            turn.replies.append(rules.agree_question(row, side.name))
            return
        ctx = await self.context()
        turn.replies.append(rules.draft_question(drafts[0][0], model, ctx))

    async def _sides(
        self, peer_review: m.PeerReview
    ) -> tuple[MaturityModel, list[_Side], list[tuple[rules.Draft, m.PeerRating]]]:
        review = await self.session.get(m.Review, peer_review.review_id)
        assert review is not None
        model = load_model(review.edition)
        answers = await repo.load_answers(self.session, review.id)
        levels = {sid: a.level for sid, a in answers.items()}
        finished = [
            p
            for p in await store.peers_of(self.session, peer_review.id)
            if p.finished_at is not None
        ]
        ids = [p.id for p in finished]
        ratings = await store.rating_rows(self.session, ids)
        agreements = await store.agreement_rows(self.session, ids)
        sides = []
        for peer in finished:
            own = {r.statement_id: r for r in ratings if r.peer_id == peer.id}
            agreed = {a.statement_id: a for a in agreements if a.peer_id == peer.id}
            shown = {**levels, **{sid: a.school_level for sid, a in agreed.items()}}
            rows = rules.comparison(
                model,
                peer_review.statements,
                shown,
                {sid: store.rating_of(r) for sid, r in own.items()},
                {sid: a.agreed_level for sid, a in agreed.items()},
            )
            sides.append(_Side(peer, peer.name or "Your peer", rows, own))
        return model, sides, _drafts(sides, peer_review)

    async def _agree(
        self, peer_review: m.PeerReview, side: _Side, row: PeerComparisonRow, level: int
    ) -> None:
        """Recorded with both originals, and made the school's level of record through the
        review's own saving path, so the change is in the answer's history."""
        await store.record_agreement(
            self.session,
            side.peer.id,
            row.statement_id,
            level,
            row.school_level,
            row.peer_level,
            self.person.display_name,
            self.now,
        )
        review = await self.session.get(m.Review, peer_review.review_id)
        assert review is not None
        before = await repo.load_state(self.session, review)
        answer = before.answers.get(row.statement_id)
        if answer is not None and answer.level == level:
            return
        changed = (answer or Answer(statement_id=row.statement_id)).model_copy(
            update={
                "level": level,
                "carried": False,
                "answered_by": self.person.display_name,
                "answered_at": self.now,
            }
        )
        after = before.model_copy(update={"answers": {**before.answers, row.statement_id: changed}})
        await repo.save_state(self.session, review, before, after, self.person.id, self.now)

    async def _make_priority(self, peer_review: m.PeerReview, statement_id: str) -> None:
        """An accepted action makes its statement a priority action area, so it is a row of
        the school's plan (the plan lists priorities); recorded in the answer's history."""
        review = await self.session.get(m.Review, peer_review.review_id)
        assert review is not None
        before = await repo.load_state(self.session, review)
        answer = before.answers.get(statement_id)
        if answer is None or answer.flag is Flag.PRIORITY or answer.level == 4:
            return
        changed = answer.model_copy(update={"flag": Flag.PRIORITY})
        after = before.model_copy(update={"answers": {**before.answers, statement_id: changed}})
        await repo.save_state(self.session, review, before, after, self.person.id, self.now)

    async def _agreed_or_school_level(self, peer_review: m.PeerReview, statement_id: str) -> int:
        answers = await repo.load_answers(self.session, peer_review.review_id)
        answer = answers.get(statement_id)
        return answer.level if answer is not None and answer.level is not None else 1


def _first_unagreed(sides: list[_Side]) -> tuple[_Side, PeerComparisonRow]:
    for side in sides:
        for row in side.rows:
            if row.agreed is None:
                return side, row
    raise LookupError("every level is agreed")


def _drafts(
    sides: list[_Side], peer_review: m.PeerReview
) -> list[tuple[rules.Draft, m.PeerRating]]:
    order = {sid: n for n, sid in enumerate(peer_review.statements)}
    out = []
    for side in sides:
        for sid in sorted(side.ratings, key=lambda s: order.get(s, 99)):
            rating = side.ratings[sid]
            if rating.suggestion and rating.draft in {"pending", "owners", "due"}:
                draft = rules.Draft(side.peer.id, side.name, sid, rating.suggestion, rating.draft)
                out.append((draft, rating))
    return out


def _school_pending(
    sides: list[_Side], drafts: list[tuple[rules.Draft, m.PeerRating]]
) -> Pending | None:
    """Levels first (differences first, as shown), then each suggested action in turn."""
    for side in sides:
        for row in side.rows:
            if row.agreed is None:
                return Pending(Step.PEER_AGREE, row.statement_id)
    if drafts:
        draft = drafts[0][0]
        return Pending(rules.draft_step(draft), draft.statement_id)
    return None


def _refused(reason: str, step: Step = Step.DONE, stale: bool = False) -> PeerTurn:
    return PeerTurn([Message(reason, Tone.ERROR)], refusal=Refusal(step, reason, stale))


def _other_command(text: str) -> bool:
    """Typed words that are the person's own school's business (an action command): left
    for the review rather than refused as a peer answer."""
    from workflows import actions

    return actions.parse_command(text) is not None
