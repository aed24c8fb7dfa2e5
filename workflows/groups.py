"""The group view of a Careers Hub or trust, from plain rows: pure, no SQL, no clock.

Rules kept here, so that a chat reply, a spreadsheet and a dashboard page say the same:

- **Which review counts.** A school's maturity is read from its latest *completed* review
  (a finished self-assessment, not one half-answered this week). Review progress (started,
  completed, statements answered) reads its latest review, completed or not.
- **A school's level in a theme** is the mean of its answered statements' levels in that
  theme (as the summary's profile shows it).
- **Median and spread.** The group's figure is the median across schools; the spread is
  given twice: lowest and highest, and the interquartile range (lower and upper quartile,
  `statistics.quantiles(n=4, method="inclusive")`).
- **Fewer than five schools: suppressed.** Any figure computed from fewer than
  `MIN_SCHOOLS` schools is shown as suppressed, with the reason, never as a number.
- **Editions.** Schools and colleges answer different models (32 and 33 statements), so a
  mixed group has figures per edition; each edition's figures count only its own schools.
- **No school is named to another school.** `compare_school` returns group figures and the
  school's own levels only; `GroupView.schools` (names) is for the group's own leads.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from model_data import Edition, MaturityModel, load_model

MIN_SCHOOLS = 5
SUPPRESSED = "fewer than {minimum} schools ({count})"
KINDS = ("hub", "trust")
LEAD_ROLES = ("hub_lead", "enterprise_coordinator", "trust_careers_lead", "facilitator")
ROLE_LABELS = {
    "hub_lead": "Hub lead",
    "enterprise_coordinator": "Enterprise Co-ordinator",
    "trust_careers_lead": "trust careers lead",
    "facilitator": "facilitator",
}


# ----- what the repository hands in ----------------------------------------------------------


@dataclass(frozen=True)
class SchoolFacts:
    """One member school as the group view needs it: plain values."""

    organisation_id: int
    name: str
    edition: str
    started: bool  # has any review
    completed: bool  # has a completed review
    answered: int  # statements answered in its latest review (completed or not)
    levels: dict[str, int]  # statement id -> level, from its latest completed review


@dataclass(frozen=True)
class ActionFacts:
    """One open action of a member school (done and dropped actions are not counted)."""

    organisation_id: int
    due_date: date | None  # the end of its half-term, in the school's own calendar
    has_owner: bool  # a named owner (not none, not "TBC")
    has_date: bool  # a half-term or "ongoing" (not none, not "TBC")


# ----- what the view says ----------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """A figure across schools: median, lowest/highest and quartiles; or suppressed."""

    schools: int  # how many schools it is computed from
    median: float | None = None
    lowest: float | None = None
    highest: float | None = None
    lower_quartile: float | None = None
    upper_quartile: float | None = None
    suppressed: str | None = None  # why no figure is shown

    @property
    def shown(self) -> bool:
        return self.suppressed is None


@dataclass(frozen=True)
class Count:
    """A count over the group's schools; suppressed like any other figure."""

    value: int | None
    schools: int
    suppressed: str | None = None


@dataclass(frozen=True)
class ThemeFigures:
    number: int
    title: str
    maturity: Distribution


@dataclass(frozen=True)
class StatementFigures:
    statement_id: str
    label: str  # "1.1 Vision"
    theme: int
    levels: Distribution


@dataclass(frozen=True)
class EditionFigures:
    """One edition's figures: only the group's schools of that edition count."""

    edition: str
    schools: int  # members of this edition
    assessed: int  # of them, with a completed review
    themes: list[ThemeFigures]
    statements: list[StatementFigures]


@dataclass(frozen=True)
class SchoolLine:
    """A member school as its group's leads see it (never shown to another school)."""

    organisation_id: int
    name: str
    edition: str
    started: bool
    completed: bool
    answered: int
    overdue: int
    without_owner: int
    without_date: int


@dataclass(frozen=True)
class GroupView:
    """Everything a lead sees of one group."""

    group_id: int
    name: str
    kind: str
    today: date
    schools: int
    started: Count  # schools with a review started
    completed: Count  # schools with a review completed
    answered: Count  # statements answered, in every school's latest review
    overdue: Count  # open actions past their deadline
    without_owner: Count
    without_date: Count
    editions: list[EditionFigures]
    members: list[SchoolLine]


@dataclass(frozen=True)
class ComparisonRow:
    statement_id: str
    label: str
    theme: int
    own: int | None  # the school's own level
    group: Distribution  # the group's median and spread for this statement


@dataclass(frozen=True)
class Comparison:
    """A school against its group's median per statement: group figures and its own levels,
    never another school's name or level."""

    group_name: str
    edition: str
    schools: int  # the group's schools of this edition
    own_review_completed: bool
    rows: list[ComparisonRow]


# ----- computing -----------------------------------------------------------------------------


def suppression(count: int) -> str | None:
    """The reason a figure from `count` schools is not shown, or None if it may be."""
    if count < MIN_SCHOOLS:
        return SUPPRESSED.format(minimum=MIN_SCHOOLS, count=count)
    return None


def distribution(values: Sequence[float]) -> Distribution:
    """Median, range and interquartile range of one value per school, or suppressed."""
    reason = suppression(len(values))
    if reason is not None:
        return Distribution(len(values), suppressed=reason)
    lower, _, upper = statistics.quantiles(values, n=4, method="inclusive")
    return Distribution(
        schools=len(values),
        median=round(statistics.median(values), 2),
        lowest=round(min(values), 2),
        highest=round(max(values), 2),
        lower_quartile=round(lower, 2),
        upper_quartile=round(upper, 2),
    )


def count(value: int, schools: int) -> Count:
    reason = suppression(schools)
    return Count(None if reason else value, schools, reason)


def theme_level(model: MaturityModel, levels: dict[str, int], theme: int) -> float | None:
    """A school's level in a theme: the mean of its answered statements there."""
    answered = [levels[s.id] for s in model.theme(theme).statements if s.id in levels]
    return sum(answered) / len(answered) if answered else None


def _edition_figures(edition: str, schools: Sequence[SchoolFacts]) -> EditionFigures:
    model = load_model(edition)
    assessed = [s for s in schools if s.completed]
    themes: list[ThemeFigures] = []
    for theme in model.themes:
        values = [
            v for s in assessed if (v := theme_level(model, s.levels, theme.number)) is not None
        ]
        themes.append(ThemeFigures(theme.number, theme.title, distribution(values)))
    statements = [
        StatementFigures(
            s.id,
            s.short_label,
            s.theme_number,
            distribution([float(x.levels[s.id]) for x in assessed if s.id in x.levels]),
        )
        for s in model.statements
    ]
    return EditionFigures(edition, len(schools), len(assessed), themes, statements)


def _editions(schools: Sequence[SchoolFacts]) -> list[str]:
    present = {s.edition for s in schools}
    return [e.value for e in Edition if e.value in present]


def build_group_view(
    group_id: int,
    name: str,
    kind: str,
    schools: Sequence[SchoolFacts],
    actions: Sequence[ActionFacts],
    today: date,
) -> GroupView:
    """THE group view: maturity by theme and statement (per edition), review progress and
    the actions to chase, with every figure from fewer than five schools suppressed."""
    members = sorted(schools, key=lambda s: (s.name.casefold(), s.organisation_id))
    ids = {s.organisation_id for s in members}
    mine = [a for a in actions if a.organisation_id in ids]
    overdue = [a for a in mine if a.due_date is not None and a.due_date < today]
    no_owner = [a for a in mine if not a.has_owner]
    no_date = [a for a in mine if not a.has_date]

    def per_school(rows: Sequence[ActionFacts], school: int) -> int:
        return sum(1 for a in rows if a.organisation_id == school)

    n = len(members)
    return GroupView(
        group_id=group_id,
        name=name,
        kind=kind,
        today=today,
        schools=n,
        started=count(sum(1 for s in members if s.started), n),
        completed=count(sum(1 for s in members if s.completed), n),
        answered=count(sum(s.answered for s in members), n),
        overdue=count(len(overdue), n),
        without_owner=count(len(no_owner), n),
        without_date=count(len(no_date), n),
        editions=[
            _edition_figures(e, [s for s in members if s.edition == e]) for e in _editions(members)
        ],
        members=[
            SchoolLine(
                s.organisation_id,
                s.name,
                s.edition,
                s.started,
                s.completed,
                s.answered,
                per_school(overdue, s.organisation_id),
                per_school(no_owner, s.organisation_id),
                per_school(no_date, s.organisation_id),
            )
            for s in members
        ],
    )


def compare_school(
    group_name: str, schools: Sequence[SchoolFacts], organisation_id: int, own: dict[str, int]
) -> Comparison:
    """One school's own levels (`own`: its latest completed review, else its latest) against
    the median of its group's schools of the same edition, statement by statement."""
    school = next(s for s in schools if s.organisation_id == organisation_id)
    same = [s for s in schools if s.edition == school.edition]
    figures = _edition_figures(school.edition, same)
    rows = [
        ComparisonRow(f.statement_id, f.label, f.theme, own.get(f.statement_id), f.levels)
        for f in figures.statements
    ]
    return Comparison(group_name, school.edition, len(same), school.completed, rows)


# ----- chat commands -----------------------------------------------------------------------


@dataclass(frozen=True)
class ShowGroup:
    """`group`: a lead's view of the groups they lead; `group xlsx`: as a workbook."""

    xlsx: bool = False


@dataclass(frozen=True)
class CompareWithGroup:
    """`compare`: the school against its group's median, per statement."""


@dataclass(frozen=True)
class ListInvitations:
    """`invitations`: the groups that have invited the school, with buttons to answer."""


@dataclass(frozen=True)
class AnswerInvitation:
    """`join group 4` / `decline group 4`: the Careers Leader's answer to an invitation."""

    group_id: int
    accept: bool


@dataclass(frozen=True)
class InviteSchool:
    """`invite school Hill School` (`... to North Hub`, for a lead of several groups): a
    lead invites a school by its name; its Careers Leader answers in their own chat."""

    school: str
    group: str | None = None


GroupCommand = ShowGroup | CompareWithGroup | ListInvitations | AnswerInvitation | InviteSchool
GROUP_COMMANDS = (ShowGroup, CompareWithGroup, ListInvitations, AnswerInvitation, InviteSchool)

_GROUP = {"group", "group view", "my group", "my groups", "groups"}
_GROUP_XLSX = {"group xlsx", "group export", "export group", "group spreadsheet"}
_COMPARE = {"compare", "compare with group", "compare with my group", "group median"}
_INVITATIONS = {"invitations", "group invitations", "invitation"}
_INVITE = re.compile(
    r"^\s*invite\s+school\s+(?P<school>.+?)(?:\s+to\s+(?P<group>.+?))?\s*$", re.I | re.S
)
_ANSWER = re.compile(r"^\s*(?P<verb>join|accept|decline)\s+group\s+#?(?P<id>\d{1,9})\s*$", re.I)


def parse_group_command(text: str) -> GroupCommand | None:
    """A group command typed alone (never inside an answer: the caller asks only where the
    engine says typed text is not an answer)."""
    plain = " ".join(text.lower().split()).rstrip("?.!")
    if plain in _GROUP:
        return ShowGroup()
    if plain in _GROUP_XLSX:
        return ShowGroup(xlsx=True)
    if plain in _COMPARE:
        return CompareWithGroup()
    if plain in _INVITATIONS:
        return ListInvitations()
    invited = _INVITE.match(text)
    if invited:
        return InviteSchool(" ".join(invited["school"].split()), invited["group"])
    match = _ANSWER.match(text)
    if match:
        return AnswerInvitation(int(match.group("id")), match.group("verb").lower() != "decline")
    return None


def figure(value: float | None) -> str:
    """A figure as text: 2.5, 3 (not 3.0)."""
    if value is None:
        return ""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def spread_text(d: Distribution) -> str:
    """'2.5 (range 1–4, IQR 2–3, 12 schools)' or 'suppressed: fewer than 5 schools (3)'."""
    if d.suppressed is not None:
        return f"suppressed: {d.suppressed}"
    return (
        f"{figure(d.median)} (range {figure(d.lowest)}–{figure(d.highest)}, "
        f"IQR {figure(d.lower_quartile)}–{figure(d.upper_quartile)}, {d.schools} schools)"
    )


def count_text(c: Count) -> str:
    return f"suppressed: {c.suppressed}" if c.suppressed is not None else str(c.value)


# ----- neutral wording, the same in every channel --------------------------------------------

KIND_LABELS = {"hub": "Careers Hub", "trust": "trust"}


def view_heading(view: GroupView) -> str:
    return f"{view.name} ({KIND_LABELS.get(view.kind, view.kind)}): {view.schools} schools"


def progress_facts(view: GroupView) -> list[tuple[str, str]]:
    """Review progress and the actions to chase, as label and figure."""
    return [
        ("Schools with a review started", count_text(view.started)),
        ("Schools with a review completed", count_text(view.completed)),
        ("Statements answered (latest reviews)", count_text(view.answered)),
        ("Overdue actions", count_text(view.overdue)),
        ("Open actions without an owner", count_text(view.without_owner)),
        ("Open actions without a date", count_text(view.without_date)),
    ]


def edition_heading(figures: EditionFigures) -> str:
    label = Edition(figures.edition).label
    return (
        f"Maturity by theme, {label} edition: {figures.schools} schools, "
        f"{figures.assessed} with a completed review (median across schools; range and "
        "interquartile range)"
    )


def school_line(line: SchoolLine) -> str:
    status = (
        "review completed" if line.completed else "review started" if line.started else
        "no review yet"
    )  # fmt: skip
    return (
        f"{line.name}: {status}, {line.answered} answered, {line.overdue} overdue, "
        f"{line.without_owner} without owner, {line.without_date} without date"
    )


def comparison_heading(c: Comparison) -> str:
    source = "latest completed review" if c.own_review_completed else "review in progress"
    return (
        f"Your school against {c.group_name} ({c.schools} schools of your edition): your "
        f"{source}'s level and the group's median per statement. Figures from fewer than "
        f"{MIN_SCHOOLS} schools are not shown; no other school is named."
    )


def comparison_line(row: ComparisonRow) -> str:
    own = str(row.own) if row.own is not None else "not answered"
    return f"{row.label}: yours {own}; group {spread_text(row.group)}"
