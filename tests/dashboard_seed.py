"""A seeded database for the dashboard tests: Hill School with two completed reviews (the
second based on the first, some levels changed), its seed-003 actions (some overdue), and
Careers Hubs of six schools and of three (too few: suppressed), each with a lead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from review_scripts import seed_review

from model_data import load_model
from storage import models as m
from storage import repo
from storage.db import Database
from workflows.review import new_review

FIRST = datetime(2025, 1, 20, 9, 0, tzinfo=UTC)
SECOND = datetime(2026, 1, 19, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday in HT4 2025/26
RAISED = ("1.2", "2.1", "3.2")  # one level up at the second review
LOWERED = ("4.1",)


@dataclass(frozen=True)
class Seeded:
    hill: int
    sam: int  # Hill's Careers Leader
    valley: int
    hub: int  # six schools
    lead: int  # the hub's lead
    small: int  # three schools: figures suppressed
    small_lead: int


async def second_review(database: Database, organisation_id: int, person_id: int) -> None:
    """A completed review a year on, started from the first one's answers."""
    model = load_model("school")
    async with database.transaction() as session:
        organisation = await repo.get_organisation(session, organisation_id)
        first = await repo.latest_review(session, organisation_id, completed=True)
        assert organisation is not None and first is not None
        answers = await repo.load_answers(session, first.id, open_actions_only=True)
        state = new_review(
            model, "Internal leadership review – January 2026", previous=answers,
            previous_title=first.title,
        )  # fmt: skip
        review = await repo.create_review(session, organisation, state, SECOND, based_on=first)
        changed = {}
        for sid, answer in state.answers.items():
            level = answers[sid].level or 2
            level += 1 if sid in RAISED else -1 if sid in LOWERED else 0
            changed[sid] = answer.model_copy(
                update={"level": max(1, min(4, level)), "carried": False}
            )
        after = state.model_copy(update={"answers": changed, "completed": True})
        await repo.save_state(session, review, state, after, person_id, SECOND)


async def seed(database: Database) -> Seeded:
    model = load_model("school")
    hill, sam = await seed_review(database, model, FIRST)
    await second_review(database, hill.id, sam)
    others = []
    for name in ("Valley", "Ridge", "Brook", "Meadow", "Harbour", "Moor", "Dale"):
        school, _ = await seed_review(database, model, FIRST, name=f"{name} School", workspace=name)
        others.append(school.id)
    async with database.transaction() as session:
        hub = m.Group(name="North Careers Hub", kind="hub")
        small = m.Group(name="Little Trust", kind="trust")
        session.add_all([hub, small])
        await session.flush()
        lead = m.GroupLead(
            group_id=hub.id, name="Hana Lee", role="hub_lead", channel="slack",
            workspace="T_HUB", external_id="U_HANA",
        )  # fmt: skip
        small_lead = m.GroupLead(
            group_id=small.id, name="Tom Ode", role="trust_careers_lead", channel="teams",
            workspace="", external_id="tom",
        )  # fmt: skip
        session.add_all([lead, small_lead])
        for school_id in [hill.id, *others[:5]]:
            session.add(
                m.GroupMember(group_id=hub.id, organisation_id=school_id, accepted_at=FIRST)
            )
        session.add(m.GroupMember(group_id=hub.id, organisation_id=others[5]))  # not accepted
        for school_id in others[4:7]:
            session.add(
                m.GroupMember(group_id=small.id, organisation_id=school_id, accepted_at=FIRST)
            )
        await session.flush()
        return Seeded(hill.id, sam, others[0], hub.id, lead.id, small.id, small_lead.id)
