"""The PostgreSQL fixtures start a real server and give each test a fresh database of its own."""

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = pytest.mark.slow

# Database names handed to earlier runs of the parametrised test below.
_seen: dict[int, str] = {}


@pytest.mark.parametrize("run", [1, 2])
async def test_each_test_gets_its_own_fresh_database(
    postgresql_database_url: str, postgresql_url: str, run: int
) -> None:
    url = make_url(postgresql_database_url)
    assert url.drivername == "postgresql+asyncpg"
    assert url.database != make_url(postgresql_url).database

    engine = create_async_engine(postgresql_database_url)
    try:
        async with engine.begin() as conn:
            version = (await conn.execute(text("select version()"))).scalar_one()
            assert version.startswith("PostgreSQL")
            assert (await conn.execute(text("select current_database()"))).scalar_one() == (
                url.database
            )
            # Fresh and empty: both runs create the same table, which would clash otherwise.
            tables = await conn.execute(
                text("select count(*) from information_schema.tables where table_schema = 'public'")
            )
            assert tables.scalar_one() == 0
            await conn.execute(text("create table widget (id serial primary key, name text)"))
            await conn.execute(
                text("insert into widget (name) values (:name)"), {"name": f"#{run}"}
            )
        async with engine.connect() as conn:
            rows = (await conn.execute(text("select id, name from widget"))).all()
        assert [tuple(row) for row in rows] == [(1, f"#{run}")]
    finally:
        await engine.dispose()

    earlier = set(_seen.values())
    assert url.database not in earlier
    if earlier:
        # The earlier tests' databases have been dropped again.
        session_engine = create_async_engine(postgresql_url)
        try:
            async with session_engine.connect() as conn:
                left = await conn.execute(
                    text("select datname from pg_database where datname = any(:names)"),
                    {"names": sorted(earlier)},
                )
                assert left.all() == []
        finally:
            await session_engine.dispose()
    _seen[run] = url.database


async def test_session_database_is_usable(postgresql_url: str) -> None:
    engine = create_async_engine(postgresql_url)
    try:
        async with engine.connect() as conn:
            name = (await conn.execute(text("select current_database()"))).scalar_one()
    finally:
        await engine.dispose()
    assert name == make_url(postgresql_url).database
