"""Document exports of a whole review built from seed 003 (a real school's plan), opened and read back.

Each format is generated once per module and opened with its own library: python-docx,
openpyxl, the csv and json modules, Pillow for the chart.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import openpyxl
import pytest
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn
from PIL import Image
from review_scripts import STRENGTHS, full_review_lines, seed003_priorities

from bot.chart import SIZE, short_theme_title
from bot.exports import (
    CSV_COLUMNS,
    FORMATS,
    PRIORITY_FILL,
    STRENGTH_FILL,
    chart,
    default_filename,
    export,
)
from model_data import Edition, MaturityModel, load_glossary, load_model
from workflows.answers import EvidenceLink
from workflows.plan import (
    ActionStatus,
    ActionUpdateView,
    PlanDocument,
    build_action_plan,
    build_summary,
)
from workflows.review import Context, Person, handle, new_review, open_review

TITLE = "Careers Leadership action plan and summary - Hill School - January 2025"
REVIEW = "Careers Leadership action plan and summary – January 2025"
DUE = {"HT3": date(2025, 2, 14), "HT3/4": date(2025, 4, 4)}  # ends of half-terms 3 and 4
STATUSES = {
    "1.3": ActionStatus.IN_PROGRESS,
    "2.4": ActionStatus.IN_PROGRESS,
    "1.7": ActionStatus.DONE,
    "6.2": ActionStatus.DROPPED,
}
UPDATE = ActionUpdateView(
    at=datetime(2025, 1, 28, 16, 0, tzinfo=UTC),
    by="Sam Rivers",
    kind="progress",
    note="Plan shared with SLT | governors next",
    link="https://school.example/slt-minutes-jan",
)
EXTRA_EVIDENCE = EvidenceLink(url="https://school.example/vision-draft", label="Vision draft – v2")
PRIORITIES = {p.id: p for p in seed003_priorities()}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def expected_level(statement_id: str) -> int:
    return PRIORITIES[statement_id].current_level if statement_id in PRIORITIES else 3


@pytest.fixture(scope="module")
def model() -> MaturityModel:
    return load_model(Edition.SCHOOL)


@pytest.fixture(scope="module")
def document(model: MaturityModel) -> PlanDocument:
    """Seed 003's review run through the real engine, then dated, progressed and evidenced."""
    people = (Person(1, "Sam Rivers", "SR"), Person(2, "Nadia Rahman", "NR"))
    ctx = Context(
        model=model,
        glossary=load_glossary(),
        now=datetime(2025, 1, 15, 9, 30, tzinfo=UTC),
        actor="Sam Rivers",
        people=people,
    )
    state = open_review(new_review(model, REVIEW), ctx).state
    for line in full_review_lines(model):
        state = handle(state, line, ctx).state
    assert state.completed
    evidence = {sid: list(a.evidence) for sid, a in state.answers.items() if a.evidence}
    plan = build_action_plan(model, state.answers, state.title)
    rows = []
    for row in plan.rows:
        links = tuple(evidence.get(row.statement_id, ()))
        if row.statement_id == "1.2":
            links += (EXTRA_EVIDENCE,)
        rows.append(
            dataclasses.replace(
                row,
                due_date=DUE.get(row.by_when),
                status=STATUSES.get(row.statement_id, ActionStatus.NOT_STARTED),
                evidence=links,
                updates=(UPDATE,) if row.statement_id == "1.3" else (),
            )
        )
    return PlanDocument(
        organisation="Hill School",
        review_title=state.title,
        edition=model.edition.value,
        as_of=date(2025, 1, 15),
        summary=build_summary(model, state.answers, state.title),
        plan=dataclasses.replace(plan, rows=rows),
        participants=list(state.participants),
        evidence=evidence,
    )


@pytest.fixture(scope="module")
def rendered(document: PlanDocument) -> dict[str, bytes]:
    return {fmt: export(document, fmt) for fmt in FORMATS}


# ----- Word --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docx(rendered: dict[str, bytes]) -> Any:
    return Document(io.BytesIO(rendered["docx"]))


def cell_lines(cell: Any) -> list[str]:
    return [p.text for p in cell.paragraphs]


def test_docx_page_title_and_intro(docx: Any) -> None:
    section = docx.sections[0]
    assert section.orientation is WD_ORIENT.LANDSCAPE
    assert section.page_width > section.page_height
    assert round(section.page_width.cm, 1) == 29.7
    assert docx.core_properties.title == TITLE
    texts = [p.text for p in docx.paragraphs]
    assert texts[0] == TITLE
    assert docx.paragraphs[0].style.name == "Heading 1"
    intro = texts[1]
    assert REVIEW in intro
    assert "school and special school edition" in intro
    assert "Participants: Sam Rivers, Nadia Rahman" in intro
    assert "Generated " in intro
    assert "32 of 32 statements answered · 23 priority action areas · 3 areas of strength" in texts
    assert any(t.startswith("● PRIORITY ACTION AREAS") for t in texts)
    assert any(t.startswith("● INDICATED AREAS OF STRENGTH") for t in texts)


def fill_of(cell: Any) -> str | None:
    shd = cell._tc.tcPr.find(qn("w:shd")) if cell._tc.tcPr is not None else None
    return None if shd is None else shd.get(qn("w:fill"))


def test_docx_summary_grid(docx: Any, model: MaturityModel) -> None:
    grid = docx.tables[0]
    header = [c.text for c in grid.rows[0].cells]
    assert header == [
        "Maturity model statement",
        "Level 1",
        "Level 2",
        "Level 3",
        "Level 4",
        "Priority / strength",
    ]
    assert grid.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None  # repeated on each page
    statements = [r for r in grid.rows if re.match(r"^\d\.\d ", r.cells[0].text)]
    themes = [r.cells[0].text for r in grid.rows[1:] if r.cells[0].text.startswith("Theme ")]
    assert len(statements) == 32
    assert len(themes) == 6 and themes[0].startswith("Theme 1: Careers Leadership")
    assert [r.cells[0].text for r in statements] == [s.short_label for s in model.statements]
    by_id = {r.cells[0].text.split()[0]: r for r in statements}
    for statement_id, row in by_id.items():
        marks = [c.text for c in row.cells[1:5]]
        level = expected_level(statement_id)
        assert marks == ["●" if n == level else "" for n in (1, 2, 3, 4)], statement_id
        flag = row.cells[5].text
        if statement_id in PRIORITIES:
            assert flag == "Priority action area", statement_id
            assert {fill_of(c) for c in row.cells} == {PRIORITY_FILL}
        elif statement_id in STRENGTHS:
            assert flag == "Area of strength", statement_id
            assert {fill_of(c) for c in row.cells} == {STRENGTH_FILL}
        else:
            assert flag == "", statement_id
            assert {fill_of(c) for c in row.cells} == {None}
    assert [c.text for c in by_id["1.2"].cells[1:5]] == ["", "●", "", ""]
    assert [c.text for c in by_id["2.3"].cells[1:5]] == ["●", "", "", ""]
    assert sum(1 for r in statements if r.cells[5].text == "Priority action area") == 23


def test_docx_chart_is_embedded(docx: Any) -> None:
    assert len(docx.inline_shapes) == 1
    images = [part for part in docx.part.package.iter_parts() if part.content_type == "image/png"]
    assert len(images) == 1
    assert images[0].blob.startswith(PNG_SIGNATURE)
    assert Image.open(io.BytesIO(images[0].blob)).size == SIZE


def test_docx_action_plan(docx: Any, model: MaturityModel) -> None:
    plan = docx.tables[1]
    assert [c.text for c in plan.rows[0].cells] == [
        "Leadership area",
        "Current position",
        "Actions to improve",
        "Next steps",
        "By when",
        "Who",
        "Status",
        "Latest update",
        "Note",
    ]
    assert plan.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
    rows = plan.rows[1:]
    assert len(rows) == 23
    assert [r.cells[0].paragraphs[0].text for r in rows] == [
        model.statement(p).label for p in PRIORITIES
    ]
    by_id = {r.cells[0].text.split()[0]: r for r in rows}

    first = by_id["1.2"].cells
    statement = model.statement("1.2")
    assert first[0].text == "1.2 Leaders' vision and intent for careers"
    assert cell_lines(first[1]) == ["Level 2", *statement.level_text(2).splitlines()]
    assert cell_lines(first[2]) == ["Level 4", *statement.level_text(4).splitlines()]
    assert cell_lines(first[3]) == [
        "Create shared vision for careers which matches new Gatsby changes",
        "Share vision with Governors and LT",
        "Align with wider school priorities",
    ]
    assert (first[4].text, first[5].text) == ("HT3 (Fri 14 Feb 2025)", "SR")
    assert first[6].text == "Not started"
    assert first[8].text == "Note on 1.2"

    assert [c.text for c in by_id["1.6"].cells[4:6]] == ["HT3/4 (Fri 4 Apr 2025)", "SR / JHu"]
    assert [c.text for c in by_id["2.4"].cells[4:6]] == ["HT3/4 (Fri 4 Apr 2025)", "SR / NR"]
    assert [c.text for c in by_id["3.6"].cells[4:6]] == ["Ongoing", "HOFS / SR / ALL STAFF"]
    assert [c.text for c in by_id["2.2"].cells[4:6]] == ["Ongoing", "SR"]
    # A descriptor's list items become bullets, one per line.
    assert "• make aspirational and informed decisions" in cell_lines(by_id["2.1"].cells[1])

    statuses = {sid: r.cells[6].text for sid, r in by_id.items()}
    assert statuses["1.3"] == "In progress"
    assert statuses["1.7"] == "Done"
    assert statuses["6.2"] == "Dropped"
    assert sum(1 for s in statuses.values() if s == "Not started") == 19
    assert by_id["1.3"].cells[7].text == (
        "28 Jan 2025 Sam Rivers: Plan shared with SLT | governors next"
    )


def test_docx_evidence_section(docx: Any) -> None:
    texts = [p.text for p in docx.paragraphs]
    start = texts.index("Evidence")
    section = docx.paragraphs[start + 1 :]
    lines = [p.text for p in section]
    assert lines[:3] == [
        "1.2 Leaders' vision",
        "Evidence for 1.2 – https://school.example/evidence/1.2",
        "Vision draft – v2 – https://school.example/vision-draft",
    ]
    assert "Evidence for 6.3 – https://school.example/evidence/6.3" in lines
    assert "Progress update, 28 January 2025 – https://school.example/slt-minutes-jan" in lines
    # 23 statements with evidence, each heading followed by its links.
    assert sum(1 for t in lines if re.match(r"^\d\.\d ", t)) == 23
    # The links are real hyperlinks.
    addresses = [link.address for p in section for link in p.hyperlinks]
    assert "https://school.example/evidence/1.2" in addresses
    assert len(addresses) == 23 + 1 + 1


# ----- Excel -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workbook(rendered: dict[str, bytes]) -> Any:
    return openpyxl.load_workbook(io.BytesIO(rendered["xlsx"]))


def test_xlsx_summary_sheet(workbook: Any) -> None:
    assert workbook.properties.title == TITLE
    assert workbook.sheetnames == ["Summary", "Actions", "Themes"]
    ws = workbook["Summary"]
    header = [c.value for c in ws[1]]
    assert header == [
        "Statement",
        "Short label",
        "Theme",
        "Level",
        "Level 1",
        "Level 2",
        "Level 3",
        "Level 4",
        "Flag",
        "Note",
    ]
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:J33"
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 32
    by_id = {r[0]: r for r in rows}
    assert by_id["1.2"] == ("1.2", "1.2 Leaders' vision", 1, 2, None, "●", None, None,
                            "Priority action area", "Note on 1.2")  # fmt: skip
    assert by_id["2.3"][3:8] == (1, "●", None, None, None)
    assert by_id["5.3"][8:] == ("Area of strength", None)
    assert {r[0] for r in rows if r[8] == "Priority action area"} == set(PRIORITIES)
    assert {r[0] for r in rows if r[8] == "Area of strength"} == STRENGTHS
    assert ws.column_dimensions["B"].width > 30


def test_xlsx_actions_sheet(workbook: Any, model: MaturityModel) -> None:
    ws = workbook["Actions"]
    header = [c.value for c in ws[1]]
    assert header[:12] == [
        "Statement",
        "Leadership area",
        "Current level",
        "Current position",
        "Target level",
        "Actions to improve",
        "Next steps",
        "By when",
        "Due date",
        "Owners",
        "Status",
        "Last update",
    ]
    assert ws.freeze_panes == "B2"
    assert ws.auto_filter.ref == f"A1:{ws.cell(1, len(header)).column_letter}24"
    rows = {r[0].value: r for r in ws.iter_rows(min_row=2)}
    assert list(rows) == list(PRIORITIES)
    col = {name: i for i, name in enumerate(header)}
    first = rows["1.2"]
    assert first[col["Current position"]].value == model.statement("1.2").level_text(2)
    assert first[col["Actions to improve"]].value == model.statement("1.2").level_text(4)
    assert first[col["Current level"]].value == 2 and first[col["Target level"]].value == 4
    steps = first[col["Next steps"]]
    assert steps.value.split("\n")[1] == "Share vision with Governors and LT"
    assert steps.alignment.wrap_text
    due = first[col["Due date"]]
    assert due.is_date and due.value.date() == date(2025, 2, 14)
    assert "yyyy" in due.number_format
    assert rows["2.2"][col["Due date"]].value is None
    assert rows["2.2"][col["By when"]].value == "Ongoing"
    assert rows["3.6"][col["Owners"]].value == "HOFS / SR / ALL STAFF"
    assert rows["1.3"][col["Status"]].value == "In progress"
    assert rows["1.3"][col["Last update"]].value.startswith("28 Jan 2025 Sam Rivers: Plan")
    assert rows["1.7"][col["Status"]].value == "Done"
    assert workbook["Themes"].auto_filter.ref == "A1:F7"


# ----- CSV ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def csv_rows(rendered: dict[str, bytes]) -> list[dict[str, str]]:
    assert rendered["csv"].startswith(b"\xef\xbb\xbf")
    text = rendered["csv"].decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    return list(reader)


def test_csv_one_row_per_action_in_the_plans_columns(
    csv_rows: list[dict[str, str]], model: MaturityModel
) -> None:
    """The Word plan's columns; a row per action, and a row per statement without one."""
    assert len(csv_rows) == 32  # 23 actions, one each, and 9 statements without one
    ids = [r["Leadership area"].split()[0] for r in csv_rows]
    assert ids == [s.id for s in model.statements]
    by_id = dict(zip(ids, csv_rows, strict=True))
    statement = model.statement("1.2")
    assert by_id["1.2"] == {
        "Leadership area": "1.2 Leaders' vision and intent for careers",
        "Current position": f"Level 2 – {statement.level_text(2)}",
        "Actions to improve": f"Level 4 – {statement.level_text(4)}",
        "Next steps": "Create shared vision for careers which matches new Gatsby changes\n"
        "Share vision with Governors and LT\nAlign with wider school priorities",
        "By when": "HT3 (Fri 14 Feb 2025)",
        "Who": "SR",
        "Status": "Not started",
        "Latest update": "",
        "Note": "Note on 1.2",
    }
    assert by_id["1.1"]["Status"] == "Area of strength" and by_id["1.1"]["Next steps"] == ""
    assert by_id["1.1"]["Current position"].startswith("Level 3 – ")
    assert by_id["3.6"]["Who"] == "HOFS / SR / ALL STAFF"
    assert by_id["3.6"]["By when"] == "Ongoing"
    assert by_id["1.6"]["By when"] == "HT3/4 (Fri 4 Apr 2025)"
    assert by_id["2.4"]["Status"] == "In progress"
    assert by_id["1.3"]["Latest update"].startswith("28 Jan 2025 Sam Rivers: Plan shared")
    # Curly characters survive the round trip.
    assert "measurable intent – must show all key areas" in by_id["2.1"]["Next steps"]
    assert sum(1 for r in csv_rows if r["Actions to improve"]) == 23


# ----- Markdown ----------------------------------------------------------------------------


def test_markdown(rendered: dict[str, bytes]) -> None:
    text = rendered["md"].decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == f"# {TITLE}"
    summary = lines[lines.index("## Summary") : lines.index("## Maturity profile by theme")]
    grid = [line for line in summary if re.match(r"^\| \d\.\d ", line)]
    assert len(grid) == 32
    assert "| 1.2 Leaders' vision |  | ● |  |  | **Priority** |" in lines
    assert "| 2.3 Recording systems | ● |  |  |  | **Priority** |" in lines
    assert "| 1.1 Distributed careers leadership |  |  | ● |  | Strength |" in lines
    start = lines.index("## Action plan")
    plan = [line for line in lines[start:] if re.match(r"^\| \d\.\d ", line)]
    assert len(plan) == 23
    assert plan[0].startswith("| 1.2 Leaders' vision and intent for careers | Level 2 – The school")
    assert (
        "| Create shared vision for careers which matches new Gatsby changes<br>"
        "Share vision with Governors and LT<br>Align with wider school priorities"
        " | HT3 (Fri 14 Feb 2025) | SR | Not started |  | Note on 1.2 |"
    ) in plan[0]
    # Pipes in text are escaped so the table keeps its columns.
    assert "Plan shared with SLT \\| governors next" in plan[1]
    assert all(len(re.findall(r"(?<!\\)\|", row)) == 10 for row in plan)
    assert "  - [Vision draft – v2](<https://school.example/vision-draft>)" in lines


# ----- JSON --------------------------------------------------------------------------------


def test_json_structure(rendered: dict[str, bytes], model: MaturityModel) -> None:
    raw = rendered["json"].decode("utf-8")
    assert "–" in raw and "\\u2013" not in raw  # ensure_ascii=False
    assert raw.startswith('{\n  "title"')  # indent 2
    data = json.loads(raw)
    assert list(data) == [
        "title",
        "organisation",
        "review",
        "edition",
        "as_of",
        "participants",
        "summary",
        "themes",
        "actions",
    ]
    assert data["title"] == TITLE
    assert data["organisation"] == "Hill School"
    assert data["review"] == REVIEW
    assert data["edition"] == "school"
    assert data["as_of"] == "2025-01-15"
    assert data["participants"] == ["Sam Rivers", "Nadia Rahman"]

    assert len(data["summary"]) == 32
    assert all(
        list(s) == ["statement_id", "statement", "theme", "level", "flag", "note"]
        for s in data["summary"]
    )
    assert data["summary"][0] == {
        "statement_id": "1.1",
        "statement": "Distributed careers leadership",
        "theme": 1,
        "level": 3,
        "flag": "strength",
        "note": None,
    }
    assert [s["level"] for s in data["summary"]] == [expected_level(s.id) for s in model.statements]

    assert [t["number"] for t in data["themes"]] == [1, 2, 3, 4, 5, 6]
    assert all(
        list(t) == ["number", "title", "answered", "total", "average_level"] for t in data["themes"]
    )
    assert data["themes"][0]["answered"] == data["themes"][0]["total"] == 7

    actions = data["actions"]
    assert [a["statement_id"] for a in actions] == list(PRIORITIES)
    keys = ["statement_id", "leadership_area", "current_level", "current_position",
            "target_level", "actions_to_improve", "next_steps", "by_when", "due_date", "owners", "owners_tbc",
            "status", "note", "evidence", "updates"]  # fmt: skip
    assert all(list(a) == keys for a in actions)
    first = actions[0]
    assert first["current_position"] == model.statement("1.2").level_text(2)
    assert first["next_steps"][2] == "Align with wider school priorities"
    assert (first["by_when"], first["due_date"], first["owners"]) == ("HT3", "2025-02-14", ["SR"])
    assert first["evidence"] == [
        {"url": "https://school.example/evidence/1.2", "label": "Evidence for 1.2"},
        {"url": "https://school.example/vision-draft", "label": "Vision draft – v2"},
    ]
    by_id = {a["statement_id"]: a for a in actions}
    assert by_id["3.6"]["owners"] == ["HOFS", "SR", "ALL STAFF"]
    assert by_id["3.6"]["due_date"] is None and by_id["3.6"]["by_when"] == "Ongoing"
    assert by_id["1.3"]["status"] == "in_progress"
    assert by_id["1.3"]["updates"] == [
        {
            "at": "2025-01-28T16:00:00+00:00",
            "by": "Sam Rivers",
            "kind": "progress",
            "note": "Plan shared with SLT | governors next",
            "link": "https://school.example/slt-minutes-jan",
            "changes": [],
        }
    ]
    assert by_id["1.3"]["note"] == "Note on 1.3"


# ----- the chart ---------------------------------------------------------------------------


def test_png_is_the_chart(rendered: dict[str, bytes], document: PlanDocument) -> None:
    png = rendered["png"]
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == SIZE == (1600, 900)
    # Deterministic, and safe to draw from several threads at once.
    with ThreadPoolExecutor(max_workers=2) as pool:
        again = list(pool.map(lambda _: chart(document), range(2)))
    assert again == [png, png]


def test_chart_against_a_previous_review(
    document: PlanDocument, rendered: dict[str, bytes]
) -> None:
    before = dataclasses.replace(
        document.summary,
        title="Review July 2024",
        themes=[
            dataclasses.replace(t, average_level=None if t.number == 6 else 1.0, answered=3)
            for t in document.summary.themes
        ],
    )
    png = export(document, "png", previous=before)
    assert png.startswith(PNG_SIGNATURE)
    assert Image.open(io.BytesIO(png)).size == SIZE
    assert png != rendered["png"]


def test_short_theme_titles() -> None:
    assert short_theme_title("Careers Leadership, vision and intent, and planning") == (
        "Careers Leadership"
    )
    assert short_theme_title("Addressing the needs of all learners and impact evaluation") == (
        "Addressing the needs\nof all learners"
    )
    assert short_theme_title("Personal guidance") == "Personal guidance"
    college = load_model(Edition.COLLEGE)
    assert [short_theme_title(t.title).split("\n")[0] for t in college.themes[:2]] == [
        "Careers Leadership",
        "Addressing the needs",
    ]


# ----- formats and names -------------------------------------------------------------------


def test_filenames_and_formats(document: PlanDocument) -> None:
    assert default_filename(document, "docx") == "careers-action-plan-hill-school-2025-01.docx"
    assert default_filename(document, "md") == "careers-action-plan-hill-school-2025-01.md"
    other = dataclasses.replace(document, organisation="St Mary’s C of E (VA) École")
    assert default_filename(other, "xlsx") == (
        "careers-action-plan-st-marys-c-of-e-va-ecole-2025-01.xlsx"
    )
    assert export(document, "Markdown") == export(document, "md")
    with pytest.raises(ValueError, match="Unknown export format 'pdf'"):
        export(document, "pdf")
