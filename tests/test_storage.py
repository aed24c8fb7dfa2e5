"""Storage contract suite: every test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import NOW, make_context
from review_scripts import full_review_lines
from sqlalchemy import select, text

from model_data import MaturityModel
from storage import models as m
from storage import repo
from storage.db import HEAD, Database, alembic_config
from workflows.review import handle, new_review, open_review


async def test_migrations_produce_exactly_the_models_schema(database: Database) -> None:
    def diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, m.Base.metadata)

    async with database.engine.connect() as connection:
        assert await connection.run_sync(diff) == []
        version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert version == HEAD  # storage.db.HEAD: a server at head skips loading Alembic
    assert await database.at_head()


async def test_0002_gives_the_old_shared_place_to_whoever_answered_last(
    database: Database,
) -> None:
    """A review in progress before places were per person resumes exactly where it was."""

    await database.migrate("0001", down=True)
    async with database.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO organisations (id, name, edition, timezone, settings, created_at) "
                "VALUES (1, 'Hill School', 'school', 'Europe/London', '{}', :now)"
            ),
            {"now": NOW.replace(tzinfo=None)},
        )
        await connection.execute(
            text(
                "INSERT INTO people (id, organisation_id, display_name, created_at) "
                "VALUES (7, 1, 'Sam Rivers', :now)"
            ),
            {"now": NOW.replace(tzinfo=None)},
        )
        await connection.execute(
            text(
                "INSERT INTO reviews (id, organisation_id, edition, title, started_at, "
                "conversation, version) VALUES (1, 1, 'school', 'R', :now, :conversation, 3)"
            ),
            {
                "now": NOW.replace(tzinfo=None),
                "conversation": '{"cursor": {"statement_id": "2.3", "step": "note", '
                '"paused": false, "shown_theme": 2}, "participants": ["Sam Rivers"]}',
            },
        )
        await connection.execute(
            text(
                "INSERT INTO responses (review_id, statement_id, level, carried, "
                "answered_by_id, answered_at) VALUES (1, '2.3', 2, false, 7, :now)"
            ),
            {"now": NOW.replace(tzinfo=None)},
        )
    await database.migrate()
    async with database.transaction() as session:
        review = await repo.get_review(session, 1)
        assert review is not None
        state = await repo.load_state(session, review)
    assert state.last_actor == "7"
    assert state.cursors["7"].statement_id == "2.3"
    assert state.cursors["7"].step.value == "note"
    assert state.participants == ["Sam Rivers"]


async def test_migrating_twice_is_harmless(database: Database) -> None:
    await database.migrate()
    async with database.transaction() as session:
        assert await repo.find_organisations(session, "nobody") == []


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        async with db.engine.connect() as connection:
            assert (await connection.scalar(text("PRAGMA journal_mode"))) == "wal"
            assert (await connection.scalar(text("PRAGMA busy_timeout"))) == 5000
            assert (await connection.scalar(text("PRAGMA foreign_keys"))) == 1
    finally:
        await db.close()


async def _review_with_answers(db: Database, model: MaturityModel, lines: list[str]):  # type: ignore[no-untyped-def]
    ctx = make_context(model)
    async with db.transaction() as session:
        organisation = await repo.create_organisation(session, "Hill School", "school")
        person = await repo.person_for_identity(
            session, organisation.id, "terminal", "sam", "Sam Rivers"
        )
        state = new_review(model, "Internal leadership review, January 2025")
        review = await repo.create_review(session, organisation, state, NOW)
        before = state
        after = open_review(before, ctx).state
        for line in lines:
            after = handle(after, line, ctx).state
        await repo.save_state(session, review, before, after, person.id, NOW)
    return organisation, review, after


async def test_answers_round_trip(database: Database, school: MaturityModel) -> None:
    organisation, review, state = await _review_with_answers(
        database, school, full_review_lines(school)
    )
    async with database.transaction() as session:
        stored = await session.get(m.Review, review.id)
        assert stored is not None
        loaded = await repo.load_state(session, stored)
        actions = await repo.actions_for_review(session, review.id)
        participants = [p.name for p in stored.participants]

    def without_ids(answers):  # type: ignore[no-untyped-def]
        return {
            sid: a.model_dump(exclude={"actions": {"__all__": {"action_id"}}})
            for sid, a in answers.items()
        }

    assert without_ids(loaded.answers) == without_ids(state.answers)
    assert all(
        a.action is not None and a.action.action_id is not None
        for a in loaded.answers.values()
        if a.flag is not None and a.flag.value == "priority"
    )
    assert loaded.cursor == state.cursor
    assert loaded.completed
    assert stored.completed_at == NOW
    assert participants == ["Sam Rivers", "Nadia Rahman"]
    assert len(actions) == 23
    action = next(a for a in actions if a.statement_id == "1.6")
    assert (action.current_level, action.target_level, action.due) == (2, 4, "HT3/4")
    assert [o.name for o in action.owners] == ["SR", "JHu"]
    assert action.status == "not_started"
    assert action.organisation_id == organisation.id


async def test_changed_answer_keeps_history(database: Database, school: MaturityModel) -> None:
    _, review, state = await _review_with_answers(database, school, full_review_lines(school))
    ctx = make_context(school)
    later = NOW + timedelta(days=3)
    changed = state
    for line in ["go 1.1", "2", "done", "keep", "neither"]:
        changed = handle(changed, line, replace(ctx, now=later)).state
    async with database.transaction() as session:
        stored = await session.get(m.Review, review.id)
        await repo.save_state(session, stored, state, changed, None, later)  # type: ignore[arg-type]
    async with database.transaction() as session:
        history = await repo.response_history(session, review.id, "1.1")
        response = await session.scalar(
            select(m.Response).where(
                m.Response.review_id == review.id, m.Response.statement_id == "1.1"
            )
        )
    assert len(history) == 1
    assert history[0].before["level"] == 3
    assert history[0].before["flag"] == "strength"
    assert history[0].after["level"] == 2
    assert history[0].changed_at == later
    assert history[0].changed_by == "Sam Rivers"
    assert response is not None
    assert response.level == 2


async def test_priority_withdrawn_marks_the_action_dropped(
    database: Database, school: MaturityModel
) -> None:
    ctx = make_context(school)
    lines = ["just me", "2", "done", "none", "priority", "3", "Train governors", "SR", "HT2"]
    _, review, state = await _review_with_answers(database, school, lines)
    changed = state
    for line in ["go 1.1", "2", "done", "none", "neither"]:
        changed = handle(changed, line, ctx).state
    async with database.transaction() as session:
        stored = await session.get(m.Review, review.id)
        await repo.save_state(session, stored, state, changed, None, NOW)  # type: ignore[arg-type]
        assert await repo.actions_for_review(session, review.id) == []
        dropped = await session.scalar(select(m.Action).where(m.Action.review_id == review.id))
    assert dropped is not None
    assert dropped.status == "dropped"


async def test_a_stale_turn_is_refused(database: Database, school: MaturityModel) -> None:
    """Two replicas load the same review; the second to save must start again."""
    ctx = make_context(school)
    _, review, state = await _review_with_answers(database, school, ["just me"])
    async with database.transaction() as session:
        first = await session.get(m.Review, review.id)
        assert first is not None
        first_version = first.version
    one = handle(state, "2", ctx).state
    two = handle(state, "3", ctx).state
    async with database.transaction() as session:
        stored = await session.get(m.Review, review.id)
        await repo.save_state(session, stored, state, one, None, NOW)  # type: ignore[arg-type]
    stale = m.Review(id=review.id, organisation_id=review.organisation_id, version=first_version)
    with pytest.raises(repo.ConcurrentTurn):
        async with database.transaction() as session:
            await repo.save_state(session, stale, state, two, None, NOW)
    async with database.transaction() as session:
        answers = await repo.load_answers(session, review.id)
    assert answers["1.1"].level == 2


async def test_an_input_key_is_claimed_once(database: Database) -> None:
    async with database.transaction() as session:
        assert await repo.claim_input(session, "slack:Ev123", None)
        assert not await repo.claim_input(session, "slack:Ev123", None)
        # The transaction is still usable after the refused claim.
        organisation = await repo.create_organisation(session, "After claim", "college")
    assert organisation.id is not None


async def test_one_organisation_never_sees_anothers_review(
    database: Database, school: MaturityModel
) -> None:
    _, review, _ = await _review_with_answers(database, school, ["just me", "2"])
    async with database.transaction() as session:
        other = await repo.create_organisation(session, "Valley College", "college")
        assert await repo.get_review(session, review.id, other.id) is None
        assert await repo.open_review(session, other.id) is None
        assert await repo.get_review(session, review.id, review.organisation_id) is not None


async def test_identities_are_per_channel_and_reused(database: Database) -> None:
    async with database.transaction() as session:
        organisation = await repo.create_organisation(session, "Hill School", "school")
        a = await repo.person_for_identity(
            session, organisation.id, "slack", "U1", "Sam Rivers", "T1"
        )
        again = await repo.person_for_identity(
            session, organisation.id, "slack", "U1", "Sam R.", "T1"
        )
        other = await repo.person_for_identity(
            session, organisation.id, "teams", "U1", "Someone", "tenant"
        )
        people = await repo.known_people(session, organisation.id)
    assert a.id == again.id
    assert other.id != a.id
    assert a.initials == "SR"
    assert [p.name for p in people] == ["Sam Rivers", "Someone"]


async def test_datetimes_come_back_aware_in_utc(database: Database) -> None:
    when = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)
    async with database.transaction() as session:
        organisation = await repo.create_organisation(session, "Clock School", "school")
        organisation.disconnected_at = when
    async with database.transaction() as session:
        loaded = await repo.get_organisation(session, organisation.id)
    assert loaded is not None
    assert loaded.disconnected_at == when
    assert loaded.disconnected_at.tzinfo is not None
