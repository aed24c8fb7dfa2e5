"""Planning at Careers Hub scale: `python -m bench hub [--schools N] [--database-url URL]`.

Why (issue 12): a sweep used to read every action ever made, school by school, and rebuilt
every school's digest on every sweep of the week. Measured through the real
`Dispatcher.plan` (bot/planner.py over storage/planning.py), against baselines run in the
same process on the same database:

- digests: every school's weekly digest falls due at once (Monday 08:00, a complete review
  and 10 actions each, plan links issued); the sweep's time against a raw SQL read of the
  same rows (organisations, term dates, reviews, responses, actions, owners, last digests;
  a digest reports no action's updates). Goal: under 2 s for 1,000 schools and within 5x
  of the read. SQL statements per batch (a sweep plans 250 schools per transaction,
  bounding memory and the write lock) for 100 and for N schools (goal: the same);
- reminders: 1k, 10k and 100k open actions (100 a school) whose next-reminder times were
  worked out by a first sweep; then 1% of them are made due (their stored time set to the
  moment of the sweep, as a change would) and a sweep runs. Goal: under 50 ms at 100k;
  baseline: the raw indexed read of those rows. The query plan shows the index in use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text, update

from bench import seed
from bench.sql import SqlCounter
from bot import plan_links
from bot.app import load_at_start, settle
from bot.planner import SCHOOL_BATCH
from bot.reviews import ReviewService
from bot.scheduler import Dispatcher
from storage import models as m
from storage.db import Database

MONDAY = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # HT3 2025/26 begins: digests due
GOAL_DIGESTS = 2.0
GOAL_DIGEST_RATIO = 5.0
GOAL_SWEEP = 0.050


def _batch_start(sql: str) -> bool:
    """A batch's first statement: storage.planning.due_actions, the due actions' own row."""
    return sql.lstrip().startswith("SELECT actions.id, actions.organisation_id") and (
        "next_reminder_at <=" in sql
    )


SIZES = (1_000, 10_000, 100_000)


async def _fresh(url: str) -> Database:
    db = Database(url)
    if db.dialect == "postgresql":
        async with db.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    await db.migrate()
    return db


async def _raw_digest_read(db: Database, ids: list[int]) -> int:
    """The rows a digest sweep needs, read with plain SQL (the floor for any ORM path)."""
    rows = 0
    id_list = ",".join(map(str, ids))
    queries = [
        f"SELECT * FROM organisations WHERE id IN ({id_list})",
        f"SELECT * FROM term_dates WHERE organisation_id IN ({id_list})",
        f"SELECT * FROM reviews WHERE organisation_id IN ({id_list})",
        f"SELECT r.* FROM responses r JOIN reviews v ON v.id = r.review_id "
        f"WHERE v.organisation_id IN ({id_list})",
        f"SELECT * FROM actions WHERE organisation_id IN ({id_list})",
        f"SELECT o.* FROM action_owners o JOIN actions a ON a.id = o.action_id "
        f"WHERE a.organisation_id IN ({id_list})",
        f"SELECT organisation_id, MAX(sent_at) FROM deliveries WHERE kind = 'digest' "
        f"AND status = 'sent' AND organisation_id IN ({id_list}) GROUP BY organisation_id",
    ]
    async with db.engine.connect() as connection:
        for query in queries:
            rows += len((await connection.execute(text(query))).all())
    return rows


async def _steady(db: Database) -> None:
    """PostgreSQL as autovacuum keeps it in a running deployment: planner statistics and
    visibility current. Straight after seeding 100,000 rows (or marking them all), the stale
    statistics say the tables are empty and the due read walks every school (165 ms)."""
    if db.dialect == "postgresql":
        async with db.engine.connect() as connection:
            auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await auto.exec_driver_sql("VACUUM ANALYZE")


def _dispatcher(db: Database) -> Dispatcher:
    return Dispatcher(
        ReviewService(db, lambda: MONDAY),
        plan_link=plan_links.digest_issuer("bench-secret", "https://bot.example"),
    )


async def digests(url: str, schools: int) -> dict[str, Any]:
    """Every school's digest due at once; time, statements, and the raw read's time."""
    out: dict[str, Any] = {}
    for count in sorted({min(100, schools), schools}):
        db = await _fresh(url)
        hub = await seed.seed(db, count, 10)
        async with db.transaction() as session:  # digests only: reminders measured apart
            await session.execute(update(m.Action).values(next_reminder_at=None))
        await _steady(db)
        counter = SqlCounter(db.engine)
        run = _dispatcher(db)
        load_at_start()  # as `serve` has (bot.app.init_app): model files, mappings
        settle()  # as `serve` does once started: seeding's objects are not the sweep's
        with counter.measure() as tally:
            started = time.perf_counter()
            report = await run.plan(MONDAY)
            ours = time.perf_counter() - started
        if report.recorded != count or report.errors:
            raise RuntimeError(
                f"expected {count} digests, got {report.recorded}: {report.errors[:3]}"
            )
        started = time.perf_counter()
        rows = await _raw_digest_read(db, hub.organisation_ids)
        raw = time.perf_counter() - started
        # A batch begins with its read of the due actions (planner.Planner.due); the last
        # batch of a sweep may find fewer, or nothing, due.
        starts = [i for i, sql in enumerate(tally.statements) if _batch_start(sql)]
        sizes = [b - a for a, b in zip(starts, [*starts[1:], len(tally.statements)], strict=True)]
        out[str(count)] = {"seconds": ours, "raw": raw, "rows": rows, "batches": len(starts),
                           "statements": len(tally.statements),
                           "per batch": sizes[0]}  # fmt: skip
        again_started = time.perf_counter()
        with counter.measure() as again:
            second = await run.plan(MONDAY + timedelta(hours=1))
        out[str(count)]["next sweep"] = time.perf_counter() - again_started
        out[str(count)]["next sweep statements"] = len(again.statements)
        if second.recorded:
            raise RuntimeError("a second sweep in the same week recorded digests again")
        await db.close()
    return out


async def reminders(url: str, actions: int) -> dict[str, Any]:
    db = await _fresh(url)
    schools = max(1, actions // 100)
    await seed.seed(db, schools, actions // schools)
    await _steady(db)  # the tables as a running deployment has them (analysed)
    async with db.transaction() as session:
        await session.execute(update(m.Organisation).values(next_digest_at=None))
    run = _dispatcher(db)
    first_at = datetime(2025, 9, 8, 7, 0, tzinfo=UTC)  # before anything is due
    started = time.perf_counter()
    await run.plan(first_at)
    first = time.perf_counter() - started
    await _steady(db)
    moment = datetime(2025, 9, 9, 12, 0, tzinfo=UTC)
    due = max(1, actions // 100)
    async with db.transaction() as session:  # 1% changed: due for a look now
        await session.execute(
            text(
                "UPDATE actions SET next_reminder_at = :at WHERE id IN "
                "(SELECT id FROM actions ORDER BY id LIMIT :due)"
            ).bindparams(),
            {"at": m.UTCDateTime().process_bind_param(moment, db.engine.dialect), "due": due},
        )
    query = "SELECT * FROM actions WHERE next_reminder_at <= :at"
    bound = {"at": m.UTCDateTime().process_bind_param(moment, db.engine.dialect)}
    async with db.engine.connect() as connection:
        explain = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
        plan = [
            " ".join(str(c) for c in row)
            for row in (await connection.execute(text(explain + query), bound)).all()
        ]
        started = time.perf_counter()
        found = len((await connection.execute(text(query), bound)).all())
        raw = time.perf_counter() - started
    counter = SqlCounter(db.engine)
    with counter.measure() as tally:
        started = time.perf_counter()
        report = await run.plan(moment)
        sweep = time.perf_counter() - started
    if report.errors or found != due:
        raise RuntimeError(f"expected {due} due, read {found}: {report.errors[:3]}")
    await db.close()
    return {"actions": actions, "due": due, "first": first, "sweep": sweep, "raw": raw,
            "statements": len(tally.statements), "plan": plan}  # fmt: skip


GOAL_RSS_MB = 150
REPLICA = Path(__file__).resolve().parents[1] / "tests" / "replica.py"
SERVE_START = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)  # Monday of HT3: every digest due


def _peak_rss_mb(pid: int) -> float:
    """The process's own high-water mark (VmHWM): workers drawing charts are not counted."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM (not Linux?)")


async def serve_rss(folder: Path, schools: int, users: int) -> dict[str, Any]:
    """`careers-bot serve` (tests/replica.py: serve with a clock set to a Monday morning) on
    SQLite with `schools` schools: every school's digest (chart included) and reminders
    sent to a mock Slack while `users` people type answers; its peak RSS afterwards."""
    from bench import harness

    url = f"sqlite:///{folder / 'serve.sqlite3'}"
    db = await _fresh(url)
    await seed.seed(db, schools, 10)
    await db.close()
    mock = harness.BenchMock()
    await mock.start()
    people = [harness.User(n + 1) for n in range(users)]
    harness.add_users(mock, people)
    env = {
        **os.environ,
        "DATABASE_URL": url, "SLACK_SIGNING_SECRET": harness.SECRET,
        "SLACK_BOT_TOKEN": harness.TOKEN, "SLACK_API_URL": mock.api_url,
        "PUBLIC_URL": "https://careers-bot.example.org", "PLAN_LINK_SECRET": "bench",
        "TEAMS_ENABLED": "false", "SWEEP_SECONDS": "1",
        "PYTHONPATH": str(REPLICA.parents[1]),
    }  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(REPLICA), SERVE_START.isoformat(), str(time.time()),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        ready = json.loads(await asyncio.wait_for(process.stdout.readline(), 60))
        started = time.perf_counter()
        url_events = f"http://127.0.0.1:{ready['port']}/slack/events"
        async with aiohttp.ClientSession() as http:

            async def typed(user: harness.User) -> None:
                for text_ in ("review", "3", "done"):
                    body, _ = harness.event_body(user, text_)
                    async with http.post(
                        url_events, data=body,
                        headers={"Content-Type": "application/json", **harness.sign(body)},
                    ) as response:  # fmt: skip
                        await response.read()

            await asyncio.gather(*(typed(u) for u in people))
        digests = 0
        while digests < schools and time.perf_counter() - started < 300:
            await asyncio.sleep(1)
            digests = sum(
                1
                for c in mock.calls
                if c.method == "chat.postMessage"
                and str(c.params.get("channel", "")).startswith("C")
            )
        rss = _peak_rss_mb(process.pid)
        return {"schools": schools, "users": users, "digests": digests, "rss": rss,
                "seconds": time.perf_counter() - started}  # fmt: skip
    finally:
        process.terminate()
        await process.wait()
        await mock.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench hub", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--schools", type=int, default=1000, help="digests (default %(default)s)")
    parser.add_argument("--actions", default=",".join(map(str, SIZES)),
                        help="reminder sweep sizes (default %(default)s)")  # fmt: skip
    parser.add_argument("--database-url", help="also run on this PostgreSQL database (emptied)")
    parser.add_argument("--users", type=int, default=200, help="people typing during serve")
    parser.add_argument("--no-serve", action="store_true", help="skip the serve RSS run")
    args = parser.parse_args(argv)
    logging.getLogger("careers_bot").setLevel(logging.ERROR)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="cib-hub-") as folder:
        urls = [("sqlite", f"sqlite:///{Path(folder) / 'hub.sqlite3'}")]
        if args.database_url:
            urls.append(("postgresql", args.database_url))
        for label, url in urls:
            found = asyncio.run(digests(url, args.schools))
            results[f"{label} digests"] = found
            print(f"Weekly digests, every school due at once ({label}):")
            print(f"  {'schools':>7} {'sweep s':>8} {'raw read s':>10} {'ratio':>6} "
                  f"{'rows':>7} {'SQL':>4} {'batches':>7} {'SQL/batch':>9} {'next sweep ms':>13} "
                  f"{'SQL':>4}")  # fmt: skip
            for count, r in found.items():
                print(f"  {count:>7} {r['seconds']:>8.3f} {r['raw']:>10.3f} "
                      f"{r['seconds'] / r['raw']:>5.1f}x {r['rows']:>7} {r['statements']:>4} "
                      f"{r['batches']:>7} {r['per batch']:>9.1f} "
                      f"{r['next sweep'] * 1000:>13.1f} {r['next sweep statements']:>4}")  # fmt: skip
            big = found[str(args.schools)]
            print(f"  goal: under {GOAL_DIGESTS:g} s and within {GOAL_DIGEST_RATIO:g}x of the raw "
                  f"read: {'met' if big['seconds'] < GOAL_DIGESTS and big['seconds'] / big['raw'] <= GOAL_DIGEST_RATIO else 'NOT met'}; "
                  f"statements per batch of {SCHOOL_BATCH} schools "
                  f"{'the same' if len({r['per batch'] for r in found.values()}) == 1 else 'DIFFER'} "
                  "for every size")  # fmt: skip
            print(f"Reminder sweep, 1% of open actions due ({label}):")
            print(f"  {'actions':>8} {'due':>5} {'sweep ms':>9} {'raw read ms':>11} {'SQL':>4} "
                  f"{'first sweep s':>13}")  # fmt: skip
            rows = []
            for size in (int(s) for s in args.actions.split(",")):
                r = asyncio.run(reminders(url, size))
                rows.append(r)
                print(f"  {r['actions']:>8} {r['due']:>5} {r['sweep'] * 1000:>9.1f} "
                      f"{r['raw'] * 1000:>11.2f} {r['statements']:>4} {r['first']:>13.2f}",
                      flush=True)  # fmt: skip
            results[f"{label} reminders"] = rows
            largest = rows[-1]
            print(f"  goal: under {GOAL_SWEEP * 1000:.0f} ms at {largest['actions']}: "
                  f"{'met' if largest['sweep'] < GOAL_SWEEP else 'NOT met'}")  # fmt: skip
            print("  query plan of the due read: " + " | ".join(largest["plan"]))
        if not args.no_serve:
            r = asyncio.run(serve_rss(Path(folder), args.schools, args.users))
            results["serve"] = r
            print(f"careers-bot serve on SQLite, {r['schools']} schools: {r['digests']} digests "
                  f"with charts sent while {r['users']} people typed answers, in "
                  f"{r['seconds']:.0f} s; peak RSS of the serving process {r['rss']:.0f} MB "
                  f"({'under' if r['rss'] < GOAL_RSS_MB else 'NOT under'} the "
                  f"{GOAL_RSS_MB} MB goal)")  # fmt: skip
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
