"""What reminders and digests are due, for many schools at once, in a constant number of
queries (storage/planning.py): the sweep reads only the actions and schools whose stored
time has come, works out what to record and when to look next, and builds a school's weekly
digest only if that week's key is not recorded yet.

A send by hand (`careers-bot remind`, `digest --print`, `--dry-run`) goes through the same
code for the schools it names, reading all their open actions instead of the stored times.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.reviews import GOVERNORS_REPORT, action_view
from model_data import load_glossary, load_model
from storage import models as m
from storage import planning
from workflows import messages as msg
from workflows import review as engine
from workflows.actions import ActionView
from workflows.calendar import CalendarError, HalfTerm, TermCalendar, calendar_of, local_date
from workflows.digest import (
    DigestSchedule,
    DigestSlot,
    build_digest,
    digest_key,
    digest_slot,
    next_digest_at,
)
from workflows.documents import DocumentKind
from workflows.governors import governors_report_due
from workflows.notices import Notice
from workflows.plan import Profile, build_profile
from workflows.reminders import (
    Reminder,
    ReminderRules,
    plan_reminders,
    reminder_text,
)
from workflows.replies import Choice

log = logging.getLogger("careers_bot.scheduler")

# The session a digest is built in, the schools, the moment -> each school's plan link.
PlanLinks = Callable[[AsyncSession, Sequence[int], datetime], Awaitable[dict[int, str]]]
# The session, each school's half-term ("2024/25-HT4"), the moment -> each school's link to
# its governors' report for that half-term (bot/plan_links.report_issuer).
ReportLinks = Callable[[AsyncSession, dict[int, str], datetime], Awaitable[dict[int, str]]]


@dataclass
class Planned:
    """One planning pass: deliveries to record, and when to look at each thing next."""

    rows: list[dict[str, Any]] = field(default_factory=list)  # storage.planning.record
    notices: list[Notice] = field(default_factory=list)  # the same, for --dry-run
    next_reminders: dict[int, datetime | None] = field(default_factory=dict)
    next_digests: dict[int, datetime | None] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    quiet: dict[int, str] = field(default_factory=dict)  # school id -> why nothing today
    more: bool = False  # a batch was full: more may be due (the sweep runs another)

    def add(self, notice: Notice, **row: Any) -> None:
        self.rows.append({**row, "kind": notice.kind, "payload": notice.to_payload()})
        self.notices.append(notice)


@dataclass(frozen=True)
class School:
    """A school as planning needs it: its row, calendar and rules."""

    row: m.Organisation
    calendar: TermCalendar

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.row.timezone)

    def context(self, as_of: datetime) -> engine.Context:
        """Just enough for `action_view` (model and calendar): no people, no turn."""
        return engine.Context(
            model=load_model(self.row.edition),
            glossary=load_glossary(),
            now=as_of,
            actor="scheduler",
            calendar=self.calendar,
            timezone=self.row.timezone,
        )

    def next_school_day_start(self, as_of: datetime) -> datetime | None:
        """Midnight starting the next school day: where a quiet day's work waits."""
        today = local_date(as_of, self.row.timezone)
        try:
            day = self.calendar.next_school_day(date.fromordinal(today.toordinal() + 1))
        except CalendarError:
            return None  # no term dates known beyond today: setting them marks it again
        return datetime.combine(day, time(0, 0), self.zone)


ACTION_BATCH = 5_000
SCHOOL_BATCH = 250
"""A sweep plans at most this many due actions and schools' digests in one transaction,
then the next batch: memory and SQLite's write lock stay bounded at a Hub's size (1,000
schools' digests at once took a serving process up by 37 MB and held the lock for them all),
at the price of one more set of statements per batch."""


@dataclass
class Planner:
    plan_links: PlanLinks | None = None
    report_links: ReportLinks | None = None
    dashboard_links: PlanLinks | None = None  # each school's dashboard page, for the digest
    action_batch: int = ACTION_BATCH
    school_batch: int = SCHOOL_BATCH

    async def due(self, session: AsyncSession, as_of: datetime) -> Planned:
        """One batch of the sweep: what the stored times say is due, longest-waiting first,
        and each thing's next time (`Planned.more` when a batch was full)."""
        actions = await planning.due_actions(session, as_of, self.action_batch)
        digest_schools = await planning.due_digests(session, as_of, self.school_batch)
        planned = await self._plan(session, as_of, actions, digest_schools, force=False, store=True)
        planned.more = len(actions) >= self.action_batch or len(digest_schools) >= self.school_batch
        return planned

    async def for_schools(
        self,
        session: AsyncSession,
        organisation_ids: Sequence[int],
        as_of: datetime,
        force: bool = False,
    ) -> Planned:
        """By hand: every open action and the digest of these schools, stored times aside."""
        actions = await planning.open_actions(session, organisation_ids)
        schools = await planning.organisations(session, organisation_ids)
        return await self._plan(
            session, as_of, actions, list(schools.values()), force=force, store=False
        )

    async def digests(
        self, session: AsyncSession, organisation_ids: Sequence[int], as_of: datetime
    ) -> dict[int, Notice]:
        """These schools' digests as of now, built whatever the week's key says (--print)."""
        schools = await self._schools(session, organisation_ids)
        return await self._digests(session, list(schools.values()), as_of, Planned())

    # ----- one pass ----------------------------------------------------------------------

    async def _schools(
        self, session: AsyncSession, ids: Iterable[int], known: Sequence[m.Organisation] = ()
    ) -> dict[int, School]:
        """These schools with their calendars; rows already read (`known`) not read again."""
        rows = {o.id: o for o in known}
        rows |= await planning.organisations(session, set(ids) - rows.keys())
        dates = await planning.term_dates(session, rows)
        return {i: School(row, calendar_of(dates[i])) for i, row in rows.items()}

    async def _plan(
        self,
        session: AsyncSession,
        as_of: datetime,
        actions: list[planning.ActionRecord],
        digest_schools: list[m.Organisation],
        *,
        force: bool,
        store: bool,
    ) -> Planned:
        planned = Planned()
        schools = await self._schools(
            session,
            {a.organisation_id for a in actions} | {o.id for o in digest_schools},
            known=digest_schools,
        )
        for school in schools.values():
            reason = school.calendar.quiet_reason(local_date(as_of, school.row.timezone))
            if reason is not None and not force:
                planned.quiet[school.row.id] = reason
        waiting = [a for a in actions if a.organisation_id not in planned.quiet]
        for action in actions:
            if action.organisation_id in planned.quiet and store:
                # Nothing goes out on a weekend or in a holiday: look again when school is back.
                school = schools[action.organisation_id]
                planned.next_reminders[action.id] = school.next_school_day_start(as_of)
        if waiting:
            snoozes = await planning.snoozes(session, [a.id for a in waiting])
            self._reminders(snoozes, waiting, schools, as_of, planned, store)
        slots: dict[int, DigestSlot] = {}
        for row in digest_schools:
            school = schools[row.id]
            if row.id in planned.quiet:
                if store:
                    planned.next_digests[row.id] = school.next_school_day_start(as_of)
                continue
            try:
                schedule = DigestSchedule.from_settings(row.settings)
                slot = digest_slot(row.id, schedule, school.calendar, as_of, row.timezone)
                planned.next_digests[row.id] = next_digest_at(
                    schedule, school.calendar, as_of, row.timezone
                )
            except ValueError as exc:  # a bad digest setting stops the digest, nothing else
                log.error(
                    "organisation %s: no digest until its setting is corrected: %s "
                    "(digest_day %r, digest_time %r)",
                    row.id, exc, (row.settings or {}).get("digest_day"),
                    (row.settings or {}).get("digest_time"),
                )  # fmt: skip
                planned.next_digests[row.id] = None
                continue
            if slot is not None:
                slots[row.id] = slot
        if not store:
            planned.next_digests.clear()
        recorded = await planning.recorded(session, [s.key for s in slots.values()])
        build = [schools[i] for i, slot in slots.items() if slot.key not in recorded]
        notices = await self._digests(session, build, as_of, planned)  # once a week each
        for school in build:
            slot = slots[school.row.id]
            if school.row.id in notices:
                planned.add(
                    notices[school.row.id],
                    key=slot.key,
                    organisation_id=school.row.id,
                    due_at=slot.due_at,
                    stale_at=slot.stale_at,
                )
        return planned

    def _reminders(
        self,
        snoozes: list[planning.UpdateRecord],
        actions: list[planning.ActionRecord],
        schools: dict[int, School],
        as_of: datetime,
        planned: Planned,
        store: bool,
    ) -> None:
        """Each action's due reminders, and when its next one falls due."""
        snoozed: dict[tuple[int, int], date] = {}
        for update in snoozes:
            if update.after.get("person_id"):
                key = (update.action_id, int(update.after["person_id"]))
                until = date.fromisoformat(update.after["until"])
                snoozed[key] = max(snoozed.get(key, date.min), until)
        contexts: dict[int, engine.Context] = {}
        rules_of: dict[int, ReminderRules] = {}
        for action in actions:
            school = schools[action.organisation_id]
            try:
                ctx = contexts.get(school.row.id) or contexts.setdefault(
                    school.row.id, school.context(as_of)
                )
                view = action_view(action, ctx, ())
                rules = rules_of.get(school.row.id) or rules_of.setdefault(
                    school.row.id, ReminderRules.from_settings(school.row.settings)
                )
                zone = school.row.timezone
                due, next_at = plan_reminders(view, school.calendar, rules, as_of, zone, snoozed)
                for reminder in due:
                    planned.add(
                        reminder_notice(view, reminder, ctx),
                        key=reminder.key,
                        organisation_id=school.row.id,
                        due_at=reminder.due_at,
                        stale_at=reminder.stale_at,
                        person_id=reminder.person_id,
                        action_id=reminder.action_id,
                    )
                if store:
                    planned.next_reminders[action.id] = next_at
            except Exception as exc:  # one action's failure never stops the others
                log.exception("planning reminders for action %s failed", action.id)
                planned.errors.append(f"action {action.id}: {exc}")

    async def _digests(
        self, session: AsyncSession, schools: list[School], as_of: datetime, planned: Planned
    ) -> dict[int, Notice]:
        """The weekly digests of these schools, from a constant number of queries."""
        if not schools:
            return {}
        ids = [s.row.id for s in schools]
        actions = await planning.schools_actions(session, ids)  # no updates: not reported
        reviews = await planning.reviews(session, ids)
        picked = {i: _digest_reviews(reviews[i]) for i in ids}
        wanted = {r.id for trio in picked.values() for r in trio if r is not None}
        levels = await planning.counted_levels(session, sorted(wanted))
        since = await planning.last_digests(session, ids)
        links = await self.plan_links(session, ids, as_of) if self.plan_links else {}
        reports = await self._reports_due(session, schools, as_of)
        report_urls: dict[int, str] = {}
        if reports and self.report_links is not None:
            labels = {i: f"{h.year}-HT{h.number}" for i, h in reports.items()}
            report_urls = await self.report_links(session, labels, as_of)
        pages = await self.dashboard_links(session, ids, as_of) if self.dashboard_links else {}
        notices: dict[int, Notice] = {}
        for school in schools:
            row = school.row
            try:
                ctx = school.context(as_of)
                views = [action_view(a, ctx, ()) for a in actions[row.id]]
                plan, newest, earlier = picked[row.id]
                summary = _profile(plan, levels)
                in_progress = _profile(newest, levels)
                digest = build_digest(
                    row.name,
                    summary,
                    _profile(earlier, levels),
                    views,
                    school.calendar,
                    as_of,
                    since.get(row.id),
                    row.timezone,
                    in_progress=in_progress,
                )
                link = links.get(row.id)
                pointer = msg.DIGEST_PLAN_LINK.format(url=link) if link else msg.DIGEST_PLAN_HINT
                extra = [msg.DIGEST_GOVERNORS_REPORT] if row.id in reports else []
                pointers = [*extra, pointer]
                if row.id in pages:
                    pointers.append(msg.DIGEST_DASHBOARD_LINK.format(url=pages[row.id]))
                notices[row.id] = Notice(
                    kind="digest",
                    title=digest.title,
                    sections=[*digest.sections(), ("", pointers)],
                    attach_chart=summary is not None,
                    document=DocumentKind.GOVERNORS_REPORT.value if row.id in reports else None,
                    document_url=report_urls.get(row.id),
                )
            except Exception as exc:  # one school's failure never stops the others
                log.exception("building the digest of organisation %s failed", row.id)
                planned.errors.append(f"organisation {row.id}: {exc}")
        return notices

    async def _reports_due(
        self, session: AsyncSession, schools: list[School], as_of: datetime
    ) -> dict[int, HalfTerm]:
        """The schools whose digest carries the governors' report now: they asked for it
        (settings["governors_report"]), it is the first week of a half-term, and no other
        digest was recorded in this half-term yet, so the report goes once a half-term."""
        starts: dict[int, datetime] = {}
        halves: dict[int, HalfTerm] = {}
        this_week: list[str] = []
        for school in schools:
            row = school.row
            if not (row.settings or {}).get(GOVERNORS_REPORT):
                continue
            today = local_date(as_of, row.timezone)
            half = school.calendar.half_term_on(today)
            if half is None or not governors_report_due(school.calendar, today):
                continue
            halves[row.id] = half
            starts[row.id] = datetime.combine(half.start, time(0, 0), school.zone).astimezone(UTC)
            this_week.append(digest_key(row.id, today))
        earlier = await planning.digests_from(session, starts, this_week)
        return {i: half for i, half in halves.items() if i not in earlier}


def _digest_reviews(
    reviews: list[planning.ReviewRecord],
) -> tuple[
    planning.ReviewRecord | None, planning.ReviewRecord | None, planning.ReviewRecord | None
]:
    """The plan's review (the last completed, else the newest), the newest if it is another
    one (in progress), and the review the plan's was based on (for the change)."""
    if not reviews:
        return None, None, None
    completed = [r for r in reviews if r.completed_at is not None]
    newest = reviews[-1]
    plan = completed[-1] if completed else newest
    earlier = next((r for r in reviews if r.id == plan.based_on_id), None)
    return plan, (newest if newest.id != plan.id else None), earlier


def _profile(
    review: planning.ReviewRecord | None, levels: dict[int, dict[str, int]]
) -> Profile | None:
    if review is None:
        return None
    return build_profile(load_model(review.edition), levels[review.id], review.title)


def reminder_notice(view: ActionView, reminder: Reminder, ctx: engine.Context) -> Notice:
    """A reminder as every channel shows it: what, where it stands, and its buttons."""
    target = (
        ctx.model.statement(view.statement_id).level_text(view.target_level)
        if view.target_level
        else None
    )
    return Notice(
        kind="reminder",
        title=msg.REMINDER_TITLES[reminder.stage],
        sections=[("", reminder_text(view, reminder, target))],
        buttons=[Choice(label, value.format(id=view.ref)) for label, value in msg.REMINDER_BUTTONS],
    )
