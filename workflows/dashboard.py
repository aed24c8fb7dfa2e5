"""What the dashboard page shows, for a school and for a group: pure, from the plan, the
actions and the day (no HTML here: bot/dashboard.py draws it).

A school's page: the maturity profile by theme with its targets and the change since the
last review, actions by status and by half-term, the overdue ones, and evidence counts by
theme, each list narrowed by the page's filters (a theme, an action status).

A group's page draws `workflows.groups.GroupView`, the same figures as the chat's group
view and the workbook (suppressed under five schools), for the group's own leads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from workflows.actions import ActionView
from workflows.deadlines import DeadlineError, parse_by_when
from workflows.plan import PlanDocument, Summary, theme_targets


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
