"""The governors' report: where the school stands, how the actions are going, what to ask.

For the link governor for careers at a termly meeting, in one to three pages: each theme's
average level and its change since the last review, the actions by half-term with a RAG
status, the owners to chase, and three questions chosen from the weakest themes. The RAG
rules are here, pure, with `today` passed in:

- done: the action is done;
- overdue: open, and its deadline's half-term has ended;
- at risk: open, due this half-term, and no update in four weeks (the review that agreed it
  counts as its first update);
- on track: any other open action (ongoing ones too). Dropped actions are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from workflows.calendar import HalfTerm, TermCalendar
from workflows.documents import (
    Bullets,
    Cell,
    Doc,
    DocumentKind,
    Para,
    Rag,
    Section,
    Table,
)
from workflows.plan import ActionStatus, PlanDocument, PlanRow, Summary, ThemeProfile

STALE = timedelta(weeks=4)  # no update for this long, due this half-term: at risk
FIRST_WEEK = timedelta(days=7)
QUESTIONS = 3

# Questions a link governor could ask about each theme, weakest themes first. Our own
# wording (not the model's): short, open, and answerable at a governors' meeting.
THEME_QUESTIONS: dict[int, tuple[str, ...]] = {
    1: (
        "How does the careers vision shape the development plan, and how do senior leaders "
        "and governors check progress against it?",
        "Does the Careers Leader have the time, training and senior support the role needs?",
    ),
    2: (
        "What do destinations data and learners' own views tell us about the impact of the "
        "careers programme, and what has changed because of them?",
        "How are the careers needs of disadvantaged learners and learners with SEND identified "
        "and met?",
    ),
    3: (
        "How do learners, parents and carers learn about the labour market and about every "
        "route after school or college, including apprenticeships and technical education?",
        "How are staff helped to have well-informed, unbiased careers conversations?",
    ),
    4: (
        "How do we know that careers is linked to learning in every subject, and how is it "
        "checked?",
        "What training have staff had to bring careers and labour market information into "
        "their teaching?",
    ),
    5: (
        "Does every learner have meaningful encounters with employers and experiences of "
        "workplaces, and how do we know?",
        "How are employers chosen and engaged, and what do learners take away from them?",
    ),
    6: (
        "Does every learner get personal guidance when they need it, from a qualified adviser, "
        "and how is its quality checked?",
        "How are parents and carers involved in personal guidance?",
    ),
}


def governors_report_due(calendar: TermCalendar, as_of: date) -> bool:
    """Whether `as_of` is in the first week of a half-term: when the report goes with the
    digest to a school that asked for it (settings["governors_report"])."""
    half = calendar.half_term_on(as_of)
    return half is not None and as_of < half.start + FIRST_WEEK


def last_touched(row: PlanRow, agreed_on: date) -> date:
    """The latest update's day, or the day the review agreed the action."""
    update = row.latest_update
    return max(update.at.date(), agreed_on) if update is not None else agreed_on


def rag(row: PlanRow, today: date, half: HalfTerm | None, agreed_on: date) -> Rag | None:
    """The action's RAG status (module docstring); None for a dropped action."""
    if row.status is ActionStatus.DONE:
        return Rag.DONE
    if row.status is ActionStatus.DROPPED:
        return None
    if row.due_date is not None and row.due_date < today:
        return Rag.OVERDUE
    due_now = half is not None and row.due_date is not None and half.contains(row.due_date)
    if due_now and today - last_touched(row, agreed_on) >= STALE:
        return Rag.AT_RISK
    return Rag.ON_TRACK


@dataclass(frozen=True)
class ThemeChange:
    theme: ThemeProfile
    before: float | None

    @property
    def change(self) -> float | None:
        if self.theme.average_level is None or self.before is None:
            return None
        return round(self.theme.average_level - self.before, 2)


def theme_changes(summary: Summary, previous: Summary | None) -> list[ThemeChange]:
    earlier = {t.number: t.average_level for t in previous.themes} if previous else {}
    return [ThemeChange(t, earlier.get(t.number)) for t in summary.themes]


def weakest_themes(summary: Summary, count: int = QUESTIONS) -> list[ThemeProfile]:
    """Answered themes from the lowest average level; ties in theme order."""
    answered = [t for t in summary.themes if t.average_level is not None]
    return sorted(answered, key=lambda t: (t.average_level or 0, t.number))[:count]


def questions(summary: Summary, count: int = QUESTIONS) -> list[tuple[ThemeProfile, str]]:
    """`count` questions: the first for each of the weakest themes, then the second ones."""
    weakest = weakest_themes(summary, count)
    chosen: list[tuple[ThemeProfile, str]] = []
    for round_ in range(2):
        for theme in weakest:
            asked = THEME_QUESTIONS.get(theme.number, ())
            if round_ < len(asked) and len(chosen) < count:
                chosen.append((theme, asked[round_]))
    return chosen


@dataclass(frozen=True)
class RatedAction:
    row: PlanRow
    rag: Rag


def rated_actions(
    document: PlanDocument, calendar: TermCalendar | None, today: date
) -> list[RatedAction]:
    """Every action that is not dropped, with its RAG, by deadline (ongoing last)."""
    half = calendar.half_term_on(today) if calendar is not None else None
    rated = []
    for row in document.plan.rows:
        status = rag(row, today, half, document.as_of)
        if status is not None:
            rated.append(RatedAction(row, status))
    return sorted(rated, key=lambda a: (a.row.due_date is None, a.row.due_date or today))


def owners_to_chase(rated: list[RatedAction]) -> list[tuple[str, list[RatedAction]]]:
    """Each owner of an overdue or at-risk action, with those actions; "Owner to be
    decided" for actions nobody owns yet."""
    chase: dict[str, list[RatedAction]] = {}
    for action in rated:
        if action.rag in (Rag.OVERDUE, Rag.AT_RISK):
            for owner in action.row.owners or ["Owner to be decided"]:
                chase.setdefault(owner, []).append(action)
        elif action.rag is not Rag.DONE and action.row.undecided:
            chase.setdefault("Owner to be decided", []).append(action)
    return sorted(chase.items(), key=lambda item: (-len(item[1]), item[0]))


def _level(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _change(value: float | None) -> str:
    if value is None:
        return "–"
    if value == 0:
        return "no change"
    return f"{value:+.1f}"


def build_governors_report(
    document: PlanDocument, calendar: TermCalendar | None, today: date
) -> Doc:
    """The report as of `today`, for the review in `document`."""
    changes = theme_changes(document.summary, document.previous_summary)
    rated = rated_actions(document, calendar, today)
    counts = {status: sum(1 for a in rated if a.rag is status) for status in Rag}
    previous = document.previous_summary

    stands_rows = tuple(
        (
            Cell(f"{c.theme.number}. {c.theme.title}"),
            Cell(_level(c.theme.average_level)),
            Cell(_level(c.before)),
            Cell(_change(c.change)),
            Cell(f"{c.theme.answered}/{c.theme.total}"),
        )
        for c in changes
    )
    stands: list[Para | Table] = [
        Para(
            f"From {document.review_title} ({document.as_of:%B %Y}): the average maturity level "
            "of each theme's statements, from 1 to 4"
            + (f", against {previous.title}." if previous else ". This is the first review.")
        ),
        Table(
            ("Theme", "Level now", "Last review", "Change", "Answered"),
            stands_rows,
            (8.5, 1.8, 1.8, 1.8, 2.2),
        ),
    ]
    action_rows = tuple(
        (
            Cell(a.row.by_when_dated or "Not set"),
            Cell(a.row.statement_id),
            Cell("; ".join(a.row.next_steps) or "Next steps not set"),
            Cell(a.row.who or "Not set"),
            Cell(a.rag.value.capitalize(), rag=a.rag, bold=True),
        )
        for a in rated
    )
    actions: list[Para | Table] = [
        Para(
            f"{counts[Rag.DONE]} done · {counts[Rag.ON_TRACK]} on track · "
            f"{counts[Rag.AT_RISK]} at risk · {counts[Rag.OVERDUE]} overdue",
            bold=True,
        ),
        Para(
            "At risk: due this half-term with no update in four weeks. Overdue: its "
            "half-term has ended and it is not done.",
            small=True,
        ),
    ]
    if action_rows:
        actions.append(
            Table(
                ("By when", "Statement", "Action", "Who", "Status"), action_rows, (3, 2, 7.5, 2, 2)
            )
        )
    else:
        actions.append(Para("The review set no actions."))
    chase = owners_to_chase(rated)
    chase_blocks: tuple[Para | Bullets, ...] = (
        (
            Bullets(
                tuple(
                    f"{owner}: " + ", ".join(f"{a.row.statement_id} ({a.rag.value})" for a in owned)
                    for owner, owned in chase
                )
            ),
        )
        if chase
        else (Para("Nobody to chase: no action is overdue or at risk."),)
    )
    asked = questions(document.summary)
    question_blocks: tuple[Para | Bullets, ...] = (
        (
            Bullets(
                tuple(
                    f"{question} (Theme {theme.number}, level {_level(theme.average_level)})"
                    for theme, question in asked
                )
            ),
        )
        if asked
        else (Para("No theme has been answered yet."),)
    )
    return Doc(
        kind=DocumentKind.GOVERNORS_REPORT,
        title=f"Careers report for governors – {document.organisation} – {today:%B %Y}",
        subtitle=f"Prepared {today.day} {today:%B %Y} from {document.review_title}",
        organisation=document.organisation,
        as_of=today,
        sections=(
            Section("Where the school stands", blocks=tuple(stands)),
            Section("Actions by half-term", blocks=tuple(actions)),
            Section("Owners to chase", blocks=chase_blocks),
            Section("Questions the link governor could ask", blocks=question_blocks),
        ),
        keywords=("careers", "governors", "Careers Impact System"),
    )
