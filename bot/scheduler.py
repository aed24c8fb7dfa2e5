"""Reminders and the weekly digest: APScheduler triggers sweeps; the database decides the rest.

APScheduler 3 runs each job in every process that shares a job store, and its SQLAlchemy
store pickles jobs and blocks the loop. So nothing is stored in APScheduler: a job is a plain
module-level async function that takes an id and triggers a sweep. A sweep works out what is
due from our own tables (workflows/reminders.py, workflows/digest.py), records each item under
a unique key, claims it with a lease, sends it, and marks it sent: two `serve` processes on
one database send each item once.

Leases are short and renewed while a claim is being sent (a heartbeat), on the Dispatcher's
`clock` (the real one, as the service's), never on a sweep's `as_of`; each conversation of a
delivery is recorded on its own, and a retry sends only to those not yet sent. What exactly
is guaranteed is in docs/delivery.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession

from bot import rendering
from bot.notify import DeliveryError, File, Notifier, Pacer, RateLimited, Searchable
from bot.planner import ACTION_BATCH, SCHOOL_BATCH, PlanLinks, Planner, ReportLinks
from bot.reviews import ReviewService
from storage import deliveries, planning, repo
from storage import models as m
from storage.db import Database
from workflows.calendar import local_date
from workflows.documents import DocumentKind
from workflows.notices import Notice

log = logging.getLogger("careers_bot.scheduler")

# Dispatchers by id: APScheduler jobs take plain ids, never live objects.
DISPATCHERS: dict[str, Dispatcher] = {}


class Waiting(DeliveryError):
    """Not sent yet, and not a failure: tried again later (until stale), like a failed send."""


class LeaseLost(DeliveryError):
    """Another worker took this claim over (ours ran out): send nothing more for it."""


HANDLED_INPUTS_KEPT = timedelta(days=30)  # far longer than any chat service's retries
# A message found in a conversation's history counts from this long before the attempt that
# may have sent it: our clock and the chat service's may differ a little.
LOOKUP_MARGIN = timedelta(minutes=2)
RATE_LIMIT_RETRIES = 3  # a 429 (not taken) is sent again this many times before it fails


@dataclass
class Report:
    recorded: int = 0
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    outbox: int = 0
    waiting: int = 0  # for a channel to be chosen (a digest with no SLT channel yet)
    errors: list[str] = field(default_factory=list)
    # By hand only: organisation name -> why nothing was sent for it (a weekend, a holiday).
    quiet: dict[str, str] = field(default_factory=dict)


@dataclass
class Dispatcher:
    """Plans and delivers reminders and digests for every organisation on one database."""

    service: ReviewService
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    pacer: Pacer = field(default_factory=Pacer)
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}")
    # Held while a sweep runs, so shutdown waits for it instead of cutting it off mid-send.
    running: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Charts being prepared and drawn at once: twice the drawing workers keeps them busy; more
    # would only hold plan documents in memory while they wait (a Hub's Monday: 1,000 charts).
    drawing: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(2 * rendering.workers())
    )
    # session, schools, now -> each school's recorded link to its full plan (bot/plan_links;
    # None: the digest says how to ask)
    plan_link: PlanLinks | None = None
    # session, {school: half-term}, now -> each school's link to its governors' report, for
    # a channel that cannot carry the file (Teams); None: that channel says how to ask
    report_link: ReportLinks | None = None
    # The same for each school's dashboard page (bot/dashboard; None: no dashboard line)
    dashboard_link: PlanLinks | None = None
    # Planned per transaction: a sweep works through what is due batch by batch (planner.py).
    action_batch: int = ACTION_BATCH
    school_batch: int = SCHOOL_BATCH
    # The real clock for leases and attempts (the service's unless given): a sweep's `as_of`
    # says what is due, and may be any moment (a test, `remind --as-of`).
    clock: Callable[[], datetime] | None = None
    lease: timedelta = deliveries.LEASE
    batch: int = deliveries.CLAIM_BATCH  # claimed at once, and sent concurrently
    in_flight: int = 100  # messages (and history look-ups) awaiting a chat service at once
    batches: int = 2  # batches under way at once: one sending while the next is prepared
    # Group commit of the marks: written this long after the first waiting one, or once
    # this many wait (docs/delivery.md: the window for doubles on Teams).
    mark_every: float = 0.02
    mark_most: int = 50

    def now(self) -> datetime:
        return (self.clock or self.service.clock)()

    @property
    def db(self) -> Database:
        return self.service.db

    async def run(self, as_of: datetime) -> Report:
        report = Report()
        await self.plan(as_of, report)
        await self.deliver(as_of, report)
        async with self.db.transaction() as session:  # housekeeping, cheap with its index
            await repo.prune_handled_inputs(session, as_of - HANDLED_INPUTS_KEPT)
        return report

    # ----- planning -----------------------------------------------------------------------

    @property
    def planner(self) -> Planner:
        return Planner(
            self.plan_link, self.report_link, self.dashboard_link, self.action_batch,
            self.school_batch,
        )  # fmt: skip

    async def plan(self, as_of: datetime, report: Report | None = None) -> Report:
        """Record everything due by `as_of` (keys make a second run or process a no-op) and
        store when each thing is next due; a quiet sweep reads two index entries, no more."""
        report = report or Report()
        async with self.db.read() as session:
            if not await planning.anything_due(session, as_of):
                return report
        while True:  # batch by batch, each its own transaction
            async with self.db.transaction() as session:
                planned = await self.planner.due(session, as_of)
                report.recorded += await planning.record(session, planned.rows)
                await planning.store_next_reminders(session, planned.next_reminders)
                await planning.store_next_digests(session, planned.next_digests)
            report.errors.extend(planned.errors)
            moved = planned.next_reminders or planned.next_digests
            if not planned.more or not moved:  # done, or a batch that failed whole: next sweep
                return report

    async def due_now(self, organisation_id: int, as_of: datetime) -> list[Notice]:
        """What would be recorded for one organisation at `as_of` (for --dry-run)."""
        async with self.db.read() as session:
            planned = await self.planner.for_schools(session, [organisation_id], as_of)
        return planned.notices

    async def digest_notice(self, organisation_id: int, as_of: datetime) -> Notice:
        """This week's digest for one organisation, built now (for --print and --send)."""
        async with self.db.transaction() as session:  # a plan link may be recorded
            notices = await self.planner.digests(session, [organisation_id], as_of)
        return notices[organisation_id]

    # ----- by hand (careers-bot remind, digest --send) --------------------------------------

    async def quiet_reason(self, organisation_id: int, as_of: datetime) -> str | None:
        """Why the schedule sends nothing for this organisation at `as_of`, or None.

        The schedule's own rule (`TermCalendar.is_term_day` on the organisation's local
        date), so a send by hand keeps the same weekends and holidays as the scheduler.
        """
        async with self.db.read() as session:
            organisation = await repo.get_organisation(session, organisation_id)
            assert organisation is not None
            calendar = await self.service.calendar(session, organisation)
        return calendar.quiet_reason(local_date(as_of, organisation.timezone))

    async def remind_by_hand(self, as_of: datetime, force: bool = False) -> Report:
        """`careers-bot remind`: the sweep over every school's open actions (stored times
        aside), skipping schools on a weekend or holiday unless `force`; `Report.quiet` says
        which were skipped and why."""
        report = Report()
        async with self.db.transaction() as session:
            schools = await _organisations(session)
            planned = await self.planner.for_schools(
                session, [s.id for s in schools], as_of, force=force
            )
            report.recorded += await planning.record(session, planned.rows)
        names = {s.id: s.name for s in schools}
        report.quiet = {names[i]: reason for i, reason in planned.quiet.items()}
        report.errors.extend(planned.errors)
        if len(planned.quiet) < len(schools):  # on a quiet day nothing at all, retries included
            await self.deliver(as_of, report)
        return report

    async def send_digest(
        self, organisation_id: int, as_of: datetime, force: bool = False
    ) -> Report:
        """This week's digest now, by hand: recorded under the week's key, so it goes once.

        Not on a weekend or in a holiday (the scheduler's rule) unless `force`.
        """
        if not force:
            reason = await self.quiet_reason(organisation_id, as_of)
            if reason is not None:
                async with self.db.read() as session:
                    organisation = await repo.get_organisation(session, organisation_id)
                assert organisation is not None
                return Report(quiet={organisation.name: reason})
        notice = await self.digest_notice(organisation_id, as_of)
        async with self.db.transaction() as session:
            organisation = await repo.get_organisation(session, organisation_id)
            assert organisation is not None
            # The same week key as the scheduler's: the organisation's local week.
            week = as_of.astimezone(ZoneInfo(organisation.timezone)).isocalendar()
            key = f"digest:{organisation_id}:{week.year}-W{week.week:02d}"
            recorded = await deliveries.record(
                session,
                key=key,
                organisation_id=organisation_id,
                kind="digest",
                due_at=as_of,
                stale_at=as_of + timedelta(days=7),
                payload=notice.to_payload(),
            )
            await deliveries.due_now(session, key, as_of)  # asked for now: no backoff wait
        report = await self.deliver(as_of, Report(recorded=int(recorded)))
        return report

    # ----- delivering ---------------------------------------------------------------------

    async def deliver(self, as_of: datetime, report: Report | None = None) -> Report:
        """Claim what is ready `batch` at a time and send each batch concurrently; failures
        wait for the next run with backoff. The claims are renewed while they are sent.

        A batch costs a constant number of transactions whatever its size: one that claims
        it, loads what every delivery needs, records missing targets and notes the attempt
        at every target about to be sent; then its share of the marks, group-committed for
        the whole run (`Marks`). `batches` are under way at once: the next is claimed as soon
        as one has had every answer, while the marks are written behind."""
        report = report or Report()
        async with self.db.transaction() as session:
            report.dropped += await deliveries.drop_stale(session, as_of, self.now())
        gate = asyncio.Semaphore(self.in_flight)  # shared by the batches under way
        slots = asyncio.Semaphore(self.batches)  # held by a batch until every send is answered
        under_way: set[asyncio.Task[None]] = set()
        errors: list[BaseException] = []

        def ended(task: asyncio.Task[None]) -> None:
            under_way.discard(task)
            slots.release()
            if not task.cancelled() and task.exception() is not None:
                errors.append(task.exception())  # type: ignore[arg-type]

        marks = Marks(self, as_of, report)
        async with marks.running():
            try:
                while not errors:
                    await slots.acquire()
                    try:
                        jobs = [] if errors else await self._claim(as_of, marks)
                    except BaseException:
                        slots.release()
                        raise
                    if not jobs:
                        slots.release()
                        break
                    task = asyncio.create_task(self._send_batch(jobs, marks, gate))
                    under_way.add(task)
                    task.add_done_callback(ended)
            finally:
                if under_way:
                    await asyncio.wait(set(under_way))
        if errors:
            raise errors[0]
        return report

    @contextlib.asynccontextmanager
    async def _renewing(self, ids: list[int]) -> AsyncIterator[None]:
        """A heartbeat: the lease of these claims is renewed every third of its length."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(self.lease.total_seconds() / 3)
                try:
                    async with self.db.transaction() as session:
                        held = await deliveries.renew(
                            session, ids, self.worker, self.now(), self.lease
                        )
                except Exception as exc:  # a busy database: the next beat tries again
                    log.warning("renewing claims %s failed: %s", ids, exc)
                    continue
                lost = set(ids) - held
                ids[:] = [i for i in ids if i in held]  # done (marked) or taken over
                if lost:
                    log.debug("no longer holding %s", sorted(lost))

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _send_batch(self, jobs: list[Job], marks: Marks, gate: asyncio.Semaphore) -> None:
        async with self._renewing([job.delivery.id for job in jobs]):
            await asyncio.gather(*(self._send_job(job, marks, gate) for job in jobs))

    async def _claim(self, as_of: datetime, marks: Marks) -> list[Job]:
        """One transaction for a whole batch: the claim; where each delivery goes
        (organisations, links and conversations in two queries); its targets, recorded
        with an attempt noted on every one about to be sent (`deliveries.begin_batch`: one
        INSERT for a batch sent the first time). Plain rows throughout. Nothing is claimed
        unless all of it is written. The marks waiting are written first, in the same
        transaction (`Marks.riding`)."""
        async with marks.riding() as session:
            batch = await deliveries.claim_rows(
                session, self.worker, as_of, self.batch, self.now(), self.lease
            )
            if not batch:
                return []
            jobs = [Job(d, Notice.from_payload(d.payload)) for d in batch]
            gone, linked, refs = await deliveries.batch_context(
                session, {d.organisation_id for d in batch}
            )
            by_organisation: dict[int, list[deliveries.Conversation]] = {}
            for ref in refs:
                by_organisation.setdefault(ref.organisation_id, []).append(ref)
            wanted: dict[int, list[tuple[str, str]]] = {}
            for job in jobs:
                self._route(job, gone, linked, by_organisation)
                if job.error is None and job.refs:
                    wanted[job.delivery.id] = [(r.channel, r.conversation_id) for r in job.refs]
            rows, begun = await deliveries.begin_batch(session, wanted, self.worker, self.now())
        for job in jobs:
            if job.delivery.id not in rows:
                continue
            by_place = {(r.channel, r.conversation_id): r for r in rows[job.delivery.id]}
            job.rows = [by_place[(r.channel, r.conversation_id)] for r in job.refs]
            job.before = {
                row.id: {"attempts": row.attempts, "attempted_at": row.attempted_at}
                for row in job.rows
            }
            job.begun = {row.id for row in job.rows if row.id in begun}
            pending = [row for row in job.rows if row.status != "sent"]
            if pending and not job.begun:
                job.error = LeaseLost("the claim was taken over by another worker")
        return jobs

    def _route(
        self,
        job: Job,
        disconnected: dict[int, set[str]],
        linked: set[int],
        refs: dict[int, list[deliveries.Conversation]],
    ) -> None:
        """Which conversations a delivery goes to, which it skips, or why it waits."""
        delivery = job.delivery
        gone = disconnected.get(delivery.organisation_id, set())
        known = refs.get(delivery.organisation_id, [])
        # A school that uses a chat channel never has its notices put in the outbox.
        job.in_chat = delivery.organisation_id in linked or bool(known)
        if delivery.kind == "digest":
            targets = [r for r in known if r.kind == "channel"]
        else:
            targets = [
                r for r in known if r.person_id == delivery.person_id and r.kind == "personal"
            ]
        # A channel the school removed the app from is skipped (its other channels are not).
        job.skipped = [t for t in targets if t.channel in gone]
        job.refs = [t for t in targets if t.channel not in gone]
        missing = sorted({t.channel for t in job.refs if t.channel not in self.notifiers})
        if missing:  # sent later by a process that has that channel (`serve`): never lost
            job.error = DeliveryError(f"no {', '.join(missing)} sender in this process")
        elif job.in_chat and delivery.kind == "digest" and not job.refs and not job.skipped:
            job.error = Waiting("waiting for the SLT channel ('digest here' or set-up)")

    async def _send_job(self, job: Job, marks: Marks, gate: asyncio.Semaphore) -> None:
        delivery, report = job.delivery, marks.report
        try:
            if job.error is not None:
                raise job.error
            sent_to: list[deliveries.SentTo] = []
            if job.refs:
                sent_to = await self._send_targets(job, marks, gate)
            sent_to.extend(
                {"channel": t.channel, "conversation": t.conversation_id, "skipped": "disconnected"}
                for t in job.skipped
            )
            if not job.refs and not job.skipped and job.in_chat:  # someone the bot cannot reach
                sent_to.append({"channel": "none", "skipped": "no conversation with the bot"})
            elif not job.refs and not job.skipped:  # no chat at all: the terminal's outbox
                sent_to.append({"channel": "outbox"})
                report.outbox += 1
            await marks.delivery_sent(delivery.id, sent_to)
        except LeaseLost as exc:  # another worker has it now: nothing to mark
            log.warning("delivery %s (%s): %s", delivery.id, delivery.key, exc)
        except Exception as exc:  # a failed send is retried later; it never stops the batch
            if isinstance(exc, Waiting):
                log.info("delivery %s (%s): %s", delivery.id, delivery.key, exc)
                report.waiting += 1
            else:
                log.warning("delivery %s (%s) failed: %s", delivery.id, delivery.key, exc)
                report.failed += 1
                report.errors.append(f"{delivery.key}: {exc}")
            await marks.delivery_failed(delivery.id, delivery.attempts, str(exc))

    async def _send_targets(
        self, job: Job, marks: Marks, gate: asyncio.Semaphore
    ) -> list[deliveries.SentTo]:
        """Send to each target not yet sent (those whose attempt was noted), concurrently,
        each marked on its own; raises DeliveryError naming those that failed (the others
        stay sent: a retry skips them)."""
        chart = None
        if job.notice.attach_chart and job.begun:
            chart = await self._chart(job.delivery)
        file = None
        if job.notice.document and any(
            _takes_files(self.notifiers[ref.channel]) and row.id in job.begun
            for ref, row in zip(job.refs, job.rows, strict=True)
        ):
            file = await self._file(job.delivery, job.notice.document)

        async def one(ref: deliveries.Conversation, row: deliveries.Target) -> str | None:
            if row.status == "sent":
                return None
            if row.id not in job.begun:  # sent meanwhile by another worker's attempt
                return "not sent: its attempt could not be noted"
            try:
                message_id = await self._send_target(job, row, ref, chart, gate, file)
            except Exception as exc:
                marks.target_failed(row.id, str(exc))
                return f"{ref.channel} {ref.conversation_id}: {exc}"
            marks.target_sent(row.id, self.now(), message_id)
            row.status = "sent"
            return None

        if len(job.refs) == 1:  # most reminders: one DM, no task of its own
            outcomes = [await one(job.refs[0], job.rows[0])]
        else:
            outcomes = await asyncio.gather(
                *(one(r, row) for r, row in zip(job.refs, job.rows, strict=True))
            )
        failures = [f for f in outcomes if f]
        if failures:
            raise DeliveryError("; ".join(failures))
        return [
            {"channel": r.channel, "conversation": r.conversation_id}
            for r in job.rows
            if r.status == "sent"
        ]

    async def _send_target(
        self,
        job: Job,
        row: deliveries.Target,
        target: deliveries.Conversation,
        chart: bytes | None,
        gate: asyncio.Semaphore,
        file: File | None = None,
    ) -> str | None:
        """One conversation, its attempt already noted: an earlier attempt that may have been
        cut off is looked for first; a 429 holds back this conversation only, then resends
        (the service did not take it)."""
        notifier = self.notifiers[target.channel]
        before = job.before[row.id]
        earlier = before["attempted_at"]
        if before["attempts"] > 0 and earlier is not None and isinstance(notifier, Searchable):
            async with gate:
                found = await notifier.find(target, job.delivery.key, earlier - LOOKUP_MARGIN)
            if found is not None:
                log.info("delivery %s was already in %s", job.delivery.key, target.conversation_id)
                return found
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            async with self.pacer.turn(target.channel, target.conversation_id, gate):
                # The document rides this target's send: marked sent with it, it is never
                # sent again (a retry skips a sent target; a found message is not resent).
                extra = {"file": file} if file is not None and _takes_files(notifier) else {}
                try:
                    return await notifier.send(
                        target, job.notice, chart, key=job.delivery.key, **extra
                    )
                except RateLimited as exc:
                    if attempt == RATE_LIMIT_RETRIES:
                        raise
                    log.info(
                        "%s %s: rate limited, waiting %.1fs",
                        target.channel, target.conversation_id, exc.retry_after,
                    )  # fmt: skip
                    self.pacer.hold(target.channel, target.conversation_id, exc.retry_after)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _chart(self, delivery: deliveries.Claimed) -> bytes | None:
        """The digest's chart, drawn in a worker process (bot/rendering.py), never on the
        loop that answers Slack and Teams."""
        async with self.drawing:
            try:
                document = await self.service.plan_document(delivery.organisation_id)
            except LookupError:
                return None
            return await rendering.render(document, "png")

    async def _file(self, delivery: deliveries.Claimed, kind: str) -> File | None:
        """The notice's document (the governors' report), built now and drawn in a worker
        process, once for every conversation of the delivery that takes files."""
        try:
            doc = await self.service.document(DocumentKind(kind), delivery.organisation_id)
        except (LookupError, ValueError) as exc:
            log.warning("delivery %s: no %s to attach: %s", delivery.key, kind, exc)
            return None
        data, filename = await rendering.render_document(doc, "docx")
        return File(data, filename)


def _takes_files(notifier: Notifier) -> bool:
    """A channel that posts a document as a file (Slack); the others link to it (Teams)."""
    return bool(getattr(notifier, "takes_files", False))


@dataclass
class Job:
    """One claimed delivery in a batch: where it goes, and how far it got."""

    delivery: deliveries.Claimed
    notice: Notice
    refs: list[deliveries.Conversation] = field(default_factory=list)  # where it goes
    skipped: list[deliveries.Conversation] = field(default_factory=list)  # disconnected channels
    in_chat: bool = False
    error: Exception | None = None  # why it is not sent at all this time
    rows: list[deliveries.Target] = field(default_factory=list)  # one per ref, same order
    before: dict[int, deliveries.Attempt] = field(default_factory=dict)  # earlier attempts
    begun: set[int] = field(default_factory=set)  # targets whose attempt was noted now


@dataclass
class Group:
    """Marks taken to be written together: targets sent (id, when, message id) and failed
    (id, error); deliveries sent (id -> where) and failed (id -> attempts, error)."""

    sent: list[tuple[int, datetime, str | None]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    done: dict[int, list[deliveries.SentTo]] = field(default_factory=dict)
    again: dict[int, tuple[int, str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sent) + len(self.failed) + len(self.done) + len(self.again)


class Marks:
    """Group commit for a sweep's marks: 'target sent' (with its message id), 'target
    failed', and each delivery sent or failed are gathered and written together, at most
    `Dispatcher.mark_every` seconds after the first of them or once `Dispatcher.mark_most`
    are waiting, in one transaction of a few bulk statements, or sooner with the next
    batch's claim (`riding`). A target's mark is written in the same or an earlier
    transaction than its delivery's: groups are taken and written one at a time, in order.

    Until its group is committed, a message that went out is not yet marked: that is the
    window for doubles on Teams (docs/delivery.md). A group that cannot be written (a
    locked database) is kept and tried again with the next; one still unwritten when the
    sweep ends raises, and the claims are taken over after their lease: the targets' noted
    attempts make Slack look before resending."""

    def __init__(self, dispatcher: Dispatcher, as_of: datetime, report: Report) -> None:
        self.dispatcher = dispatcher
        self.as_of = as_of
        self.report = report
        self.waiting_group = Group()
        self.waiting = asyncio.Event()
        self.full = asyncio.Event()
        self.lock = asyncio.Lock()
        self.closing = False
        self.flushes = 0

    def _added(self) -> None:
        self.waiting.set()
        if len(self.waiting_group) >= self.dispatcher.mark_most:
            self.full.set()

    def target_sent(self, target_id: int, at: datetime, message_id: str | None) -> None:
        self.waiting_group.sent.append((target_id, at, message_id))
        self._added()

    def target_failed(self, target_id: int, error: str) -> None:
        self.waiting_group.failed.append((target_id, error))
        self._added()

    async def delivery_sent(self, delivery_id: int, sent_to: list[deliveries.SentTo]) -> None:
        self.waiting_group.done[delivery_id] = sent_to
        self._added()

    async def delivery_failed(self, delivery_id: int, attempts: int, error: str) -> None:
        self.waiting_group.again[delivery_id] = (attempts, error)
        self._added()

    def _take(self) -> Group | None:
        group, self.waiting_group = self.waiting_group, Group()
        self.full.clear()
        return group if len(group) else None

    def _keep(self, group: Group) -> None:
        """A group that was not written goes back before what has come since, in order."""
        waiting = self.waiting_group
        waiting.sent[:0], waiting.failed[:0] = group.sent, group.failed
        waiting.done = {**group.done, **waiting.done}
        waiting.again = {**group.again, **waiting.again}

    async def _write(self, session: AsyncSession, group: Group) -> set[int]:
        await deliveries.targets_marked(session, group.sent, group.failed)
        return await deliveries.finish(
            session, self.dispatcher.worker, self.as_of, group.done, group.again
        )

    def _written(self, group: Group, held: set[int]) -> None:
        self.flushes += 1
        self.report.sent += sum(1 for i in group.done if i in held)

    async def flush(self) -> None:
        async with self.lock:
            group = self._take()
            if group is None:
                return
            try:
                async with self.dispatcher.db.transaction() as session:
                    held = await self._write(session, group)
            except BaseException:
                self._keep(group)  # for the next group, so nothing marked is forgotten
                raise
            self._written(group, held)

    @contextlib.asynccontextmanager
    async def riding(self) -> AsyncIterator[AsyncSession]:
        """A transaction (the next batch's claim) that first writes the marks waiting: one
        transaction, and on SQLite one turn of the write lock, instead of two."""
        async with self.lock:
            group = self._take()
            try:
                async with self.dispatcher.db.transaction() as session:
                    held = await self._write(session, group) if group else set()
                    yield session
            except BaseException:
                if group:
                    self._keep(group)
                raise
            if group:
                self._written(group, held)

    async def _run(self) -> None:
        while not self.closing:
            await self.waiting.wait()
            if not self.closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.full.wait(), self.dispatcher.mark_every)
            self.waiting.clear()
            if self.closing:
                return  # the last group is written by `running`, which can raise
            try:
                await self.flush()
            except Exception as exc:  # a locked database: kept for the next group
                log.warning("marking deliveries failed, trying again: %s", exc)
                self.waiting.set()
                await asyncio.sleep(self.dispatcher.mark_every)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Marks]:
        task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            # Never cancelled mid-write: told to stop, it finishes the group it is writing.
            self.closing = True
            self.waiting.set()
            self.full.set()
            await task
            await self.flush()  # the rest, now; raises if the database still cannot take it


async def _organisations(session: AsyncSession) -> list[m.Organisation]:
    return [o for o in await repo.all_organisations(session) if o.disconnected_at is None]


async def sweep(dispatcher_id: str) -> None:
    """The APScheduler job: plain, module-level, takes an id."""
    dispatcher = DISPATCHERS.get(dispatcher_id)
    if dispatcher is None:
        return
    async with dispatcher.running:
        report = await dispatcher.run(dispatcher.service.clock())
    if report.recorded or report.sent or report.failed:
        log.info(
            "sweep: recorded %s, sent %s (%s to the outbox), failed %s, dropped %s",
            report.recorded, report.sent, report.outbox, report.failed, report.dropped,
        )  # fmt: skip


def scheduler_context(
    dispatcher: Dispatcher, seconds: float = 60
) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup_ctx: the scheduler starts and stops with the app."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        key = uuid.uuid4().hex
        DISPATCHERS[key] = dispatcher
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            sweep,
            IntervalTrigger(seconds=seconds),
            args=[key],
            id="sweep",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        scheduler.start()
        try:
            yield
        finally:
            scheduler.shutdown(wait=False)
            async with dispatcher.running:  # let a sweep in flight finish first
                DISPATCHERS.pop(key, None)

    return context


def outbox_text(rows: Sequence[m.Delivery]) -> str:
    """The terminal outbox: what was 'sent' where no chat is configured."""
    out = []
    for row in rows:
        when = row.sent_at.strftime("%a %d %b %Y %H:%M UTC") if row.sent_at else ""
        out.append(f"[{when}] {Notice.from_payload(row.payload).text()}")
    return "\n".join(out)


__all__ = ["DeliveryError", "Dispatcher", "Report", "outbox_text", "scheduler_context", "sweep"]
