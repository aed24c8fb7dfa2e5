"""The summary grid and the action plan, in the shape of a real school's plan (seed 003)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from model_data import MaturityModel
from workflows.answers import Answer, EvidenceLink, Flag
from workflows.calendar import CalendarError, TermCalendar
from workflows.deadlines import parse_by_when


@dataclass(frozen=True)
class SummaryRow:
    statement_id: str
    label: str  # "1.5 Governance"
    theme: int
    level: int | None
    flag: Flag | None

    @property
    def priority(self) -> bool:
        return self.flag is Flag.PRIORITY

    @property
    def strength(self) -> bool:
        return self.flag is Flag.STRENGTH


@dataclass(frozen=True)
class ThemeProfile:
    number: int
    title: str
    answered: int
    total: int
    average_level: float | None


@dataclass(frozen=True)
class Summary:
    """Every statement against levels 1-4, with priorities and strengths marked."""

    title: str
    edition: str
    rows: list[SummaryRow]
    themes: list[ThemeProfile]

    @property
    def answered(self) -> int:
        return sum(1 for row in self.rows if row.level is not None)

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def priorities(self) -> list[SummaryRow]:
        return [row for row in self.rows if row.priority]

    @property
    def strengths(self) -> list[SummaryRow]:
        return [row for row in self.rows if row.strength]


class ActionStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def open(self) -> bool:
        return self in (ActionStatus.NOT_STARTED, ActionStatus.IN_PROGRESS)


@dataclass(frozen=True)
class ActionUpdateView:
    """One dated line of an action's history, for documents and chat."""

    at: datetime
    by: str | None
    kind: str  # progress, done, reassigned, deadline, dropped, edited, carried
    note: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class PlanRow:
    """One line of the action plan table."""

    statement_id: str
    leadership_area: str  # "1.2 Leaders' vision and intent for careers"
    current_level: int
    current_position: str  # text of the current level
    target_level: int | None
    actions_to_improve: str  # text of the target level
    next_steps: list[str]
    by_when: str  # "HT3", "HT3/4", "Ongoing" or ""
    owners: list[str]
    # Filled in where the action is stored and the calendar is known (exports, digests).
    action_id: int | None = None
    due_date: date | None = None  # last day of the deadline's half-term; None for ongoing
    status: ActionStatus = ActionStatus.NOT_STARTED
    evidence: tuple[EvidenceLink, ...] = ()
    updates: tuple[ActionUpdateView, ...] = ()

    @property
    def by_when_who(self) -> str:
        """As the plan writes it: "HT3 – SR", "HT3/4 – SR / NR"."""
        who = " / ".join(self.owners)
        return " – ".join(part for part in (self.by_when, who) if part)

    @property
    def by_when_dated(self) -> str:
        """The deadline with its real date: "HT3 (Fri 13 Feb 2026)", or "Ongoing"."""
        if self.due_date is None:
            return self.by_when
        return f"{self.by_when} ({self.due_date:%a} {self.due_date.day} {self.due_date:%b %Y})"


@dataclass(frozen=True)
class ActionPlan:
    title: str
    rows: list[PlanRow]


@dataclass(frozen=True)
class PlanDocument:
    """Everything an export needs: the summary grid and the action plan of one review."""

    organisation: str
    review_title: str
    edition: str
    as_of: date  # the review's month goes in the title
    summary: Summary
    plan: ActionPlan
    participants: list[str] = field(default_factory=list)
    evidence: dict[str, list[EvidenceLink]] = field(default_factory=dict)  # by statement id
    previous_summary: Summary | None = None  # the review this one was based on, for the chart

    @property
    def title(self) -> str:
        return (
            f"Careers Leadership action plan and summary - {self.organisation} - {self.as_of:%B %Y}"
        )


def build_summary(model: MaturityModel, answers: Mapping[str, Answer], title: str) -> Summary:
    rows: list[SummaryRow] = []
    themes: list[ThemeProfile] = []
    for theme in model.themes:
        levels: list[int] = []
        for statement in theme.statements:
            answer = answers.get(statement.id)
            level = answer.level if answer and not answer.carried else None
            flag = answer.flag if answer and not answer.carried else None
            rows.append(SummaryRow(statement.id, statement.short_label, theme.number, level, flag))
            if level is not None:
                levels.append(level)
        themes.append(
            ThemeProfile(
                number=theme.number,
                title=theme.title,
                answered=len(levels),
                total=len(theme.statements),
                average_level=round(sum(levels) / len(levels), 2) if levels else None,
            )
        )
    return Summary(title=title, edition=model.edition.value, rows=rows, themes=themes)


def _due_date(calendar: TermCalendar | None, due: str | None, year: str | None) -> date | None:
    if calendar is None or not due or not year:
        return None
    try:
        return calendar.due_in_year(parse_by_when(due), year)
    except CalendarError:
        return None


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def build_action_plan(
    model: MaturityModel,
    answers: Mapping[str, Answer],
    title: str,
    calendar: TermCalendar | None = None,
) -> ActionPlan:
    """Rows for every priority with a level, in statement order, dated where the calendar knows."""
    rows: list[PlanRow] = []
    for statement in model.statements:
        answer = answers.get(statement.id)
        if answer is None or answer.carried or answer.flag is not Flag.PRIORITY:
            continue
        if answer.level is None:
            continue
        action = answer.action
        target = action.target_level if action else None
        rows.append(
            PlanRow(
                statement_id=statement.id,
                leadership_area=statement.label,
                current_level=answer.level,
                current_position=statement.level_text(answer.level)
                or f"Not yet at level {answer.level + 1}",
                target_level=target,
                actions_to_improve=(statement.level_text(target) or "") if target else "",
                next_steps=_lines(action.next_steps if action else None),
                by_when=parse_by_when(action.due).label if action and action.due else "",
                owners=action.owner_names if action else [],
                action_id=action.action_id if action else None,
                due_date=_due_date(calendar, action.due, action.due_year) if action else None,
                evidence=tuple(answer.evidence),
            )
        )
    return ActionPlan(title=title, rows=rows)
