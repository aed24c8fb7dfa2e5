"""Reminders and digests at Careers Hub scale: `python -m bench sending [--size N] [--database-url URL]`.

Why (issue 12): reminders used to go out strictly one at a time, and the digest's chart was
drawn on the event loop that also answers Slack and Teams. In one process, against the
tests' mock Slack on 127.0.0.1, with our real app (bot.app.init_app, its SlackNotifier and
shared HTTP session):

- throughput: N due reminders to N people (one Slack DM each; bench/seed.py, 2 people a
  school) sent by `Dispatcher.deliver`, against a baseline in the same run: the same N
  chat.postMessage calls (same blocks and metadata) to the same mock, 100 in flight
  (AsyncWebClient + a semaphore). Goal: within 2x. Also SQL statements and transactions
  per delivery (SQLAlchemy engine events, as bench/sql.py counts them);
- the longest event-loop stall while a digest with its chart is sent through the app's
  dispatcher (a ticker measuring the gap between 5 ms sleeps): the chart drawn in the
  rendering pool (cold pool, then warm), and before: drawn inline on the loop (cold, when
  matplotlib is first imported there, then warm). Goal: under 50 ms. Whether the serving
  process imported matplotlib is printed before the inline run imports it;
- the process's peak RSS after the run.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, insert, select

from bench import harness, seed, sql
from bot.app import DATABASE, NOTIFIERS, SERVICE, init_app, settle
from bot.scheduler import Dispatcher
from bot.slack.notifier import metadata, notice_blocks
from storage import deliveries
from storage import models as m
from storage.db import Database
from workflows.notices import Notice

AS_OF = datetime(2025, 2, 3, 8, 0, tzinfo=UTC)
SIZE = 1000
IN_FLIGHT = 100
GOAL_RATIO = 2.0
GOAL_STALL = 0.050
TICK = 0.005


@dataclass
class Throughput:
    database: str
    size: int
    ours: float = 0.0
    baseline: float = 0.0
    delivered: int = 0  # targets that got exactly one message
    doubled: int = 0
    statements: int = 0
    transactions: int = 0

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("nan")


@dataclass
class Stalls:
    rows: list[tuple[str, float, float]] = field(default_factory=list)  # what, stall, seconds
    matplotlib_in_server: bool = False


def notice(n: int) -> Notice:
    return Notice(
        kind="reminder",
        title="Your careers action is due in two weeks",
        sections=[("", [f"Action #{n} – 1.2 Leaders' vision: due Fri 14 Feb 2025 (14 days)."])],
    )


@asynccontextmanager
async def app_on(mock: harness.BenchMock, url: str) -> AsyncIterator[TestServer]:
    """Our app (Slack only, no scheduler of its own) on a loopback port."""
    database = Database(url)
    app = init_app(harness.settings(mock, url), database=database)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()  # migrates the database
    settle()  # as `careers-bot serve` does once it has started
    try:
        yield server
    finally:
        await server.close()


async def people(database: Database, size: int) -> list[tuple[int, int, str]]:
    """A fresh hub with `size` people (2 a school), each with a Slack DM: (org, person, DM)."""
    async with database.transaction() as session:
        await session.execute(delete(m.Organisation))  # a PostgreSQL database is reused
    await seed.seed(database, (size + 1) // 2, 1)
    async with database.read() as session:
        rows = await session.execute(
            select(m.ConversationRef.organisation_id, m.ConversationRef.person_id,
                   m.ConversationRef.conversation_id)
            .where(m.ConversationRef.kind == "personal")
            .order_by(m.ConversationRef.id)
        )  # fmt: skip
        return [(o, int(p), c) for o, p, c in rows][:size]


async def record(database: Database, who: list[tuple[int, int, str]], prefix: str) -> None:
    async with database.transaction() as session:
        await session.execute(
            insert(m.Delivery),
            [
                {"key": f"{prefix}:{n}", "organisation_id": org, "kind": "reminder",
                 "person_id": person, "payload": notice(n).to_payload(), "due_at": AS_OF,
                 "stale_at": AS_OF + timedelta(days=7), "status": "pending", "attempts": 0,
                 "next_attempt_at": AS_OF, "sent_to": []}
                for n, (org, person, _) in enumerate(who)
            ],
        )  # fmt: skip


async def baseline(mock: harness.BenchMock, who: list[tuple[int, int, str]]) -> float:
    """The same chat.postMessage calls, 100 in flight, one shared HTTP session."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with aiohttp.ClientSession() as http:
        client = AsyncWebClient(token=harness.TOKEN, base_url=mock.api_url, session=http)

        async def post(n: int, channel: str) -> None:
            async with gate:
                await client.chat_postMessage(
                    channel=channel, text=notice(n).title, blocks=notice_blocks(notice(n)),
                    unfurl_links=False, metadata=metadata(f"base:{n}", channel),
                )  # fmt: skip

        await asyncio.gather(*(post(n, "W0") for n in range(20)))  # warm-up, untimed
        begun = time.perf_counter()
        await asyncio.gather(*(post(n, channel) for n, (_, _, channel) in enumerate(who)))
        return time.perf_counter() - begun


async def throughput(label: str, url: str, size: int) -> Throughput:
    result = Throughput(label, size)
    mock = harness.BenchMock()
    await mock.start()
    try:
        async with app_on(mock, url) as server:
            database: Database = server.app[DATABASE]
            who = await people(database, size + 20)
            warm, who = who[:20], who[20:]
            dispatcher = Dispatcher(server.app[SERVICE], server.app[NOTIFIERS])
            await record(database, warm, "warm")
            await dispatcher.deliver(AS_OF)  # untimed: first connections, lazy imports
            result.baseline = await baseline(mock, who)
            await record(database, who, "reminder")
            counter = sql.SqlCounter(database.engine)
            counter.current = sql.Tally()
            begun = time.perf_counter()
            report = await dispatcher.deliver(AS_OF)
            result.ours = time.perf_counter() - begun
            tally, counter.current = counter.current, None
            result.statements, result.transactions = len(tally.statements), tally.begins
            if report.sent != size or report.failed:
                raise RuntimeError(f"sent {report.sent} of {size}: {report}")
        got: dict[tuple[str, str], int] = {}
        for call in mock.calls_to("chat.postMessage"):
            key = (call.params.get("metadata") or {}).get("event_payload", {}).get("key", "")
            if key.startswith("reminder:"):
                place = (str(call.params["channel"]), key)
                got[place] = got.get(place, 0) + 1
        result.delivered = sum(1 for n in got.values() if n == 1)
        result.doubled = sum(n - 1 for n in got.values())
    finally:
        await mock.close()
    return result


class Ticker:
    """The longest gap beyond `TICK` between wake-ups of a task that only sleeps."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            self.longest = max(self.longest, time.perf_counter() - before - TICK)

    async def __aenter__(self) -> Ticker:
        self.task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


class Inline(Dispatcher):
    """Before issue 12: the chart drawn on the event loop."""

    async def _chart(self, delivery: deliveries.Claimed) -> bytes | None:
        from bot import exports

        document = await self.service.plan_document(delivery.organisation_id)
        return exports.export(document, "png")


async def stalls(url: str, inline: bool = True) -> Stalls:
    """A digest with its chart to one school's SLT channel, four times, ticker running."""
    out = Stalls()
    mock = harness.BenchMock()
    await mock.start()
    try:
        async with app_on(mock, url) as server:
            database: Database = server.app[DATABASE]
            async with database.transaction() as session:
                await session.execute(delete(m.Organisation))
            hub = await seed.seed(database, 1, 30)
            runs: list[tuple[str, type[Dispatcher]]] = [
                ("chart in the rendering pool (cold pool)", Dispatcher),
                ("chart in the rendering pool (warm pool)", Dispatcher),
            ]
            if inline:
                runs += [
                    ("before: chart on the loop (first matplotlib import)", Inline),
                    ("before: chart on the loop (warm)", Inline),
                ]
            for n, (what, kind) in enumerate(runs):
                if kind is Inline and n == 2:  # before the first inline drawing imports it
                    out.matplotlib_in_server = "matplotlib" in sys.modules
                digest = Notice(kind="digest", title="Careers weekly digest – Bench School",
                                sections=[("This week", ["Three actions are due."])],
                                attach_chart=True)  # fmt: skip
                async with database.transaction() as session:
                    await session.execute(
                        insert(m.Delivery),
                        [{"key": f"digest:{n}", "organisation_id": hub.organisation_ids[0],
                          "kind": "digest", "payload": digest.to_payload(), "due_at": AS_OF,
                          "stale_at": AS_OF + timedelta(days=7), "status": "pending",
                          "attempts": 0, "next_attempt_at": AS_OF, "sent_to": []}],
                    )  # fmt: skip
                dispatcher = kind(server.app[SERVICE], server.app[NOTIFIERS])
                begun = time.perf_counter()
                async with Ticker() as ticker:
                    report = await dispatcher.deliver(AS_OF)
                if report.sent != 1:
                    raise RuntimeError(f"digest not sent: {report}")
                if not mock.calls_to("files.completeUploadExternal"):
                    raise RuntimeError("the digest went without its chart")
                out.rows.append((what, ticker.longest, time.perf_counter() - begun))
            if not inline:
                out.matplotlib_in_server = "matplotlib" in sys.modules
    finally:
        await mock.close()
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str] | None = None) -> tuple[list[Throughput], Stalls]:
    parser = argparse.ArgumentParser(prog="python -m bench sending", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--size", type=int, default=SIZE, help="reminders (default %(default)s)")
    parser.add_argument("--database-url", help="also run on this PostgreSQL database (emptied)")
    parser.add_argument("--no-inline", action="store_true",
                        help="skip the 'before' runs that draw on the loop (import matplotlib)")  # fmt: skip
    args = parser.parse_args(argv)
    import logging

    logging.getLogger("careers_bot").setLevel(logging.ERROR)
    results: list[Throughput] = []
    with tempfile.TemporaryDirectory(prefix="cib-sending-") as folder:
        urls = [("sqlite", f"sqlite:///{Path(folder) / 'sending.sqlite3'}")]
        if args.database_url:
            urls.append(("postgresql", args.database_url))
        print(f"Sending {args.size} reminders to {args.size} people (one Slack DM each), "
              f"mock Slack on 127.0.0.1; baseline: the same posts, {IN_FLIGHT} in flight")  # fmt: skip
        print(f"{'database':<11} {'ours s':>7} {'base s':>7} {'ratio':>6} {'delivered':>9} "
              f"{'doubled':>7} {'SQL/dlv':>7} {'tx/dlv':>7}")  # fmt: skip
        for label, url in urls:
            r = asyncio.run(throughput(label, url, args.size))
            results.append(r)
            verdict = "within" if r.ratio <= GOAL_RATIO else "NOT within"
            print(f"{label:<11} {r.ours:>7.2f} {r.baseline:>7.2f} {r.ratio:>5.2f}x "
                  f"{r.delivered:>9} {r.doubled:>7} {r.statements / r.size:>7.3f} "
                  f"{r.transactions / r.size:>7.3f}  ({verdict} the {GOAL_RATIO:g}x goal)",
                  flush=True)  # fmt: skip
        url = f"sqlite:///{Path(folder) / 'stall.sqlite3'}"
        found = asyncio.run(stalls(url, inline=not args.no_inline))
    from bot import rendering

    rendering.shutdown()
    print("Longest event-loop stall while a digest with its chart is sent (SQLite):")
    for what, stall, seconds in found.rows:
        print(f"  {what:<52} {stall * 1000:7.1f} ms  (digest sent in {seconds * 1000:.0f} ms)")
    after = max((s for w, s, _ in found.rows if not w.startswith("before")), default=0.0)
    verdict = "under" if after < GOAL_STALL else "NOT under"
    print(f"  worst with the rendering pool: {after * 1000:.1f} ms ({verdict} the "
          f"{GOAL_STALL * 1000:.0f} ms goal)")  # fmt: skip
    print("  matplotlib imported in the serving process: "
          + ("yes" if found.matplotlib_in_server else "no"))  # fmt: skip
    print(f"Peak RSS of this process: {peak_rss_mb():.0f} MB")
    return results, found


if __name__ == "__main__":
    main(sys.argv[1:])
