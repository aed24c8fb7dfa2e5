"""A Careers Hub's worth of schools, written fast with bulk inserts, for the scale benchmarks.

Each school has a Careers Leader and a senior leader (both reachable in Slack), an SLT
channel, one completed review with every statement answered, and its actions spread over
the year's half-terms so that a chosen share falls due on the benchmark's day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from model_data import load_model
from storage import models as m
from storage.db import Database

HALF_TERMS = ("HT1", "HT2", "HT3", "HT4", "HT5", "HT6")


@dataclass(frozen=True)
class Hub:
    schools: int
    actions: int  # in all
    organisation_ids: list[int]


async def seed(
    db: Database,
    schools: int,
    actions_per_school: int,
    *,
    year: str = "2025/26",
    open_share: float = 1.0,
    seed_value: int = 7,
    started: datetime = datetime(2025, 9, 8, 9, 0, tzinfo=UTC),
) -> Hub:
    """`schools` schools with `actions_per_school` actions each; `open_share` of them open."""
    rng = random.Random(seed_value)
    model = load_model("school")
    statement_ids = [s.id for s in model.statements]
    async with db.transaction() as session:
        first = int(await session.scalar(text("SELECT COALESCE(MAX(id), 0) FROM organisations")))
        organisations = [
            {
                "id": first + n + 1,
                "name": f"Bench School {first + n + 1}",
                "edition": "school",
                "timezone": "Europe/London",
                "settings": {},
                "created_at": started,
            }
            for n in range(schools)
        ]
        await session.execute(insert(m.Organisation), organisations)
        org_ids = [o["id"] for o in organisations]
        person_base = int(await session.scalar(text("SELECT COALESCE(MAX(id), 0) FROM people")))
        people = []
        for index, org in enumerate(org_ids):
            for offset, (name, role) in enumerate(
                (("Careers Leader", "careers_leader"), ("Senior Leader", "slt"))
            ):
                people.append(
                    {
                        "id": person_base + 2 * index + offset + 1,
                        "organisation_id": org,
                        "display_name": f"{name} {org}",
                        "initials": "CL" if offset == 0 else "SL",
                        "role": role,
                        "created_at": started,
                    }
                )
        await session.execute(insert(m.Person), people)
        refs = []
        for person in people:
            refs.append(
                {
                    "organisation_id": person["organisation_id"],
                    "channel": "slack",
                    "conversation_id": f"D{person['id']:07d}",
                    "kind": "personal",
                    "person_id": person["id"],
                    "reference": {"team_id": f"T{person['organisation_id']:06d}"},
                    "updated_at": started,
                }
            )
        for org in org_ids:
            refs.append(
                {
                    "organisation_id": org,
                    "channel": "slack",
                    "conversation_id": f"C{org:07d}",
                    "kind": "channel",
                    "person_id": None,
                    "reference": {"team_id": f"T{org:06d}"},
                    "updated_at": started,
                }
            )
        await session.execute(insert(m.ConversationRef), refs)
        review_base = int(await session.scalar(text("SELECT COALESCE(MAX(id), 0) FROM reviews")))
        reviews = [
            {
                "id": review_base + index + 1,
                "organisation_id": org,
                "number": 1,
                "edition": "school",
                "title": "Autumn review",
                "started_at": started,
                "completed_at": started + timedelta(days=14),
                "conversation": {},
                "version": 1,
            }
            for index, org in enumerate(org_ids)
        ]
        await session.execute(insert(m.Review), reviews)
        responses = [
            {
                "review_id": review["id"],
                "statement_id": statement,
                "level": rng.randint(1, 4),
                "note": "Seen in the careers programme",
                "flag": "none",
                "answered_by": "Careers Leader",
                "answered_at": started,
            }
            for review in reviews
            for statement in statement_ids
        ]
        await session.execute(insert(m.Response), responses)
        action_base = int(await session.scalar(text("SELECT COALESCE(MAX(id), 0) FROM actions")))
        actions, owners = [], []
        for index, org in enumerate(org_ids):
            for n in range(actions_per_school):
                action_id = action_base + index * actions_per_school + n + 1
                statement = statement_ids[n % len(statement_ids)]
                is_open = rng.random() < open_share
                actions.append(
                    {
                        "id": action_id,
                        "organisation_id": org,
                        "number": n + 1,
                        "review_id": reviews[index]["id"],
                        "statement_id": statement,
                        "position": n // len(statement_ids),
                        "current_level": 1,
                        "target_level": 3,
                        "next_steps": f"Next step {n + 1}",
                        "due": rng.choice(HALF_TERMS),
                        "due_year": year,
                        "status": "in_progress" if is_open else "done",
                        "owners_tbc": False,
                        "due_tbc": False,
                        "created_at": started,
                        "updated_at": started,
                    }
                )
                owners.append(
                    {
                        "action_id": action_id,
                        "position": 0,
                        "name": "CL",
                        "person_id": people[2 * index]["id"],
                    }
                )
        for chunk in range(0, len(actions), 5000):
            await session.execute(insert(m.Action), actions[chunk : chunk + 5000])
            await session.execute(insert(m.ActionOwner), owners[chunk : chunk + 5000])
    return Hub(schools, len(actions), org_ids)
