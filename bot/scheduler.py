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

from bot.notify import DeliveryError, Notifier, Pacer, Searchable
from bot.planner import PlanLinks, Planner
from bot.reviews import ReviewService
from storage import deliveries, planning, repo
from storage import models as m
from storage.db import Database
from workflows.calendar import local_date
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
    # session, schools, now -> each school's recorded link to its full plan (bot/plan_links;
    # None: the digest says how to ask)
    plan_link: PlanLinks | None = None
    # The real clock for leases and attempts (the service's unless given): a sweep's `as_of`
    # says what is due, and may be any moment (a test, `remind --as-of`).
    clock: Callable[[], datetime] | None = None
    lease: timedelta = deliveries.LEASE
    batch: int = deliveries.CLAIM_BATCH

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
        return Planner(self.plan_link)

    async def plan(self, as_of: datetime, report: Report | None = None) -> Report:
        """Record everything due by `as_of` (keys make a second run or process a no-op) and
        store when each thing is next due; a quiet sweep reads two index entries, no more."""
        report = report or Report()
        async with self.db.read() as session:
            if not await planning.anything_due(session, as_of):
                return report
        async with self.db.transaction() as session:
            planned = await self.planner.due(session, as_of)
            report.recorded += await planning.record(session, planned.rows)
            await planning.store_next_reminders(session, planned.next_reminders)
            await planning.store_next_digests(session, planned.next_digests)
        report.errors.extend(planned.errors)
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
        """Claim what is ready a few at a time, send it, mark it; failures wait for the next
        run with backoff. The claims are renewed while they are being sent."""
        report = report or Report()
        async with self.db.transaction() as session:
            report.dropped += await deliveries.drop_stale(session, as_of, self.now())
        while True:
            async with self.db.transaction() as session:
                batch = await deliveries.claim(
                    session, self.worker, as_of, self.batch, self.now(), self.lease
                )
            if not batch:
                return report
            async with self._renewing([d.id for d in batch]):
                for delivery in batch:
                    await self._send_one(delivery, as_of, report)

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

    async def _send_one(self, delivery: m.Delivery, as_of: datetime, report: Report) -> None:
        notice = Notice.from_payload(delivery.payload)
        try:
            async with self.db.transaction() as session:
                organisation = await repo.get_organisation(session, delivery.organisation_id)
                gone = repo.disconnected_channels(organisation) if organisation else set()
                # A school that uses a chat channel never has its notices put in the outbox.
                in_chat = bool(
                    await repo.links_of_organisation(session, delivery.organisation_id)
                ) or bool(await repo.conversation_refs(session, delivery.organisation_id))
                if delivery.kind == "digest":
                    targets = await repo.conversation_refs(
                        session, delivery.organisation_id, kind="channel"
                    )
                else:
                    targets = await repo.conversation_refs(
                        session,
                        delivery.organisation_id,
                        person_id=delivery.person_id,
                        kind="personal",
                    )
            # A channel the school removed the app from is skipped (its other channels are not).
            skipped = [t for t in targets if t.channel in gone]
            targets = [t for t in targets if t.channel not in gone]
            missing = sorted({t.channel for t in targets if t.channel not in self.notifiers})
            if missing:  # sent later by a process that has that channel (`serve`): never lost
                raise DeliveryError(f"no {', '.join(missing)} sender in this process")
            if in_chat and delivery.kind == "digest" and not targets and not skipped:
                raise Waiting("waiting for the SLT channel ('digest here' or set-up)")
            sent_to: list[deliveries.SentTo] = []
            if targets:
                sent_to = await self._send_targets(delivery, targets, notice)
            sent_to.extend(
                {"channel": t.channel, "conversation": t.conversation_id, "skipped": "disconnected"}
                for t in skipped
            )
            if not targets and not skipped and in_chat:  # someone the bot cannot reach
                sent_to.append({"channel": "none", "skipped": "no conversation with the bot"})
            elif not targets and not skipped:  # no chat at all: the terminal's outbox
                sent_to.append({"channel": "outbox"})
                report.outbox += 1
            async with self.db.transaction() as session:
                if await deliveries.mark_sent(session, delivery.id, self.worker, as_of, sent_to):
                    report.sent += 1
        except LeaseLost as exc:  # another worker has it now: nothing to mark
            log.warning("delivery %s (%s): %s", delivery.id, delivery.key, exc)
        except Exception as exc:  # a failed send is retried later; it never stops the sweep
            if isinstance(exc, Waiting):
                log.info("delivery %s (%s): %s", delivery.id, delivery.key, exc)
                report.waiting += 1
            else:
                log.warning("delivery %s (%s) failed: %s", delivery.id, delivery.key, exc)
                report.failed += 1
                report.errors.append(f"{delivery.key}: {exc}")
            async with self.db.transaction() as session:
                await deliveries.mark_failed(
                    session, delivery.id, self.worker, as_of, delivery.attempts, str(exc)
                )

    async def _send_targets(
        self, delivery: m.Delivery, targets: list[m.ConversationRef], notice: Notice
    ) -> list[deliveries.SentTo]:
        """Send to each target not yet sent, each on its own record; raises DeliveryError
        naming those that failed (the others stay sent: a retry skips them)."""
        wanted = [(t.channel, t.conversation_id) for t in targets]
        async with self.db.transaction() as session:
            rows = await deliveries.targets(session, delivery.id, wanted)
        by_place = {(r.channel, r.conversation_id): r for r in rows}
        chart = None
        if notice.attach_chart and any(by_place[w].status != "sent" for w in wanted):
            chart = await self._chart(delivery)
        failures: list[str] = []
        for target in targets:
            row = by_place[(target.channel, target.conversation_id)]
            if row.status == "sent":
                continue
            try:
                message_id = await self._send_target(delivery, row, target, notice, chart)
            except LeaseLost:
                raise
            except Exception as exc:
                failures.append(f"{target.channel} {target.conversation_id}: {exc}")
                async with self.db.transaction() as session:
                    await deliveries.target_failed(session, row.id, str(exc))
                continue
            async with self.db.transaction() as session:
                await deliveries.target_sent(session, row.id, self.now(), message_id)
            row.status = "sent"
        if failures:
            raise DeliveryError("; ".join(failures))
        return [
            {"channel": r.channel, "conversation": r.conversation_id}
            for r in rows
            if r.status == "sent"
        ]

    async def _send_target(
        self,
        delivery: m.Delivery,
        row: m.DeliveryTarget,
        target: m.ConversationRef,
        notice: Notice,
        chart: bytes | None,
    ) -> str | None:
        """One conversation: an attempt that may have been cut off is looked for first."""
        notifier = self.notifiers[target.channel]
        if row.attempts > 0 and row.attempted_at is not None and isinstance(notifier, Searchable):
            found = await notifier.find(target, delivery.key, row.attempted_at - LOOKUP_MARGIN)
            if found is not None:
                log.info("delivery %s was already in %s", delivery.key, target.conversation_id)
                return found
        async with self.db.transaction() as session:
            if not await deliveries.begin_target(session, row.id, self.worker, self.now()):
                raise LeaseLost("the claim was taken over by another worker")
        await self.pacer.wait(target.channel, target.conversation_id)
        return await notifier.send(target, notice, chart, key=delivery.key)

    async def _chart(self, delivery: m.Delivery) -> bytes | None:
        try:
            from bot import exports

            document = await self.service.plan_document(delivery.organisation_id)
            return exports.export(document, "png")
        except LookupError:
            return None


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
