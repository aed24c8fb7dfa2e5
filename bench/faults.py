"""Faults against reminders and digests: `python -m bench faults [--size N] [--database-url URL]`.

Why: issue 11 asks that nothing is lost and nothing sent twice. With N due reminders (one
Slack DM each) and N // 3 + 1 digests (to two SLT channels each), against the mock Slack
(tests/slack_mock.py) on 127.0.0.1, each scenario runs the real Dispatcher and SlackNotifier
in separate OS processes (`python -m bench.faults send ...`) and counts, per target (a
conversation and a delivery key, from the message metadata), how many messages Slack got:

- kill -9: a sender is killed while Slack holds back its answer to a posted message (the
  worst moment: posted, not yet marked), then another is started;
- locked: another process holds SQLite's write lock for 7 s (past the 5 s busy timeout)
  while the sender is sending (SQLite only; `--lock-seconds`);
- 429/500: Slack rate-limits (429, Retry-After 1), then fails (500) several times, then
  recovers;
- replicas: two senders sweep at once.

Leases here are 1 s (30 s in production) so that recovery fits in a benchmark. The table
says, per scenario: expected messages, delivered (targets that got one), lost, doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from slack_mock import MockSlack

from bot.reviews import ReviewService
from bot.scheduler import Dispatcher
from bot.slack.notifier import SlackNotifier
from storage import deliveries
from storage import models as m
from storage.db import Database
from workflows.notices import Notice

AS_OF = datetime(2025, 2, 3, 8, 0, tzinfo=UTC)  # what is due; leases use the real clock
LEASE_SECONDS = 1.0
SLT = ("C_SLT1", "C_SLT2")
SENDER_DEADLINE = 60.0  # s: a sender gives up after this (what is left then counts as lost)


@dataclass
class Row:
    scenario: str
    expected: int
    delivered: int
    lost: int
    doubled: int
    looked: int  # history look-ups (an attempt that may have been cut off)
    seconds: float


# ----- the sender: its own OS process -------------------------------------------------------


def stub_bot(api_url: str) -> Any:
    """What SlackNotifier uses of SlackBot: a token, the API's address, no shared session."""

    async def token_for(team_id: str | None, enterprise_id: str | None = None) -> str:
        return "xoxb-test"

    return SimpleNamespace(
        token_for=token_for, settings=SimpleNamespace(slack_api_url=api_url), session=None
    )


async def send(url: str, api_url: str) -> None:
    """Sweep until everything is sent: as `serve` would, a sweep a moment, errors and all.

    `as_of` moves on 10 minutes a round so that backoff (1, 5, 15... minutes) passes quickly;
    leases run on the real clock."""
    database = Database(url)
    dispatcher = Dispatcher(
        ReviewService(database, lambda: datetime.now(UTC)),
        {"slack": SlackNotifier(stub_bot(api_url))},
        clock=lambda: datetime.now(UTC),
        lease=timedelta(seconds=LEASE_SECONDS),
    )
    as_of, deadline = AS_OF, time.monotonic() + SENDER_DEADLINE
    try:
        while time.monotonic() < deadline:
            try:
                await dispatcher.deliver(as_of)
                async with database.read() as session:
                    left = await session.scalar(
                        select(func.count())
                        .select_from(m.Delivery)
                        .where(m.Delivery.status != "sent")
                    )
                if not left:
                    return
            except Exception as exc:  # a locked database: the next sweep tries again
                print(f"sweep failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            await asyncio.sleep(0.2)
            as_of += timedelta(minutes=10)
    finally:
        await database.close()


def sender(url: str, api_url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.faults", "send", url, api_url],
        cwd=Path(__file__).resolve().parents[1],
        stderr=subprocess.DEVNULL,
    )


# ----- the scenarios --------------------------------------------------------------------------


async def seed(database: Database, size: int) -> set[tuple[str, str]]:
    """N reminders (a DM each) and N // 3 + 1 digests (two SLT channels each); the targets."""
    expected: set[tuple[str, str]] = set()
    async with database.transaction() as session:
        await session.execute(delete(m.Organisation))  # a PostgreSQL database is reused
        school = m.Organisation(name="Hill School", edition="school")
        session.add(school)
        await session.flush()
        for channel in SLT:
            session.add(
                m.ConversationRef(organisation_id=school.id, channel="slack",
                                  conversation_id=channel, kind="channel",
                                  reference={"team_id": "T_HILL"})
            )  # fmt: skip
        for n in range(size):
            person = m.Person(organisation_id=school.id, display_name=f"Owner {n}")
            session.add(person)
            await session.flush()
            dm = f"D{n:04d}"
            session.add(
                m.ConversationRef(organisation_id=school.id, channel="slack", conversation_id=dm,
                                  kind="personal", person_id=person.id,
                                  reference={"team_id": "T_HILL"})
            )  # fmt: skip
            key = f"reminder:{n}"
            notice = Notice(
                kind="reminder", title="Your careers action is due", sections=[("", [key])]
            )
            await deliveries.record(session, key=key, organisation_id=school.id, kind="reminder",
                                    due_at=AS_OF, stale_at=AS_OF + timedelta(days=7),
                                    payload=notice.to_payload(), person_id=person.id)  # fmt: skip
            expected.add((dm, key))
        for n in range(size // 3 + 1):
            key = f"digest:{n}"
            notice = Notice(kind="digest", title="Careers weekly digest", sections=[("", [key])])
            await deliveries.record(session, key=key, organisation_id=school.id, kind="digest",
                                    due_at=AS_OF, stale_at=AS_OF + timedelta(days=7),
                                    payload=notice.to_payload())  # fmt: skip
            expected.update((channel, key) for channel in SLT)
    return expected


def count(mock: MockSlack, expected: set[tuple[str, str]], scenario: str, begun: float) -> Row:
    got: Counter[tuple[str, str]] = Counter()
    for call in mock.calls_to("chat.postMessage"):
        metadata = call.params.get("metadata") or {}
        got[(str(call.params["channel"]), metadata.get("event_payload", {}).get("key", ""))] += 1
    delivered = len(expected & set(got))
    doubled = sum(n - 1 for n in got.values() if n > 1)
    looked = len(mock.calls_to("conversations.history"))
    return Row(scenario, len(expected), delivered, len(expected) - delivered, doubled, looked,
               time.monotonic() - begun)  # fmt: skip


async def wait_for_posts(mock: MockSlack, n: int) -> None:
    await mock.wait_for("chat.postMessage", n, timeout=30)


async def finish(*processes: subprocess.Popen[bytes]) -> None:
    await asyncio.gather(*(asyncio.to_thread(p.wait) for p in processes))


async def kill9(mock: MockSlack, url: str, size: int) -> None:
    mock.delays["chat.postMessage"] = 0.5  # posted, and the answer held back
    first = sender(url, mock.api_url)
    await wait_for_posts(mock, max(1, size // 3))
    os.kill(first.pid, signal.SIGKILL)  # inside the window: posted, not marked
    first.wait()
    mock.delays.clear()
    await finish(sender(url, mock.api_url))


def hold_lock(path: str, seconds: float) -> subprocess.Popen[bytes]:
    """Another process holding SQLite's write lock."""
    code = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2])); c.execute('COMMIT')\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, path, str(seconds)], stdout=subprocess.PIPE
    )


LOCK_SECONDS = [7.0]  # past the 5 s busy timeout: a sweep fails, and the next one goes on


async def locked(mock: MockSlack, url: str, size: int) -> None:
    mock.delays["chat.postMessage"] = 0.1
    process = sender(url, mock.api_url)
    await wait_for_posts(mock, 1)
    holder = hold_lock(url.split("///", 1)[1], LOCK_SECONDS[0])
    assert holder.stdout is not None
    holder.stdout.readline()
    mock.delays.clear()
    await finish(process, holder)


async def flaky(mock: MockSlack, url: str, size: int) -> None:
    mock.fail("chat.postMessage", 429, retry_after=1, times=2)
    mock.fail("chat.postMessage", 500, times=3)
    await finish(sender(url, mock.api_url))


async def replicas(mock: MockSlack, url: str, size: int) -> None:
    mock.delays["chat.postMessage"] = 0.05
    await finish(sender(url, mock.api_url), sender(url, mock.api_url))


SCENARIOS = {"kill -9": kill9, "locked": locked, "429/500": flaky, "replicas": replicas}


async def run(size: int, database_url: str | None) -> list[tuple[str, Row]]:
    rows: list[tuple[str, Row]] = []
    with tempfile.TemporaryDirectory(prefix="cib-faults-") as folder:
        urls = [("sqlite", f"sqlite:///{Path(folder)}/faults-{{n}}.sqlite3")]
        if database_url:
            urls.append(("postgresql", database_url))
        for label, template in urls:
            for n, (name, scenario) in enumerate(SCENARIOS.items()):
                if name == "locked" and label != "sqlite":
                    continue
                url = template.replace("{n}", str(n))  # a fresh SQLite file per scenario
                database = Database(url)
                await database.migrate()
                expected = await seed(database, size)
                await database.close()
                mock = MockSlack()
                await mock.start()
                begun = time.monotonic()
                try:
                    await scenario(mock, url, size)
                finally:
                    await mock.close()
                rows.append((label, count(mock, expected, name, begun)))
    return rows


def table(rows: list[tuple[str, Row]]) -> str:
    out = [f"{'database':<11} {'scenario':<9} {'expected':>8} {'delivered':>9} {'lost':>5} "
           f"{'doubled':>7} {'looked':>6} {'seconds':>7}"]  # fmt: skip
    for label, r in rows:
        out.append(f"{label:<11} {r.scenario:<9} {r.expected:>8} {r.delivered:>9} {r.lost:>5} "
                   f"{r.doubled:>7} {r.looked:>6} {r.seconds:>7.1f}")  # fmt: skip
    return "\n".join(out)


def main(argv: list[str]) -> list[tuple[str, Row]]:
    parser = argparse.ArgumentParser(prog="python -m bench faults", description=__doc__)
    parser.add_argument("--size", type=int, default=30, help="due reminders (default 30)")
    parser.add_argument("--database-url", help="also run on this (empty) PostgreSQL database")
    parser.add_argument("--lock-seconds", type=float, default=LOCK_SECONDS[0],
                        help="how long the other process holds SQLite's write lock")  # fmt: skip
    args = parser.parse_args(argv)
    LOCK_SECONDS[0] = args.lock_seconds
    rows = asyncio.run(run(args.size, args.database_url))
    print(f"Faults: {args.size} reminders + {args.size // 3 + 1} digests x {len(SLT)} channels; "
          f"lease {LEASE_SECONDS:g} s")  # fmt: skip
    print(table(rows))
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["send"]:
        asyncio.run(send(sys.argv[2], sys.argv[3]))
    else:
        main(sys.argv[1:])
