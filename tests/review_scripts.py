"""Answer scripts for whole reviews, built from seed 003 (a real school's plan), used across tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from model_data import MaturityModel, load_glossary
from storage import repo
from storage.db import Database
from storage.models import Organisation
from workflows.calendar import default_calendar
from workflows.review import Context, Person, handle, new_review, open_review

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Priority:
    id: str
    current_level: int
    target_level: int
    next_steps: list[str]
    by_when: str  # "ongoing" where the school gave none
    owners: list[str]  # "SR" (the Careers Leader) where the school named none


def seed003_priorities() -> list[Priority]:
    data: dict[str, Any] = yaml.safe_load((FIXTURES / "seed003_plan.yaml").read_text("utf-8"))
    return [
        Priority(
            id=p["id"],
            current_level=p["current_level"],
            target_level=p["target_level"],
            next_steps=p["next_steps"],
            by_when=p["by_when"] or "ongoing",
            owners=p["owners"] or ["SR"],
        )
        for p in data["priorities"]
    ]


# Statements seed 003 does not list as priorities: a plausible level, some marked strengths.
OTHER_LEVEL = 3
STRENGTHS = {"1.1", "2.5", "5.3"}


def statement_lines(
    statement_id: str, priority: Priority | None, level: int | None = None
) -> list[str]:
    """What a careers leader types for one statement."""
    if priority is None:
        flag = "strength" if statement_id in STRENGTHS else "neither"
        return [str(level or OTHER_LEVEL), "done", "none", flag]
    return [
        str(priority.current_level),
        f"Evidence for {statement_id} https://school.example/evidence/{statement_id}",
        "done",
        f"Note on {statement_id}",
        "priority",
        str(priority.target_level),
        "; ".join(priority.next_steps),
        ", ".join(priority.owners),
        priority.by_when,
        "no",  # no other action for this statement
    ]


def full_review_lines(model: MaturityModel, priorities: list[Priority] | None = None) -> list[str]:
    """Every answer of a complete review, in order (participants first)."""
    chosen = {p.id: p for p in (seed003_priorities() if priorities is None else priorities)}
    lines = ["Sam Rivers, Nadia Rahman"]
    for statement in model.statements:
        lines += statement_lines(statement.id, chosen.get(statement.id))
    return lines


async def seed_review(
    database: Database,
    model: MaturityModel,
    now: datetime,
    name: str = "Hill School",
    workspace: str = "",
) -> tuple[Organisation, int]:
    """A complete review with seed 003's answers, saved in one go (fast, for tests that start
    from a finished review). Sam Rivers ("SR", Careers Leader) answered it; returns the
    organisation and Sam's person id."""
    async with database.transaction() as session:
        organisation = await repo.create_organisation(session, name, model.edition.value)
        sam = await repo.person_for_identity(
            session, organisation.id, "terminal", "sam", "Sam Rivers", workspace
        )
        sam.role = "careers_leader"
        ctx = Context(
            model,
            load_glossary(),
            now,
            "Sam Rivers",
            (Person(sam.id, "Sam Rivers", "SR"),),
            default_calendar(),
            actor_id=sam.id,
        )
        state = new_review(model, "Careers Leadership action plan and summary – January 2025")
        review = await repo.create_review(session, organisation, state, now)
        after = open_review(state, ctx).state
        for line in full_review_lines(model):
            after = handle(after, line, ctx).state
        await repo.save_state(session, review, state, after, sam.id, now)
        return organisation, sam.id
