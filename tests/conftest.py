"""Shared fixtures: the model, a fixed clock, engine contexts and databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from model_data import Edition, MaturityModel, load_glossary, load_model
from storage.db import Database
from workflows.review import Context, Person

# A real PostgreSQL server for the storage suite (tests/pg.py).
pytest_plugins = ["pg", "document_seed"]  # and the document tests' `seeded` review

NOW = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


@pytest.fixture
def school() -> MaturityModel:
    return load_model(Edition.SCHOOL)


@pytest.fixture
def college() -> MaturityModel:
    return load_model(Edition.COLLEGE)


def make_context(
    model: MaturityModel, actor: str = "Sam Rivers", people: tuple[Person, ...] = ()
) -> Context:
    return Context(model=model, glossary=load_glossary(), now=NOW, actor=actor, people=people)


@pytest.fixture
def school_ctx(school: MaturityModel) -> Context:
    people = (Person(1, "Sam Rivers", "SR"), Person(2, "Nadia Rahman", "NR"))
    return make_context(school, people=people)


@pytest.fixture
def college_ctx(college: MaturityModel) -> Context:
    return make_context(college, actor="Chris Lee")


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database: an SQLite file, or a fresh database on a real PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'careers-bot.sqlite3'}"
    else:
        url = request.getfixturevalue("postgresql_database_url")
    db = Database(url)
    await db.migrate()
    try:
        yield db
    finally:
        await db.close()
