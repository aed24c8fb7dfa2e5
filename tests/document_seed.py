"""The review the document tests read (evidence pack, governors' report, policy draft): one
seeded review per edition, reported on a few weeks later (`seeded`, a plugin of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from review_scripts import seed_review

from bot.reviews import ReviewService
from model_data import Edition, load_model
from storage.db import Database

NOW = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)
LATER = datetime(2025, 2, 26, 9, 0, tzinfo=UTC)


@pytest.fixture(params=[e.value for e in Edition])
async def seeded(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[ReviewService, int, str]]:
    """The service, the school's id and its edition."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await database.migrate()
    organisation, _ = await seed_review(database, load_model(request.param), NOW)
    yield ReviewService(database, clock=lambda: LATER), organisation.id, request.param
    await database.close()
