"""Following actions through the year, in the conversation: lists, updates, history, carry-forward."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from review_scripts import seed_review

from bot.reviews import ReviewService, Who
from model_data import MaturityModel
from storage import repo
from storage.db import Database
from workflows.actions import ActOn, ListActions, Listing, Verb, parse_command
from workflows.plan import ActionStatus
from workflows.replies import Message, ShowAction, ShowActions, Tone

SAM = Who("terminal", "sam", "Sam Rivers")


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my actions", ListActions(Listing.MINE)),
        ("Actions due this half-term", ListActions(Listing.DUE)),
        ("overdue?", ListActions(Listing.OVERDUE)),
        ("actions", ListActions(Listing.ALL)),
        ("done 12", ActOn(Verb.DONE, 12, "")),
        ("done #12: shared with SLT", ActOn(Verb.DONE, 12, "shared with SLT")),
        (
            "progress 3 Met the EA https://x.example/notes",
            ActOn(Verb.PROGRESS, 3, "Met the EA https://x.example/notes"),
        ),
        ("reassign 4 to NR, SR", ActOn(Verb.REASSIGN, 4, "to NR, SR")),
        ("move action 5 to HT5", ActOn(Verb.MOVE, 5, "to HT5")),
        ("action 7", ActOn(Verb.SHOW, 7, "")),
        ("2", None),
        ("done", None),
        ("Share the plan with governors", None),
    ],
)
def test_parse_command(text: str, expected: object) -> None:
    assert parse_command(text) == expected


async def reviewed(
    database: Database, school: MaturityModel, clock: Clock, name: str = "Hill School"
):  # type: ignore[no-untyped-def]
    """Hill School's finished review (seed 003), answered by Sam at the clock's time."""
    organisation, _ = await seed_review(database, school, clock(), name)
    return ReviewService(database, clock), organisation


def texts(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.text for r in result.replies if isinstance(r, Message)]


async def test_deadlines_get_real_dates_and_lists_follow_them(
    database: Database, school: MaturityModel
) -> None:
    clock = Clock(datetime(2025, 1, 15, 9, 30, tzinfo=UTC))  # HT3 of 2024/25
    service, organisation = await reviewed(database, school, clock)
    async with database.transaction() as session:
        rows = {
            a.statement_id: a for a in await repo.organisation_actions(session, organisation.id)
        }
    assert len(rows) == 23
    assert (rows["1.2"].due, rows["1.2"].due_year) == ("HT3", "2024/25")
    assert (rows["1.6"].due, rows["1.6"].due_year) == ("HT3/4", "2024/25")
    assert (rows["2.2"].due, rows["2.2"].due_year) == ("ongoing", None)

    mine = await service.turn(organisation.id, SAM, "my actions")
    listing = mine.replies[0]
    assert isinstance(listing, ShowActions)
    # Sam is "SR": every action owned by SR, soonest first; 4.2 (HOFS / ALL STAFF) is not Sam's.
    ids = [a.statement_id for a in listing.actions]
    assert "4.2" not in ids
    assert "1.2" in ids
    assert listing.actions[0].due_date is not None
    assert str(listing.actions[0].due_date) == "2025-02-14"
    assert listing.actions[0].by_when == "HT3 (ends Fri 14 Feb 2025)"

    due = await service.turn(organisation.id, SAM, "due this half-term")
    assert isinstance(due.replies[0], ShowActions)
    assert {a.due for a in due.replies[0].actions} == {"HT3"}

    nothing = await service.turn(organisation.id, SAM, "overdue")
    assert texts(nothing) == ["Nothing is overdue."]
    clock.moment = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)  # HT4: the HT3 deadlines have passed
    overdue = await service.turn(organisation.id, SAM, "overdue")
    assert isinstance(overdue.replies[0], ShowActions)
    assert {a.due for a in overdue.replies[0].actions} == {"HT3"}
    assert all(a.overdue(overdue.replies[0].today) for a in overdue.replies[0].actions)


async def test_progress_done_reassign_and_move_keep_their_history(
    database: Database, school: MaturityModel
) -> None:
    clock = Clock(datetime(2025, 1, 15, 9, 30, tzinfo=UTC))
    service, organisation = await reviewed(database, school, clock)
    async with database.transaction() as session:
        rows = {
            a.statement_id: a for a in await repo.organisation_actions(session, organisation.id)
        }
    number = rows["1.2"].id

    clock.moment = datetime(2025, 1, 20, 16, 0, tzinfo=UTC)
    result = await service.turn(
        organisation.id, SAM, f"progress {number} Drafted the vision https://school.example/vision"
    )
    assert texts(result) == [f"Noted progress on action #{number} (1.2 Leaders' vision)."]
    result = await service.turn(organisation.id, SAM, f"reassign {number} to NR / HOFS")
    assert texts(result) == [f"Action #{number} (1.2 Leaders' vision) now belongs to NR / HOFS."]
    result = await service.turn(organisation.id, SAM, f"move {number} to HT5")
    assert texts(result) == [
        f"Action #{number} (1.2 Leaders' vision) is now due HT5 - ends Fri 23 May 2025."
    ]
    clock.moment = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    result = await service.turn(organisation.id, SAM, f"done {number} Shared with governors")
    assert texts(result) == [f"Marked action #{number} (1.2 Leaders' vision) as done."]

    shown = await service.turn(organisation.id, SAM, f"action {number}")
    detail = shown.replies[0]
    assert isinstance(detail, ShowAction)
    assert detail.action.status is ActionStatus.DONE
    assert detail.action.owner_names == ["NR", "HOFS"]
    assert detail.action.due == "HT5"
    assert [(u.kind, u.note, u.link) for u in detail.action.updates] == [
        ("progress", "Drafted the vision", "https://school.example/vision"),
        ("reassigned", None, None),
        ("deadline", None, None),
        ("done", "Shared with governors", None),
    ]
    async with database.transaction() as session:
        updates = await repo.action_updates(session, [number])
    assert updates[1].before == {"owners": ["SR"]}
    assert updates[1].after == {"owners": ["NR", "HOFS"]}
    assert updates[2].before == {"due": "HT3", "due_year": "2024/25"}
    assert updates[2].after == {"due": "HT5", "due_year": "2024/25"}
    assert updates[0].by == "Sam Rivers"
    # A finished action is no longer on anyone's list.
    mine = await service.turn(organisation.id, SAM, "my actions")
    assert number not in [a.id for a in mine.replies[0].actions]  # type: ignore[union-attr]


BAD_COMMANDS = [
    ("done 99999", "There is no action #99999 here"),
    ("progress {n}", "Say what has happened"),
    ("reassign {n} to", "Say who to"),
    ("move {n} to HT9", "There is no half-term HT9"),
    ("move {n} to soon", "is not a deadline I know"),
    ("move {n}", "Say when it is due now, e.g. 'move {n} to HT5'"),
    ("move {n} to", "Say when it is due now"),
]


async def test_bad_action_commands_are_refused_and_change_nothing(
    database: Database, school: MaturityModel
) -> None:
    service, organisation = await reviewed(
        database, school, Clock(datetime(2025, 1, 15, 9, 30, tzinfo=UTC))
    )

    async def snapshot():  # type: ignore[no-untyped-def]
        async with database.transaction() as session:
            rows = await repo.organisation_actions(session, organisation.id)
            updates = await repo.action_updates(session, [a.id for a in rows])
            return {a.id: (a.status, a.due, [o.name for o in a.owners]) for a in rows}, updates

    before, _ = await snapshot()
    number = min(before)
    for command, says in BAD_COMMANDS:
        result = await service.turn(organisation.id, SAM, command.format(n=number))
        errors = [r.text for r in result.replies if isinstance(r, Message) and r.tone is Tone.ERROR]
        assert errors, command
        assert says.format(n=number) in errors[0], command
        after, updates = await snapshot()
        assert after == before, command
        assert updates == [], command


async def test_another_schools_action_cannot_be_touched(
    database: Database, school: MaturityModel
) -> None:
    clock = Clock(datetime(2025, 1, 15, 9, 30, tzinfo=UTC))
    service, hill = await reviewed(database, school, clock)
    valley = await service.organisation("Valley School", "school")
    async with database.transaction() as session:
        hill_action = (await repo.organisation_actions(session, hill.id))[0]
    stranger = Who("terminal", "val", "Val Jones")
    result = await service.turn(valley.id, stranger, f"done {hill_action.id}")
    assert texts(result) == [
        f"There is no action #{hill_action.id} here. Type 'actions' to see the open actions and their numbers."
    ]
    async with database.transaction() as session:
        untouched = await repo.get_action(session, hill_action.id, hill.id)
    assert untouched is not None
    assert untouched.status == "not_started"


async def test_next_review_carries_open_actions_forward_without_duplicates(
    database: Database, school: MaturityModel
) -> None:
    clock = Clock(datetime(2025, 1, 15, 9, 30, tzinfo=UTC))
    service, organisation = await reviewed(database, school, clock)
    async with database.transaction() as session:
        first = {
            a.statement_id: a.id for a in await repo.organisation_actions(session, organisation.id)
        }
    await service.turn(organisation.id, SAM, f"done {first['1.3']} Plan shared")

    clock.moment = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
    await service.open(organisation.id, SAM, new=True)
    await service.turn(organisation.id, SAM, "just me")
    await service.turn(organisation.id, SAM, "keep")  # 1.1 strength
    kept = await service.turn(organisation.id, SAM, "keep")  # 1.2 priority, action still open
    assert any("Kept your answer for 1.2" in t for t in texts(kept))
    # 1.3's action is done: keeping 1.3 as a priority asks for a new target and plan.
    again = await service.turn(organisation.id, SAM, "keep")
    assert again.replies[-1].step.value == "target"  # type: ignore[union-attr]
    for line in ["4", "Embed the plan in SLT meetings", "SR", "HT4"]:
        await service.turn(organisation.id, SAM, line)
    async with database.transaction() as session:
        actions = await repo.organisation_actions(session, organisation.id)
        review = await repo.open_review(session, organisation.id)
        assert review is not None
        linked = {a.statement_id: a.id for a in await repo.actions_for_review(session, review.id)}
        carried_updates = await repo.action_updates(session, [first["1.2"]])
    assert len(actions) == 24  # one new action for 1.3, none duplicated
    assert linked["1.2"] == first["1.2"]
    assert linked["1.3"] != first["1.3"]
    assert [u.kind for u in carried_updates] == ["carried"]
    new_13 = next(a for a in actions if a.id == linked["1.3"])
    assert (new_13.due, new_13.due_year) == ("HT4", "2025/26")


async def test_snooze_pauses_reminders_for_a_week(
    database: Database, school: MaturityModel
) -> None:
    clock = Clock(datetime(2025, 1, 15, 9, 30, tzinfo=UTC))
    service, organisation = await reviewed(database, school, clock)
    async with database.transaction() as session:
        number = next(
            a.id
            for a in await repo.organisation_actions(session, organisation.id)
            if a.statement_id == "1.2"
        )
    result = await service.turn(organisation.id, SAM, f"snooze {number}")
    assert texts(result) == [
        f"Reminders for action #{number} (1.2 Leaders' vision) are paused for a week."
    ]
    async with database.transaction() as session:
        updates = await repo.action_updates(session, [number])
        people = await repo.people(session, organisation.id)
    assert [u.kind for u in updates] == ["snoozed"]
    assert updates[0].after == {"until": "2025-01-22", "person_id": people[0].id}


def test_every_link_in_an_update_is_kept() -> None:
    from workflows.actions import _note_and_link

    assert _note_and_link("Shared https://a.example/1") == ("Shared", "https://a.example/1")
    note, link = _note_and_link(
        "Shared with governors https://a.example/1 and minutes https://b.example/2, "
        "https://c.example/3"
    )
    assert link == "https://a.example/1"  # an update stores one link: the first
    assert note == "Shared with governors; minutes https://b.example/2; https://c.example/3"
    assert _note_and_link("https://a.example/1 https://b.example/2") == (
        "https://b.example/2",
        "https://a.example/1",
    )
