"""The summary grid and the action plan, in the shape of a real school's plan (seed 003)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from model_data import MaturityModel, Theme
from workflows.answers import ActionDraft, Answer, EvidenceLink, Flag
from workflows.calendar import CalendarError, TermCalendar
from workflows.deadlines import DeadlineError, parse_by_when


@dataclass(frozen=True)
class SummaryRow:
    statement_id: str
    label: str  # "1.5 Governance"
    theme: int
    level: int | None
    flag: Flag | None
    note: str | None = None  # what the school noted for the statement during the review
    area: str = ""  # the full label: "1.5 Effective and strategic governance ..."
    position: str = ""  # the descriptor of the statement's level

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
class Profile:
    """A review's maturity by theme: what a weekly digest reports of it."""

    title: str
    themes: list[ThemeProfile]

    @property
    def answered(self) -> int:
        return sum(theme.answered for theme in self.themes)

    @property
    def total(self) -> int:
        return sum(theme.total for theme in self.themes)


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


ARROW = "->"  # plain ASCII, so the change reads the same in CSV, chat and every font


def _deadline_text(code: object) -> str:
    if not code:
        return "none"
    try:
        return parse_by_when(str(code)).label
    except DeadlineError:
        return str(code)


def _names(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, Sequence):
        return [str(name) for name in value]
    return []


def _status_text(value: object) -> str:
    try:
        return ActionStatus(str(value)).label
    except ValueError:
        return str(value)


def describe_changes(before: Mapping[str, object], after: Mapping[str, object]) -> list[str]:
    """Each changed field of an action as a phrase: "Deadline HT3 -> HT5", "Owner SR -> NR",
    "Target level 3 -> 4", "Next steps changed" (the steps themselves are in the plan).

    Only fields present on both sides are compared; unknown ones (a snooze's "until") are
    not the plan's business.
    """

    def changed(key: str) -> bool:
        return key in before and key in after and before[key] != after[key]

    phrases: list[str] = []
    if changed("due") or changed("due_year"):
        old, new = _deadline_text(before.get("due")), _deadline_text(after.get("due"))
        if old == new:  # the same half-term in another academic year
            old = f"{old} {before.get('due_year') or ''}".strip()
            new = f"{new} {after.get('due_year') or ''}".strip()
        phrases.append(f"Deadline {old} {ARROW} {new}")
    if changed("owners"):
        old_names, new_names = _names(before["owners"]), _names(after["owners"])
        word = "Owner" if len(old_names) <= 1 and len(new_names) <= 1 else "Owners"
        old_text, new_text = " / ".join(old_names) or "none", " / ".join(new_names) or "none"
        phrases.append(f"{word} {old_text} {ARROW} {new_text}")
    for key, label in (("current_level", "Current level"), ("target_level", "Target level")):
        if changed(key):
            old_level, new_level = before[key] or "none", after[key] or "none"
            phrases.append(f"{label} {old_level} {ARROW} {new_level}")
    if changed("next_steps"):
        phrases.append("Next steps changed")
    if changed("status"):
        old_status, new_status = _status_text(before["status"]), _status_text(after["status"])
        phrases.append(f"Status {old_status} {ARROW} {new_status}")
    return phrases


@dataclass(frozen=True)
class ActionUpdateView:
    """One dated line of an action's history, for documents and chat."""

    at: datetime
    by: str | None
    kind: str  # progress, done, reassigned, deadline (moved), dropped, edited, carried, snoozed
    note: str | None = None
    link: str | None = None
    # The action's fields before and after the change (storage's ActionUpdate.before/after):
    # owners, due, due_year, next_steps, target_level, current_level, status.
    before: Mapping[str, object] = field(default_factory=dict)
    after: Mapping[str, object] = field(default_factory=dict)

    @property
    def changes(self) -> list[str]:
        """What changed, one phrase per field: "Deadline HT3 -> HT5", "Owner SR -> NR".

        A note that says only "Edited" or "Reassigned" tells a governor nothing; the stored
        before/after values say exactly what moved.
        """
        return describe_changes(self.before, self.after)

    @property
    def summary(self) -> str:
        """The update in words: its changes, then its note; the kind only if there is neither."""
        parts = [*self.changes, *([self.note] if self.note else [])]
        return "; ".join(parts) if parts else self.kind.capitalize()


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
    note: str | None = None  # the note given for the statement during the review
    # Owners "not decided yet": shown as TBC, as the school's own plan leaves them.
    owners_tbc: bool = False

    @property
    def who(self) -> str:
        """The owners as the plan writes them: "SR / NR", "TBC", or "" (not answered yet)."""
        return "TBC" if self.owners_tbc and not self.owners else " / ".join(self.owners)

    @property
    def undecided(self) -> bool:
        """An owner or a deadline left to decide later: for senior leaders to chase."""
        return self.owners_tbc or self.by_when == "TBC"

    @property
    def latest_update(self) -> ActionUpdateView | None:
        return max(self.updates, key=lambda u: u.at) if self.updates else None

    @property
    def by_when_who(self) -> str:
        """As the plan writes it: "HT3 – SR", "HT3/4 – SR / NR"."""
        return " – ".join(part for part in (self.by_when, self.who) if part)

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


def _theme_profile(theme: Theme, levels: list[int]) -> ThemeProfile:
    return ThemeProfile(
        number=theme.number,
        title=theme.title,
        answered=len(levels),
        total=len(theme.statements),
        average_level=round(sum(levels) / len(levels), 2) if levels else None,
    )


def build_summary(model: MaturityModel, answers: Mapping[str, Answer], title: str) -> Summary:
    rows: list[SummaryRow] = []
    themes: list[ThemeProfile] = []
    for theme in model.themes:
        levels: list[int] = []
        for statement in theme.statements:
            answer = answers.get(statement.id)
            if answer is None or answer.carried:  # carried over and not confirmed: unanswered
                level = flag = note = None
            else:
                level, flag, note = answer.level, answer.flag, answer.note
            rows.append(
                SummaryRow(
                    statement.id,
                    statement.short_label,
                    theme.number,
                    level,
                    flag,
                    note,
                    statement.label,
                    (statement.level_text(level) or "") if level else "",
                )
            )
            if level is not None:
                levels.append(level)
        themes.append(_theme_profile(theme, levels))
    return Summary(title=title, edition=model.edition.value, rows=rows, themes=themes)


def build_profile(model: MaturityModel, levels: Mapping[str, int], title: str) -> Profile:
    """A review's profile by theme from its levels by statement (answered, and not carried
    over unconfirmed: storage.planning.counted_levels), as `build_summary` works it out but
    without the rows: a digest reports only this, and a Hub's sweep builds 1,000 of them."""
    themes = []
    for theme in model.themes:
        counted = [levels[s.id] for s in theme.statements if s.id in levels]
        themes.append(_theme_profile(theme, counted))
    return Profile(title=title, themes=themes)


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
        # Each action is its own row, as schools write them (seed 003: 3.7 twice).
        drafts: list[ActionDraft | None] = list(answer.actions) or [None]
        for action in drafts:
            target = action.target_level if action else None
            by_when = "TBC" if action and action.due_tbc else ""
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
                    by_when=parse_by_when(action.due).label if action and action.due else by_when,
                    owners=action.owner_names if action else [],
                    action_id=action.action_id if action else None,
                    due_date=_due_date(calendar, action.due, action.due_year) if action else None,
                    evidence=tuple(answer.evidence),
                    note=answer.note,
                    owners_tbc=bool(action and action.owners_tbc),
                )
            )
    return ActionPlan(title=title, rows=rows)


def theme_targets(summary: Summary, plan: ActionPlan) -> dict[int, float]:
    """Each theme's average level once its priority actions reach their target levels.

    Where the plan sets a target for at least one of a theme's statements, that statement's
    level is replaced by its target (the highest, if it has several actions) and the theme is
    averaged over the same answered statements as its bar. An average rather than the highest
    target because it is on the bar's own scale: the gap between bar and marker is what the
    plan would add to the theme, where "4" for nearly every theme would say nothing.
    Themes without a target are left out.
    """
    targets: dict[str, int] = {}
    for row in plan.rows:
        if row.target_level and row.target_level > row.current_level:
            targets[row.statement_id] = max(targets.get(row.statement_id, 0), row.target_level)
    result: dict[int, float] = {}
    for theme in summary.themes:
        rows = [r for r in summary.rows if r.theme == theme.number and r.level is not None]
        if not any(r.statement_id in targets for r in rows):
            continue
        levels = [max(r.level or 0, targets.get(r.statement_id, 0)) for r in rows]
        result[theme.number] = round(sum(levels) / len(levels), 2)
    return result
