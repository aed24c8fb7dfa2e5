"""Repository functions: the only place that turns rows into domain objects and back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import BindParameter, Table, and_, bindparam, delete, func, inspect, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload, lazyload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from storage import models as m
from storage import planning
from storage.db import among, rowcount
from workflows.answers import ActionDraft, Answer, EvidenceLink, Flag, Owner
from workflows.review import Cursor, ReviewState
from workflows.review import Person as KnownPerson


class ConcurrentTurn(Exception):
    """Someone else saved this review since it was loaded; the turn is retried from fresh state."""


# ----- organisations and people ------------------------------------------------------------


async def find_organisations(session: AsyncSession, name: str) -> list[m.Organisation]:
    result = await session.scalars(
        select(m.Organisation).where(m.Organisation.name == name).order_by(m.Organisation.id)
    )
    return list(result)


def organisation_id_of(reference: str) -> int | None:
    """The id an admin typed (`12` or `id:12`), or None for a name."""
    text = reference.strip()
    text = text[3:].strip() if text.lower().startswith("id:") else text
    return int(text) if text.isdecimal() else None


async def organisations_matching(session: AsyncSession, reference: str) -> list[m.Organisation]:
    """Every organisation an admin's `--org` may mean: `id:12` only that id; `12` that id and
    any school called "12"; anything else the schools of that name. More than one is for
    the caller to refuse, never to pick from."""
    wanted = organisation_id_of(reference)
    by_name = (
        []
        if reference.strip().lower().startswith("id:")
        else await find_organisations(session, reference)
    )
    by_id = await session.get(m.Organisation, wanted) if wanted is not None else None
    found = {o.id: o for o in [*([by_id] if by_id else []), *by_name]}
    return [found[key] for key in sorted(found)]


async def create_organisation(
    session: AsyncSession, name: str, edition: str, timezone: str = "Europe/London"
) -> m.Organisation:
    organisation = m.Organisation(name=name, edition=edition, timezone=timezone, settings={})
    session.add(organisation)
    await session.flush()
    return organisation


async def get_organisation(session: AsyncSession, organisation_id: int) -> m.Organisation | None:
    return await session.get(m.Organisation, organisation_id)


async def person_for_identity(
    session: AsyncSession,
    organisation_id: int,
    channel: str,
    external_id: str,
    display_name: str,
    workspace: str = "",
) -> m.Person:
    """The person behind a chat identity in this organisation, created on first contact."""
    found = await session.scalar(
        select(m.Person)
        .join(m.Identity)
        .where(
            m.Identity.channel == channel,
            m.Identity.workspace == workspace,
            m.Identity.external_id == external_id,
            m.Person.organisation_id == organisation_id,
        )
        .options(lazyload(m.Person.identities))  # a turn needs the person, not their identities
    )
    if found is not None:
        return found
    person = m.Person(
        organisation_id=organisation_id,
        display_name=display_name,
        initials=initials_of(display_name),
    )
    person.identities.append(
        m.Identity(channel=channel, workspace=workspace, external_id=external_id)
    )
    session.add(person)
    await session.flush()
    return person


def initials_of(name: str) -> str | None:
    letters = "".join(word[0] for word in name.replace("-", " ").split() if word[0].isalpha())
    return letters.upper() or None


async def known_people(session: AsyncSession, organisation_id: int) -> list[KnownPerson]:
    rows = await session.execute(
        select(m.Person.id, m.Person.display_name, m.Person.initials)
        .where(m.Person.organisation_id == organisation_id)
        .order_by(m.Person.id)
    )
    return [KnownPerson(id, name, initials) for id, name, initials in rows]


# ----- a turn's rows ------------------------------------------------------------------------


@cache
def _turn_queries() -> tuple[Any, Any]:
    """turn_rows' two statements, built once: a turn only binds its values (building such a
    query costs more than running it)."""
    organisation_id: BindParameter[int] = bindparam("organisation_id")
    person = aliased(m.Person)
    identity = aliased(m.Identity)
    in_progress = (
        select(func.max(m.Review.id))
        .where(m.Review.organisation_id == organisation_id, m.Review.completed_at.is_(None))
        .scalar_subquery()
    )
    leader = (
        select(m.Person.id)
        .where(m.Person.organisation_id == organisation_id, m.Person.role == "careers_leader")
        .exists()
        .label("leader")
    )

    # Whether this person's typed words belong to a peer review now (issue 13): rating one
    # as a peer, or agreeing one for their school. Read here so a turn asks no more.
    rating = (
        select(m.PeerReviewer.id)
        .where(m.PeerReviewer.person_id == person.id, m.PeerReviewer.active.is_(True))
        .exists()
        .label("rating")
    )
    agreeing = (
        select(m.PeerReview.id)
        .where(m.PeerReview.agreeing_id == person.id, m.PeerReview.state == "open")
        .exists()
        .label("agreeing")
    )

    def who_and_leader(query: Any) -> Any:
        return (
            query.outerjoin(
                identity,
                and_(
                    identity.channel == bindparam("channel"),
                    identity.workspace == bindparam("workspace"),
                    identity.external_id == bindparam("external_id"),
                ),
            )
            .outerjoin(
                person,
                and_(person.id == identity.person_id, person.organisation_id == organisation_id),
            )
            .options(lazyload(person.identities))
        )

    with_review = (
        who_and_leader(
            select(m.Review, m.Organisation, person, leader, rating, agreeing)
            .select_from(m.Review)
            .join(m.Organisation, m.Organisation.id == m.Review.organisation_id)
        )
        .where(m.Review.id == in_progress)
        .options(lazyload(m.Review.participants))
        .with_for_update(of=m.Review)
    )
    alone = who_and_leader(
        select(m.Organisation, person, leader, rating, agreeing).select_from(m.Organisation)
    ).where(m.Organisation.id == organisation_id)
    return with_review, alone


async def turn_rows(
    session: AsyncSession,
    organisation_id: int,
    channel: str,
    workspace: str,
    external_id: str,
) -> tuple[m.Organisation | None, m.Review | None, m.Person | None, bool, tuple[bool, bool]]:
    """What every turn reads first, in ONE statement: the review in progress (locked for the
    transaction on PostgreSQL, so one review's turns run one at a time and each sees the one
    before it), its organisation, the person behind this chat identity, whether a Careers
    Leader is named, and whether this person is in a peer review now (rating as a peer,
    agreeing for their school). With no review in progress, a second statement reads the
    organisation."""
    with_review, alone = _turn_queries()
    values = {
        "organisation_id": organisation_id,
        "channel": channel,
        "workspace": workspace,
        "external_id": external_id,
    }
    row = (await session.execute(with_review, values)).first()
    if row is not None:
        return row[1], row[0], row[2], bool(row[3]), (bool(row[4]), bool(row[5]))
    found = (await session.execute(alone, values)).first()
    if found is None:
        return None, None, None, False, (False, False)
    return found[0], None, found[1], bool(found[2]), (bool(found[3]), bool(found[4]))


# ----- reviews -----------------------------------------------------------------------------


async def open_review(
    session: AsyncSession, organisation_id: int, lock: bool = False
) -> m.Review | None:
    """The review in progress (not completed), if any: the one a returning user resumes.

    With `lock`, the row is locked for the transaction (PostgreSQL FOR UPDATE; SQLite's
    BEGIN IMMEDIATE already serialises writers), so turns on one review run one at a time.
    """
    query = (
        select(m.Review)
        .where(m.Review.organisation_id == organisation_id, m.Review.completed_at.is_(None))
        .order_by(m.Review.id.desc())
        .limit(1)
        .options(lazyload(m.Review.participants))  # a turn reads them from the JSON
    )
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def latest_review(
    session: AsyncSession, organisation_id: int, completed: bool | None = None, lock: bool = False
) -> m.Review | None:
    query = (
        select(m.Review)
        .where(m.Review.organisation_id == organisation_id)
        .options(lazyload(m.Review.participants))
    )
    if completed is True:
        query = query.where(m.Review.completed_at.is_not(None))
    query = query.order_by(m.Review.id.desc()).limit(1)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def review_by_number(
    session: AsyncSession, organisation_id: int, number: int
) -> m.Review | None:
    """A school's review by the number people see (its first is 1), never another school's."""
    return await session.scalar(
        select(m.Review).where(
            m.Review.organisation_id == organisation_id, m.Review.number == number
        )
    )


async def _next_number(session: AsyncSession, table: Any, organisation_id: int) -> int:
    """The school's next number for reviews or actions; the unique constraint catches a race."""
    highest = await session.scalar(
        select(func.max(table.number)).where(table.organisation_id == organisation_id)
    )
    return int(highest or 0) + 1


async def distinct_title(session: AsyncSession, organisation_id: int, title: str) -> str:
    """`title`, or "title (2)" and on, so two reviews in one month are told apart."""
    taken = set(
        await session.scalars(
            select(m.Review.title).where(
                m.Review.organisation_id == organisation_id, m.Review.title.startswith(title)
            )
        )
    )
    if title not in taken:
        return title
    n = 2
    while f"{title} ({n})" in taken:
        n += 1
    return f"{title} ({n})"


async def plan_review(session: AsyncSession, organisation_id: int) -> m.Review | None:
    """The review whose plan is the school's plan: the last completed one, or while there
    is none yet the one in progress (exports and the digest)."""
    return await latest_review(session, organisation_id, completed=True) or await latest_review(
        session, organisation_id
    )


async def get_review(
    session: AsyncSession, review_id: int, organisation_id: int | None = None
) -> m.Review | None:
    """A review by id; with `organisation_id`, only if it belongs to that organisation."""
    review = await session.get(m.Review, review_id)
    if review is None or (
        organisation_id is not None and review.organisation_id != organisation_id
    ):
        return None
    return review


async def list_reviews(session: AsyncSession, organisation_id: int) -> list[m.Review]:
    rows = await session.scalars(
        select(m.Review).where(m.Review.organisation_id == organisation_id).order_by(m.Review.id)
    )
    return list(rows)


async def create_review(
    session: AsyncSession,
    organisation: m.Organisation,
    state: ReviewState,
    now: datetime,
    based_on: m.Review | None = None,
) -> m.Review:
    review = m.Review(
        organisation_id=organisation.id,
        number=await _next_number(session, m.Review, organisation.id),
        edition=state.edition.value,
        title=state.title,
        started_at=now,
        based_on_id=based_on.id if based_on else None,
        conversation=state.conversation(),
        version=0,
    )
    session.add(review)
    await session.flush()
    await _write_answers(session, review, {}, state.answers, None, now)
    return review


def _answer_query(review_ids: list[int]) -> Any:
    """Responses joined with their evidence, actions and the actions' owners: ONE query."""
    return (
        select(m.Response)
        .where(m.Response.review_id.in_(review_ids))
        .options(
            joinedload(m.Response.evidence),
            joinedload(m.Response.links)
            .joinedload(m.ResponseAction.action)
            .joinedload(m.Action.owners),
        )
    )


def _answers_of(
    responses: list[m.Response], open_actions_only: bool = False, agreed: bool = False
) -> dict[str, Answer]:
    answers: dict[str, Answer] = {}
    for row in responses:
        actions = [link.action for link in row.links]
        if open_actions_only:
            actions = [a for a in actions if a.status not in ("done", "dropped")]
        answers[row.statement_id] = Answer(
            statement_id=row.statement_id,
            level=row.level,
            evidence=[EvidenceLink(url=e.url, label=e.label) for e in row.evidence],
            note=row.note,
            flag=Flag(row.flag) if row.flag else None,
            actions=[
                _agreed_draft(fields, action)
                if agreed and (fields := _agreed_of(row, action)) is not None
                else _action_draft(action)
                for action in actions
            ],
            carried=row.carried,
            answered_by=row.answered_by,
            answered_at=row.answered_at,
        )
    return answers


async def load_answers(
    session: AsyncSession, review_id: int, open_actions_only: bool = False, agreed: bool = False
) -> dict[str, Answer]:
    """A review's answers in ONE query (responses joined with their evidence, action and its
    owners); with `open_actions_only` (carrying forward), done actions stay behind; with
    `agreed` (a completed review's plan), each action as it was agreed at that review.

    The rows stay with the session, so saving this turn's answers reads nothing again."""
    responses = list((await session.scalars(_answer_query([review_id]))).unique())
    session.info.setdefault(_LOADED, {})[review_id] = {r.statement_id: r for r in responses}
    return _answers_of(responses, open_actions_only, agreed)


# session.info key: the response rows a turn loaded, by review, for its save to reuse.
_LOADED = "careers_loaded_responses"


def _action_draft(action: m.Action) -> ActionDraft:
    return ActionDraft(
        target_level=action.target_level,
        next_steps=action.next_steps,
        owners=[Owner(name=o.name, person_id=o.person_id) for o in action.owners],
        due=action.due,
        due_year=action.due_year,
        action_id=action.id,
        owners_tbc=action.owners_tbc,
        due_tbc=action.due_tbc,
    )


def _agreed_of(row: m.Response, action: m.Action) -> dict[str, Any] | None:
    """What was agreed for this action at this answer's review, if the review is closed.

    Kept per action ({"actions": {id: fields}}); a review closed before a statement could
    have several actions kept one action's fields, which are its first action's."""
    stored: dict[str, Any] = row.agreed or {}
    if "actions" in stored:
        found: dict[str, Any] | None = stored["actions"].get(str(action.id))
        return found
    return stored if stored and action.id == row.action_id else None


def _agreed_draft(agreed: dict[str, Any], action: m.Action) -> ActionDraft:
    return ActionDraft(
        target_level=agreed.get("target_level"),
        next_steps=agreed.get("next_steps"),
        owners=[Owner(name=o["name"], person_id=o.get("person_id")) for o in agreed["owners"]],
        due=agreed.get("due"),
        due_year=agreed.get("due_year"),
        action_id=action.id,
        owners_tbc=bool(agreed.get("owners_tbc", action.owners_tbc)),
        due_tbc=bool(agreed.get("due_tbc", action.due_tbc)),
    )


def _agreed_fields(action: m.Action) -> dict[str, Any]:
    return {
        "current_level": action.current_level,
        "target_level": action.target_level,
        "next_steps": action.next_steps,
        "due": action.due,
        "due_year": action.due_year,
        "owners": [{"name": o.name, "person_id": o.person_id} for o in action.owners],
        "owners_tbc": action.owners_tbc,
        "due_tbc": action.due_tbc,
    }


async def _agree(session: AsyncSession, review: m.Review) -> None:
    """Completing a review keeps each of its actions as agreed now, for its own plan."""
    responses = (
        await session.scalars(
            select(m.Response)
            .where(m.Response.review_id == review.id)
            .options(
                joinedload(m.Response.links)
                .joinedload(m.ResponseAction.action)
                .joinedload(m.Action.owners)
            )
        )
    ).unique()
    for response in responses:
        if response.links:
            response.agreed = {
                "actions": {
                    str(link.action.id): _agreed_fields(link.action) for link in response.links
                }
            }
    await session.flush()


async def load_state(session: AsyncSession, review: m.Review, agreed: bool = False) -> ReviewState:
    conversation = review.conversation or {}
    return ReviewState(
        title=review.title,
        edition=review.edition,  # type: ignore[arg-type]
        cursors={
            key: Cursor.model_validate(value)
            for key, value in (conversation.get("cursors") or {}).items()
        },
        last_actor=conversation.get("last_actor"),
        participants=list(conversation.get("participants", [])),
        answers=await load_answers(session, review.id, agreed=agreed),
        completed=review.completed_at is not None,
        based_on_title=await _title_of(session, review.based_on_id),
    )


async def _title_of(session: AsyncSession, review_id: int | None) -> str | None:
    if review_id is None:
        return None
    other = await session.get(m.Review, review_id)
    return other.title if other else None


async def save_state(
    session: AsyncSession,
    review: m.Review,
    before: ReviewState,
    after: ReviewState,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Persist one turn: changed answers as rows (with history), the cursor as JSON.

    Raises ConcurrentTurn if the review was saved by someone else since `review` was loaded.
    """
    await _write_answers(session, review, before.answers, after.answers, actor_id, now)
    if after.participants != before.participants:
        await session.execute(
            delete(m.ReviewParticipant).where(m.ReviewParticipant.review_id == review.id)
        )
        people = {p.name.lower(): p.id for p in await known_people(session, review.organisation_id)}
        session.add_all(
            m.ReviewParticipant(review_id=review.id, name=name, person_id=people.get(name.lower()))
            for name in after.participants
        )
    completed_at = review.completed_at
    if after.completed and completed_at is None:
        completed_at = now
    elif not after.completed:
        completed_at = None
    result = await session.execute(
        update(m.Review)
        .where(m.Review.id == review.id, m.Review.version == review.version)
        .values(
            conversation=after.conversation(),
            completed_at=completed_at,
            version=review.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentTurn(f"review {review.id} changed since it was loaded")
    if completed_at is not None and review.completed_at is None:
        await _agree(session, review)
    # The row is already written: keep the loaded object in step without a second UPDATE.
    set_committed_value(review, "version", review.version + 1)
    set_committed_value(review, "completed_at", completed_at)
    set_committed_value(review, "conversation", after.conversation())


async def _write_answers(
    session: AsyncSession,
    review: m.Review,
    before: dict[str, Answer],
    after: dict[str, Answer],
    actor_id: int | None,
    now: datetime,
) -> None:
    changed = [sid for sid, answer in after.items() if before.get(sid) != answer]
    if not changed:
        return
    loaded: dict[str, m.Response] | None = session.info.get(_LOADED, {}).get(review.id)
    if loaded is not None:  # read in this transaction already (repo.load_answers)
        rows = {sid: loaded[sid] for sid in changed if sid in loaded}
    else:
        rows = {
            r.statement_id: r
            for r in await session.scalars(
                select(m.Response)
                .where(m.Response.review_id == review.id, m.Response.statement_id.in_(changed))
                .options(selectinload(m.Response.links))
            )
        }
    for sid in changed:
        new = after[sid]
        old = before.get(sid)
        row = rows.get(sid)
        if row is None:
            row = m.Response(
                review_id=review.id, statement_id=sid, evidence=[], links=[], action_id=None
            )
            session.add(row)
            if loaded is not None:
                loaded[sid] = row
        elif old is not None and old.complete and old.content() != new.content():
            session.add(
                m.ResponseChange(
                    response_id=row.id,
                    changed_at=new.answered_at or now,
                    changed_by=new.answered_by,
                    before=old.content(),
                    after=new.content(),
                )
            )
        row.level = new.level
        row.note = new.note
        row.flag = new.flag.value if new.flag else None
        row.carried = new.carried
        row.answered_by = new.answered_by
        row.answered_by_id = actor_id if not new.carried else row.answered_by_id
        row.answered_at = new.answered_at
        if [(e.url, e.label) for e in row.evidence] != [(e.url, e.label) for e in new.evidence]:
            row.evidence.clear()
            await session.flush()
            row.evidence.extend(
                m.EvidenceLink(position=i, url=e.url, label=e.label)
                for i, e in enumerate(new.evidence)
            )
        await _write_action(session, review, row, new, now, edit=old is not None and old.complete)
    await session.flush()


def _action_fields(row: m.Action) -> dict[str, object]:
    return {
        "current_level": row.current_level,
        "target_level": row.target_level,
        "next_steps": row.next_steps,
        "owners": [o.name for o in row.owners],
        "due": row.due,
        "due_year": row.due_year,
        "owners_tbc": row.owners_tbc,
        "due_tbc": row.due_tbc,
    }


async def _write_action(
    session: AsyncSession,
    review: m.Review,
    response: m.Response,
    answer: Answer,
    now: datetime,
    edit: bool,
) -> None:
    """Keep the response's actions (in order) in step with its priority details.

    A priority carried from the previous review keeps the same Actions (no duplicate); a
    change to a finished answer (`edit`) is recorded in each action's history; an action
    withdrawn from an answer set in this review is dropped, kept for its history.
    """
    links = {link.position: link for link in response.links}
    wanted = answer.flag is Flag.PRIORITY and answer.level is not None
    if not wanted and answer.carried:
        return  # a carried answer not yet confirmed keeps what it points at
    drafts = answer.actions if wanted else []
    for position, draft in enumerate(drafts):
        row = await _write_one_action(
            session, review, answer, draft, links.get(position), position, now, edit
        )
        link = links.get(position)
        if link is None:
            response.links.append(m.ResponseAction(position=position, action_id=row.id))
        else:
            link.action_id = row.id
    for position, link in sorted(links.items()):
        if position < len(drafts):
            continue
        withdrawn = await session.get(m.Action, link.action_id)
        if withdrawn is not None and withdrawn.review_id == review.id:
            withdrawn.status = "dropped"
            withdrawn.updated_at = now
        response.links.remove(link)
    await session.flush()
    first = response.links[0].action_id if response.links else None
    if inspect(response).attrs.action_id.loaded_value != first:  # no UPDATE for nothing
        response.action_id = first


async def _write_one_action(
    session: AsyncSession,
    review: m.Review,
    answer: Answer,
    draft: ActionDraft,
    link: m.ResponseAction | None,
    position: int,
    now: datetime,
    edit: bool,
) -> m.Action:
    """One of an answer's actions, created or brought in step with its draft."""
    assert answer.level is not None
    row = await session.get(m.Action, link.action_id) if link is not None else None
    if row is None and draft.action_id is not None:
        row = await session.get(m.Action, draft.action_id)
        if row is not None and row.organisation_id != review.organisation_id:
            row = None  # never attach another organisation's action
        if row is not None and answer.carried:
            session.add(
                m.ActionUpdate(
                    action_id=row.id, at=now, kind="carried", note=f"Carried into {review.title}"
                )
            )
    if row is None:  # set before in this review and withdrawn since: taken up again
        row = await session.scalar(
            select(m.Action).where(
                m.Action.review_id == review.id,
                m.Action.statement_id == answer.statement_id,
                m.Action.position == position,
            )
        )
    created = row is None
    if row is None:
        row = m.Action(
            organisation_id=review.organisation_id,
            number=await _next_number(session, m.Action, review.organisation_id),
            review_id=review.id,
            statement_id=answer.statement_id,
            position=position,
            current_level=answer.level,
            created_at=now,
            owners=[],
        )
        session.add(row)
    elif row.status == "dropped" and row.review_id == review.id:
        row.status = "not_started"
    before = _action_fields(row)
    row.current_level = answer.level
    row.target_level = (
        draft.target_level if draft.target_level and draft.target_level > answer.level else None
    )
    row.next_steps = draft.next_steps
    row.due = draft.due
    row.due_year = draft.due_year
    row.owners_tbc = draft.owners_tbc and not draft.owners
    row.due_tbc = draft.due_tbc and draft.due is None
    if [(o.name, o.person_id) for o in row.owners] != [(o.name, o.person_id) for o in draft.owners]:
        row.owners.clear()
        row.owners.extend(
            m.ActionOwner(position=i, name=o.name, person_id=o.person_id)
            for i, o in enumerate(draft.owners)
        )
    after = _action_fields(row)
    row.updated_at = now
    if not created and edit and before != after:
        session.add(
            m.ActionUpdate(
                action_id=row.id,
                at=now,
                by=answer.answered_by,
                kind="edited",
                before=before,
                after=after,
            )
        )
    await session.flush()
    return row


@dataclass(frozen=True)
class ReviewCounts:
    """A review with how far it got: answers, priorities and the actions its plan tracks."""

    review: m.Review
    answered: int
    priorities: int
    actions: int


async def review_counts(session: AsyncSession, organisation_id: int) -> list[ReviewCounts]:
    """Every review of a school, oldest first, with its counts (one query)."""
    # Carried answers wait to be confirmed: only answers given in this review count.
    answered = func.count(m.Response.level).filter(m.Response.carried.is_(False))
    priorities = func.count(m.Response.id).filter(m.Response.flag == "priority")
    tracked = func.count(m.Response.action_id)
    rows = await session.execute(
        select(m.Review, answered, priorities, tracked)
        .outerjoin(m.Response, m.Response.review_id == m.Review.id)
        .where(m.Review.organisation_id == organisation_id)
        .group_by(m.Review.id)
        .order_by(m.Review.number)
        .options(lazyload(m.Review.participants))
    )
    return [ReviewCounts(r, int(a), int(p), int(t)) for r, a, p, t in rows]


async def latest_level(
    session: AsyncSession, organisation_id: int, statement_id: str
) -> int | None:
    """A statement's level in the school's latest review that answered it."""
    return await session.scalar(
        select(m.Response.level)
        .join(m.Review, m.Review.id == m.Response.review_id)
        .where(
            m.Review.organisation_id == organisation_id,
            m.Response.statement_id == statement_id,
            m.Response.level.is_not(None),
        )
        .order_by(m.Review.number.desc())
        .limit(1)
    )


async def add_action(
    session: AsyncSession,
    organisation_id: int,
    review_id: int,
    statement_id: str,
    *,
    current_level: int,
    target_level: int | None,
    next_steps: str,
    owners: list[tuple[str, int | None]],
    due: str | None,
    due_year: str | None,
    now: datetime,
    by: str | None,
) -> m.Action:
    """An action set outside the review's questions, kept with the school's latest review
    after any it already holds for the statement, numbered like any other, and listed with
    that review's answer to the statement (so it is in the plan and carried forward)."""
    position = await session.scalar(
        select(func.coalesce(func.max(m.Action.position) + 1, 0)).where(
            m.Action.review_id == review_id, m.Action.statement_id == statement_id
        )
    )
    row = m.Action(
        organisation_id=organisation_id,
        number=await _next_number(session, m.Action, organisation_id),
        review_id=review_id,
        statement_id=statement_id,
        position=position or 0,
        current_level=current_level,
        target_level=target_level,
        next_steps=next_steps,
        due=due,
        due_year=due_year,
        created_at=now,
        updated_at=now,
        owners=[
            m.ActionOwner(position=i, name=name, person_id=person_id)
            for i, (name, person_id) in enumerate(owners)
        ],
    )
    session.add(row)
    await session.flush()
    session.add(m.ActionUpdate(action_id=row.id, at=now, by=by, kind="added", after={}))
    response = await session.scalar(
        select(m.Response)
        .where(m.Response.review_id == review_id, m.Response.statement_id == statement_id)
        .options(joinedload(m.Response.links))
    )
    if response is not None and response.level is not None:
        links = sorted(link.position for link in response.links)
        response.links.append(
            m.ResponseAction(position=(links[-1] + 1) if links else 0, action_id=row.id)
        )
        if response.action_id is None:
            response.action_id = row.id
    await session.flush()
    return row


async def response_history(
    session: AsyncSession, review_id: int, statement_id: str
) -> list[m.ResponseChange]:
    response = await session.scalar(
        select(m.Response).where(
            m.Response.review_id == review_id, m.Response.statement_id == statement_id
        )
    )
    if response is None:
        return []
    rows = await session.scalars(
        select(m.ResponseChange)
        .where(m.ResponseChange.response_id == response.id)
        .order_by(m.ResponseChange.id)
    )
    return list(rows)


async def actions_for_review(session: AsyncSession, review_id: int) -> list[m.Action]:
    """The actions a review's priorities point at (its own and those carried into it)."""
    rows = await session.scalars(
        select(m.Action)
        .join(m.ResponseAction, m.ResponseAction.action_id == m.Action.id)
        .join(m.Response, m.Response.id == m.ResponseAction.response_id)
        .where(m.Response.review_id == review_id, m.Action.status != "dropped")
        .order_by(m.Action.id)
    )
    return list(rows)


async def organisation_actions(session: AsyncSession, organisation_id: int) -> list[m.Action]:
    rows = await session.scalars(
        select(m.Action).where(m.Action.organisation_id == organisation_id).order_by(m.Action.id)
    )
    return list(rows)


async def action_updates(session: AsyncSession, action_ids: list[int]) -> list[m.ActionUpdate]:
    if not action_ids:
        return []
    rows = await session.scalars(
        select(m.ActionUpdate)
        .where(m.ActionUpdate.action_id.in_(action_ids))
        .order_by(m.ActionUpdate.at, m.ActionUpdate.id)
    )
    return list(rows)


async def get_action(
    session: AsyncSession, action_id: int, organisation_id: int, lock: bool = False
) -> m.Action | None:
    """An action by its internal id, only within its own organisation."""
    query = select(m.Action).where(
        m.Action.id == action_id, m.Action.organisation_id == organisation_id
    )
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def action_by_number(
    session: AsyncSession, number: int, organisation_id: int, lock: bool = False
) -> m.Action | None:
    """An action by the school's own number (`done 3`), only within its own organisation."""
    query = select(m.Action).where(
        m.Action.number == number, m.Action.organisation_id == organisation_id
    )
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def record_action_update(
    session: AsyncSession,
    action: m.Action,
    *,
    kind: str,
    at: datetime,
    by: str | None,
    status: str | None = None,
    owners: list[tuple[str, int | None]] | None = None,
    due: tuple[str | None, str | None] | None = None,
    note: str | None = None,
    link: str | None = None,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
) -> m.ActionUpdate:
    """Apply a change to an action and keep the dated update that explains it."""
    if status is not None:
        action.status = status
    if owners is not None:
        action.owners.clear()
        await session.flush()
        action.owners.extend(
            m.ActionOwner(position=i, name=name, person_id=person_id)
            for i, (name, person_id) in enumerate(owners)
        )
    if due is not None:
        action.due, action.due_year = due
    action.updated_at = at
    update_row = m.ActionUpdate(
        action_id=action.id,
        at=at,
        by=by,
        kind=kind,
        note=note,
        link=link,
        before=before or {},
        after=after or {},
    )
    session.add(update_row)
    await session.flush()
    return update_row


# ----- term dates --------------------------------------------------------------------------


async def term_dates(session: AsyncSession, organisation_id: int) -> list[m.TermDate]:
    rows = await session.scalars(
        select(m.TermDate)
        .where(m.TermDate.organisation_id == organisation_id)
        .order_by(m.TermDate.academic_year, m.TermDate.half_term)
    )
    return list(rows)


async def replace_term_dates(
    session: AsyncSession, organisation_id: int, half_terms: list[tuple[str, int, date, date]]
) -> None:
    """Set an organisation's own dates for whole academic years (all six half-terms at once)."""
    years = sorted({year for year, *_ in half_terms})
    await session.execute(
        delete(m.TermDate).where(
            m.TermDate.organisation_id == organisation_id, m.TermDate.academic_year.in_(years)
        )
    )
    session.add_all(
        m.TermDate(
            organisation_id=organisation_id,
            academic_year=year,
            half_term=number,
            starts_on=start,
            ends_on=end,
        )
        for year, number, start, end in half_terms
    )
    await session.flush()
    await planning.look_again_at(session, organisation_id)  # the delete above is a bulk one


# ----- idempotency -------------------------------------------------------------------------


async def claim_input(
    session: AsyncSession, key: str, review_id: int | None, organisation_id: int | None = None
) -> bool:
    """Record a delivery key; False if it was handled before (a retry or a double click).

    One statement (INSERT ... ON CONFLICT DO NOTHING) on both databases, no savepoint. The
    school is kept with the key so that deleting the school erases it."""
    insert = (
        postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    )(m.HandledInput)
    values = {"key": key, "review_id": review_id, "organisation_id": organisation_id}
    result = await session.execute(
        insert.values(**values, handled_at=m.utcnow()).on_conflict_do_nothing(
            index_elements=["key"]
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def prune_handled_inputs(session: AsyncSession, before: datetime) -> int:
    """Forget delivery keys older than `before`: Slack and Teams retry within minutes, so a
    key kept for weeks only grows the table."""
    result = await session.execute(delete(m.HandledInput).where(m.HandledInput.handled_at < before))
    return rowcount(result)


async def release_input(session: AsyncSession, key: str) -> None:
    """Forget a key whose turn was refused, so the corrected form (same view) is taken."""
    await session.execute(delete(m.HandledInput).where(m.HandledInput.key == key))


# ----- chat workspaces, roles and conversation references ----------------------------------


@cache
def _place_query() -> Any:
    """place's statement, built once."""
    identity = aliased(m.Identity)
    person = aliased(m.Person)
    return (
        select(m.Organisation, person.display_name)
        .select_from(m.ChatLink)
        .join(m.Organisation, m.Organisation.id == m.ChatLink.organisation_id)
        .outerjoin(
            identity,
            and_(
                identity.channel == m.ChatLink.channel,
                identity.workspace == m.ChatLink.workspace,
                identity.external_id == bindparam("external_id"),
            ),
        )
        .outerjoin(
            person,
            and_(person.id == identity.person_id, person.organisation_id == m.Organisation.id),
        )
        .where(
            m.ChatLink.channel == bindparam("channel"),
            m.ChatLink.workspace == bindparam("workspace"),
            m.ChatLink.scope == "",
        )
    )


async def place(
    session: AsyncSession, channel: str, workspace: str, external_id: str
) -> tuple[m.Organisation, str | None] | None:
    """In one statement: the school a workspace belongs to and the name it knows for this
    chat user (None if the workspace is not linked)."""
    row = (
        await session.execute(
            _place_query(),
            {"channel": channel, "workspace": workspace, "external_id": external_id},
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def linked_organisation(
    session: AsyncSession, channel: str, workspace: str, scope: str = ""
) -> m.Organisation | None:
    """The organisation a Slack workspace or Teams tenant (and team) belongs to."""
    link = await _chat_link(session, channel, workspace, scope)
    return await session.get(m.Organisation, link.organisation_id) if link else None


async def _chat_link(
    session: AsyncSession, channel: str, workspace: str, scope: str
) -> m.ChatLink | None:
    return await session.scalar(
        select(m.ChatLink).where(
            m.ChatLink.channel == channel,
            m.ChatLink.workspace == workspace,
            m.ChatLink.scope == scope,
        )
    )


async def link_organisation(
    session: AsyncSession, organisation_id: int, channel: str, workspace: str, scope: str = ""
) -> None:
    existing = await _chat_link(session, channel, workspace, scope)
    if existing is None:
        session.add(
            m.ChatLink(
                channel=channel, workspace=workspace, scope=scope, organisation_id=organisation_id
            )
        )
    else:
        existing.organisation_id = organisation_id
    await session.flush()


async def links_of_organisation(session: AsyncSession, organisation_id: int) -> list[m.ChatLink]:
    """The chat workspaces and teams a school is linked to (none: it uses the terminal)."""
    rows = await session.scalars(
        select(m.ChatLink).where(m.ChatLink.organisation_id == organisation_id)
    )
    return list(rows)


async def links_for(session: AsyncSession, channel: str, workspace: str) -> list[m.ChatLink]:
    rows = await session.scalars(
        select(m.ChatLink).where(m.ChatLink.channel == channel, m.ChatLink.workspace == workspace)
    )
    return list(rows)


async def careers_leader_named(session: AsyncSession, organisation_id: int) -> bool:
    found = await session.scalar(
        select(m.Person.id).where(
            m.Person.organisation_id == organisation_id, m.Person.role == "careers_leader"
        )
    )
    return found is not None


async def people(session: AsyncSession, organisation_id: int) -> list[m.Person]:
    rows = await session.scalars(
        select(m.Person).where(m.Person.organisation_id == organisation_id).order_by(m.Person.id)
    )
    return list(rows)


async def save_conversation_ref(
    session: AsyncSession,
    organisation_id: int,
    channel: str,
    conversation_id: str,
    kind: str,
    reference: dict[str, object],
    now: datetime,
    person_id: int | None = None,
) -> m.ConversationRef:
    """Remember where the bot can speak later; updated in place when it changes."""
    row = await session.scalar(
        select(m.ConversationRef).where(
            m.ConversationRef.channel == channel,
            m.ConversationRef.conversation_id == conversation_id,
        )
    )
    if row is None:
        row = m.ConversationRef(channel=channel, conversation_id=conversation_id)
        session.add(row)
    elif (row.organisation_id, row.kind, row.reference, row.person_id) == (
        organisation_id,
        kind,
        dict(reference),
        person_id,
    ):
        return row  # known already: a turn that remembers its conversation writes nothing
    row.organisation_id = organisation_id
    row.kind = kind
    row.reference = dict(reference)
    row.person_id = person_id
    row.updated_at = now
    await session.flush()
    return row


async def conversation_refs(
    session: AsyncSession,
    organisation_id: int,
    channel: str | None = None,
    person_id: int | None = None,
    kind: str | None = None,
) -> list[m.ConversationRef]:
    query = select(m.ConversationRef).where(m.ConversationRef.organisation_id == organisation_id)
    if channel is not None:
        query = query.where(m.ConversationRef.channel == channel)
    if person_id is not None:
        query = query.where(m.ConversationRef.person_id == person_id)
    if kind is not None:
        query = query.where(m.ConversationRef.kind == kind)
    return list(await session.scalars(query.order_by(m.ConversationRef.id)))


async def set_role(session: AsyncSession, person: m.Person, role: str | None) -> None:
    person.role = role
    await session.flush()


async def input_handled(session: AsyncSession, key: str) -> bool:
    """Whether a delivery key was already applied (checked before a form is tried)."""
    return (
        await session.scalar(select(m.HandledInput.id).where(m.HandledInput.key == key))
    ) is not None


async def all_organisations(session: AsyncSession) -> list[m.Organisation]:
    return list(await session.scalars(select(m.Organisation).order_by(m.Organisation.id)))


@dataclass(frozen=True)
class Erased:
    """What deleting an organisation removed beyond its own rows (for the admin's message)."""

    slack_workspaces: list[str]  # whose installation (bot token) was removed
    shared_workspaces: list[str]  # kept: another organisation still uses them


async def delete_organisation(session: AsyncSession, organisation: m.Organisation) -> Erased:
    """Erase everything that names the organisation.

    Its own rows go by ON DELETE CASCADE (people and identities, reviews and answers,
    actions, deliveries, chat links and conversation references, bot messages, input keys,
    plan links). Slack's installation and bot rows (slack_sdk's tables, holding the bot
    token) name no organisation, only a workspace: those of each Slack workspace the
    organisation is linked to are deleted too, unless another organisation is still linked
    to that workspace (a trust's schools sharing one workspace): the installation is theirs
    as much as its, and the last school's deletion removes it.
    """
    links = await links_of_organisation(session, organisation.id)
    erased: list[str] = []
    shared: list[str] = []
    for workspace in sorted({link.workspace for link in links if link.channel == "slack"}):
        others = await session.scalar(
            select(func.count())
            .select_from(m.ChatLink)
            .where(
                m.ChatLink.channel == "slack",
                m.ChatLink.workspace == workspace,
                m.ChatLink.organisation_id != organisation.id,
            )
        )
        if others:
            shared.append(workspace)
            continue
        for name in (m.SLACK_INSTALLATIONS, m.SLACK_BOTS):
            table = m.Base.metadata.tables[name]
            await session.execute(
                delete(table).where(
                    (table.c.team_id == workspace)
                    | (table.c.team_id.is_(None) & (table.c.enterprise_id == workspace))
                )
            )
        erased.append(workspace)
    # A peer review of another school keeps that school's ratings, but not the name of
    # this school's Careers Leader who gave them (their person row goes with the school).
    await session.execute(
        update(m.PeerReviewer)
        .where(
            m.PeerReviewer.person_id.in_(
                select(m.Person.id).where(m.Person.organisation_id == organisation.id)
            )
        )
        .values(name=None)
    )
    # Cascades need foreign keys on; a key recorded before migration 0007 knows no school.
    await session.execute(
        delete(m.HandledInput).where(m.HandledInput.organisation_id == organisation.id)
    )
    await session.execute(delete(m.Organisation).where(m.Organisation.id == organisation.id))
    return Erased(erased, shared)


# ----- chat identities and organisation settings (Teams adapter) ---------------------------


async def linked_organisation_named(
    session: AsyncSession, channel: str, workspace: str, name: str
) -> m.Organisation | None:
    """An organisation already linked to this workspace or tenant (or one of its teams), by name.

    Set-up by name looks only here, so one tenant can never reach another tenant's school.
    """
    wanted = " ".join(name.split()).casefold()
    for link in await links_for(session, channel, workspace):
        organisation = await session.get(m.Organisation, link.organisation_id)
        if organisation is not None and " ".join(organisation.name.split()).casefold() == wanted:
            return organisation
    return None


async def move_identity(
    session: AsyncSession,
    channel: str,
    workspace: str,
    external_id: str,
    organisation_id: int,
    display_name: str,
) -> m.Person:
    """Make a chat identity belong to a person in `organisation_id` (set-up in a trust).

    The identity moves, with the person's role where the organisation has no Careers Leader
    yet; the person left behind keeps their history in the old organisation.
    """
    identity = await session.scalar(
        select(m.Identity).where(
            m.Identity.channel == channel,
            m.Identity.workspace == workspace,
            m.Identity.external_id == external_id,
        )
    )
    old = await session.get(m.Person, identity.person_id) if identity is not None else None
    if old is not None and old.organisation_id == organisation_id:
        return old
    role = None
    if old is not None and not await careers_leader_named(session, organisation_id):
        role = old.role
    person = m.Person(
        organisation_id=organisation_id,
        display_name=display_name,
        initials=initials_of(display_name),
        role=role,
    )
    session.add(person)
    await session.flush()
    if identity is None:
        session.add(
            m.Identity(
                person_id=person.id, channel=channel, workspace=workspace, external_id=external_id
            )
        )
    else:
        identity.person_id = person.id
    await session.flush()
    for each in (old, person):
        if each is not None:
            session.expire(each, ["identities"])
    return person


async def conversation_ref(
    session: AsyncSession, channel: str, conversation_id: str
) -> m.ConversationRef | None:
    return await session.scalar(
        select(m.ConversationRef).where(
            m.ConversationRef.channel == channel,
            m.ConversationRef.conversation_id == conversation_id,
        )
    )


# ----- chat adapters: identities, organisation settings, disconnection (Slack) ---------------


async def person_by_identity(
    session: AsyncSession,
    channel: str,
    workspace: str,
    external_id: str,
    organisation_id: int | None = None,
) -> m.Person | None:
    """The person behind a chat identity (never creates one).

    An identity is unique per channel and workspace, so without `organisation_id` this is
    how a personal chat finds its school where one Teams tenant holds several.
    """
    query = (
        select(m.Person)
        .join(m.Identity)
        .where(
            m.Identity.channel == channel,
            m.Identity.workspace == workspace,
            m.Identity.external_id == external_id,
        )
    )
    if organisation_id is not None:
        query = query.where(m.Person.organisation_id == organisation_id)
    return await session.scalar(query)


async def update_organisation(
    session: AsyncSession,
    organisation_id: int,
    *,
    name: str | None = None,
    edition: str | None = None,
    settings: dict[str, object] | None = None,
) -> m.Organisation:
    """Change an organisation's name, edition or settings (settings are merged, not replaced).

    The edition changes only while there is no review: a review's statements are its edition's.
    """
    organisation = await session.get(m.Organisation, organisation_id)
    if organisation is None:
        raise LookupError(f"no organisation {organisation_id}")
    if name is not None:
        organisation.name = name
    if edition is not None and await latest_review(session, organisation_id) is None:
        organisation.edition = edition
    if settings is not None:
        # A new dict, so that SQLAlchemy sees the JSON column change.
        organisation.settings = {**(organisation.settings or {}), **settings}
    await session.flush()
    return organisation


async def forget_conversation_refs(
    session: AsyncSession,
    organisation_id: int,
    channel: str,
    kind: str,
    keep: tuple[str, ...] = (),
) -> int:
    """Drop where the bot may no longer speak (e.g. the old SLT channel), except `keep`."""
    query = delete(m.ConversationRef).where(
        m.ConversationRef.organisation_id == organisation_id,
        m.ConversationRef.channel == channel,
        m.ConversationRef.kind == kind,
    )
    if keep:
        query = query.where(m.ConversationRef.conversation_id.not_in(keep))
    result = await session.execute(query.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


DISCONNECTED = "disconnected"  # Organisation.settings: chat channel -> when it was removed


def disconnected_channels(organisation: m.Organisation) -> set[str]:
    """The chat channels the school removed the app from (nothing is sent through them)."""
    return set((organisation.settings or {}).get(DISCONNECTED) or {})


async def organisation_channels(session: AsyncSession, organisation_id: int) -> set[str]:
    """The chat channels an organisation is linked through (Slack, Teams)."""
    rows = await session.scalars(
        select(m.ChatLink.channel).where(m.ChatLink.organisation_id == organisation_id)
    )
    return set(rows)


async def set_channel_disconnected(
    session: AsyncSession, organisation_id: int, channel: str, at: datetime | None
) -> bool:
    """Record one school as disconnected from one chat channel (`at`) or back on it (None).

    Per organisation, not per workspace: one team of a trust removing the app leaves the
    trust's other schools alone. `disconnected_at` is set once every channel the school is
    linked through is disconnected, so the scheduler stops planning for it altogether.
    Returns whether anything changed (a reconnect of a connected school writes nothing).
    """
    organisation = await session.get(m.Organisation, organisation_id)
    if organisation is None:
        return False
    gone = dict((organisation.settings or {}).get(DISCONNECTED) or {})
    if at is None:
        if channel not in gone and organisation.disconnected_at is None:
            return False
        gone.pop(channel, None)
    else:
        gone[channel] = at.isoformat()
    settings = {k: v for k, v in (organisation.settings or {}).items() if k != DISCONNECTED}
    if gone:
        settings[DISCONNECTED] = gone
    organisation.settings = settings  # a new dict, so that SQLAlchemy sees the JSON change
    linked = await organisation_channels(session, organisation_id) | {channel}
    everywhere = bool(gone) and linked <= gone.keys()
    organisation.disconnected_at = (at or organisation.disconnected_at) if everywhere else None
    await session.flush()
    return True


# ----- the bot's own messages --------------------------------------------------------------


async def bot_messages(
    session: AsyncSession,
    channel: str,
    conversation_id: str,
    review_id: int,
    statement_ids: list[str],
) -> dict[str, str]:
    """The bot's message for each of these statements in this conversation (to update it)."""
    if not statement_ids:
        return {}
    rows = await session.execute(
        select(m.BotMessage.statement_id, m.BotMessage.message_id).where(
            m.BotMessage.channel == channel,
            m.BotMessage.conversation_id == conversation_id,
            m.BotMessage.review_id == review_id,
            m.BotMessage.statement_id.in_(statement_ids),
        )
    )
    return {statement_id: message_id for statement_id, message_id in rows}


async def remember_bot_messages(
    session: AsyncSession,
    organisation_id: int,
    channel: str,
    conversation_id: str,
    review_id: int,
    messages: dict[str, str],
    now: datetime,
) -> None:
    """Keep the ids of messages just posted, one per statement (a newer one replaces it)."""
    for statement_id, message_id in messages.items():
        await session.execute(
            delete(m.BotMessage).where(
                m.BotMessage.channel == channel,
                m.BotMessage.conversation_id == conversation_id,
                m.BotMessage.review_id == review_id,
                m.BotMessage.statement_id == statement_id,
            )
        )
        session.add(
            m.BotMessage(
                organisation_id=organisation_id,
                review_id=review_id,
                channel=channel,
                conversation_id=conversation_id,
                statement_id=statement_id,
                message_id=message_id,
                updated_at=now,
            )
        )
    await session.flush()


# ----- plan links --------------------------------------------------------------------------


async def issue_plan_link(
    session: AsyncSession,
    *,
    organisation_id: int,
    purpose: str,
    issued_to: str,
    nonce: str,
    token_hash: str,
    now: datetime,
    expires_at: datetime,
    person_id: int | None = None,
) -> m.PlanLink:
    """The organisation's link for `purpose`, recorded now unless it was already: asked
    again (a digest rebuilt on the next sweep of its week), the first one is returned."""
    wanted = {
        "organisation_id": organisation_id, "purpose": purpose, "issued_to": issued_to,
        "nonce": nonce, "token_hash": token_hash, "created_at": now, "expires_at": expires_at,
        "person_id": person_id,
    }  # fmt: skip
    (link,) = await issue_plan_links(session, [wanted])
    return link


async def issue_plan_links(session: AsyncSession, wanted: list[dict[str, Any]]) -> list[m.PlanLink]:
    """`issue_plan_link` for many schools in two statements: each school's link for its
    purpose, recorded now unless it was already (then the first one is returned)."""
    await _record_plan_links(session, wanted)
    purposes = {(row["organisation_id"], row["purpose"]) for row in wanted}
    rows = await session.scalars(
        select(m.PlanLink)
        .where(
            m.PlanLink.organisation_id.in_([o for o, _ in purposes]),
            m.PlanLink.purpose.in_({p for _, p in purposes}),
        )
        .execution_options(populate_existing=True)
    )
    return [row for row in rows if (row.organisation_id, row.purpose) in purposes]


async def plan_link_nonces(session: AsyncSession, wanted: list[dict[str, Any]]) -> dict[int, str]:
    """`issue_plan_links` as a digest sweep needs it: each school's link nonce (its own, or
    the one recorded first), read as plain values for a thousand schools at once."""
    await _record_plan_links(session, wanted)
    purposes = {(row["organisation_id"], row["purpose"]) for row in wanted}
    rows = await session.execute(
        select(m.PlanLink.organisation_id, m.PlanLink.purpose, m.PlanLink.nonce).where(
            among(session, m.PlanLink.organisation_id, [o for o, _ in purposes]),
            m.PlanLink.purpose.in_({p for _, p in purposes}),
        )
    )
    return {o: nonce for o, purpose, nonce in rows if (o, purpose) in purposes}


async def _record_plan_links(session: AsyncSession, wanted: list[dict[str, Any]]) -> None:
    if not wanted:
        return
    insert = (
        postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    )(cast(Table, m.PlanLink.__table__))  # Core, not the ORM's slower bulk path
    await session.execute(  # executemany: one cached statement, not 1,000 rows compiled
        insert.on_conflict_do_nothing(index_elements=["organisation_id", "purpose"]),
        [{**row, "uses": 0} for row in wanted],
    )


async def channel_refs_of(
    session: AsyncSession, organisation_ids: Sequence[int]
) -> dict[int, list[m.ConversationRef]]:
    """Each school's channels (its SLT channel on Slack, Teams or both), in one query."""
    out: dict[int, list[m.ConversationRef]] = {}
    if organisation_ids:
        for ref in await session.scalars(
            select(m.ConversationRef)
            .where(
                among(session, m.ConversationRef.organisation_id, organisation_ids),
                m.ConversationRef.kind == "channel",
            )
            .order_by(m.ConversationRef.id)
        ):
            out.setdefault(ref.organisation_id, []).append(ref)
    return out


async def plan_link_by_hash(session: AsyncSession, token_hash: str) -> m.PlanLink | None:
    return await session.scalar(select(m.PlanLink).where(m.PlanLink.token_hash == token_hash))


async def record_plan_link_use(session: AsyncSession, link_id: int, now: datetime) -> None:
    """Count a download (one UPDATE: two downloads at once both count)."""
    await session.execute(
        update(m.PlanLink)
        .where(m.PlanLink.id == link_id)
        .values(uses=m.PlanLink.uses + 1, last_used_at=now)
    )


async def plan_links_of(session: AsyncSession, organisation_id: int) -> list[m.PlanLink]:
    rows = await session.scalars(
        select(m.PlanLink)
        .where(m.PlanLink.organisation_id == organisation_id)
        .order_by(m.PlanLink.id)
    )
    return list(rows)


async def revoke_plan_links(
    session: AsyncSession, organisation_id: int, now: datetime, link_id: int | None = None
) -> int:
    """Revoke one of the organisation's links (`link_id`), or all of them; how many were
    still unrevoked. A link id of another organisation revokes nothing."""
    query = update(m.PlanLink).where(
        m.PlanLink.organisation_id == organisation_id, m.PlanLink.revoked_at.is_(None)
    )
    if link_id is not None:
        query = query.where(m.PlanLink.id == link_id)
    return rowcount(await session.execute(query.values(revoked_at=now)))
