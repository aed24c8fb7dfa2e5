"""Issue 12: several `careers-bot serve` replicas on one PostgreSQL database.

Three replicas run as separate OS processes (tests/replica.py: what `careers-bot serve`
runs, on a loopback port), sharing a fresh database on a real PostgreSQL server, with Slack
the local mock Web API (tests/slack_mock.py) in this process. A Careers Hub's schools are
each their own Slack workspace (OAuth installations in the shared database):

- turns: every school's Careers Leader types a review's first answers in the DM; the events
  go round-robin to the three replicas, as a load balancer would send them (one person's
  consecutive turns land on different replicas), and some are retried by "Slack" (the same
  event id, `X-Slack-Retry-Num`) to a *different* replica, at once or after the first was
  applied. Each turn is applied once: one `handled_inputs` row per event id, the answers
  saved as typed, and every school's DM got the same replies as a school with no retries.
- sweeps: all three replicas sweep every half second. Sixty schools with three owners each
  have a reminder due (their actions' deadline week) and a weekly digest due, while the
  mock Slack holds back its answer to every post; one replica is killed (SIGKILL) while it
  holds claims. Once the survivors have taken its claims over (the lease is 2 s here, 30 s
  by default: `DELIVERY_LEASE_SECONDS`), every reminder and every digest was posted exactly
  once (counted per conversation and delivery key, from the message metadata), none lost.

The replicas' clock runs at real speed from a Monday in term (tests/replica.py), so that
what is due does not depend on the day the test runs. Without PostgreSQL server binaries the
test is skipped, and fails under CI=true (tests/pg.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from slack_mock import APP_ID, BOT_ID, BOT_USER, MockSlack, Team
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from model_data import load_model
from storage import models as m
from storage.db import Database

# Several processes on the real clock (leases, lock timeouts): with pytest-xdist these tests
# run one after another in one worker, never two such tests at once (Makefile: make test).
pytestmark = pytest.mark.xdist_group("processes")

ROOT = Path(__file__).resolve().parents[1]
REPLICA = Path(__file__).with_name("replica.py")
SECRET = "replica-signing-secret"
CLIENT_ID = "111.222"

# Monday 9 February 2026, 09:00 in London: in term (HT3 of 2025/26 ends on Friday 13th), so
# an action due by the end of HT3 has its "due this week" reminder due at 08:00, and a
# Monday digest is due at 08:00 too.
# Monday 9 Feb 2026, 07:59:12 in London (UTC in winter): the turns are typed first; at 08:00
# the week's reminders and digests fall due and every replica's sweep sends them. The 48 s
# before 08:00 cover starting the replicas and the turns on a loaded machine (at 18 s they
# did not always, with the rest of the suite running beside them in another xdist worker).
FAKE_START = datetime(2026, 2, 9, 7, 59, 12, tzinfo=UTC)
REPLICAS = 3
SCHOOLS = 60
OWNERS = 3  # per school, each owning one action due by the end of HT3
TALKING = 12  # schools whose Careers Leaders also type answers
LEASE_SECONDS = 2.0
SWEEP_SECONDS = 0.5
POST_DELAY = 0.05  # s: the mock posts at once but holds back its answer this long
SEND_DELAY = 1.0  # s: the same, once the turns are done: long enough to be caught mid-send

# What a Careers Leader types: open the review, then answer 1.1 and 1.2 (a level, no
# evidence, no note, neither a strength nor a priority).
SCRIPT = ["review", "3", "done", "none", "neither", "2", "done", "none", "neither"]
ANSWERED = {"1.1": 3, "1.2": 2}


@dataclass
class School:
    n: int
    organisation_id: int
    team: str
    token: str
    leader: str  # the Careers Leader's Slack user id
    leader_name: str
    dms: list[str] = field(default_factory=list)  # each owner's DM
    slt: str = ""

    @property
    def dm(self) -> str:
        return "D" + self.leader.removeprefix("U")


def team_of(n: int) -> str:
    return f"T_S{n:03d}"


async def seed(database: Database, mock: MockSlack) -> list[School]:
    """SCHOOLS schools, each its own Slack workspace installed by OAuth, each with OWNERS
    people reachable in a DM (the first the Careers Leader), an SLT channel, a completed
    review and one action per person due by the end of HT3 of 2025/26."""
    model = load_model("school")
    statements = [s.id for s in model.statements]
    set_on = datetime(2025, 9, 8, 9, 0, tzinfo=UTC)
    # The actions were agreed after their "two weeks before" reminder (Fri 30 Jan): the
    # first reminder each owner gets is the deadline week's, Monday 08:00.
    agreed_on = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
    store = AsyncSQLAlchemyInstallationStore(
        client_id=CLIENT_ID,
        engine=database.engine,
        bots_table_name=m.SLACK_BOTS,
        installations_table_name=m.SLACK_INSTALLATIONS,
    )
    schools: list[School] = []
    async with database.transaction() as session:
        for n in range(SCHOOLS):
            team = team_of(n)
            organisation = m.Organisation(name=f"School {n:03d}", edition="school",
                                          created_at=set_on)  # fmt: skip
            session.add(organisation)
            await session.flush()
            session.add(m.ChatLink(channel="slack", workspace=team,
                                   organisation_id=organisation.id))  # fmt: skip
            review = m.Review(organisation_id=organisation.id, number=1, edition="school",
                              title="Autumn review", started_at=set_on,
                              completed_at=set_on, version=1)  # fmt: skip
            session.add(review)
            await session.flush()
            school = School(n, organisation.id, team, f"xoxb-s{n:03d}", f"U_S{n:03d}_0",
                            f"Careers Leader {n}")  # fmt: skip
            for k in range(OWNERS):
                user = f"U_S{n:03d}_{k}"
                name = school.leader_name if k == 0 else f"Owner {n}-{k}"
                person = m.Person(organisation_id=organisation.id, display_name=name,
                                  initials=f"P{k}", created_at=set_on,
                                  role="careers_leader" if k == 0 else None)  # fmt: skip
                session.add(person)
                await session.flush()
                session.add(m.Identity(person_id=person.id, channel="slack", workspace=team,
                                       external_id=user))  # fmt: skip
                dm = "D" + user.removeprefix("U")
                session.add(m.ConversationRef(
                    organisation_id=organisation.id, channel="slack", conversation_id=dm,
                    kind="personal", person_id=person.id, updated_at=set_on,
                    reference={"team_id": team, "user_id": user, "channel_id": dm}))  # fmt: skip
                school.dms.append(dm)
                action = m.Action(organisation_id=organisation.id, number=k + 1,
                                  review_id=review.id, statement_id=statements[k],
                                  current_level=1, target_level=3,
                                  next_steps=f"Next step {k + 1}", due="HT3",
                                  due_year="2025/26", status="in_progress",
                                  created_at=agreed_on, updated_at=agreed_on)  # fmt: skip
                session.add(action)
                await session.flush()
                session.add(m.ActionOwner(action_id=action.id, position=0, name=f"P{k}",
                                          person_id=person.id))  # fmt: skip
                mock.add_user(user, name, team=team)
            school.slt = f"C_S{n:03d}"
            session.add(m.ConversationRef(
                organisation_id=organisation.id, channel="slack",
                conversation_id=school.slt, kind="channel", updated_at=set_on,
                reference={"team_id": team, "channel_id": school.slt}))  # fmt: skip
            mock.tokens[school.token] = Team(team, f"school-{n:03d}", organisation.name)
            schools.append(school)
    for school in schools:
        await store.async_save(
            Installation(
                app_id=APP_ID,
                enterprise_id=None,
                team_id=school.team,
                team_name=f"School {school.n:03d}",
                bot_token=school.token,
                bot_id=BOT_ID,
                bot_user_id=BOT_USER,
                bot_scopes="chat:write,commands,im:history,im:write,users:read",
                user_id=school.leader,
                installed_at=set_on.timestamp(),
            )
        )
    return schools


# ----- the replicas ---------------------------------------------------------------------------


@dataclass
class Replica:
    index: int
    process: asyncio.subprocess.Process
    port: int
    worker: str
    log: Path
    alive: bool = True
    draining: bool = False  # the "load balancer" sends it no new turns
    in_flight: int = 0  # turns sent to it and not yet applied

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"


def replica_env(database_url: str, mock: MockSlack) -> dict[str, str]:
    """What an operator puts in the environment of every replica (OAuth: many workspaces)."""
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=database_url,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET="client-secret",
        SLACK_API_URL=mock.api_url,
        TEAMS_ENABLED="false",
        PUBLIC_URL="https://careers-bot.example.org",
        SWEEP_SECONDS=str(SWEEP_SECONDS),
        DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    return env


@asynccontextmanager
async def replicas(
    database_url: str, mock: MockSlack, folder: Path, real_start: float
) -> AsyncIterator[list[Replica]]:
    started: list[Replica] = []
    processes = []
    try:
        for index in range(REPLICAS):
            log = folder / f"replica-{index}.log"
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(REPLICA), FAKE_START.isoformat(), str(real_start),
                cwd=folder,  # no stray .env
                env=replica_env(database_url, mock),
                stdout=asyncio.subprocess.PIPE,
                stderr=log.open("wb"),
            )  # fmt: skip
            processes.append((index, process, log))
        for index, process, log in processes:
            assert process.stdout is not None
            try:
                line = await asyncio.wait_for(process.stdout.readline(), 60)
                ready = json.loads(line)
            except (TimeoutError, ValueError) as exc:
                raise AssertionError(f"replica {index} did not start:\n{tail(log)}") from exc
            started.append(Replica(index, process, ready["port"], ready["worker"], log))
        yield started
    finally:
        for _, process, _ in processes:
            if process.returncode is None:
                process.terminate()
        for _, process, _ in processes:
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ----- Slack's side: signed events, round-robin -------------------------------------------------


def signed(body: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }


def dm_body(school: School, text: str, event_id: str) -> str:
    ts = f"{time.time():.6f}"
    event = {"type": "message", "channel": school.dm, "user": school.leader, "text": text,
             "ts": ts, "event_ts": ts, "channel_type": "im",
             "client_msg_id": str(uuid.uuid4())}  # fmt: skip
    return json.dumps(
        {"token": "legacy", "team_id": school.team, "api_app_id": APP_ID, "event": event,
         "type": "event_callback", "event_id": event_id, "event_time": int(time.time()),
         "authorizations": [{"enterprise_id": None, "team_id": school.team, "user_id": BOT_USER,
                             "is_bot": True, "is_enterprise_install": False}]}
    )  # fmt: skip


@dataclass
class Turns:
    """Drives the Careers Leaders' turns; counts what was sent where."""

    http: aiohttp.ClientSession
    database: Database
    mock: MockSlack
    replicas: list[Replica]
    sent: Counter[int] = field(default_factory=Counter)  # replica index -> requests
    retried_to_another: int = 0

    def pick(self, school: School, turn: int, after: Replica | None = None) -> Replica:
        """Round-robin over the replicas taking turns; never `after` (a retry goes elsewhere)."""
        up = [r for r in self.replicas if r.alive and not r.draining and r is not after]
        return up[(school.n + turn) % len(up)]

    async def post(self, replica: Replica, body: str, retry: int | None = None) -> None:
        headers = signed(body)
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        self.sent[replica.index] += 1
        async with self.http.post(replica.url, data=body.encode(), headers=headers) as response:
            assert response.status == 200, (replica.index, response.status, await response.text())

    async def applied(self, key: str, within: float = 20) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            async with self.database.read() as session:
                if await session.scalar(
                    select(func.count())
                    .select_from(m.HandledInput)
                    .where(m.HandledInput.key == key)
                ):
                    return
            await asyncio.sleep(0.05)
        raise AssertionError(f"turn {key} was never applied")

    async def school(self, school: School) -> None:
        """Type the script; school n % 3 == 0 has every event retried at once to another
        replica, n % 3 == 1 retried after the first was applied, n % 3 == 2 not retried."""
        for turn, line in enumerate(SCRIPT):
            shown = replies_in(self.mock, school.dm)
            event_id = f"Ev{school.n:03d}T{turn:02d}{uuid.uuid4().hex[:6].upper()}"
            body = dm_body(school, line, event_id)
            first = self.pick(school, turn)
            first.in_flight += 1
            try:
                if school.n % 3 == 0:
                    other = self.pick(school, turn, after=first)
                    other.in_flight += 1
                    try:
                        await asyncio.gather(self.post(first, body), self.post(other, body, 1))
                        await self.applied(f"slack:event:{event_id}")
                    finally:
                        other.in_flight -= 1
                    self.retried_to_another += 1
                else:
                    await self.post(first, body)
                    await self.applied(f"slack:event:{event_id}")
                    if school.n % 3 == 1:
                        other = self.pick(school, turn, after=first)
                        other.in_flight += 1
                        try:
                            await self.post(other, body, 1)
                        finally:
                            other.in_flight -= 1
                        self.retried_to_another += 1
                await self.answered(school, shown)
            finally:
                first.in_flight -= 1

    async def answered(self, school: School, before: int, quiet: float = 0.4) -> None:
        """Until the bot's answer to the turn is on screen (as a person reads it before
        typing the next): a new reply in the DM, then nothing more for `quiet` seconds."""
        deadline = time.monotonic() + 20
        seen, since = before, time.monotonic()
        while True:
            now = replies_in(self.mock, school.dm)
            if now != seen:
                seen, since = now, time.monotonic()
            if seen > before and time.monotonic() - since >= quiet:
                return
            assert time.monotonic() < deadline, f"no answer in {school.dm}"
            await asyncio.sleep(0.05)


# ----- what Slack got ---------------------------------------------------------------------------


def delivery_posts(mock: MockSlack) -> Counter[tuple[str, str]]:
    """Posts carrying a delivery key, per (conversation, key)."""
    got: Counter[tuple[str, str]] = Counter()
    for call in mock.calls_to("chat.postMessage"):
        metadata = call.params.get("metadata") or {}
        key = (metadata.get("event_payload") or {}).get("key")
        if key:
            got[(str(call.params["channel"]), key)] += 1
    return got


def replies_in(mock: MockSlack, channel: str) -> int:
    """The bot's answers to turns in a DM: posts without a delivery key, and updates."""
    return sum(
        1
        for c in mock.calls
        if c.method in {"chat.postMessage", "chat.update"}
        and c.ok
        and c.params.get("channel") == channel
        and not c.params.get("metadata")
    )


async def held_by(database: Database, worker: str) -> int:
    async with database.read() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(m.Delivery)
                .where(m.Delivery.status == "claimed", m.Delivery.claimed_by == worker)
            )
            or 0
        )


async def unsent(database: Database) -> int:
    async with database.read() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(m.Delivery).where(m.Delivery.status != "sent")
            )
            or 0
        )


async def cut_off(database: Database, worker: str) -> list[tuple[str, str]]:
    """(conversation, key) of the targets `worker` has begun sending and not marked sent."""
    async with database.read() as session:
        rows = await session.execute(
            select(m.DeliveryTarget.conversation_id, m.Delivery.key)
            .join(m.Delivery, m.DeliveryTarget.delivery_id == m.Delivery.id)
            .where(
                m.Delivery.status == "claimed",
                m.Delivery.claimed_by == worker,
                m.DeliveryTarget.status == "pending",
                m.DeliveryTarget.attempts > 0,
            )
        )
        return [(conversation, key) for conversation, key in rows]


async def kill_mid_send(
    database: Database, mock: MockSlack, running: list[Replica]
) -> tuple[Replica, int]:
    """SIGKILL a replica at the worst moment: Slack has taken a reminder or digest from it
    and holds back its answer, so the replica dies before marking it sent. The turns are
    all applied by then (a turn is saved before Slack gets its 200, so a kill mid-turn would
    be Slack's retry to another replica, tested apart). Whichever replica is first caught
    mid-send is the victim. Returns it and how many claims it held when it died."""
    deadline = time.monotonic() + 60
    victim = None
    while victim is None:
        assert time.monotonic() < deadline, "no replica was ever caught mid-send"
        posted = delivery_posts(mock)
        for replica in running:
            if any(target in posted for target in await cut_off(database, replica.worker)):
                victim = replica
                break
        else:
            await asyncio.sleep(0.005)
    victim.process.send_signal(signal.SIGKILL)
    await victim.process.wait()
    victim.alive = False
    return victim, await held_by(database, victim.worker)


# ----- the test ---------------------------------------------------------------------------------


async def test_three_replicas_apply_each_turn_once_and_send_each_notice_once(
    postgresql_database_url: str, tmp_path: Path
) -> None:
    begun = time.monotonic()
    database = Database(postgresql_database_url)
    await database.migrate()  # `careers-bot db upgrade`, once, before the replicas start
    mock = MockSlack()
    await mock.start()
    try:
        schools = await seed(database, mock)
        seeded = time.monotonic()
        mock.delays["chat.postMessage"] = POST_DELAY
        async with (
            replicas(postgresql_database_url, mock, tmp_path, time.time()) as running,
            aiohttp.ClientSession() as http,
        ):
            times = {"seeded": seeded - begun, "up": time.monotonic() - begun}
            turns = Turns(http, database, mock, running)
            talking = schools[:TALKING]
            await asyncio.wait_for(asyncio.gather(*(turns.school(s) for s in talking)), 60)
            times["turns done"] = time.monotonic() - begun
            assert not delivery_posts(mock), "the turns were meant to finish before 08:00"
            mock.delays["chat.postMessage"] = SEND_DELAY
            victim, held = await kill_mid_send(database, mock, running)
            times["killed"] = time.monotonic() - begun
            deadline = time.monotonic() + 40
            while await unsent(database):
                assert time.monotonic() < deadline, "deliveries left unsent:\n" + "\n".join(
                    tail(r.log, 10) for r in running
                )
                await asyncio.sleep(0.2)
            await asyncio.sleep(POST_DELAY * 2)  # nothing more on its way
            for replica in running:
                if replica is not victim:
                    assert replica.process.returncode is None, tail(replica.log)
            times["all sent"] = time.monotonic() - begun

        # Each turn applied once: one key per event, the answers as typed, and every
        # school's DM got the same replies whether its events were retried or not.
        async with database.read() as session:
            keys = list(await session.scalars(select(m.HandledInput.key)))
            answers = (
                await session.execute(
                    select(
                        m.Review.organisation_id, m.Response.statement_id, m.Response.level
                    ).join(m.Review, m.Response.review_id == m.Review.id)
                )
            ).all()
        assert len(keys) == len(set(keys)) == TALKING * len(SCRIPT)
        assert sorted(answers) == sorted(
            (s.organisation_id, statement, level)
            for s in talking
            for statement, level in ANSWERED.items()
        )
        replies = {s.n: replies_in(mock, s.dm) for s in talking}
        assert len(set(replies.values())) == 1, replies
        assert turns.retried_to_another >= (TALKING * 2 // 3) * len(SCRIPT)
        assert all(turns.sent[r.index] for r in running)  # all three took turns

        # Every reminder and digest exactly once, none lost, after the victim's claims were
        # taken over.
        expected_places = {dm for s in schools for dm in s.dms} | {s.slt for s in schools}
        got = delivery_posts(mock)
        assert {place for place, _ in got} == expected_places
        assert [k for k, n in got.items() if n > 1] == []  # nothing doubled
        per_place = Counter(place for place, _ in got)
        assert set(per_place.values()) == {1}  # one reminder per owner, one digest per school
        async with database.read() as session:
            recorded = list(await session.scalars(select(m.Delivery)))
        assert len(recorded) == SCHOOLS * (OWNERS + 1) == len(got)
        assert {d.key for d in recorded} == {key for _, key in got}
        assert held >= 1
        looked = len(mock.calls_to("conversations.history"))
        assert looked >= 1  # the post it was cut off in was found, not sent again
        print(
            f"\n{REPLICAS} replicas, {SCHOOLS} schools: {len(keys)} turns "
            f"({turns.retried_to_another} retried to another replica; per replica "
            f"{dict(sorted(turns.sent.items()))}); {len(got)} notices sent once each; "
            f"replica {victim.index} killed holding {held} claims; "
            f"{looked} history look-ups; seconds: "
            + ", ".join(f"{k} {v:.1f}" for k, v in times.items())
        )
    finally:
        await mock.close()
        await database.close()


async def test_replicas_starting_together_on_an_empty_database_migrate_it_once(
    postgresql_database_url: str,
) -> None:
    """Every replica migrates on start (`serve`): three starting at once on a fresh database
    (a first deployment, or an upgrade without `careers-bot db upgrade` first) take turns
    (a PostgreSQL advisory lock) instead of waiting on each other's tables (without the
    lock this hangs: checked by removing it)."""
    databases = [Database(postgresql_database_url) for _ in range(REPLICAS)]
    try:
        await asyncio.wait_for(asyncio.gather(*(d.migrate() for d in databases)), 60)
        async with databases[0].read() as session:
            assert await session.scalar(select(func.count()).select_from(m.Organisation)) == 0
    finally:
        for d in databases:
            await d.close()
