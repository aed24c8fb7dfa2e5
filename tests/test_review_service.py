"""A turn on any channel: load, apply, save in one transaction; restarts, retries and isolation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from review_scripts import full_review_lines

from bot.reviews import Inbound, ReviewService, Who
from model_data import MaturityModel
from storage import repo
from storage.db import Database
from workflows.inputs import Fields
from workflows.replies import Message, Question, ShowPlan, StatementPrompt, Step, Tone

SAM = Who("terminal", "sam", "Sam Rivers")
NADIA = Who("slack", "U02", "Nadia Rahman", workspace="T01")


def clock() -> datetime:
    return datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


async def test_a_whole_review_through_the_service(
    database: Database, school: MaturityModel
) -> None:
    service = ReviewService(database, clock)
    organisation = await service.organisation("Hill School", "school")
    opened = await service.open(organisation.id, SAM)
    assert opened.review_id is not None
    last = None
    for line in full_review_lines(school):
        last = await service.turn(organisation.id, SAM, line)
        assert not [r for r in last.replies if isinstance(r, Message) and r.tone is Tone.ERROR], (
            line
        )
    assert last is not None
    assert last.completed
    plan = next(r.plan for r in last.replies if isinstance(r, ShowPlan))
    assert len(plan.rows) == 23
    async with database.transaction() as session:
        review = await repo.get_review(session, opened.review_id, organisation.id)
        assert review is not None
        assert review.completed_at == clock()
        assert len(await repo.load_answers(session, review.id)) == 32


async def test_restart_resumes_where_it_stopped(database: Database, school: MaturityModel) -> None:
    url = database.engine.url.render_as_string(hide_password=False)
    service = ReviewService(database, clock)
    organisation = await service.organisation("Hill School", "school")
    await service.open(organisation.id, SAM)
    for line in full_review_lines(school)[:12]:  # participants, 1.1, then 1.2 up to its owners
        await service.turn(organisation.id, SAM, line)

    # A new process: a new engine on the same database.
    restarted = Database(url)
    try:
        again = ReviewService(restarted, clock)
        same = await again.organisation("Hill School", "school")
        assert same.id == organisation.id
        opened = await again.open(organisation.id, SAM)
        texts = [r.text for r in opened.replies if isinstance(r, Message)]
        assert texts[0].startswith("Welcome back: 1 of 32 statements answered")
        assert "1.2 Leaders' vision" in texts[0]
        prompt = next(r for r in opened.replies if isinstance(r, StatementPrompt))
        assert prompt.statement.id == "1.2"
        # Half-way through 1.2's priority: it carries on with the owners question.
        assert isinstance(opened.replies[-1], Question)
        assert opened.replies[-1].step is Step.OWNERS
    finally:
        await restarted.close()


async def test_a_retried_delivery_is_applied_once(
    database: Database, school: MaturityModel
) -> None:
    service = ReviewService(database, clock)
    organisation = await service.organisation("Hill School", "school")
    await service.open(organisation.id, SAM)
    await service.turn(organisation.id, SAM, "just me", key="ev-1")
    await service.turn(organisation.id, SAM, "2", key="ev-2")
    first = await service.turn(organisation.id, SAM, "Plan https://school.example/plan", key="ev-3")
    retry = await service.turn(organisation.id, SAM, "Plan https://school.example/plan", key="ev-3")
    assert not first.duplicate
    assert retry.duplicate
    assert retry.replies == []
    # A second level answer with a retried key must not move the conversation on either.
    await service.turn(organisation.id, SAM, "done", key="ev-4")
    await service.turn(organisation.id, SAM, "done", key="ev-4")
    async with database.transaction() as session:
        review = await repo.open_review(session, organisation.id)
        assert review is not None
        state = await repo.load_state(session, review)
    assert [e.url for e in state.answers["1.1"].evidence] == ["https://school.example/plan"]
    assert state.cursor.step is Step.NOTE


async def test_concurrent_turns_lose_nothing(database: Database, school: MaturityModel) -> None:
    """Ten links sent at once (two replicas, double clicks): every one is saved, once."""
    service = ReviewService(database, clock)
    organisation = await service.organisation("Hill School", "school")
    await service.open(organisation.id, SAM)
    await service.turn(organisation.id, SAM, "just me")
    await service.turn(organisation.id, SAM, "2")
    urls = [f"https://school.example/evidence/{n}" for n in range(10)]
    results = await asyncio.gather(
        *(service.turn(organisation.id, SAM, url, key=f"link-{n}") for n, url in enumerate(urls)),
        *(service.turn(organisation.id, SAM, url, key=f"link-{n}") for n, url in enumerate(urls)),
    )
    assert sum(1 for r in results if r.duplicate) == 10
    async with database.transaction() as session:
        review = await repo.open_review(session, organisation.id)
        assert review is not None
        answers = await repo.load_answers(session, review.id)
    assert sorted(e.url for e in answers["1.1"].evidence) == sorted(urls)


async def test_two_schools_never_share_a_review(database: Database) -> None:
    service = ReviewService(database, clock)
    hill = await service.organisation("Hill School", "school")
    valley = await service.organisation("Valley College", "college")
    await service.open(hill.id, SAM)
    await service.turn(hill.id, SAM, "just me")
    await service.turn(hill.id, SAM, "3")
    opened = await service.open(valley.id, NADIA)
    assert opened.replies[0].text.startswith("Starting")  # type: ignore[union-attr]
    assert "college / post-16 provider edition, 33 statements" in opened.replies[0].text  # type: ignore[union-attr]
    await service.turn(valley.id, NADIA, "just me")
    async with database.transaction() as session:
        hill_review = await repo.open_review(session, hill.id)
        valley_review = await repo.open_review(session, valley.id)
        assert hill_review is not None
        assert valley_review is not None
        assert hill_review.id != valley_review.id
        assert (await repo.load_answers(session, hill_review.id))["1.1"].level == 3
        assert await repo.load_answers(session, valley_review.id) == {}


async def test_next_review_starts_from_the_last_answers(
    database: Database, school: MaturityModel
) -> None:
    service = ReviewService(database, clock)
    organisation = await service.organisation("Hill School", "school")
    first = await service.open(organisation.id, SAM)
    for line in full_review_lines(school):
        await service.turn(organisation.id, SAM, line)
    reopened = await service.open(organisation.id, SAM)
    assert reopened.review_id == first.review_id
    assert reopened.completed
    second = await service.open(organisation.id, SAM, new=True)
    assert second.review_id != first.review_id
    assert any("Your answers from" in r.text for r in second.replies if isinstance(r, Message))
    await service.turn(organisation.id, SAM, "just me")
    kept = await service.turn(organisation.id, SAM, "keep")
    assert any("Kept your answer for 1.1" in r.text for r in kept.replies if isinstance(r, Message))
    async with database.transaction() as session:
        review = await repo.get_review(session, second.review_id, organisation.id)  # type: ignore[arg-type]
        assert review is not None
        assert review.based_on_id == first.review_id
        answers = await repo.load_answers(session, review.id)
    assert not answers["1.1"].carried
    assert answers["1.2"].carried


async def test_roles_leader_answers_senior_leaders_view(database: Database) -> None:
    service = ReviewService(database, clock)
    organisation = await service.organisation("Hill School", "school")
    leader = Who("slack", "U1", "Sam Rivers", "T1")
    head = Who("slack", "U2", "Pat Head", "T1")
    colleague = Who("slack", "U3", "Nadia Rahman", "T1")
    await service.open(organisation.id, leader)  # the first to start leads
    await service.turn(organisation.id, leader, "just me")
    async with database.transaction() as session:
        people = {p.display_name: p for p in await repo.people(session, organisation.id)}
        assert people["Sam Rivers"].role == "careers_leader"
        for who, role in ((head, "slt"), (colleague, "colleague")):
            person = await repo.person_for_identity(
                session,
                organisation.id,
                who.channel,
                who.external_id,
                who.display_name,
                who.workspace,
            )
            await repo.set_role(session, person, role)

    viewed = await service.open(organisation.id, head)
    assert isinstance(viewed.replies[0], Message)
    assert viewed.replies[0].text.startswith("You can see this review")
    assert any(isinstance(r, ShowPlan) for r in viewed.replies)
    refused = await service.turn(organisation.id, head, "4")
    assert refused.replies[0].tone is Tone.ERROR  # type: ignore[union-attr]
    summary = await service.turn(organisation.id, head, "summary")
    assert summary.replies[0].__class__.__name__ == "ShowSummary"
    # A colleague has their own place: typing before joining answers nothing of the leader's.
    early = await service.turn(organisation.id, colleague, "2")
    assert early.pending is None
    assert "resume" in next(r.text for r in early.replies if isinstance(r, Message))
    joined = await service.open(organisation.id, colleague)
    assert joined.pending is not None and joined.pending.statement_id == "1.1"
    answered = await service.turn(organisation.id, colleague, "2")
    assert (
        next(r.text for r in answered.replies if isinstance(r, Message))
        == "Level 2 saved for 1.1 Distributed careers leadership."
    )
    async with database.transaction() as session:
        review = await repo.open_review(session, organisation.id)
        assert review is not None
        answers = await repo.load_answers(session, review.id)
    assert answers["1.1"].level == 2
    assert answers["1.1"].answered_by == "Nadia Rahman"


async def test_a_form_is_saved_whole_or_not_at_all(database: Database) -> None:
    service = ReviewService(database, clock)
    organisation = await service.organisation("Hill School", "school")
    await service.open(organisation.id, SAM)
    for line in ["just me", "2", "done", "none", "priority"]:
        await service.turn(organisation.id, SAM, line)

    def form(due: str) -> Fields:
        """The priority form as Slack's modal and Teams' card send it."""
        steps = (Step.TARGET, Step.NEXT_STEPS, Step.OWNERS, Step.DUE)
        values = ("3", "Share the plan", "SR", due)
        return Fields(Step.TARGET, "1.1", tuple(zip(steps, values, strict=True)))

    refused = await service.handle(Inbound(organisation.id, SAM, form("HT9")))
    assert refused.refused and refused.refusal is not None
    assert refused.refusal.step is Step.DUE
    assert "no half-term HT9" in refused.replies[0].text  # type: ignore[union-attr]
    async with database.transaction() as session:
        review = await repo.open_review(session, organisation.id)
        assert review is not None
        state = await repo.load_state(session, review)
    assert state.answers["1.1"].action is not None
    assert state.answers["1.1"].action.target_level is None
    assert state.cursor.step is Step.TARGET
    accepted = await service.handle(Inbound(organisation.id, SAM, form("HT3"), key="view-1"))
    assert not accepted.refused
    again = await service.handle(Inbound(organisation.id, SAM, form("HT3"), key="view-1"))
    assert again.duplicate
    async with database.transaction() as session:
        review = await repo.open_review(session, organisation.id)
        assert review is not None
        state = await repo.load_state(session, review)
    assert state.answers["1.1"].complete
    # Saved whole; the review then asks whether 1.1 needs another action.
    assert (state.cursor.statement_id, state.cursor.step) == ("1.1", Step.ANOTHER)
