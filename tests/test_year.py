"""Reviews over the year (issue 10): each case seen, through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from review_scripts import full_review_lines, seed_review
from sqlalchemy import select, text

from bot.reviews import ReviewService, Who
from bot.scheduler import Dispatcher
from model_data import MaturityModel
from storage import models as m
from storage import repo
from storage.db import Database, alembic_config
from workflows.replies import Message, ShowActions

SAM = Who("terminal", "sam", "Sam Rivers")
FIRST = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)
SECOND = datetime(2025, 1, 20, 9, 30, tzinfo=UTC)
# Changing the carried priority 1.6 in the new review: new steps, owner and deadline.
EDIT_16 = ["just me", "go 1.6", "2", "done", "none", "priority", "4", "New steps", "NR", "HT5"]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _two_reviews(database: Database, school: MaturityModel) -> tuple[ReviewService, int]:
    """A completed review (15 Jan) and a second one started (20 Jan) with 1.6 changed."""
    clock = Clock(FIRST)
    service = ReviewService(database, clock)
    organisation = await service.organisation("Hill School", "school")
    await service.open(organisation.id, SAM)
    for line in full_review_lines(school):
        result = await service.turn(organisation.id, SAM, line)
    assert result.completed
    clock.now = SECOND
    await service.open(organisation.id, SAM, new=True)
    for line in EDIT_16:
        await service.turn(organisation.id, SAM, line)
    return service, organisation.id


def _texts(result: object) -> str:
    return "\n".join(r.text for r in result.replies if isinstance(r, Message))  # type: ignore[attr-defined]


async def test_export_keeps_the_completed_reviews_agreed_plan(
    database: Database, school: MaturityModel
) -> None:
    service, organisation_id = await _two_reviews(database, school)
    default = await service.plan_document(organisation_id)
    assert default.review_title == "Careers Impact review – January 2025"
    assert default.summary.answered == 32
    first = await service.plan_document(organisation_id, number=1)
    row = next(r for r in first.plan.rows if r.statement_id == "1.6")
    assert "New steps" not in row.next_steps
    assert (row.by_when, row.owners) == ("HT3/4", ["SR", "JHu"])
    assert not any(u.kind == "edited" for u in row.updates)
    second = await service.plan_document(organisation_id, number=2)
    assert second.review_title == "Careers Impact review – January 2025 (2)"
    changed = next(r for r in second.plan.rows if r.statement_id == "1.6")
    assert changed.next_steps == ["New steps"]
    assert (changed.by_when, changed.owners) == ("HT5", ["NR"])


async def test_the_digest_reports_the_completed_review_and_the_new_ones_progress(
    database: Database, school: MaturityModel
) -> None:
    service, organisation_id = await _two_reviews(database, school)
    notice = await Dispatcher(service, {}).digest_notice(organisation_id, SECOND)
    progress = dict(notice.sections)["Review progress and maturity profile"]
    assert progress[0] == "Careers Impact review – January 2025: 32 of 32 statements answered."
    assert (
        "In progress: Careers Impact review – January 2025 (2), 1 of 32 statements answered."
        in progress
    )  # the 31 carried over and not confirmed are not counted
    # The sweep's profile (levels counted in SQL, no summary rows) is the summary's.
    summary = (await service.plan_document(organisation_id, number=1)).summary
    assert progress[1 : 1 + len(summary.themes)] == [
        f"Theme {t.number} {t.title}: {t.answered}/{t.total} answered, average level "
        f"{'–' if t.average_level is None else format(t.average_level, '.1f')}"
        for t in summary.themes
    ]


async def test_numbers_count_per_school_and_reviews_are_listed(
    database: Database, school: MaturityModel
) -> None:
    await seed_review(
        database, school, FIRST, name="Other School", workspace="T-other"
    )  # 23 actions, review 1
    service, organisation_id = await _two_reviews(database, school)
    listing = _texts(await service.turn(organisation_id, SAM, "reviews"))
    assert listing.splitlines() == [
        "Reviews",
        "#1 Careers Impact review – January 2025: started Wed 15 Jan 2025, completed "
        "Wed 15 Jan 2025; 32 of 32 answered, 23 priorities, 23 actions",
        "#2 Careers Impact review – January 2025 (2): started Mon 20 Jan 2025, in progress; "
        "1 of 32 answered, 23 priorities, 23 actions",
    ]
    shown = await service.turn(organisation_id, SAM, "action 1")
    assert any(getattr(r, "action", None) and r.action.ref == 1 for r in shown.replies)  # type: ignore[attr-defined]
    assert "Marked action #1 (1.2" in _texts(await service.turn(organisation_id, SAM, "done 1"))
    async with database.read() as session:
        numbers = sorted(
            a.number for a in await repo.organisation_actions(session, organisation_id)
        )
        first = await repo.review_by_number(session, organisation_id, 1)
    assert numbers == list(range(1, 24))
    assert first is not None and first.completed_at == FIRST


async def test_actions_outside_a_review_and_closed_lists(
    database: Database, school: MaturityModel
) -> None:
    service, organisation_id = await _two_reviews(database, school)
    added = _texts(await service.turn(organisation_id, SAM, "add action 2.3 Invite employers"))
    assert added.startswith("Added action #24 (2.3 Recording systems): Invite employers.")
    assert "is now due HT5" in _texts(await service.turn(organisation_id, SAM, "move 24 to HT5"))
    assert _texts(await service.turn(organisation_id, SAM, "actions done")) == (
        "No action is done yet."
    )
    await service.turn(organisation_id, SAM, "done 24 shared with SLT")
    await service.turn(organisation_id, SAM, "drop 2 no longer needed")
    done = await service.turn(organisation_id, SAM, "actions done")
    assert [a.ref for r in done.replies if isinstance(r, ShowActions) for a in r.actions] == [24]
    dropped = await service.turn(organisation_id, SAM, "actions dropped")
    assert [a.ref for r in dropped.replies if isinstance(r, ShowActions) for a in r.actions] == [2]


async def test_history_shows_an_answers_changes(database: Database, school: MaturityModel) -> None:
    service, organisation_id = await _two_reviews(database, school)
    lines = _texts(await service.turn(organisation_id, SAM, "history 1.6")).splitlines()
    assert lines[0] == "Changes to 1.6 in Careers Impact review – January 2025 (2)"
    assert "Mon 20 Jan 2025 Sam Rivers: by when HT3/4 -> HT5" in lines
    assert "Mon 20 Jan 2025 Sam Rivers: owners SR / JHu -> NR" in lines
    assert "has not been changed" in _texts(await service.turn(organisation_id, SAM, "history 2.3"))


async def test_0004_numbers_rows_per_school_and_keeps_the_agreed_plan(
    database: Database,
) -> None:
    """Existing rows get per-school numbers; a completed review's plan is rebuilt as it was
    agreed, undoing a later edit of its carried action."""

    def to(revision: str):  # type: ignore[no-untyped-def]
        def run(connection):  # type: ignore[no-untyped-def]
            if revision == "head":
                command.upgrade(alembic_config(connection), "head")
            else:
                command.downgrade(alembic_config(connection), revision)

        return run

    at = FIRST.replace(tzinfo=None)
    later = SECOND.replace(tzinfo=None)
    statements = [
        "INSERT INTO organisations (id, name, edition, timezone, settings, created_at) VALUES "
        "(1, 'Hill', 'school', 'Europe/London', '{}', :at), "
        "(2, 'Dale', 'school', 'Europe/London', '{}', :at)",
        "INSERT INTO reviews (id, organisation_id, edition, title, started_at, completed_at, "
        "conversation, version) VALUES (1, 2, 'school', 'Dale review', :at, :at, '{}', 0), "
        "(2, 1, 'school', 'Hill review', :at, :at, '{}', 0), "
        "(3, 1, 'school', 'Hill again', :later, NULL, '{}', 0)",
        "INSERT INTO actions (id, organisation_id, review_id, statement_id, current_level, "
        "target_level, next_steps, due, due_year, status, created_at, updated_at) VALUES "
        "(1, 2, 1, '1.1', 1, 2, 'Dale steps', 'HT3', '2024/25', 'not_started', :at, :at), "
        "(2, 1, 2, '1.6', 2, 4, 'New steps', 'HT5', '2024/25', 'not_started', :at, :later)",
        "INSERT INTO action_owners (action_id, position, name) VALUES (2, 0, 'NR')",
        "INSERT INTO action_updates (action_id, at, kind, before, after) VALUES "
        "(2, :later, 'edited', :before, '{}')",
        "INSERT INTO responses (id, review_id, statement_id, level, flag, carried, action_id) "
        "VALUES (1, 2, '1.6', 2, 'priority', false, 2), (2, 3, '1.6', 2, 'priority', false, 2)",
    ]
    before = (
        '{"current_level": 2, "target_level": 4, "next_steps": "Old steps", '
        '"owners": ["SR", "JHu"], "due": "HT3/4", "due_year": "2024/25"}'
    )
    await database.migrate("0003", down=True)
    async with database.engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement), {"at": at, "later": later, "before": before})
    await database.migrate()  # as `careers-bot serve` and `db upgrade` do
    async with database.read() as session:
        reviews = {r.id: r.number for r in await session.scalars(select(m.Review))}
        numbers = {a.id: a.number for a in await session.scalars(select(m.Action))}
        answers = await repo.load_answers(session, 2, agreed=True)
        current = await repo.load_answers(session, 3, agreed=True)
    assert reviews == {1: 1, 2: 1, 3: 2}
    assert numbers == {1: 1, 2: 1}
    agreed = answers["1.6"].action
    assert agreed is not None
    assert (agreed.next_steps, agreed.due) == ("Old steps", "HT3/4")
    assert [o.name for o in agreed.owners] == ["SR", "JHu"]
    assert current["1.6"].action is not None and current["1.6"].action.next_steps == "New steps"


async def test_an_added_action_joins_the_statements_actions_in_the_plan(
    database: Database, school: MaturityModel
) -> None:
    """A statement that already has an action takes another one outside the questions, and
    the plan shows both (seed 003 has two on 3.7)."""
    service, organisation_id = await _two_reviews(database, school)
    before = await service.plan_document(organisation_id, number=2)
    on_16 = [r for r in before.plan.rows if r.statement_id == "1.6"]
    added = _texts(await service.turn(organisation_id, SAM, "add action 1.6 Brief governors"))
    assert added.startswith("Added action #24")
    after = await service.plan_document(organisation_id, number=2)
    rows = [r for r in after.plan.rows if r.statement_id == "1.6"]
    assert len(rows) == len(on_16) + 1
    assert rows[-1].next_steps == ["Brief governors"]
