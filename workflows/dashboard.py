"""What the dashboard page shows, for a school and for a group: pure, from the plan, the
actions and the day (no HTML here: bot/dashboard.py draws it).

A school's page: the maturity profile by theme with its targets and the change since the
last review, actions by status and by half-term, the overdue ones, and evidence counts by
theme, each list narrowed by the page's filters (a theme, an action status).

A group's page (a Careers Hub, a trust): maturity by theme across its schools (median and
spread), review progress, overdue actions, actions without an owner or a date. Every
figure is suppressed while fewer than five schools are in it, and no school is named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from statistics import median

from workflows.actions import ActionView
from workflows.deadlines import DeadlineError, parse_by_when
from workflows.plan import PlanDocument, Summary, theme_targets

MIN_SCHOOLS = 5  # fewer schools than this in a group: its figures are not shown


class StatusFilter(StrEnum):
    """Which actions the page lists: the filter's values, as the page's links carry them."""

    ALL = "all"
    OPEN = "open"
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"
    OVERDUE = "overdue"

    @property
    def label(self) -> str:
        return {
            StatusFilter.ALL: "All actions",
            StatusFilter.OPEN: "Open",
            StatusFilter.NOT_STARTED: "Not started",
            StatusFilter.IN_PROGRESS: "In progress",
            StatusFilter.DONE: "Done",
            StatusFilter.DROPPED: "Dropped",
            StatusFilter.OVERDUE: "Overdue",
        }[self]

    def keeps(self, action: ActionView, today: date) -> bool:
        if self is StatusFilter.ALL:
            return True
        if self is StatusFilter.OPEN:
            return action.status.open
        if self is StatusFilter.OVERDUE:
            return action.overdue(today)
        return action.status.value == self.value


@dataclass(frozen=True)
class Filters:
    """The page's filters, read from its query string: anything unknown means "all"."""

    theme: int | None = None
    status: StatusFilter = StatusFilter.OPEN

    @classmethod
    def read(cls, query: Mapping[str, str], themes: Sequence[int]) -> Filters:
        theme_text = query.get("theme", "")
        theme = int(theme_text) if theme_text.isdigit() and int(theme_text) in themes else None
        try:
            status = StatusFilter(query.get("status", StatusFilter.OPEN.value))
        except ValueError:
            status = StatusFilter.OPEN
        return cls(theme, status)


@dataclass(frozen=True)
class ThemeFigure:
    number: int
    title: str
    answered: int
    total: int
    level: float | None  # the theme's average level now
    target: float | None  # its average once the priority actions reach their targets
    previous: float | None  # at the review this one was based on

    @property
    def change(self) -> float | None:
        if self.level is None or self.previous is None:
            return None
        return round(self.level - self.previous, 2)


@dataclass(frozen=True)
class StatementChange:
    statement_id: str
    label: str
    before: int
    after: int


@dataclass(frozen=True)
class EvidenceCount:
    theme: int
    title: str
    statements: int  # statements of the theme
    with_evidence: int  # of them, with at least one evidence link
    links: int


@dataclass(frozen=True)
class Count:
    label: str
    count: int


@dataclass(frozen=True)
class SchoolDashboard:
    organisation: str
    review_title: str
    previous_title: str | None
    as_of: date
    today: date
    answered: int
    total: int
    themes: list[ThemeFigure]
    changes: list[StatementChange]  # statements whose level moved since the last review
    by_status: list[Count]
    by_half_term: list[Count]
    overdue: list[ActionView]
    actions: list[ActionView]  # the actions the filters keep
    evidence: list[EvidenceCount]
    filters: Filters


def theme_of(statement_id: str) -> int:
    return int(statement_id.split(".", 1)[0])


def half_term_label(action: ActionView) -> str:
    """The half-term an action is due in, as a school says it: "2025/26 HT3", "Ongoing"."""
    if not action.due:
        return "No date yet"
    try:
        when = parse_by_when(action.due)
    except DeadlineError:
        return action.due
    if when.ongoing:
        return "Ongoing"
    return f"{action.due_year} {when.code}" if action.due_year else when.code


def school_dashboard(
    document: PlanDocument, actions: Sequence[ActionView], today: date, filters: Filters
) -> SchoolDashboard:
    summary = document.summary
    previous = document.previous_summary
    targets = theme_targets(summary, document.plan)
    before = {t.number: t.average_level for t in previous.themes} if previous else {}
    themes = [
        ThemeFigure(
            t.number,
            t.title,
            t.answered,
            t.total,
            t.average_level,
            targets.get(t.number),
            before.get(t.number),
        )
        for t in summary.themes
    ]
    changes = _changes(summary, previous)
    in_theme = [
        a for a in actions if filters.theme is None or theme_of(a.statement_id) == filters.theme
    ]
    by_status = [
        Count(s.label, sum(1 for a in in_theme if s.keeps(a, today)))
        for s in (StatusFilter.NOT_STARTED, StatusFilter.IN_PROGRESS, StatusFilter.DONE,
                  StatusFilter.DROPPED, StatusFilter.OVERDUE)
    ]  # fmt: skip
    dated = sorted(
        (a for a in in_theme if filters.status.keeps(a, today)),
        key=lambda a: (a.due_date is None, a.due_date or today, a.ref),
    )
    half_terms: dict[str, int] = {}
    for action in dated:
        label = half_term_label(action)
        half_terms[label] = half_terms.get(label, 0) + 1
    overdue = sorted(
        (a for a in in_theme if a.overdue(today)), key=lambda a: (a.due_date or today, a.ref)
    )
    evidence = []
    for theme in summary.themes:
        ids = [r.statement_id for r in summary.rows if r.theme == theme.number]
        links = [len(document.evidence.get(sid, [])) for sid in ids]
        evidence.append(
            EvidenceCount(
                theme.number, theme.title, len(ids), sum(1 for n in links if n), sum(links)
            )
        )
    if filters.theme is not None:
        evidence = [e for e in evidence if e.theme == filters.theme]
        changes = [c for c in changes if theme_of(c.statement_id) == filters.theme]
    return SchoolDashboard(
        organisation=document.organisation,
        review_title=document.review_title,
        previous_title=previous.title if previous else None,
        as_of=document.as_of,
        today=today,
        answered=summary.answered,
        total=summary.total,
        themes=themes,
        changes=changes,
        by_status=by_status,
        by_half_term=[Count(label, n) for label, n in half_terms.items()],
        overdue=overdue,
        actions=dated,
        evidence=evidence,
        filters=filters,
    )


def _changes(summary: Summary, previous: Summary | None) -> list[StatementChange]:
    if previous is None:
        return []
    was = {r.statement_id: r.level for r in previous.rows}
    out = []
    for row in summary.rows:
        old = was.get(row.statement_id)
        if row.level is not None and old is not None and old != row.level:
            out.append(StatementChange(row.statement_id, row.label, old, row.level))
    return out


# ----- a group ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SchoolFigures:
    """One member school's figures, as the group view needs them (the school is not named)."""

    theme_levels: Mapping[int, float | None]  # each theme's average level in its latest review
    review: str  # "completed", "in_progress", "not_started"
    overdue: int
    without_owner: int
    without_date: int


@dataclass(frozen=True)
class ThemeSpread:
    number: int
    title: str
    schools: int  # schools with a level for the theme
    median: float | None  # None: suppressed (fewer than five schools)
    lowest: float | None
    highest: float | None


@dataclass(frozen=True)
class GroupView:
    """What the group page draws. Every figure is None when `suppressed`."""

    name: str
    kind: str  # hub, trust
    schools: int
    suppressed: bool
    themes: list[ThemeSpread]
    reviews_completed: int | None
    reviews_in_progress: int | None
    reviews_not_started: int | None
    overdue_actions: int | None
    actions_without_owner: int | None
    actions_without_date: int | None


def group_view(
    name: str, kind: str, theme_titles: Mapping[int, str], schools: Sequence[SchoolFigures]
) -> GroupView:
    """The group's figures, with everything suppressed under five schools (and a theme's
    spread under five schools that have a level for it), so no school can be picked out."""
    suppressed = len(schools) < MIN_SCHOOLS
    themes = []
    for number, title in sorted(theme_titles.items()):
        levels = sorted(level for s in schools if (level := s.theme_levels.get(number)) is not None)
        if suppressed or len(levels) < MIN_SCHOOLS:
            themes.append(ThemeSpread(number, title, len(levels), None, None, None))
        else:
            themes.append(
                ThemeSpread(
                    number, title, len(levels), round(median(levels), 2), levels[0], levels[-1]
                )
            )

    def total(values: Sequence[int]) -> int | None:
        return None if suppressed else sum(values)

    return GroupView(
        name=name,
        kind=kind,
        schools=len(schools),
        suppressed=suppressed,
        themes=themes,
        reviews_completed=total([s.review == "completed" for s in schools]),
        reviews_in_progress=total([s.review == "in_progress" for s in schools]),
        reviews_not_started=total([s.review == "not_started" for s in schools]),
        overdue_actions=total([s.overdue for s in schools]),
        actions_without_owner=total([s.without_owner for s in schools]),
        actions_without_date=total([s.without_date for s in schools]),
    )
