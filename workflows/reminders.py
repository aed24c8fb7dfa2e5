"""Which reminders are due at a given moment: pure rules over actions, the calendar and the clock.

An owner who is a known person hears about an action when its deadline's half-term begins,
14 days before the deadline, in the deadline's week, and weekly while it is overdue. None go
out at weekends or in school holidays: they wait for the next school day. When the service
was down, only the latest stage still relevant is sent (the older ones are stale).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from workflows.actions import ActionView
from workflows.calendar import CalendarError, TermCalendar, format_date
from workflows.deadlines import parse_by_when

OVERDUE_WEEKS = 12  # stop nagging after a term of weekly reminders; the digest still lists it


@dataclass(frozen=True)
class ReminderRules:
    """An organisation's reminder settings (Organisation.settings["reminders"])."""

    at_half_term_start: bool = True
    days_before: int = 14  # 0 turns this stage off
    in_due_week: bool = True
    overdue_weekly: bool = True
    send_time: time = time(8, 0)

    @classmethod
    def from_settings(cls, settings: Mapping[str, object] | None) -> ReminderRules:
        data = dict((settings or {}).get("reminders") or {})  # type: ignore[call-overload]
        send = data.pop("send_time", None)
        rules = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        if isinstance(send, str):
            rules = cls(**{**rules.__dict__, "send_time": time.fromisoformat(send)})
        return rules


@dataclass(frozen=True)
class Reminder:
    """One reminder to one owner: recorded under `key`, sent from `due_at`, stale at `stale_at`."""

    key: str
    action_id: int
    person_id: int
    stage: str  # start, before, due_week, overdue
    due_at: datetime  # UTC
    stale_at: datetime  # UTC
    due_date: date
    days_left: int


@dataclass(frozen=True)
class _Stage:
    name: str
    nominal: date
    period: str


def _stages(action: ActionView, calendar: TermCalendar, rules: ReminderRules) -> list[_Stage]:
    assert action.due_date is not None
    due = action.due_date
    stages: list[_Stage] = []
    if rules.at_half_term_start and action.due and action.due_year:
        number = parse_by_when(action.due).due_half_term
        if number is not None:
            try:
                start = calendar.half_term(action.due_year, number).start
            except CalendarError:
                start = None
            if start is not None:
                stages.append(_Stage("start", start, f"{action.due_year}-HT{number}"))
    if rules.days_before > 0:
        stages.append(_Stage("before", due - timedelta(days=rules.days_before), due.isoformat()))
    if rules.in_due_week:
        stages.append(_Stage("due_week", due - timedelta(days=due.weekday()), due.isoformat()))
    if rules.overdue_weekly:
        for week in range(1, OVERDUE_WEEKS + 1):
            stages.append(
                _Stage("overdue", due + timedelta(days=1 + 7 * (week - 1)), f"{due}-w{week}")
            )
    return stages


@dataclass(frozen=True)
class _Slot:
    stage: _Stage
    send: date
    due_at: datetime  # UTC
    stale_at: datetime  # UTC


def _schedule(
    action: ActionView, calendar: TermCalendar, rules: ReminderRules, timezone: str
) -> list[_Slot]:
    """Each stage with the school day and moment it is sent and goes stale; the same for
    every action with the same deadline, so worked out once per calendar (a sweep reminds
    thousands of actions)."""
    key = ("reminder schedule", action.due, action.due_year, action.due_date, rules, timezone)
    known = calendar.memo.get(key)
    if known is not None:
        return known  # type: ignore[return-value]
    zone = ZoneInfo(timezone)

    def at(day: date) -> datetime:
        return datetime.combine(day, rules.send_time, zone).astimezone(UTC)

    days: list[tuple[_Stage, date]] = []
    for stage in _stages(action, calendar, rules):
        send = _school_day(calendar, stage.nominal)
        if send is None:
            continue
        if days and days[-1][1] >= send:
            days[-1] = (stage, send)  # two stages on one day: only the later one
        else:
            days.append((stage, send))
    schedule = []
    for index, (stage, send) in enumerate(days):
        due_at = at(send)
        stale_at = at(days[index + 1][1]) if index + 1 < len(days) else due_at + timedelta(days=7)
        schedule.append(_Slot(stage, send, due_at, stale_at))
    calendar.memo[key] = schedule
    return schedule


def _applies(slot: _Slot, created: date | None, until: date | None) -> bool:
    """Whether an owner gets this stage: not one from before the action was set (overdue
    ones excepted), and not one sent while that owner has it snoozed."""
    stage = slot.stage
    if created is not None and stage.nominal < created and stage.name != "overdue":
        return False  # set after this point had passed: nothing to remind about
    return until is None or slot.send >= until


def _reminder(action: ActionView, person_id: int, slot: _Slot, days_left: int) -> Reminder:
    stage = slot.stage
    assert action.due_date is not None
    return Reminder(
        key=f"reminder:{action.id}:{person_id}:{stage.name}:{stage.period}",
        action_id=action.id,
        person_id=person_id,
        stage=stage.name,
        due_at=slot.due_at,
        stale_at=slot.stale_at,
        due_date=action.due_date,
        days_left=days_left,
    )


def _school_day(calendar: TermCalendar, day: date) -> date | None:
    try:
        return calendar.next_school_day(day)
    except CalendarError:
        return None  # beyond the known term dates: nothing to send until they are set


def reminder_slots(
    actions: Sequence[ActionView],
    calendar: TermCalendar,
    rules: ReminderRules,
    as_of: datetime,
    timezone: str = "Europe/London",
    snoozed: Mapping[tuple[int, int], date] | None = None,
) -> list[Reminder]:
    """Every reminder each open action's owners will get under these rules, past and future.

    `as_of` only sets `days_left`. `due_reminders` and `next_reminder_at` are both read off
    this one schedule, so the stored "next reminder at" can never disagree with what is sent.
    """
    zone = ZoneInfo(timezone)
    snoozed = snoozed or {}
    out: list[Reminder] = []
    today = as_of.astimezone(zone).date()
    for action in actions:
        if not action.status.open or action.due_date is None:
            continue
        created = action.created_at.astimezone(zone).date() if action.created_at else None
        schedule = _schedule(action, calendar, rules, timezone)
        days_left = (action.due_date - today).days
        for owner in action.owners:
            if owner.person_id is None:
                continue  # initials only: the digest lists these
            until = snoozed.get((action.id, owner.person_id))
            out.extend(
                _reminder(action, owner.person_id, slot, days_left)
                for slot in schedule
                if _applies(slot, created, until)
            )
    return out


def due_reminders(
    actions: Sequence[ActionView],
    calendar: TermCalendar,
    rules: ReminderRules,
    as_of: datetime,
    timezone: str = "Europe/London",
    snoozed: Mapping[tuple[int, int], date] | None = None,
) -> list[Reminder]:
    """The reminders that should have gone out by `as_of` and are still worth sending."""
    return [
        reminder
        for reminder in reminder_slots(actions, calendar, rules, as_of, timezone, snoozed)
        if reminder.due_at <= as_of < reminder.stale_at
    ]


def plan_reminders(
    action: ActionView,
    calendar: TermCalendar,
    rules: ReminderRules,
    as_of: datetime,
    timezone: str = "Europe/London",
    snoozed: Mapping[tuple[int, int], date] | None = None,
) -> tuple[list[Reminder], datetime | None]:
    """`due_reminders` and `next_reminder_at` for one action in one pass over its schedule
    (the sweep's, for thousands of actions): only the due reminders are built."""
    if not action.status.open or action.due_date is None:
        return [], None
    zone = ZoneInfo(timezone)
    created = action.created_at.astimezone(zone).date() if action.created_at else None
    days_left = (action.due_date - as_of.astimezone(zone).date()).days
    schedule = _schedule(action, calendar, rules, timezone)
    due: list[Reminder] = []
    following: datetime | None = None
    for owner in action.owners:
        if owner.person_id is None:
            continue
        until = (snoozed or {}).get((action.id, owner.person_id))
        for slot in schedule:  # in time order
            if not _applies(slot, created, until):
                continue
            if slot.due_at > as_of:
                following = slot.due_at if following is None else min(following, slot.due_at)
            elif as_of < slot.stale_at:
                due.append(_reminder(action, owner.person_id, slot, days_left))
    return due, following


def next_reminder_at(
    action: ActionView,
    calendar: TermCalendar,
    rules: ReminderRules,
    after: datetime,
    timezone: str = "Europe/London",
    snoozed: Mapping[tuple[int, int], date] | None = None,
) -> datetime | None:
    """When this action's next reminder falls due after `after`; None if it has no more.

    None also when its remaining stages lie beyond the known term dates: setting term dates
    marks the school's actions for a fresh look, so they are worked out again then.
    """
    later = [
        reminder.due_at
        for reminder in reminder_slots([action], calendar, rules, after, timezone, snoozed)
        if reminder.due_at > after
    ]
    return min(later, default=None)


def reminder_text(action: ActionView, reminder: Reminder, target_text: str | None) -> list[str]:
    """The lines of a reminder: what, which statement, the target, when it is due."""
    assert action.due_date is not None
    if reminder.days_left > 0:
        when = f"due {format_date(action.due_date)} ({reminder.days_left} days)"
    elif reminder.days_left == 0:
        when = f"due today, {format_date(action.due_date)}"
    else:
        when = f"overdue since {format_date(action.due_date)} ({-reminder.days_left} days)"
    lines = [
        f"Action #{action.ref} – {action.statement_label}: {when}.",
        f"Next steps: {action.next_steps or '(none written)'}",
    ]
    if action.target_level:
        lines.append(
            f"Target: level {action.target_level}" + (f" – {target_text}" if target_text else "")
        )
    lines.append(f"Owners: {' / '.join(action.owner_names)}")
    return lines
