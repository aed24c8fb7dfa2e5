"""The database: engine set-up (SQLite by default, PostgreSQL via asyncpg), migrations, sessions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from platformdirs import user_data_dir
from sqlalchemy import (
    ColumnElement,
    String,
    TypeDecorator,
    any_,
    bindparam,
    event,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, CursorResult, Result
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0011"
"""The newest migration (tests/test_storage.py holds it to Alembic's own scripts). A server
starting on a database already there never loads Alembic: 11 MB of a serving process."""
SQLITE_BUSY_TIMEOUT_MS = 5000


def default_database_url() -> str:
    """An SQLite file in the user's data directory, so `careers-bot chat` needs no set-up."""
    folder = Path(user_data_dir("careers-impact-bot", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{folder / 'careers-bot.sqlite3'}"


def rowcount(result: Result[Any]) -> int:
    """Rows an INSERT, UPDATE or DELETE matched.

    Executing DML returns a CursorResult, which has `rowcount`; AsyncSession.execute is
    annotated with the plain Result for every statement, so the checker cannot see that."""
    return cast("CursorResult[Any]", result).rowcount


def among(
    session: AsyncSession,
    column: ColumnElement[Any] | InstrumentedAttribute[Any],
    values: Sequence[Any],
) -> ColumnElement[bool]:
    """`column IN values` as one parameter, however many values: a PostgreSQL array (one
    statement to prepare and plan for any count, where an IN list renders and casts a
    parameter per value: 37 ms of a Hub's digest sweep), SQLite's json_each (no limit on
    host parameters: a send by hand may cover every open action)."""
    if session.get_bind().dialect.name == "postgresql":
        kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
        return column == any_(bindparam(None, list(values), postgresql.ARRAY(kind)))
    listed = func.json_each(bindparam(None, json.dumps(list(values)), String()))
    return column.in_(select(literal_column("value")).select_from(listed))


def normalise_url(url: str) -> str:
    """Accept the usual spellings (postgres://, postgresql://, sqlite:///) and pick async drivers."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, foreign_keys: bool = True) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_migration_pragmas(dbapi_connection: Any, record: Any) -> None:
    """Migrations run with foreign keys off: SQLite rebuilds a table to change a constraint
    (copy, drop, rename), and with them on, dropping the old table would cascade-delete or
    null every row that points at it (an action's owners, the answers linked to it)."""
    _sqlite_pragmas(dbapi_connection, record, foreign_keys=False)


READ_ONLY = "careers_read_only"


def _sqlite_begin(connection: Connection) -> None:
    """Writers take the write lock at the start; readers take none.

    In WAL mode a deferred transaction that read and then writes after another writer
    committed fails at once with SQLITE_BUSY; BEGIN IMMEDIATE makes writers wait their turn.
    A read-only transaction (`Database.read`) begins deferred: it reads a snapshot while
    writers work, so looking something up never queues behind a turn.
    """
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str | None = None, migrating: bool = False, **kwargs: Any) -> AsyncEngine:
    url = normalise_url(url or default_database_url())
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        engine = create_async_engine(url, **kwargs)
        pragmas = _sqlite_migration_pragmas if migrating else _sqlite_pragmas
        event.listen(engine.sync_engine, "connect", pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"a migration left rows pointing at nothing: {broken[:5]}")


MIGRATION_LOCK = 0x43494201  # PostgreSQL advisory lock key held while migrating ("CIB" 1)


async def migrate(engine: AsyncEngine, revision: str = "head", down: bool = False) -> None:
    """Bring the schema to `revision` (Alembic upgrade, or downgrade) in one transaction.

    On SQLite the migration runs on its own connection with foreign keys off (see
    _sqlite_migration_pragmas), and is refused if it leaves a row pointing at nothing."""

    from alembic import command

    def run(connection: Connection) -> None:
        config = alembic_config(connection)
        if down:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)
        if connection.dialect.name == "sqlite":
            _check_foreign_keys(connection)

    if engine.dialect.name != "sqlite":
        async with engine.begin() as connection:
            # Replicas starting together take turns: the first migrates, the others then
            # find the schema at head (held to the end of this transaction).
            await connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            await connection.run_sync(run)
        return
    url = engine.url.render_as_string(hide_password=False)
    migrating = make_engine(url, migrating=True, poolclass=NullPool)
    try:
        async with migrating.begin() as connection:
            await connection.run_sync(run)
    finally:
        await migrating.dispose()


class Database:
    """The engine and its session factory: one per process, shared by every adapter."""

    def __init__(self, url: str | None = None, **engine_kwargs: Any) -> None:
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Same pool; its transactions are marked read-only (SQLite: no write lock).
        self.reader = self.engine.execution_options(**{READ_ONLY: True})
        self.read_sessions = async_sessionmaker(self.reader, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def migrate(self, revision: str = "head", down: bool = False) -> None:
        if revision == "head" and not down and await self.at_head():
            return  # nothing to do, and Alembic stays unloaded
        await migrate(self.engine, revision, down)

    async def at_head(self) -> bool:
        """Whether the schema is at the newest migration already (one indexed read)."""
        try:
            async with self.engine.connect() as connection:
                version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:  # no alembic_version table: a new database
            return False
        return bool(version == HEAD)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on any error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for looking only: never takes SQLite's write lock. (It ends with a commit
        that writes nothing, so objects read stay usable, as with `transaction`.)"""
        async with self.read_sessions() as session, session.begin():
            yield session

    async def close(self) -> None:
        await self.engine.dispose()
