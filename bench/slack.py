"""Slack reply latency, lost answers and CPU per turn under concurrency: `python -m bench slack`.

Why: Slack shows a person nothing until the bot's reply arrives, and an answer acknowledged
with HTTP 200 that is then not saved is lost without trace (Slack will not resend it). So
for 1, 50 and 200 simulated people answering at once this measures, in one process and run:

- our real server (bot.app.init_app, SQLite file, mock Slack Web API on 127.0.0.1), and
- a bare Bolt app (same signing secret, slack_bolt's aiohttp adapter, a message listener
  that only calls chat.postMessage) as the floor that Bolt + aiohttp + the mock cost,

the time from sending a signed request to the mock receiving the reply (the first
chat.postMessage or chat.update in that person's DM), the answers acknowledged against those
saved, and process CPU per turn. Each person is in their own workspace (so their own school
and review), opens the review by typing "review", then types answers, waiting for the reply
and a short quiet gap (the rest of a multi-message reply) before the next one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bench import harness
from bot.reviews import ReviewService
from model_data import load_glossary, load_model
from storage import models as m
from storage import repo
from storage.db import Database
from workflows import review as engine

LEVELS = (1, 50, 200)
# Typed by every person after "review": participants, then statement 1.1 (level, no
# evidence, no note, ...). Each line moves the review on by exactly one question.
LINES = ("Sam Rivers, Nadia Rahman", "3", "done", "none", "neither", "2")
ANSWERS = 4  # lines of LINES each person types by default
START_SPREAD = 1.0  # s: people start at random moments within this (fixed seed)
QUIET = 0.25  # s without a reply before the person types again (a reply may be several messages)
REPLY_TIMEOUT = 20.0  # s: no reply by then and the person gives up (counted "no reply")
PHASE_LIMIT = 60.0  # s: after this nobody starts a new turn (the run stays bounded)
SLACK_ACK_LIMIT = 3.0  # s: Slack retries a request not acknowledged within this
RETRY_WORDS = "try again"  # an error reply that tells the person to send it again
GOAL_RATIO = 2.0
WARM_UP = 900_000  # user numbers of the untimed warm-up people


@dataclass
class Phase:
    """What one server did for one crowd of people."""

    server: str
    people: int
    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    acks: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    no_reply: int = 0  # the person waited REPLY_TIMEOUT, then gave up their other answers
    messages: int = 0  # posts and updates in the crowd's DMs (a turn may send several)
    cut_off: int = 0  # turns not started because PHASE_LIMIT passed
    cpu: float = 0.0
    wall: float = 0.0
    acknowledged: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # team: lines

    def percentile(self, values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        if len(values) == 1:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]

    @property
    def p50(self) -> float:
        return self.percentile(self.latencies, 50)

    @property
    def p95(self) -> float:
        return self.percentile(self.latencies, 95)


@dataclass
class Losses:
    acknowledged: int = 0
    saved: int = 0
    told_to_retry: int = 0
    lost: int = 0
    reviews_as_expected: int = 0
    reviews: int = 0


class ErrorCount(logging.Handler):
    """Counts the servers' logged errors (a failed listener is logged, not answered)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.first is None:
            exc = record.exc_info[1] if record.exc_info else None
            text = str(exc) if exc is not None else record.getMessage()
            kind = f"{type(exc).__name__}: " if exc is not None else ""
            self.first = f"{record.name}: {kind}{text.splitlines()[0][:160]}"


async def person(
    user: harness.User,
    lines: list[str],
    server: TestServer,
    http: aiohttp.ClientSession,
    mock: harness.BenchMock,
    phase: Phase,
    deadline: float,
    start: float,
) -> None:
    """One person: type each line in their DM, wait for the reply, then a quiet gap."""
    await asyncio.sleep(start)
    for number, line in enumerate(lines):
        if time.monotonic() > deadline:
            phase.cut_off += len(lines) - number
            return
        seen = len(mock.replies.get(user.channel, []))
        body, event_id = harness.event_body(user, line)
        phase.sent += 1
        try:
            sent = await harness.post(http, server, body, "application/json")
        except (TimeoutError, aiohttp.ClientError):
            phase.statuses[0] += 1
            return
        phase.statuses[sent.status] += 1
        phase.acks.append(sent.acked - sent.at)
        if sent.status != 200:
            return
        phase.acknowledged.setdefault(user.team, []).append((event_id, line))
        reply = await mock.reply_after(user.channel, seen, REPLY_TIMEOUT)
        if reply is None:
            phase.no_reply += 1
            return
        phase.latencies.append(reply.at - sent.at)
        await mock.quiet(user.channel, QUIET, REPLY_TIMEOUT)


async def crowd(
    name: str,
    server: TestServer,
    mock: harness.BenchMock,
    users: list[harness.User],
    answers: int,
    limit: float,
) -> Phase:
    """Every person at once; CPU and wall time measured around the whole crowd."""
    phase = Phase(name, len(users))
    lines = ["review", *LINES[:answers]]
    rng = random.Random(len(users))
    connector = aiohttp.TCPConnector(limit=0)  # the client side never queues requests
    timeout = aiohttp.ClientTimeout(total=REPLY_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        # One person first, untimed: start-up work (auth.test, lazy imports, the first
        # connections) is not what a crowd waits for.
        warm = WARM_UP + len(users)
        await person(harness.User(warm), lines[:2], server, http, mock, Phase(name, 1), 1e9, 0)
        cpu, wall = time.process_time(), time.monotonic()
        deadline = wall + limit
        await asyncio.gather(
            *(
                person(u, lines, server, http, mock, phase, deadline, rng.uniform(0, START_SPREAD))
                for u in users
            )
        )
        phase.cpu, phase.wall = time.process_time() - cpu, time.monotonic() - wall
    phase.messages = sum(len(mock.replies.get(u.channel, [])) for u in users)
    return phase


async def losses(database: Database, phase: Phase, mock: harness.BenchMock) -> Losses:
    """Acknowledged answers against what the database kept.

    Saved: the turn's idempotency key (which holds the Slack event id) was committed with it.
    Also checked: each review stands where replaying its acknowledged lines in the engine
    puts it, and replies saying "try again" count as the person being told.
    """
    out = Losses()
    acknowledged = {e: team for team, sent in phase.acknowledged.items() for e, _ in sent}
    out.acknowledged = len(acknowledged)
    async with database.transaction() as session:
        keys = list(await session.scalars(select(m.HandledInput.key)))
    saved_ids = {e for e in acknowledged if any(e in key for key in keys)}
    out.saved = len(saved_ids)
    if out.acknowledged and not out.saved:
        raise RuntimeError(
            "none of the acknowledged event ids is in handled_inputs: has the idempotency key "
            "stopped holding the Slack event id? Update bench/slack.py:losses()"
        )
    service = ReviewService(database)
    for team, sent in phase.acknowledged.items():
        unsaved = sum(1 for event_id, _ in sent if event_id not in saved_ids)
        channel = harness.User(int(team.removeprefix("T"))).channel
        told = sum(1 for c in mock.replies.get(channel, []) if RETRY_WORDS in c.text().lower())
        out.told_to_retry += min(unsaved, told)
        out.lost += unsaved - min(unsaved, told)
        async with database.transaction() as session:
            organisation = await repo.linked_organisation(session, "slack", team)
        state = await service.state(organisation.id) if organisation else None
        out.reviews += 1
        expected = expected_cursor([line for _, line in sent])
        if state is not None and where(state.cursor) == where(expected):
            out.reviews_as_expected += 1
    return out


def where(cursor: engine.Cursor) -> tuple[str | None, str, bool]:
    return cursor.statement_id, cursor.step.value, cursor.paused


def expected_cursor(lines: list[str]) -> engine.Cursor:
    """Where the engine alone puts a new review after these lines ("review" opens it)."""
    model = load_model("school")
    ctx = engine.Context(model, load_glossary(), datetime.now(UTC), "Bench Person")
    state = engine.new_review(model, "Bench")
    for line in lines:
        if line == "review":
            state = engine.open_review(state, ctx).state
        else:
            state = engine.handle(state, line, ctx).state
    return state.cursor


async def level(
    people: int, answers: int, limit: float, folder: Path
) -> tuple[Phase, Phase, Losses]:
    """One crowd size: bare Bolt first, then ours on a fresh database, each with fresh users."""
    mock = harness.BenchMock()
    await mock.start()
    try:
        base_users = [harness.User(100_000 + n) for n in range(people)]
        our_users = [harness.User(n + 1) for n in range(people)]
        warm = harness.User(WARM_UP + people)  # crowd() warms each server up with this person
        harness.add_users(mock, [*base_users, *our_users, warm])
        async with harness.bare_bolt(mock) as server:
            base = await crowd("bare Bolt", server, mock, base_users, answers, limit)
        database: Database
        async with harness.ours(mock, folder) as (server, database):
            ours = await crowd("ours", server, mock, our_users, answers, limit)
            # Let listeners still writing finish (bounded) before reading the database.
            await asyncio.gather(*(mock.quiet(u.channel, QUIET, REPLY_TIMEOUT) for u in our_users))
        try:
            lost = await losses(database, ours, mock)
        finally:
            await database.close()
    finally:
        await mock.close()
    return base, ours, lost


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def report(base: Phase, ours: Phase, lost: Losses) -> list[str]:
    lines = []
    for phase in (base, ours):
        late = sum(1 for a in phase.acks if a > SLACK_ACK_LIMIT)
        statuses = ",".join(f"{s or 'error'}x{n}" for s, n in sorted(phase.statuses.items()))
        cpu = phase.cpu / phase.sent if phase.sent else float("nan")
        lines.append(
            f"{phase.people:>5}  {phase.server:<9}  {phase.sent:>5}  {len(phase.latencies):>7}  "
            f"{ms(phase.p50)}  {ms(phase.p95)}  {ms(max(phase.latencies, default=0))}  "
            f"{ms(phase.percentile(phase.acks, 95))}  {late:>7}  {ms(cpu)}  "
            f"{phase.wall:6.1f}  {phase.messages / max(phase.sent, 1):8.1f}  "
            f"no reply {phase.no_reply}, cut off {phase.cut_off}, HTTP {statuses}"
        )
    ratio = ours.p95 / base.p95 if base.latencies and ours.latencies else float("nan")
    verdict = "within" if ratio <= GOAL_RATIO else "NOT within"
    lines.append(f"       p95 ours / bare Bolt = {ratio:.1f}x ({verdict} the {GOAL_RATIO:g}x goal)")
    lines.append(
        f"       answers (ours): acknowledged {lost.acknowledged}, saved {lost.saved}, "
        f"told to retry {lost.told_to_retry}, lost {lost.lost}; "
        f"reviews where the engine says: {lost.reviews_as_expected}/{lost.reviews}"
    )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench slack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--users", default=",".join(map(str, LEVELS)),
                        help="crowd sizes, comma-separated (default %(default)s)")  # fmt: skip
    parser.add_argument("--answers", type=int, default=ANSWERS, choices=range(1, len(LINES) + 1),
                        help="answers each person types after 'review' (default %(default)s)")  # fmt: skip
    parser.add_argument("--limit", type=float, default=PHASE_LIMIT,
                        help="seconds after which no new turn starts (default %(default)s)")  # fmt: skip
    args = parser.parse_args(argv)
    crowds = [int(n) for n in args.users.split(",")]
    errors = ErrorCount()
    logging.getLogger().addHandler(errors)
    logging.getLogger("careers_bot").setLevel(logging.ERROR)
    print(
        f"Slack reply latency: each person in their own workspace types 'review' then "
        f"{args.answers} answers; SQLite; everything on 127.0.0.1 in this one process"
    )
    print(
        "latency = signed request sent -> mock Slack receives the first chat.postMessage/"
        "chat.update in that DM; CPU = process CPU (servers, mock and clients) per request"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (a busy "
        "machine slows bare Bolt too: compare the absolute p95 as well as the ratio)"
    )
    print(
        f"{'users':>5}  {'server':<9}  {'turns':>5}  {'replied':>7}  {'p50 ms':>8}  "
        f"{'p95 ms':>8}  {'max ms':>8}  {'ack p95':>8}  {'acks>3s':>7}  {'CPU ms':>8}  "
        f"{'wall s':>6}  {'msgs/turn':>8}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for people in crowds:
            place = Path(folder) / str(people)
            place.mkdir()
            base, ours, lost = asyncio.run(level(people, args.answers, args.limit, place))
            for line in report(base, ours, lost):
                print(line, flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(
        f"errors logged by the servers: {errors.count}"
        + (f" (first: {errors.first})" if errors.first else "")
    )


if __name__ == "__main__":
    main()
