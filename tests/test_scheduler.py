"""Reminders and the weekly digest, driven with explicit `as_of` times; one test runs APScheduler."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from review_scripts import seed_review
from sqlalchemy import select

from bot.notify import DeliveryError, Pacer
from bot.reviews import ReviewService
from bot.scheduler import Dispatcher
from model_data import MaturityModel
from storage import deliveries, repo
from storage import models as m
from storage.db import Database
from storage.models import ConversationRef
from workflows.notices import Notice

LONDON = ZoneInfo("Europe/London")
SET_ON = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)  # HT3 of 2024/25


def london(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON).astimezone(UTC)


class Recorder:
    """A chat channel that records what it was asked to send, and can be made to fail."""

    def __init__(self, channel: str = "slack", failures: int = 0) -> None:
        self.channel = channel
        self.failures = failures
        self.sent: list[tuple[str, Notice, bytes | None]] = []

    async def send(
        self, conversation: ConversationRef, notice: Notice, chart: bytes | None, key: str = ""
    ) -> str | None:
        if self.failures:
            self.failures -= 1
            raise DeliveryError("503 from the chat service")
        self.sent.append((conversation.conversation_id, notice, chart))
        return f"{conversation.conversation_id}-{len(self.sent)}"


async def seeded(database: Database, school: MaturityModel) -> tuple[int, int]:
    """Hill School with seed 003's plan, set on 15 Jan 2025; Sam Rivers (SR) is a known person."""
    organisation, sam = await seed_review(database, school, SET_ON)
    return organisation.id, sam


async def dm(
    database: Database, organisation_id: int, person_id: int, channel: str = "slack"
) -> None:
    async with database.transaction() as session:
        await repo.save_conversation_ref(
            session,
            organisation_id,
            channel,
            f"D-{person_id}",
            "personal",
            {"channel": f"D-{person_id}"},
            SET_ON,
            person_id,
        )


def dispatcher(
    database: Database, *notifiers: Recorder, clock: Callable[[], datetime] | None = None
) -> Dispatcher:
    async def no_sleep(_: float) -> None:
        return None

    return Dispatcher(
        ReviewService(database, lambda: SET_ON),
        {n.channel: n for n in notifiers},
        Pacer(sleep=no_sleep),
        clock=clock,
    )


async def test_reminder_contents_and_outbox(database: Database, school: MaturityModel) -> None:
    organisation_id, sam = await seeded(database, school)
    outbox = dispatcher(database)
    report = await outbox.run(london("2025-01-31T08:00"))  # Fri: 14 days before HT3 ends
    assert report.sent == report.recorded == report.outbox > 0
    async with database.transaction() as session:
        rows = await deliveries.deliveries(session, organisation_id)
        actions = {a.id: a for a in await repo.organisation_actions(session, organisation_id)}
    reminders = [r for r in rows if r.kind == "reminder"]
    assert reminders
    assert {r.person_id for r in reminders} == {sam}
    assert all(actions[r.action_id].due == "HT3" for r in reminders)  # type: ignore[index]
    first = next(r for r in reminders if actions[r.action_id].statement_id == "1.2")  # type: ignore[index]
    notice = Notice.from_payload(first.payload)
    assert notice.title == "Your careers action is due in two weeks"
    lines = notice.sections[0][1]
    assert (
        lines[0]
        == f"Action #{first.action_id} – 1.2 Leaders' vision: due Fri 14 Feb 2025 (14 days)."
    )
    assert lines[1].startswith("Next steps: Create shared vision for careers")
    assert lines[2].startswith("Target: level 4 – The vision(s) shapes the priorities")
    assert [b.value for b in notice.buttons] == [
        f"done {first.action_id}",
        f"progress {first.action_id}",
        f"snooze {first.action_id}",
    ]
    assert first.status == "sent"
    assert first.sent_to == [{"channel": "outbox"}]
    # Owners known only by initials are never reminded directly.
    assert not any(actions[r.action_id].statement_id == "4.2" for r in reminders)  # type: ignore[index]


async def test_weekends_and_holidays_wait_for_the_next_school_day(
    database: Database, school: MaturityModel
) -> None:
    organisation_id, sam = await seeded(database, school)
    await dm(database, organisation_id, sam)
    slack = Recorder()
    run = dispatcher(database, slack)
    await run.run(london("2025-02-10T08:00"))  # Mon of the deadline's week
    due_week = len(slack.sent)
    assert due_week > 0
    assert all(n.title == "Your careers action is due this week" for _, n, _ in slack.sent)
    # Saturday after the deadline, then the February half-term: nothing new until Mon 24 Feb.
    for moment in ("2025-02-15T09:00", "2025-02-17T08:00", "2025-02-21T12:00"):
        await run.run(london(moment))
        assert len(slack.sent) == due_week, moment
    await run.run(london("2025-02-24T08:00"))
    monday = [n for _, n, _ in slack.sent[due_week:]]
    overdue = [n for n in monday if n.title == "Your careers action is overdue"]
    assert overdue
    assert all("overdue since Fri 14 Feb 2025 (10 days)" in n.sections[0][1][0] for n in overdue)
    # The same Monday HT4 begins: owners of HT3/4 actions hear their half-term has started.
    started = [n for n in monday if n.title == "The half-term your action is due in has started"]
    assert started
    assert all("due Fri 4 Apr 2025 (39 days)" in n.sections[0][1][0] for n in started)
    assert len(overdue) + len(started) == len(monday)


async def test_both_clock_changes(database: Database, school: MaturityModel) -> None:
    organisation_id, _ = await seeded(database, school)
    run = dispatcher(database)
    # HT3/4 actions end Fri 4 Apr 2025; their deadline week starts Mon 31 Mar, in BST: 08:00 = 07:00 UTC.
    await run.plan(datetime(2025, 3, 31, 7, 0, tzinfo=UTC))
    async with database.transaction() as session:
        rows = [
            r
            for r in await deliveries.deliveries(session, organisation_id)
            if ":due_week:" in r.key
        ]
    assert rows
    assert {r.due_at for r in rows} == {datetime(2025, 3, 31, 7, 0, tzinfo=UTC)}
    # A minute earlier (06:59 UTC is 07:59 BST) nothing for that week is due yet.
    earlier = dispatcher(database)
    assert [
        n
        for n in await earlier.due_now(organisation_id, datetime(2025, 3, 31, 6, 59, tzinfo=UTC))
        if n.title.endswith("this week")
    ] == []
    # Back to GMT: Sun 26 Oct 2025; the digest on Mon 3 Nov (after half-term) is at 08:00 UTC.
    digest = [
        n
        for n in await earlier.due_now(organisation_id, datetime(2025, 11, 3, 8, 0, tzinfo=UTC))
        if n.kind == "digest"
    ]
    assert len(digest) == 1
    assert [
        n
        for n in await earlier.due_now(organisation_id, datetime(2025, 11, 3, 7, 59, tzinfo=UTC))
        if n.kind == "digest"
    ] == []


async def test_restart_sends_nothing_twice(database: Database, school: MaturityModel) -> None:
    organisation_id, sam = await seeded(database, school)
    await dm(database, organisation_id, sam)
    first = Recorder()
    await dispatcher(database, first).run(london("2025-01-31T08:00"))
    assert first.sent
    again = Recorder()  # a new process: new worker, new notifier, same database
    report = await dispatcher(database, again).run(london("2025-01-31T08:05"))
    assert again.sent == []
    assert report.recorded == 0


async def test_a_failing_channel_is_retried_with_backoff(
    database: Database, school: MaturityModel
) -> None:
    organisation_id, sam = await seeded(database, school)
    await dm(database, organisation_id, sam)
    flaky = Recorder(failures=1000)
    run = dispatcher(database, flaky)
    report = await run.run(london("2025-01-31T08:00"))
    assert report.failed > 0
    # A school that uses chat never has its notices put in the outbox: the week's digest
    # waits for its SLT channel (not a failure), retried like a failed send.
    assert report.sent == report.outbox == 0 and report.waiting == 1
    async with database.transaction() as session:
        failed = await deliveries.deliveries(session, organisation_id, status="failed")
    reminders = [r for r in failed if r.kind == "reminder"]
    [digest] = [r for r in failed if r.kind == "digest"]
    assert reminders
    assert all(r.last_error == f"slack D-{sam}: 503 from the chat service" for r in reminders)
    assert digest.last_error is not None and "waiting for the SLT channel" in digest.last_error
    assert all(r.next_attempt_at == london("2025-01-31T08:01") for r in failed)
    flaky.failures = 0
    await run.run(london("2025-01-31T08:00:30"))  # too soon: backoff
    assert flaky.sent == []
    await run.run(london("2025-01-31T08:02"))
    assert len(flaky.sent) == len(reminders)
    async with database.transaction() as session:
        still = await deliveries.deliveries(session, organisation_id, status="failed")
    assert [r.kind for r in still] == ["digest"]  # until an SLT channel is chosen


async def test_a_bad_setting_affects_only_itself(
    database: Database, school: MaturityModel, caplog: pytest.LogCaptureFixture
) -> None:
    """A digest time of 25:99 stops that school's digest (said in the log), not its
    reminders, and not other schools' digests."""
    organisation_id, sam = await seeded(database, school)
    await dm(database, organisation_id, sam)
    async with database.transaction() as session:
        hill = await repo.get_organisation(session, organisation_id)
        assert hill is not None
        hill.settings = {"digest_time": "25:99"}
        other = await repo.create_organisation(session, "Valley School", "school")
    slack = Recorder()
    report = await dispatcher(database, slack).run(london("2025-02-03T08:00"))  # a Monday
    assert report.errors == []
    assert "no digest until its setting is corrected" in caplog.text
    sent = [notice.kind for _, notice, _ in slack.sent]
    assert sent and set(sent) == {"reminder"}  # Hill's reminders went; its digest did not
    async with database.transaction() as session:
        valley = await deliveries.deliveries(session, other.id)
    assert [d.kind for d in valley] == ["digest"]  # the other school's digest is unaffected


async def test_two_schedulers_on_one_database_send_each_item_once(
    database: Database, school: MaturityModel
) -> None:
    """Seen passing with no digest sent at all: there must be reminders AND a digest, once."""
    organisation_id, sam = await seeded(database, school)
    await dm(database, organisation_id, sam)
    async with database.transaction() as session:
        await repo.save_conversation_ref(
            session, organisation_id, "slack", "C-SLT", "channel", {}, SET_ON
        )
    one, two = Recorder(), Recorder()
    moment = london("2025-02-10T08:00")  # a Monday: reminders of the deadline week, the digest
    await asyncio.gather(
        dispatcher(database, one).run(moment), dispatcher(database, two).run(moment)
    )
    sent = Counter(n.sections[0][1][0] for _, n, _ in one.sent + two.sent if n.kind == "reminder")
    assert len(sent) > 0
    assert set(sent.values()) == {1}
    digests = [c for c, n, _ in one.sent + two.sent if n.kind == "digest"]
    assert digests == ["C-SLT"]


async def test_a_crashed_claim_is_taken_over_after_its_lease(
    database: Database, school: MaturityModel
) -> None:
    """The lease runs on the real clock (injected here), not on the sweep's `as_of`."""
    organisation_id, sam = await seeded(database, school)
    await dm(database, organisation_id, sam)
    moment = london("2025-01-31T08:00")
    wall = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)  # whatever the real time is
    crashed = dispatcher(database)
    await crashed.plan(moment)
    async with database.transaction() as session:
        taken = await deliveries.claim(session, "crashed-worker", moment, 100, wall)
    assert taken and all(t.lease_until == wall + deliveries.LEASE for t in taken)
    survivor = Recorder()
    run = dispatcher(database, survivor, clock=lambda: wall + timedelta(seconds=20))
    await run.deliver(moment + timedelta(hours=1))  # as_of far on: the lease still holds
    assert survivor.sent == []
    later = dispatcher(database, survivor, clock=lambda: wall + timedelta(seconds=31))
    await later.deliver(moment)
    assert len(survivor.sent) == len([t for t in taken if t.kind == "reminder"])
    async with database.transaction() as session:
        assert await deliveries.deliveries(session, organisation_id, status="claimed") == []
    async with database.transaction() as session:  # the crashed worker can no longer mark it
        assert not await deliveries.mark_sent(session, taken[0].id, "crashed-worker", moment, [])


async def test_after_downtime_only_what_is_still_relevant_is_sent(
    database: Database, school: MaturityModel
) -> None:
    organisation_id, sam = await seeded(database, school)
    await dm(database, organisation_id, sam)
    slack = Recorder()
    run = dispatcher(database, slack)
    await run.plan(london("2025-01-31T08:00"))  # recorded, then the service went down
    await run.run(london("2025-02-11T10:00"))  # back on Tuesday of the deadline's week
    titles = Counter(n.title for _, n, _ in slack.sent if n.kind == "reminder")
    assert titles == Counter(
        {"Your careers action is due this week": titles["Your careers action is due this week"]}
    )
    async with database.transaction() as session:
        dropped = await deliveries.deliveries(session, organisation_id, status="dropped")
    assert dropped
    assert all(r.last_error and r.last_error.startswith("stale") for r in dropped)


async def test_digest_contents(database: Database, school: MaturityModel) -> None:
    organisation_id, _sam = await seeded(database, school)
    async with database.transaction() as session:
        await repo.save_conversation_ref(
            session, organisation_id, "slack", "C-SLT", "channel", {}, SET_ON
        )
    slack = Recorder()
    run = dispatcher(database, slack)

    async def plan_link(_session: object, schools: Sequence[int], now: datetime) -> dict[int, str]:
        return {
            school: f"https://bot.example/plans/{school}-{now:%Y%m%d}.docx" for school in schools
        }

    run.plan_link = plan_link
    await run.run(london("2025-03-03T08:00"))  # Monday of HT4: the HT3 deadlines have passed
    digests = [(c, n, chart) for c, n, chart in slack.sent if n.kind == "digest"]
    assert len(digests) == 1
    conversation, notice, chart = digests[0]
    assert conversation == "C-SLT"
    assert notice.title == "Careers weekly digest – Hill School – week of Mon 3 Mar 2025"
    sections = dict(notice.sections)
    progress = sections["Review progress and maturity profile"]
    assert (
        progress[0]
        == "Careers Leadership action plan and summary – January 2025: 32 of 32 statements answered."
    )
    assert progress[1].startswith("Theme 1 ")
    overdue = sections["Overdue"]
    assert any(line.endswith("1.2 Leaders' vision – SR, due Fri 14 Feb 2025") for line in overdue)
    due = sections["Due this half-term (by Fri 4 Apr 2025)"]
    assert any("1.6 Careers Hub engagement – SR / JHu, due Fri 4 Apr 2025" in line for line in due)
    assert any(
        "4.2" in line for line in sections["Owners known only by initials (not reminded directly)"]
    )
    assert notice.sections[-1][1] == [
        f"The full plan (Word, link valid for two weeks): https://bot.example/plans/{organisation_id}-20250303.docx"
    ]
    assert chart is not None
    assert chart.startswith(b"\x89PNG")
    # Nothing is sent in the February half-term week, and only once a week.
    before = len(slack.sent)
    await run.run(london("2025-03-03T09:00"))
    assert len([n for _, n, _ in slack.sent[before:] if n.kind == "digest"]) == 0
    assert [
        n
        for n in await run.due_now(organisation_id, london("2025-02-17T08:00"))
        if n.kind == "digest"
    ] == []


def test_pacing_keeps_inside_slack_and_teams_limits() -> None:
    now = [100.0]
    pacer = Pacer(clock=lambda: now[0])
    assert pacer.delay("slack", "C1") == 0
    pacer.history[("slack", "C1")] = deque([100.0])
    assert pacer.delay("slack", "C1") == pytest.approx(1.0)
    assert pacer.delay("slack", "C2") == 0
    pacer.history[("teams", "T1")] = deque([99.5 + i * 0.05 for i in range(7)])
    assert pacer.delay("teams", "T1") == pytest.approx(0.5 + 0.0, abs=0.01)
    pacer.history[("teams", "T2")] = deque([75.0 + i * 0.4 for i in range(60)])
    assert pacer.delay("teams", "T2") == pytest.approx(75.0 + 30.0 - 100.0)


async def test_the_real_scheduler_sends_within_seconds(tmp_path, school: MaturityModel) -> None:  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestServer

    from bot.app import init_app
    from bot.config import Settings

    database = Database(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    await database.migrate()
    organisation_id, _ = await seeded(database, school)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        scheduler_enabled=True,
        sweep_seconds=0.5,
        _env_file=None,
    )  # type: ignore[call-arg]
    server = TestServer(
        init_app(settings, database=database, clock=lambda: london("2025-01-31T08:00")),
        host="127.0.0.1",
        port=0,
    )
    await server.start_server()
    try:
        sent: list[object] = []
        for _ in range(100):
            async with database.transaction() as session:
                sent = await deliveries.deliveries(session, organisation_id, status="sent")
            if sent:
                break
            await asyncio.sleep(0.1)
        assert sent
        assert all(r.sent_to == [{"channel": "outbox"}] for r in sent)  # type: ignore[attr-defined]
    finally:
        await server.close()


async def test_sends_by_hand_keep_the_schedules_weekends_and_holidays(
    database: Database, school: MaturityModel
) -> None:
    """`remind` and `digest --send` by hand: no send on a quiet day unless forced."""
    organisation_id, sam = await seeded(database, school)
    await dm(database, organisation_id, sam)
    slack = Recorder()
    run = dispatcher(database, slack)
    holiday = london("2025-02-18T08:00")  # February half-term 2025
    # The scheduler's own sweep on this fresh database sends nothing in the holiday either
    # (the due-week reminders of Mon 10 Feb are not caught up in it), and by hand neither.
    assert await run.due_now(organisation_id, holiday) == []
    await run.run(holiday)
    assert slack.sent == []
    report = await run.remind_by_hand(holiday)
    assert report.recorded == report.sent == 0
    assert "Tue 18 Feb 2025 is in the school holiday" in report.quiet["Hill School"]
    digest = await run.send_digest(organisation_id, holiday)
    assert digest.sent == 0 and "school holiday" in digest.quiet["Hill School"]
    weekend = await run.send_digest(organisation_id, london("2025-02-08T10:00"))
    assert weekend.quiet["Hill School"] == "Sat 8 Feb 2025 is a weekend"
    assert slack.sent == []
    forced = await run.remind_by_hand(holiday, force=True)
    assert forced.sent == len(slack.sent) > 0 and not forced.quiet
    sent = await run.send_digest(organisation_id, holiday, force=True)
    assert sent.recorded == 1 and not sent.quiet
    school_day = await run.remind_by_hand(london("2025-02-24T08:00"))
    assert not school_day.quiet and school_day.sent > 0


async def test_handled_input_keys_are_pruned_after_their_retention(
    database: Database, school: MaturityModel
) -> None:
    """Slack's and Teams' retries come within minutes: keys older than the retention go."""
    await seeded(database, school)
    now = london("2025-02-03T08:00")
    async with database.transaction() as session:
        session.add(m.HandledInput(key="old", handled_at=now - timedelta(days=31)))
        session.add(m.HandledInput(key="recent", handled_at=now - timedelta(days=1)))
    await dispatcher(database).run(now)
    async with database.read() as session:
        keys = set(await session.scalars(select(m.HandledInput.key)))
    assert "recent" in keys and "old" not in keys
