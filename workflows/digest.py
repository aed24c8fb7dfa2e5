"""The weekly progress digest for senior leaders: pure, from the review, the actions and the clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from workflows.actions import ActionView
from workflows.calendar import CalendarError, TermCalendar, format_date
from workflows.plan import Profile

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
QUIET_WEEKS = 4


@dataclass(frozen=True)
class DigestSchedule:
    """When the digest goes out: Organisation.settings "digest_day" and "digest_time"."""

    day: int = 0  # Monday
    at: time = time(8, 0)

    @classmethod
    def from_settings(cls, settings: Mapping[str, object] | None) -> DigestSchedule:
        settings = settings or {}
        day = str(settings.get("digest_day") or "monday").lower()
        at = str(settings.get("digest_time") or "08:00")
        return cls(DAYS.index(day) if day in DAYS else 0, time.fromisoformat(at))


@dataclass(frozen=True)
class DigestSlot:
    key: str
    week: str  # "2026-W06"
    due_at: datetime  # UTC
    stale_at: datetime  # UTC


def digest_slot(
    organisation_id: int,
    schedule: DigestSchedule,
    calendar: TermCalendar,
    as_of: datetime,
    timezone: str = "Europe/London",
) -> DigestSlot | None:
    """This week's digest if it is due by `as_of` and not yet stale.

    The digest waits for the first school day on or after its day in the same week; a week
    that is all holiday has none.
    """
    zone = ZoneInfo(timezone)
    today = as_of.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    nominal = monday + timedelta(days=schedule.day)
    send = None
    for offset in range(7 - schedule.day):
        day = nominal + timedelta(days=offset)
        if calendar.is_term_day(day):
            send = day
            break
    if send is None:
        return None
    due_at = datetime.combine(send, schedule.at, zone).astimezone(UTC)
    next_week = datetime.combine(nominal + timedelta(days=7), schedule.at, zone).astimezone(UTC)
    if not due_at <= as_of < next_week:
        return None
    label = week_label(monday)
    return DigestSlot(digest_key(organisation_id, monday), label, due_at, next_week)


def week_label(day: date) -> str:
    """The ISO week a day is in ("2026-W06"): a digest's period."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def digest_key(organisation_id: int, day: date) -> str:
    """The delivery key of a school's digest for the (local) week `day` is in: one a week."""
    return f"digest:{organisation_id}:{week_label(day)}"


def next_digest_at(
    schedule: DigestSchedule,
    calendar: TermCalendar,
    after: datetime,
    timezone: str = "Europe/London",
    weeks: int = 60,
) -> datetime | None:
    """When the next digest falls due after `after` (the slot `digest_slot` will return then).

    Looks up to `weeks` ahead, across the summer; None when no term day in that span is
    known (the term dates are not set): setting them marks the school for a fresh look.
    """
    zone = ZoneInfo(timezone)
    today = after.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    for week in range(weeks):
        nominal = monday + timedelta(days=7 * week + schedule.day)
        for offset in range(7 - schedule.day):
            day = nominal + timedelta(days=offset)
            if calendar.is_term_day(day):
                due_at = datetime.combine(day, schedule.at, zone).astimezone(UTC)
                if due_at > after:
                    return due_at
                break
    return None


@dataclass(frozen=True)
class ThemeLine:
    number: int
    title: str
    answered: int
    total: int
    average: float | None
    change: float | None  # since the previous review


@dataclass(frozen=True)
class Digest:
    organisation: str
    week_of: date
    review_title: str | None
    answered: int
    total: int
    themes: list[ThemeLine]
    completed: list[ActionView]
    due: list[ActionView]
    overdue: list[ActionView]
    quiet: list[ActionView]  # open, no update for four weeks
    initials_only: list[ActionView]  # owners the bot cannot remind: named here instead
    due_until: date | None = None
    notes: list[str] = field(default_factory=list)
    # Owner or deadline "not decided yet" (TBC in the plan): for senior leaders to chase.
    undecided: list[ActionView] = field(default_factory=list)
    # A review started after the one reported above: its progress, told apart from the
    # completed review's profile so half an answer set never reads as the school's levels.
    next_review: tuple[str, int, int] | None = None  # title, answered, total

    @property
    def title(self) -> str:
        return f"Careers weekly digest – {self.organisation} – week of {format_date(self.week_of)}"

    def sections(self) -> list[tuple[str, list[str]]]:
        """Headed lists of plain lines: every channel renders these its own way."""

        def who(action: ActionView) -> str:
            return " / ".join(action.owner_names) or "no owner yet"

        def line(action: ActionView, extra: str = "") -> str:
            due = f", due {format_date(action.due_date)}" if action.due_date else ""
            return f"#{action.ref} {action.statement_label} – {who(action)}{due}{extra}"

        progress = [
            f"{self.review_title or 'No review yet'}: {self.answered} of {self.total} statements answered."
        ]
        for theme in self.themes:
            average = "–" if theme.average is None else f"{theme.average:.1f}"
            change = ""
            if theme.change is not None:
                change = f" ({theme.change:+.1f} since the last review)"
            progress.append(
                f"Theme {theme.number} {theme.title}: {theme.answered}/{theme.total} answered, "
                f"average level {average}{change}"
            )
        if self.next_review is not None:
            title, answered, total = self.next_review
            progress.append(f"In progress: {title}, {answered} of {total} statements answered.")
        sections = [("Review progress and maturity profile", progress)]
        sections.append(
            ("Completed since the last digest", [line(a) for a in self.completed] or ["None."])
        )
        heading = "Due this half-term"
        if self.due_until:
            heading += f" (by {format_date(self.due_until)})"
        sections.append((heading, [line(a) for a in self.due] or ["None."]))
        sections.append(("Overdue", [line(a) for a in self.overdue] or ["Nothing is overdue."]))
        sections.append(
            (f"No update for {QUIET_WEEKS} weeks", [line(a) for a in self.quiet] or ["None."])
        )
        if self.undecided:
            sections.append(
                (
                    "Actions without an owner or date",
                    [line(a, "" if a.due else ", no date") for a in self.undecided],
                )
            )
        if self.initials_only:
            sections.append(
                (
                    "Owners known only by initials (not reminded directly)",
                    [line(a) for a in self.initials_only],
                )
            )
        return sections

    def text(self) -> str:
        out = [self.title, ""]
        for heading, lines in self.sections():
            out.append(heading)
            out.extend(f"- {line}" for line in lines)
            out.append("")
        out.extend(self.notes)
        return "\n".join(out).rstrip() + "\n"


def build_digest(
    organisation: str,
    summary: Profile | None,
    previous: Profile | None,
    actions: Sequence[ActionView],
    calendar: TermCalendar,
    as_of: datetime,
    since: datetime | None,
    timezone: str = "Europe/London",
    in_progress: Profile | None = None,
) -> Digest:
    """`summary` is the profile of the review reported (the last completed one); a newer
    review still `in_progress` is reported by its progress only."""
    zone = ZoneInfo(timezone)
    today = as_of.astimezone(zone).date()
    since = since or as_of - timedelta(days=7)
    before = {t.number: t.average_level for t in previous.themes} if previous else {}
    themes = []
    if summary is not None:
        for theme in summary.themes:
            old = before.get(theme.number)
            change = (
                round(theme.average_level - old, 2)
                if theme.average_level is not None and old is not None
                else None
            )
            themes.append(
                ThemeLine(
                    theme.number,
                    theme.title,
                    theme.answered,
                    theme.total,
                    theme.average_level,
                    change,
                )
            )
    try:
        half = calendar.current_or_next_half_term(today)
        due_until: date | None = half.end
    except CalendarError:
        due_until = None
    open_actions = [a for a in actions if a.status.open]
    by_due = sorted(open_actions, key=lambda a: (a.due_date or date.max, a.ref))
    return Digest(
        organisation=organisation,
        week_of=today - timedelta(days=today.weekday()),
        review_title=summary.title if summary else None,
        answered=summary.answered if summary else 0,
        total=summary.total if summary else 0,
        themes=themes,
        completed=[a for a in actions if a.status.value == "done" and a.updated_at >= since],
        due=[
            a
            for a in by_due
            if a.due_date is not None and due_until is not None and today <= a.due_date <= due_until
        ],
        overdue=[a for a in by_due if a.overdue(today)],
        quiet=[a for a in by_due if a.updated_at < as_of - timedelta(weeks=QUIET_WEEKS)],
        initials_only=[
            a for a in by_due if a.owners and all(o.person_id is None for o in a.owners)
        ],
        due_until=due_until,
        undecided=[a for a in by_due if not a.owners or not a.due],
        next_review=(
            (in_progress.title, in_progress.answered, in_progress.total) if in_progress else None
        ),
    )
