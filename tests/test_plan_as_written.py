"""The plan as schools write it (seed 003): two actions on 3.7, owners and dates left "TBC".

Seed 003 lists 3.7 twice ("Learning journey" – SR; "Learning journey to show connections with
employers" – HT3/4 SR) and leaves seven owners and seven deadlines blank. Answered through the
engine, the service (saved and read back) and exported to every format, row for row.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import openpyxl
from docx import Document
from review_scripts import seed003_priorities

from bot.exports import export
from bot.reviews import ReviewService, Who
from model_data import MaturityModel
from storage import repo
from storage.db import Database
from workflows.answers import Flag
from workflows.calendar import default_calendar
from workflows.digest import build_digest
from workflows.replies import Message, Question, Step, Tone
from workflows.review import Context, handle, new_review, open_review

SAM = Who("terminal", "sam", "Sam Rivers")
FIRST_37 = "Learning journey"
SECOND_37 = "Learning journey to show connections with employers"
TBC_ALL = {"4.3", "6.2"}  # by when / who cell empty


def clock() -> datetime:
    return datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


def seed_lines(model: MaturityModel) -> list[str]:
    """Seed 003 typed as written: blanks are "not decided yet", 3.7 has its two actions."""
    raw = {p["id"]: p for p in _raw()}
    priorities = {p.id: p for p in seed003_priorities()}
    lines = ["just me"]
    for statement in model.statements:
        p = priorities.get(statement.id)
        if p is None:
            lines += ["3", "done", "none", "neither"]
            continue
        lines += [str(p.current_level), "done", "none", "priority", str(p.target_level)]
        by_when = raw[p.id]["by_when"]
        owners = raw[p.id]["owners"]
        if p.id == "3.7":  # the first row gives only its owner; the second its own date
            lines += [FIRST_37, "SR", "not decided yet", "add another action"]
            lines += [str(p.target_level), SECOND_37, "SR", "HT3/4", "no"]
            continue
        lines += [
            "; ".join(p.next_steps),
            ", ".join(owners) if owners else "TBC",
            by_when or "later",
            "no",
        ]
    return lines


def _raw() -> list[dict[str, Any]]:
    import yaml
    from review_scripts import FIXTURES

    data: dict[str, Any] = yaml.safe_load((FIXTURES / "seed003_plan.yaml").read_text("utf-8"))
    return list(data["priorities"])


def test_engine_two_actions_and_tbc(school: MaturityModel, school_ctx: Context) -> None:
    state = open_review(new_review(school, "January 2025"), school_ctx).state
    asked: list[Question] = []
    for line in seed_lines(school):
        outcome = handle(state, line, school_ctx)
        errors = [
            r.text for r in outcome.replies if isinstance(r, Message) and r.tone is Tone.ERROR
        ]
        assert errors == [], line
        asked += [r for r in outcome.replies if isinstance(r, Question)]
        state = outcome.state
    assert state.completed
    another = [q for q in asked if q.step is Step.ANOTHER]
    assert len(another) == 24  # once after each action: 23 priorities, 3.7 twice
    assert [c.label for c in another[0].choices] == ["Yes", "No"]
    owners = next(q for q in asked if q.step is Step.OWNERS)
    due = next(q for q in asked if q.step is Step.DUE)
    assert ("Not decided yet", "tbc") in [(c.label, c.value) for c in owners.choices]
    assert ("Not decided yet", "tbc") in [(c.label, c.value) for c in due.choices]

    answer = state.answers["3.7"]
    assert answer.flag is Flag.PRIORITY and answer.complete
    first, second = answer.actions
    assert (first.next_steps, first.owner_names, first.due, first.due_tbc) == (
        FIRST_37, ["SR"], None, True
    )  # fmt: skip
    assert (second.next_steps, second.owner_names, second.due) == (SECOND_37, ["SR"], "HT3/4")
    for sid in TBC_ALL:
        action = state.answers[sid].actions[0]
        assert action.owners == [] and action.owners_tbc and action.due_tbc
        assert state.answers[sid].complete
    # "TBC" never became a person
    assert all(
        o.name.lower() != "tbc" for a in state.answers.values() for x in a.actions for o in x.owners
    )


def test_back_from_an_added_action_drops_it(school: MaturityModel, school_ctx: Context) -> None:
    lines = seed_lines(school)
    cut = lines.index("add another action") + 1
    state = open_review(new_review(school, "January 2025"), school_ctx).state
    for line in lines[:cut]:
        state = handle(state, line, school_ctx).state
    assert len(state.answers["3.7"].actions) == 2
    outcome = handle(state, "back", school_ctx)
    assert len(outcome.state.answers["3.7"].actions) == 1
    assert outcome.pending is not None and outcome.pending.step is Step.ANOTHER
    assert outcome.state.answers["3.7"].complete


async def test_service_saves_and_exports_each_action_as_a_row(
    database: Database, school: MaturityModel
) -> None:
    service = ReviewService(database, clock)
    organisation = await service.organisation("Hill School", "school")
    await service.open(organisation.id, SAM)
    for line in seed_lines(school):
        result = await service.turn(organisation.id, SAM, line)
        errors = [r.text for r in result.replies if isinstance(r, Message) and r.tone is Tone.ERROR]
        assert errors == [], line
    assert result.completed

    async with database.read() as session:
        review = await repo.latest_review(session, organisation.id)
        assert review is not None
        answers = await repo.load_answers(session, review.id)
        stored = await repo.actions_for_review(session, review.id)
    first, second = answers["3.7"].actions
    assert (first.next_steps, first.due_tbc, second.next_steps, second.due) == (
        FIRST_37, True, SECOND_37, "HT3/4"
    )  # fmt: skip
    assert len(stored) == 24
    on_37 = [a for a in stored if a.statement_id == "3.7"]
    assert [(a.position, a.next_steps, a.due) for a in on_37] == [
        (0, FIRST_37, None),
        (1, SECOND_37, "HT3/4"),
    ]
    assert all(a.owners_tbc and a.due_tbc for a in stored if a.statement_id in TBC_ALL)

    document = await service.plan_document(organisation.id)
    rows = document.plan.rows
    assert len(rows) == 24
    assert [r.next_steps for r in rows if r.statement_id == "3.7"] == [[FIRST_37], [SECOND_37]]
    tbc = next(r for r in rows if r.statement_id == "4.3")
    assert (tbc.by_when, tbc.who, tbc.owners) == ("TBC", "TBC", [])

    # Word: the plan table, one row per action.
    docx = Document(io.BytesIO(export(document, "docx")))
    table = docx.tables[1].rows[1:]
    assert len(table) == 24
    word = [[c.text for c in r.cells] for r in table if r.cells[0].text.startswith("3.7 ")]
    assert [(w[3], w[4], w[5]) for w in word] == [
        (FIRST_37, "TBC", "SR"),
        (SECOND_37, "HT3/4 (Fri 4 Apr 2025)", "SR"),
    ]
    word_43 = next(r for r in table if r.cells[0].text.startswith("4.3 "))
    assert (word_43.cells[4].text, word_43.cells[5].text) == ("TBC", "TBC")

    # Excel: the Actions sheet.
    sheet = openpyxl.load_workbook(io.BytesIO(export(document, "xlsx")))["Actions"]
    header = [c.value for c in sheet[1]]
    col = {name: i for i, name in enumerate(header)}
    xrows = [r for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(xrows) == 24
    x37 = [r for r in xrows if r[0] == "3.7"]
    assert [(r[col["Next steps"]], r[col["By when"]], r[col["Owners"]]) for r in x37] == [
        (FIRST_37, "TBC", "SR"),
        (SECOND_37, "HT3/4", "SR"),
    ]
    x43 = next(r for r in xrows if r[0] == "4.3")
    assert (x43[col["By when"]], x43[col["Owners"]]) == ("TBC", "TBC")

    # CSV: the plan's columns, one row per action.
    text = export(document, "csv").decode("utf-8-sig")
    crows = list(csv.DictReader(io.StringIO(text, newline="")))
    c37 = [r for r in crows if r["Leadership area"].startswith("3.7 ")]
    assert [(r["Next steps"], r["By when"], r["Who"]) for r in c37] == [
        (FIRST_37, "TBC", "SR"),
        (SECOND_37, "HT3/4 (Fri 4 Apr 2025)", "SR"),
    ]
    c43 = next(r for r in crows if r["Leadership area"].startswith("4.3 "))
    assert (c43["By when"], c43["Who"]) == ("TBC", "TBC")

    # Markdown: the action plan table.
    md = export(document, "md").decode("utf-8").splitlines()
    plan = md[md.index("## Action plan") :]
    m37 = [line for line in plan if line.startswith("| 3.7 ")]
    assert len(m37) == 2
    assert f"| {FIRST_37} | TBC | SR |" in m37[0]
    assert f"| {SECOND_37} | HT3/4 (Fri 4 Apr 2025) | SR |" in m37[1]
    assert "| TBC | TBC |" in next(line for line in plan if line.startswith("| 4.3 "))

    # JSON: "actions" one entry per action; undecided owners are not a person.
    data = json.loads(export(document, "json"))
    j37 = [a for a in data["actions"] if a["statement_id"] == "3.7"]
    assert [(a["next_steps"], a["by_when"], a["owners"]) for a in j37] == [
        ([FIRST_37], "TBC", ["SR"]),
        ([SECOND_37], "HT3/4", ["SR"]),
    ]
    j43 = next(a for a in data["actions"] if a["statement_id"] == "4.3")
    assert (j43["by_when"], j43["owners"], j43["owners_tbc"]) == ("TBC", [], True)


def test_digest_lists_actions_without_an_owner_or_date(school: MaturityModel) -> None:
    from bot.reviews import action_view  # noqa: F401  (the service builds the same views)
    from workflows.actions import ActionView
    from workflows.answers import Owner
    from workflows.plan import ActionStatus

    def view(n: int, owners: tuple[Owner, ...], due: str | None) -> ActionView:
        return ActionView(
            id=n, statement_id="4.3", statement_label="4.3 Staff LMI", current_level=1,
            target_level=3, next_steps="Train staff", owners=owners, due=due, due_year=None,
            due_date=None, status=ActionStatus.NOT_STARTED, updated_at=clock(),
        )  # fmt: skip

    actions = [
        view(1, (), None),
        view(2, (Owner(name="SR", person_id=1),), "HT3"),
        view(3, (Owner(name="SR", person_id=1),), None),
    ]
    digest = build_digest("Hill School", None, None, actions, default_calendar(), clock(), None)
    sections = dict(digest.sections())
    assert sections["Actions without an owner or date"] == [
        "#1 4.3 Staff LMI – no owner yet, no date",
        "#3 4.3 Staff LMI – SR, no date",
    ]
