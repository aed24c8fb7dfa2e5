"""SQL statements and transactions per conversation turn: `python -m bench sql`.

Why: a turn's latency under load is mostly its round trips to the database and how long it
holds SQLite's write lock, so the count of statements and transactions per turn is the
figure the turn-pipeline rewrite is meant to bring down (goal: a level answer in one
transaction of at most 5 statements). Counted with SQLAlchemy's engine events, through the
public surfaces only: `ReviewService.open` / `.turn`, and signed requests to our real Slack
server. Anything unexpected (a step the engine no longer asks, a refused answer, a turn that
ran no SQL at all) stops the benchmark with an error rather than printing a wrong table.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import harness
from bot.reviews import ReviewService, TurnResult, Who
from storage.db import Database
from workflows.replies import Message, ShowActions, Step, Tone

T = TypeVar("T")

# Goal for the turn-pipeline rewrite (issue 9), printed with the table.
GOAL_STATEMENTS = 5
GOAL_TRANSACTIONS = 1
# Transaction control and connection set-up are counted apart from the statements.
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
SETUP = ("PRAGMA",)
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
SETTLE_GAP = 0.3  # s without SQL or replies after an HTTP turn before it counts as finished
SETTLE_LIMIT = 15.0  # s: an HTTP turn that has not finished by then is an error


@dataclass
class Tally:
    """What one measured turn sent to the database."""

    statements: list[str] = field(default_factory=list)
    control: int = 0
    setup: int = 0
    begins: int = 0
    commits: int = 0
    rollbacks: int = 0

    @property
    def writes(self) -> int:
        return sum(1 for s in self.statements if s.lstrip().upper().startswith(WRITES))

    @property
    def reads(self) -> int:
        return len(self.statements) - self.writes


class SqlCounter:
    """Engine-wide counters (every connection of the pool), switched on around one turn."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.current: Tally | None = None
        self.seen = 0  # every statement since attaching, to tell when an HTTP turn has settled
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._statement)
        event.listen(sync, "begin", self._begin)
        event.listen(sync, "commit", self._commit)
        event.listen(sync, "rollback", self._rollback)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.seen += 1
        if self.current is None:
            return
        head = statement.lstrip().upper()
        if head.startswith(CONTROL):
            self.current.control += 1
        elif head.startswith(SETUP):
            self.current.setup += 1
        else:
            self.current.statements.append(" ".join(statement.split()))

    def _begin(self, _conn: Any) -> None:
        if self.current is not None:
            self.current.begins += 1

    def _commit(self, _conn: Any) -> None:
        if self.current is not None:
            self.current.commits += 1

    def _rollback(self, _conn: Any) -> None:
        if self.current is not None:
            self.current.rollbacks += 1

    @contextmanager
    def measure(self) -> Iterator[Tally]:
        if self.current is not None:
            raise RuntimeError("SqlCounter.measure() is not re-entrant")
        tally = self.current = Tally()
        try:
            yield tally
        finally:
            self.current = None


@dataclass(frozen=True)
class Row:
    turn: str
    via: str
    tally: Tally


def checked(label: str, tally: Tally) -> Tally:
    """Refuse a measurement that saw nothing: the counter is on the wrong engine, or the turn
    never reached the database (a silent 0 would read as a great result)."""
    if not tally.statements or not tally.begins:
        raise RuntimeError(
            f"{label}: saw {len(tally.statements)} statements and {tally.begins} transactions; "
            "is the counter attached to the engine this code path uses?"
        )
    return tally


async def counted(
    counter: SqlCounter, label: str, call: Callable[[], Awaitable[T]]
) -> tuple[T, Tally]:
    with counter.measure() as tally:
        result = await call()
    return result, checked(label, tally)


# ----- the service layer -------------------------------------------------------------------

# (what the row is called, the step the review must be waiting on, the line typed)
SCRIPT: tuple[tuple[str, Step, str], ...] = (
    ("participants", Step.PARTICIPANTS, "Sam Rivers, Nadia Rahman"),
    ("level answer", Step.LEVEL, "2"),
    ("evidence link", Step.EVIDENCE, "Careers plan https://school.example/careers-plan"),
    ("evidence: done", Step.EVIDENCE, "done"),
    ("note", Step.NOTE, "Plan agreed with governors in the autumn"),
    ("flag: priority", Step.FLAG, "priority"),
    ("priority: target level", Step.TARGET, "3"),
    ("priority: next steps", Step.NEXT_STEPS, "Write the plan; Share it with governors"),
    ("priority: owners", Step.OWNERS, "SR"),
    ("priority: due", Step.DUE, "HT3"),
    ("another action? no", Step.ANOTHER, "no"),
    ("level answer (2nd statement)", Step.LEVEL, "3"),
    ("evidence: none", Step.EVIDENCE, "done"),
    ("note: none", Step.NOTE, "none"),
    ("flag: neither", Step.FLAG, "neither"),
    ("typed action command 'my actions'", Step.LEVEL, "my actions"),
)


def refusals(result: TurnResult) -> list[str]:
    return [r.text for r in result.replies if isinstance(r, Message) and r.tone is Tone.ERROR]


async def service_rows(folder: Path) -> list[Row]:
    """Open a review and answer SCRIPT through ReviewService, counting each call."""
    db = Database(f"sqlite+aiosqlite:///{folder / 'sql-service.sqlite3'}")
    await db.migrate()
    try:
        service = ReviewService(db)
        counter = SqlCounter(db.engine)
        organisation = await service.chat_organisation("slack", "T_SQL")
        who = Who("slack", "U_SQL", "Sam Rivers", "T_SQL")
        rows = []
        for label in ("open review (new)", "open review (resume)"):
            _, tally = await counted(counter, label, lambda: service.open(organisation.id, who))
            rows.append(Row(label, "service.open", tally))
        for number, (label, step, line) in enumerate(SCRIPT):
            state = await service.state(organisation.id)
            if state is None or state.cursor.step is not step:
                found = None if state is None else state.cursor.step
                raise RuntimeError(f"{label}: expected the review at step {step}, found {found}")
            key = f"bench:sql:{number}"  # the adapters always pass a delivery id
            turn = partial(service.turn, organisation.id, who, line, key=key)
            result, tally = await counted(counter, label, turn)
            if refusals(result):
                raise RuntimeError(f"{label}: {line!r} was refused: {refusals(result)}")
            if "actions" in line and not any(isinstance(r, ShowActions) for r in result.replies):
                raise RuntimeError(f"{label}: no action list came back: {result.replies}")
            rows.append(Row(label, "service.turn", tally))
        return rows
    finally:
        await db.close()


# ----- the real Slack server -------------------------------------------------------------


async def settle(counter: SqlCounter, mock: harness.BenchMock, user: harness.User) -> None:
    """Wait until an HTTP turn has finished: no SQL and no reply for SETTLE_GAP seconds
    (Bolt answers before the listener runs, and the listener writes after replying)."""
    deadline = time.monotonic() + SETTLE_LIMIT
    while time.monotonic() < deadline:
        seen, replies = counter.seen, len(mock.replies.get(user.channel, []))
        await asyncio.sleep(SETTLE_GAP)
        if counter.seen == seen and len(mock.replies.get(user.channel, [])) == replies:
            return
    raise RuntimeError(f"the turn was still running after {SETTLE_LIMIT} s")


async def slack_rows(folder: Path) -> list[Row]:
    """A review opened and answered through signed requests to our server, typed and by
    button, with the adapter's own work (workspace, names, DM bookkeeping) counted in."""
    mock = harness.BenchMock()
    await mock.start()
    user = harness.User(1)
    harness.add_users(mock, [user])
    rows: list[Row] = []
    try:
        async with (
            harness.ours(mock, folder) as (server, database),
            aiohttp.ClientSession() as http,
        ):
            counter = SqlCounter(database.engine)

            async def send(label: str, body: str, content_type: str) -> None:
                seen = len(mock.replies.get(user.channel, []))
                with counter.measure() as tally:
                    sent = await harness.post(http, server, body, content_type)
                    if sent.status != 200:
                        raise RuntimeError(f"{label}: HTTP {sent.status}")
                    if await mock.reply_after(user.channel, seen, SETTLE_LIMIT) is None:
                        raise RuntimeError(f"{label}: no reply in {user.channel}")
                    await settle(counter, mock, user)
                rows.append(Row(label, "Slack HTTP", checked(label, tally)))

            async def typed(label: str, text: str) -> None:
                await send(label, harness.event_body(user, text)[0], "application/json")

            await typed("open review (new), typed 'review'", "review")
            await typed("participants, typed", "Sam Rivers, Nadia Rahman")
            question = level_question(mock, user)
            body = harness.click_body(mock, user, question, "2")
            await send("level answer, button press", body, "application/x-www-form-urlencoded")
            for label, text in (
                ("evidence: done, typed", "done"),
                ("note: none, typed", "none"),
                ("flag: neither, typed", "neither"),
                ("level answer (2nd statement), typed", "3"),
            ):
                await typed(label, text)
    finally:
        await mock.close()
    return rows


def level_question(mock: harness.BenchMock, user: harness.User) -> harness.Call:
    """The latest message in the user's DM with a level button (block id "q|<id>|level|n")."""
    for call in reversed(mock.replies.get(user.channel, [])):
        if any(f"|{Step.LEVEL.value}|" in str(b.get("block_id")) for b in call.buttons()):
            return call
    raise LookupError("no level question with buttons was posted: has the Block Kit changed?")


# ----- the table ---------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    width = max(len(r.turn) for r in rows)
    lines = [
        f"{'turn':<{width}}  {'via':<12}  statements  reads  writes  transactions  rollbacks",
    ]
    for row in rows:
        t = row.tally
        lines.append(
            f"{row.turn:<{width}}  {row.via:<12}  {len(t.statements):>10}  {t.reads:>5}  "
            f"{t.writes:>6}  {t.begins:>12}  {t.rollbacks:>9}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench sql", description=__doc__)
    parser.add_argument(
        "--show", metavar="TEXT", help="also print the SQL of turns whose name contains TEXT"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        rows = asyncio.run(service_rows(Path(folder)))
        rows += asyncio.run(slack_rows(Path(folder)))
    print("SQL per turn, SQLite (statements exclude BEGIN/COMMIT and connection PRAGMAs;")
    print("transactions = BEGINs; an HTTP turn counts everything the server ran for it)")
    print(
        f"goal after the turn-pipeline rewrite: a level answer in {GOAL_TRANSACTIONS} "
        f"transaction, at most {GOAL_STATEMENTS} statements"
    )
    print(table(rows))
    if args.show:
        for row in rows:
            if args.show.lower() in row.turn.lower():
                print(f"\n-- {row.turn} ({row.via})")
                for statement in row.tally.statements:
                    print("  " + statement[:200])


if __name__ == "__main__":
    main()
