"""The plan as schools write it (issue 10): each export opened and read as a reader would.

The document is seed 003's review run through the real engine, with what the seed's paper
plan has and the bot must carry: two actions on one statement (3.7), a note on a statement
that is not a priority, and action updates that edited, reassigned and moved actions.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import UTC, date, datetime
from typing import Any

import openpyxl
import pytest
from docx import Document
from docx.oxml.ns import qn
from review_scripts import full_review_lines, seed003_priorities, statement_lines

from bot.chart import draw_maturity_chart
from bot.exports import PLAN_HEADERS, export
from model_data import Edition, MaturityModel, load_glossary, load_model
from workflows.plan import (
    ActionStatus,
    ActionUpdateView,
    PlanDocument,
    build_action_plan,
    build_summary,
    describe_changes,
    theme_targets,
)
from workflows.review import Context, Person, handle, new_review, open_review

DUE = {"HT3": date(2025, 2, 14), "HT3/4": date(2025, 4, 4), "HT5": date(2025, 5, 23)}
OTHER_NOTE = "Careers team of four, each with a named year group"
AT = datetime(2025, 1, 28, 16, 0, tzinfo=UTC)
# Updates as bot/reviews.update_view builds them from storage's before/after.
UPDATES = {
    "1.3": ActionUpdateView(AT, "Sam Rivers", "deadline",
                            before={"due": "HT3", "due_year": "2024/25"},
                            after={"due": "HT5", "due_year": "2024/25"}),
    "1.6": ActionUpdateView(AT, "Sam Rivers", "reassigned",
                            before={"owners": ["SR", "JHu"]}, after={"owners": ["NR"]}),
    "2.4": ActionUpdateView(AT, "Nadia Rahman", "edited",
                            before={"target_level": 3, "next_steps": "Share data", "due": "HT3/4",
                                    "due_year": "2024/25", "owners": ["SR", "NR"]},
                            after={"target_level": 4, "next_steps": "Share data with LT",
                                   "due": "HT3/4", "due_year": "2024/25",
                                   "owners": ["SR", "NR"]}),
}  # fmt: skip
EXPECTED_NOTES = {
    "1.3": "Deadline HT3 -> HT5",
    "1.6": "Owners SR / JHu -> NR",
    "2.4": "Target level 3 -> 4; Next steps changed",
}


@pytest.fixture(scope="module")
def model() -> MaturityModel:
    return load_model(Edition.SCHOOL)


@pytest.fixture(scope="module")
def document(model: MaturityModel) -> PlanDocument:
    """Seed 003 through the engine; 3.7 split into its two actions as the seed writes them."""
    people = (Person(1, "Sam Rivers", "SR"), Person(2, "Nadia Rahman", "NR"))
    ctx = Context(model=model, glossary=load_glossary(),
                  now=datetime(2025, 1, 15, 9, 30, tzinfo=UTC), actor="Sam Rivers",
                  people=people)  # fmt: skip
    lines = full_review_lines(model)
    strength = statement_lines("1.1", None)
    start = lines.index(strength[0], 1)  # 1.1 is the first statement: its level, then "done"
    lines[start : start + len(strength)] = ["3", "done", OTHER_NOTE, "strength"]
    state = open_review(
        new_review(model, "Careers Leadership action plan – January 2025"), ctx
    ).state
    for line in lines:
        state = handle(state, line, ctx).state
    assert state.completed
    plan = build_action_plan(model, state.answers, state.title)
    rows = []
    for row in plan.rows:
        row = dataclasses.replace(
            row,
            due_date=DUE.get(row.by_when),
            status=ActionStatus.IN_PROGRESS if row.statement_id in UPDATES else row.status,
            updates=(UPDATES[row.statement_id],) if row.statement_id in UPDATES else (),
        )
        if row.statement_id == "3.7":  # "Learning journey" (SR), then "... employers" (HT3/4 SR)
            first, second = row.next_steps
            rows.append(dataclasses.replace(row, next_steps=[first], by_when="", due_date=None))
            rows.append(dataclasses.replace(row, next_steps=[second]))
        else:
            rows.append(row)
    return PlanDocument(
        organisation="Hill School",
        review_title=state.title,
        edition=model.edition.value,
        as_of=date(2025, 1, 15),
        summary=build_summary(model, state.answers, state.title),
        plan=dataclasses.replace(plan, rows=rows),
        participants=list(state.participants),
    )


@pytest.fixture(scope="module")
def files(document: PlanDocument) -> dict[str, bytes]:
    return {fmt: export(document, fmt) for fmt in ("docx", "xlsx", "csv", "md", "json")}


@pytest.fixture(scope="module")
def word(files: dict[str, bytes]) -> Any:
    return Document(io.BytesIO(files["docx"]))


def plan_table(word: Any) -> Any:
    return word.tables[1]


def test_the_fixture_has_seed_003s_shape(document: PlanDocument) -> None:
    assert len(seed003_priorities()) == 23
    assert len(document.plan.rows) == 24
    assert [r.next_steps for r in document.plan.rows if r.statement_id == "3.7"] == [
        ["Learning journey"],
        ["Learning journey to show connections with employers"],
    ]


# ----- Word --------------------------------------------------------------------------------


def test_word_plan_rows_never_split_and_the_header_repeats(word: Any) -> None:
    table = plan_table(word)
    assert [c.text for c in table.rows[0].cells] == list(PLAN_HEADERS)
    assert len(table.rows) == 1 + 24
    for row in table.rows:
        tr_pr = row._tr.trPr
        assert tr_pr is not None
        cant_split = tr_pr.find(qn("w:cantSplit"))
        assert cant_split is not None and cant_split.get(qn("w:val")) == "true"
        assert tr_pr.index(cant_split) == 0  # the schema's order: cantSplit before tblHeader
    assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
    assert all(r._tr.trPr.find(qn("w:tblHeader")) is None for r in table.rows[1:])


def test_word_status_notes_say_what_changed(word: Any) -> None:
    latest = PLAN_HEADERS.index("Latest update")
    rows = {r.cells[0].text.split()[0]: r for r in plan_table(word).rows[1:]}
    notes = {sid: row.cells[latest].text for sid, row in rows.items()}
    assert "-\u2060>" in notes["1.3"]  # a word joiner keeps "->" on one line
    notes = {sid: text.replace("\u2060", "") for sid, text in notes.items()}
    for statement_id, change in EXPECTED_NOTES.items():
        assert "->" in notes[statement_id]
        assert notes[statement_id].endswith(f": {change}"), notes[statement_id]
    assert notes["1.6"] == "28 Jan 2025 Sam Rivers: Owners SR / JHu -> NR"
    assert "Edited" not in notes["2.4"]


def test_word_chart_has_a_title_caption_and_alternative_text(word: Any) -> None:
    title = "Hill School – Careers Impact review – January 2025"
    doc_pr = word.inline_shapes[0]._inline.docPr
    assert doc_pr.get("title") == title
    assert doc_pr.get("descr").startswith("Average level (1-4) of each theme: 1. Careers")
    assert "target" in doc_pr.get("descr")
    caption = next(p.text for p in word.paragraphs if p.text.startswith(title))
    assert "Orange diamonds" in caption


# ----- Excel -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workbook(files: dict[str, bytes]) -> Any:
    return openpyxl.load_workbook(io.BytesIO(files["xlsx"]))


def test_excel_rows_grow_with_their_text(workbook: Any) -> None:
    ws = workbook["Actions"]
    header = [c.value for c in ws[1]]
    heights = {row[0].value: ws.row_dimensions[row[0].row].height for row in ws.iter_rows(2)}
    assert all(h is not None for h in heights.values())
    for row in ws.iter_rows(min_row=2):
        height = ws.row_dimensions[row[0].row].height
        lines = max(str(c.value).count("\n") + 1 for c in row if c.value is not None)
        assert height >= 15 * lines  # every explicit line at least
        assert all(c.alignment.wrap_text for c in row if isinstance(c.value, str))
        position = row[header.index("Current position")]
        width = ws.column_dimensions[position.column_letter].width
        assert height >= 15 * len(position.value) / (width * 1.2)  # and every wrapped one
    # 2.1's descriptor has a list; 1.7's is one sentence: its row is much shorter.
    assert heights["2.1"] >= heights["1.7"] + 3 * 15
    assert max(heights.values()) <= 409


def test_excel_prints_one_page_wide_any_number_tall(workbook: Any) -> None:
    for ws in workbook.worksheets:
        assert ws.page_setup.fitToWidth == 1
        assert ws.page_setup.fitToHeight == 0
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.page_setup.orientation == "landscape"
        assert ws.print_title_rows in ("1:1", "$1:$1")
    ws = workbook["Actions"]
    widths = [ws.column_dimensions[c.column_letter].width for c in ws[1]]
    assert sum(widths) <= 220  # printed one page wide at about 70%: readable
    assert min(widths) >= 6


# ----- the chart ---------------------------------------------------------------------------


def test_chart_axis_runs_from_level_1_to_4_with_targets(document: PlanDocument) -> None:
    targets = theme_targets(document.summary, document.plan)
    title = "Hill School – Careers Impact review – January 2025"
    fig = draw_maturity_chart(document.summary, title=title, targets=targets)
    ax = fig.axes[0]
    bottom, top = ax.get_ylim()
    assert bottom == 1 and 4 <= top <= 4.6
    assert list(ax.get_yticks()) == [1, 2, 3, 4]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"Level {n}" for n in (1, 2, 3, 4)]
    assert ax.get_title(loc="left").startswith(title)
    assert all(bar.get_y() == 1 for bar in ax.patches)  # bars rise from level 1
    markers = [c for c in ax.collections if "target" in str(c.get_label())]
    assert len(markers) == 1
    assert [tuple(xy) for xy in markers[0].get_offsets()] == [
        (index, targets[theme.number])
        for index, theme in enumerate(document.summary.themes)
        if theme.number in targets
    ]
    assert any("target" in t.get_text() for t in fig.legends[0].get_texts())


def test_theme_targets_average_the_theme_at_its_target_levels(document: PlanDocument) -> None:
    targets = theme_targets(document.summary, document.plan)
    theme = [r for r in document.summary.rows if r.theme == 1]
    by_id = {r.statement_id: r for r in document.plan.rows}
    expected = [
        by_id[r.statement_id].target_level or 0 if r.statement_id in by_id else r.level or 0
        for r in theme
    ]
    assert targets[1] == round(sum(expected) / len(expected), 2)
    assert set(targets) == {1, 2, 3, 4, 5, 6}
    current = {t.number: t.average_level or 0 for t in document.summary.themes}
    assert all(targets[n] > current[n] for n in targets)


# ----- notes, and what changed, in every format --------------------------------------------


def test_notes_in_every_format(files: dict[str, bytes], word: Any, workbook: Any) -> None:
    texts = [p.text for p in word.paragraphs]
    texts += [c.text for row in plan_table(word).rows for c in row.cells]
    assert "Note on 1.2" in texts
    assert f"1.1 Distributed careers leadership: {OTHER_NOTE}" in texts
    summary = {row[0]: row for row in workbook["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["1.1"][-1] == OTHER_NOTE and summary["1.2"][-1] == "Note on 1.2"
    actions = workbook["Actions"]
    note = [c.value for c in actions[1]].index("Note")
    assert {r[note] for r in actions.iter_rows(min_row=2, values_only=True)} >= {"Note on 1.2"}
    rows = list(csv.DictReader(io.StringIO(files["csv"].decode("utf-8-sig"), newline="")))
    assert {r["Note"] for r in rows} >= {OTHER_NOTE, "Note on 1.2", "Note on 6.3"}
    markdown = files["md"].decode("utf-8")
    assert f"- **1\\.1 Distributed careers leadership**: {OTHER_NOTE}" in markdown
    assert "| Note on 1.2 |" in markdown
    data = json.loads(files["json"])
    assert data["summary"][0]["note"] == OTHER_NOTE
    assert data["actions"][0]["note"] == "Note on 1.2"


def test_what_changed_in_every_format(files: dict[str, bytes], workbook: Any) -> None:
    actions = workbook["Actions"]
    latest = [c.value for c in actions[1]].index("Last update")
    cells = [r[latest] or "" for r in actions.iter_rows(min_row=2, values_only=True)]
    rows = list(csv.DictReader(io.StringIO(files["csv"].decode("utf-8-sig"), newline="")))
    markdown = files["md"].decode("utf-8")
    data = json.loads(files["json"])
    changes = {a["statement_id"]: a["updates"] for a in data["actions"] if a["updates"]}
    for statement_id, change in EXPECTED_NOTES.items():
        assert any(cell.endswith(change) for cell in cells)
        assert any(r["Latest update"].endswith(change) for r in rows)
        assert change.replace("; ", "; ") in markdown.replace("-&gt;", "->")
        assert "; ".join(changes[statement_id][0]["changes"]) == change


# ----- CSV ---------------------------------------------------------------------------------


def test_csv_has_the_word_plans_columns_and_a_row_per_action(
    files: dict[str, bytes], word: Any, model: MaturityModel
) -> None:
    reader = csv.DictReader(io.StringIO(files["csv"].decode("utf-8-sig"), newline=""))
    assert reader.fieldnames == [c.text for c in plan_table(word).rows[0].cells]
    rows = list(reader)
    assert len(rows) == 24 + (32 - 23)  # each action, and each statement without one
    journey = [r for r in rows if r["Leadership area"].startswith("3.7 ")]
    assert [(r["Next steps"], r["By when"], r["Who"]) for r in journey] == [
        ("Learning journey", "", "SR"),
        ("Learning journey to show connections with employers", "HT3/4 (Fri 4 Apr 2025)", "SR"),
    ]
    assert journey[0]["Current position"] == journey[1]["Current position"]
    assert journey[0]["Current position"].startswith("Level 1 – ")
    assert journey[0]["Actions to improve"].startswith("Level 3 – ")
    # Statements without an action: their level, descriptor and flag, nothing to do.
    strength = next(r for r in rows if r["Leadership area"].startswith("1.1 "))
    assert strength["Leadership area"] == model.statement("1.1").label
    assert strength["Current position"] == f"Level 3 – {model.statement('1.1').level_text(3)}"
    assert (strength["Actions to improve"], strength["Status"]) == ("", "Area of strength")


# ----- what changed, in words --------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "phrases"),
    [
        ({"due": "HT3", "due_year": "2024/25"}, {"due": "HT5", "due_year": "2024/25"},
         ["Deadline HT3 -> HT5"]),
        ({"due": "HT3", "due_year": "2024/25"}, {"due": "HT3", "due_year": "2025/26"},
         ["Deadline HT3 2024/25 -> HT3 2025/26"]),
        ({"due": "HT3/4"}, {"due": "ongoing"}, ["Deadline HT3/4 -> Ongoing"]),
        ({"owners": ["SR"]}, {"owners": ["NR"]}, ["Owner SR -> NR"]),
        ({"owners": []}, {"owners": ["SR", "NR"]}, ["Owners none -> SR / NR"]),
        ({"target_level": 3}, {"target_level": 4}, ["Target level 3 -> 4"]),
        ({"next_steps": "a"}, {"next_steps": "b"}, ["Next steps changed"]),
        ({"status": "not_started"}, {"status": "done"}, ["Status Not started -> Done"]),
        ({"next_steps": "a", "owners": ["SR"]}, {"next_steps": "a", "owners": ["SR"]}, []),
        ({}, {"until": "2025-02-01"}, []),
    ],
)  # fmt: skip
def test_describe_changes(
    before: dict[str, object], after: dict[str, object], phrases: list[str]
) -> None:
    assert describe_changes(before, after) == phrases


def test_an_update_without_changes_or_note_says_its_kind() -> None:
    assert ActionUpdateView(AT, None, "done").summary == "Done"
    assert ActionUpdateView(AT, None, "progress", note="Shared").summary == "Shared"
    moved = ActionUpdateView(AT, None, "deadline", note="Exams", before={"due": "HT3"},
                             after={"due": "HT4"})  # fmt: skip
    assert moved.summary == "Deadline HT3 -> HT4; Exams"
