"""A fast seeding helper for groups: many schools, each with a review's levels and a few
actions, written as rows directly (no conversation replayed), and the group they belong to.
What was seeded is returned, so tests compute the expected figures on their own."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from model_data import load_model
from storage import groups as repo_groups
from storage import models as m
from storage.db import Database

SEEDED_AT = datetime(2025, 1, 20, 9, 0, tzinfo=UTC)
# Today for the tests: 3 March 2025, so an HT1 2024/25 deadline is past and HT6 is not.
TODAY_AT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@dataclass
class SeededAction:
    due: str | None
    due_year: str | None
    owners: int
    owners_tbc: bool = False
    due_tbc: bool = False
    status: str = "not_started"


@dataclass
class SeededSchool:
    organisation_id: int
    name: str
    edition: str
    completed: bool
    levels: dict[str, int]  # the review's answers
    actions: list[SeededAction] = field(default_factory=list)


def plan_school(rng: random.Random, i: int, edition: str, sparse: set[str]) -> SeededSchool:
    """Levels for every statement (except the `sparse` ones, answered by few schools), a
    review completed unless every seventh school, and four actions of various kinds."""
    model = load_model(edition)
    levels = {
        s.id: rng.randint(1, 4)
        for s in model.statements
        if s.id not in sparse or i < 4  # only the first four schools answer a sparse one
    }
    actions = [
        SeededAction("HT1", "2024/25", owners=1),  # overdue by March 2025
        SeededAction("HT6", "2024/25", owners=2),  # not yet due
        SeededAction(None, None, owners=0, owners_tbc=rng.random() < 0.5),  # no owner, no date
        SeededAction("HT2", "2024/25", owners=1, status="done"),  # closed: never counted
    ]
    if i % 3 == 0:
        actions.append(SeededAction(None, None, owners=1, due_tbc=True))  # date TBC
    return SeededSchool(0, f"{edition.title()} {i:02d} Academy", edition, i % 7 != 6, levels,
                        actions)  # fmt: skip


async def seed_group(
    database: Database,
    name: str,
    schools: int,
    edition: str = "school",
    *,
    seed: int = 13,
    sparse: set[str] | None = None,
    kind: str = "hub",
    extra: list[tuple[str, int]] = (),  # type: ignore[assignment]
) -> tuple[int, list[SeededSchool]]:
    """A group with `schools` accepted members (and `extra` (edition, count) more), each with
    one review and its actions, in a handful of bulk inserts."""
    rng = random.Random(seed)
    planned = [plan_school(rng, i, edition, sparse or set()) for i in range(schools)]
    for other, n in extra:
        planned += [plan_school(rng, 100 + i, other, set()) for i in range(n)]
    async with database.transaction() as session:
        group = await repo_groups.create_group(session, name, kind)
        orgs = [m.Organisation(name=f"{name} {p.name}", edition=p.edition) for p in planned]
        session.add_all(orgs)
        await session.flush()
        reviews = [
            m.Review(
                organisation_id=o.id,
                number=1,
                edition=p.edition,
                title="Review",
                conversation={},
                started_at=SEEDED_AT,
                completed_at=SEEDED_AT if p.completed else None,
            )
            for o, p in zip(orgs, planned, strict=True)
        ]
        session.add_all(reviews)
        await session.flush()
        session.add_all(
            m.Response(review_id=r.id, statement_id=sid, level=level)
            for r, p in zip(reviews, planned, strict=True)
            for sid, level in p.levels.items()
        )
        actions: list[tuple[m.Action, SeededAction]] = []
        for o, r, p in zip(orgs, reviews, planned, strict=True):
            p.organisation_id, p.name = o.id, o.name
            first = next(iter(p.levels), "1.1")
            for n, a in enumerate(p.actions):
                row = m.Action(
                    organisation_id=o.id, number=n + 1, review_id=r.id, statement_id=first,
                    position=n, current_level=1, target_level=2, due=a.due, due_year=a.due_year,
                    status=a.status, owners_tbc=a.owners_tbc, due_tbc=a.due_tbc,
                )  # fmt: skip
                actions.append((row, a))
        session.add_all(row for row, _ in actions)
        await session.flush()
        session.add_all(
            m.ActionOwner(action_id=row.id, position=k, name=f"Owner {k}")
            for row, a in actions
            for k in range(a.owners)
        )
        session.add_all(
            m.GroupMember(
                group_id=group.id,
                organisation_id=o.id,
                invited_at=SEEDED_AT,
                invited_by="seed",
                accepted_at=SEEDED_AT,
            )
            for o in orgs
        )
    return group.id, planned
