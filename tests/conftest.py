"""Shared fixtures: the model, a fixed clock, and engine contexts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from model_data import Edition, MaturityModel, load_glossary, load_model
from workflows.review import Context, Person

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
