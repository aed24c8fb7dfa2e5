"""The stored "next reminder at" and "next digest at" (issue 12): a sweep reads only what is
due, yet records exactly what reading everything would, whatever changes in between.

Changes go through the real service (the words people type), so every write path the
product has is the one that must mark an action for the next sweep.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from review_scripts import seed_review
from sqlalchemy import bindparam, event, select, text

from bench.seed import seed
from bot import planner as planner_module
from bot.planner import ACTION_BATCH
from bot.reviews import ReviewService, Who, action_view
from bot.scheduler import Dispatcher
from model_data import MaturityModel
from storage import deliveries, repo
from storage import models as m
from storage.db import Database
from workflows.calendar import HalfTerm
from workflows.reminders import ReminderRules, due_reminders

LONDON = ZoneInfo("Europe/London")
SET_ON = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)  # HT3 of 2024/25
SAM = Who("terminal", "sam", "Sam Rivers")


def london(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=LONDON).astimezone(UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def statements(database: Database, read_only: bool = False) -> Iterator[list[str]]:
    """Every SQL statement sent while inside (transaction control left out; with
    `read_only`, a BEGIN IMMEDIATE, SQLite's write lock, fails the test)."""
    seen: list[str] = []
    reading = [read_only]

    def note(conn: object, cursor: object, sql: str, *args: object) -> None:
        if sql.split()[0].upper() in ("BEGIN", "COMMIT", "ROLLBACK"):
            assert "IMMEDIATE" not in sql.upper() or not reading[0], "a read took the write lock"
            return
        seen.append(sql)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def stored(database: Database, organisation_id: int) -> dict[str, datetime | None]:
    async with database.read() as session:
        rows = await repo.organisation_actions(session, organisation_id)
    return {f"{a.statement_id}/{a.position}": a.next_reminder_at for a in rows}


async def reference_keys(service: ReviewService, organisation_id: int, as_of: datetime) -> set[str]:
    """What reading every action (the old sweep) says is due at `as_of`."""
    async with service.db.read() as session:
        organisation = await repo.get_organisation(session, organisation_id)
        assert organisation is not None
        ctx = await service.engine_context(session, organisation, "scheduler", as_of)
        rows = await repo.organisation_actions(session, organisation_id)
        updates = await repo.action_updates(session, [r.id for r in rows])
    assert ctx.calendar is not None
    if ctx.calendar.quiet_reason(as_of.astimezone(LONDON).date()):
        return set()
    snoozed: dict[tuple[int, int], date] = {}
    for update in updates:
        if update.kind == "snoozed" and update.after.get("person_id"):
            key = (update.action_id, int(update.after["person_id"]))
            snoozed[key] = max(
                snoozed.get(key, date.min), date.fromisoformat(update.after["until"])
            )
    views = [action_view(r, ctx, ()) for r in rows]
    rules = ReminderRules.from_settings(organisation.settings)
    return {
        r.key for r in due_reminders(views, ctx.calendar, rules, as_of, "Europe/London", snoozed)
    }


@pytest.mark.parametrize("action_batch", [ACTION_BATCH, 2], ids=["one batch", "batches of 2"])
async def test_sweeps_on_stored_times_record_what_reading_everything_would(
    database: Database, school: MaturityModel, action_batch: int
) -> None:
    """Six weeks of sweeps every three hours, with a snooze, a done, a new deadline and new term dates
    on the way: the keys recorded equal those the old read-everything sweep would record,
    whether a sweep plans everything due at once or two actions per transaction."""
    organisation, sam = await seed_review(database, school, SET_ON)
    clock = Clock(SET_ON)
    service = ReviewService(database, clock)
    run = Dispatcher(service, action_batch=action_batch)
    async with database.read() as session:
        actions = {a.statement_id: a.id for a in await repo.organisation_actions(session, organisation.id)}  # fmt: skip
    expected: set[str] = set()
    moment = london("2025-01-27T00:00")
    later_terms = [  # HT3 ends a week later: the HT3 deadlines move
        HalfTerm("2024/25", n, start, end)
        for n, start, end in (
            (1, date(2024, 9, 4), date(2024, 10, 25)),
            (2, date(2024, 11, 4), date(2024, 12, 20)),
            (3, date(2025, 1, 6), date(2025, 2, 21)),
            (4, date(2025, 3, 3), date(2025, 4, 4)),
            (5, date(2025, 4, 22), date(2025, 5, 23)),
            (6, date(2025, 6, 2), date(2025, 7, 22)),
        )
    ]

    def said(words: str) -> Callable[[], Awaitable[object]]:
        return lambda: service.turn(organisation.id, SAM, words)

    changes: dict[datetime, Callable[[], Awaitable[object]]] = {
        london("2025-02-03T12:00"): said(f"snooze {actions['1.2']}"),
        london("2025-02-05T12:00"): said(f"done {actions['2.1']}"),
        london("2025-02-06T12:00"): lambda: service.set_term_dates(organisation.id, later_terms),
    }
    end = moment + timedelta(weeks=6)
    while moment < end:
        clock.now = moment
        change = changes.pop(moment, None)
        if change is not None:
            await change()
        expected |= await reference_keys(service, organisation.id, moment)
        await run.plan(moment)
        moment += timedelta(hours=3)  # a reminder stays due for a school day at least
    async with database.read() as session:
        recorded = {d.key for d in await deliveries.deliveries(session, organisation.id) if d.kind == "reminder"}  # fmt: skip
    assert expected and recorded == expected
    assert not changes, "every change was made"
    assert any(":before:" in k for k in recorded) and any(":due_week:" in k for k in recorded)
    times = await stored(database, organisation.id)
    assert times["2.1/0"] is None  # done: never read again
    assert sam


async def test_what_changes_an_action_marks_it_for_the_next_sweep(
    database: Database, school: MaturityModel
) -> None:
    organisation, _ = await seed_review(database, school, SET_ON)
    clock = Clock(london("2025-01-31T09:00"))
    service = ReviewService(database, clock)
    await Dispatcher(service).plan(clock.now)
    before = await stored(database, organisation.id)
    assert m.LOOK_NOW not in before.values()
    assert all(t is None or t > clock.now for t in before.values())
    async with database.read() as session:
        ids = {a.statement_id: a.id for a in await repo.organisation_actions(session, organisation.id)}  # fmt: skip
    await service.turn(organisation.id, SAM, f"snooze {ids['1.2']}")
    await service.turn(organisation.id, SAM, f"done {ids['2.1']}")
    after = await stored(database, organisation.id)
    assert after["1.2/0"] == m.LOOK_NOW
    assert after["2.1/0"] is None
    untouched = {k: v for k, v in after.items() if k not in ("1.2/0", "2.1/0")}
    assert untouched == {k: v for k, v in before.items() if k in untouched}
    # A school-wide change (its settings) marks every open action and its digest.
    async with database.transaction() as session:
        row = await repo.get_organisation(session, organisation.id)
        assert row is not None
        row.settings = {**(row.settings or {}), "reminders": {"days_before": 7}}
    marked = await stored(database, organisation.id)
    assert all(v == m.LOOK_NOW for k, v in marked.items() if k != "2.1/0")
    async with database.read() as session:
        school_row = await repo.get_organisation(session, organisation.id)
    assert school_row is not None and school_row.next_digest_at == m.LOOK_NOW


async def test_a_quiet_sweep_reads_two_index_entries_and_takes_no_write_lock(
    database: Database, school: MaturityModel
) -> None:
    organisation, _ = await seed_review(database, school, SET_ON)
    run = Dispatcher(ReviewService(database, lambda: SET_ON))
    await run.plan(london("2025-01-31T09:00"))
    with statements(database, read_only=True) as seen:
        report = await run.plan(london("2025-01-31T10:00"))
    assert report.recorded == 0
    assert len(seen) == 2 and all(s.lstrip().upper().startswith("SELECT") for s in seen), seen
    assert organisation


async def test_a_weekend_waits_for_monday_without_rereading(
    database: Database, school: MaturityModel
) -> None:
    organisation, _ = await seed_review(database, school, SET_ON)
    run = Dispatcher(ReviewService(database, lambda: SET_ON))
    saturday = london("2025-02-01T10:00")
    report = await run.plan(saturday)
    assert report.recorded == 0
    times = await stored(database, organisation.id)
    monday = london("2025-02-03T00:00")
    assert {t for t in times.values() if t is not None} == {monday}
    with statements(database) as seen:
        await run.plan(saturday + timedelta(hours=1))
    assert len(seen) == 2  # nothing re-read all weekend
    report = await run.plan(london("2025-02-03T08:00"))
    assert report.recorded > 0


async def test_a_digest_is_built_once_a_week(
    database: Database, school: MaturityModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    organisation, _ = await seed_review(database, school, SET_ON)
    async with database.transaction() as session:
        await repo.save_conversation_ref(
            session, organisation.id, "slack", "C-SLT", "channel", {}, SET_ON
        )
    built: list[int] = []
    real = planner_module.build_digest

    def counting(*args: object, **kwargs: object) -> object:
        built.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(planner_module, "build_digest", counting)
    run = Dispatcher(ReviewService(database, lambda: SET_ON))
    monday = london("2025-02-03T08:00")
    for hour in range(0, 5 * 24, 1):
        await run.plan(monday + timedelta(hours=hour))
    assert len(built) == 1
    async with database.read() as session:
        digests = [d for d in await deliveries.deliveries(session, organisation.id) if d.kind == "digest"]  # fmt: skip
        row = await repo.get_organisation(session, organisation.id)
    assert [d.key for d in digests] == [f"digest:{organisation.id}:2025-W06"]
    assert row is not None and row.next_digest_at == london("2025-02-10T08:00")


async def test_queries_per_sweep_do_not_grow_with_the_number_of_schools(
    database: Database,
) -> None:
    """Digests and reminders for 3 schools, then for 30: the same number of statements."""
    counts = []
    for schools in (3, 30):
        hub = await seed(database, schools, 6)
        async with database.transaction() as session:  # earlier rounds' schools are done
            await session.execute(
                text(
                    "UPDATE organisations SET next_digest_at = NULL WHERE id NOT IN :ids"
                ).bindparams(bindparam("ids", expanding=True)),
                {"ids": hub.organisation_ids},
            )
            await session.execute(
                text(
                    "UPDATE actions SET next_reminder_at = NULL WHERE organisation_id NOT IN :ids"
                ).bindparams(bindparam("ids", expanding=True)),
                {"ids": hub.organisation_ids},
            )
        run = Dispatcher(ReviewService(database, lambda: SET_ON))
        with statements(database) as seen:
            report = await run.plan(london("2026-01-05T09:00"))  # HT3 2025/26 begins: due
        assert report.recorded >= schools, report
        counts.append(len(seen))
    assert counts[0] == counts[1], counts


async def test_a_sweep_in_batches_plans_every_school_once(database: Database) -> None:
    """25 schools due at once, planned 10 schools per transaction: every
    digest recorded once, every school's next digest stored, and the statements grow with
    the batches (3), not the schools."""
    hub = await seed(database, 25, 6)
    run = Dispatcher(ReviewService(database, lambda: SET_ON), school_batch=10)
    with statements(database) as seen:
        report = await run.plan(london("2026-01-05T09:00"))
    async with database.read() as session:
        digests = [
            d.organisation_id
            for i in hub.organisation_ids
            for d in await deliveries.deliveries(session, i)
            if d.kind == "digest"
        ]
        waiting = await session.scalar(
            text("SELECT count(*) FROM organisations WHERE next_digest_at <= :at"),
            {"at": m.UTCDateTime().process_bind_param(london("2026-01-05T09:00"), database.engine.dialect)},
        )  # fmt: skip
    assert sorted(digests) == sorted(hub.organisation_ids), report
    assert waiting == 0
    again = await run.plan(london("2026-01-05T10:00"))
    assert again.recorded == 0  # the week's digests are all recorded
    batches = sum(1 for s in seen if "organisations.name" in s and "next_digest_at <=" in s)
    assert batches == 3, seen


async def test_0008_marks_open_actions_and_every_school(
    database: Database, school: MaturityModel
) -> None:
    organisation, _ = await seed_review(database, school, SET_ON)
    run = Dispatcher(ReviewService(database, lambda: SET_ON))
    async with database.read() as session:
        ids = {a.statement_id: a.id for a in await repo.organisation_actions(session, organisation.id)}  # fmt: skip
    await ReviewService(database, lambda: SET_ON).turn(organisation.id, SAM, f"done {ids['2.1']}")
    await run.plan(london("2025-01-31T09:00"))
    await database.migrate("0007", down=True)
    await database.migrate()
    times = await stored(database, organisation.id)
    assert times.pop("2.1/0") is None
    assert times and set(times.values()) == {m.LOOK_NOW}
    async with database.read() as session:
        digest_at = await session.scalar(
            select(m.Organisation.next_digest_at).where(m.Organisation.id == organisation.id)
        )
    assert digest_at == m.LOOK_NOW
