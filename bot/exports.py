"""The action plan and summary of one review as documents: Word, Excel, CSV, Markdown, JSON, PNG.

Every export is built from a `PlanDocument` (workflows/plan.py) and returned as bytes, ready to
be saved, attached to a chat message or mailed. The Word document follows the shape of a real
school's plan (seed 003): the summary grid of statements against levels 1-4 with priority action
areas and areas of strength marked, then the action plan table "Leadership area | Current
position | Actions to improve | Next steps | By when | Who", and adds what the paper plan lacks:
real due dates, each action's status and latest update (saying what changed), the note given
for each statement, and the evidence links. Plan rows never split across pages.

The JSON export is a stable, documented structure (keys never removed or renamed)::

    {
      "title": str, "organisation": str, "review": str, "edition": "school" | "college",
      "as_of": "YYYY-MM-DD", "participants": [str],
      "summary": [{"statement_id": "1.5", "statement": "Governance", "theme": 1,
                   "level": 1-4 | null, "flag": "priority" | "strength" | "none" | null,
                   "note": str | null}],
      "themes": [{"number": 1, "title": str, "answered": int, "total": int,
                  "average_level": float | null}],
      "actions": [{"statement_id": "1.2", "leadership_area": "1.2 Leaders' vision ...",
                   "current_level": int, "current_position": str, "target_level": int | null,
                   "actions_to_improve": str, "next_steps": [str], "by_when": "HT3" | "TBC" | null,
                   "due_date": "YYYY-MM-DD" | null, "owners": [str], "owners_tbc": bool,
                   "status": "not_started" | "in_progress" | "done" | "dropped",
                   "note": str | null,
                   "evidence": [{"url": str, "label": str | null}],
                   "updates": [{"at": ISO datetime, "by": str | null, "kind": str,
                                "note": str | null, "link": str | null,
                                "changes": [str]}]}]
    }

"statement" is the statement's short title without its id; "summary" has every statement of
the edition in model order, "actions" one entry per action, in the same order. "note" is the
note given for the statement during the review; an update's "changes" say what it changed
("Deadline HT3 -> HT5", "Owner SR -> NR"). The CSV export has the Word plan's columns
(`CSV_COLUMNS`): one row per action and one per statement without one, UTF-8 with a BOM.

Every writer first passes the document through `bot.sanitise.clean_data`, so no control
character reaches a file; spreadsheet text that would run as a formula starts with "'"
(OWASP CSV injection), Markdown escapes the school's text and links only http(s) addresses,
and Word makes hyperlinks of http(s) addresses only.
"""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time
from typing import Any, cast

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import _Cell, _Row
from docx.text.paragraph import Paragraph
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.chart import chart_description, chart_title, maturity_chart
from bot.formats import FORMATS, MEDIA_TYPES
from bot.sanitise import (
    clean_data,
    link_target,
    markdown_cell,
    markdown_link,
    markdown_text,
    spreadsheet_value,
)
from model_data import Edition
from workflows.answers import EvidenceLink
from workflows.plan import (
    ARROW,
    ActionStatus,
    PlanDocument,
    PlanRow,
    Summary,
    SummaryRow,
    theme_targets,
)

LEVELS = (1, 2, 3, 4)
# The action plan's columns: the seed school's plan ("By when / who" as two columns, so a
# spreadsheet can filter by owner), then what the paper plan lacks. Word, Markdown and CSV
# all use these.
PLAN_HEADERS = (
    "Leadership area",
    "Current position",
    "Actions to improve",
    "Next steps",
    "By when",
    "Who",
    "Status",
    "Latest update",
    "Note",
)
MARK = "●"
PRIORITY_KEY = f"{MARK} PRIORITY ACTION AREAS"
STRENGTH_KEY = f"{MARK} INDICATED AREAS OF STRENGTH"

# Light fills for the rows of priority action areas and areas of strength, and their marks.
PRIORITY_FILL, PRIORITY_INK = "F8D7DA", "C00000"
STRENGTH_FILL, STRENGTH_INK = "D9EAD3", "38761D"
THEME_FILL = "E7E6E6"
HEADER_FILL = "D9E2F3"

STATUS_INK = {
    ActionStatus.NOT_STARTED: "595959",
    ActionStatus.IN_PROGRESS: "B45F06",
    ActionStatus.DONE: "38761D",
    ActionStatus.DROPPED: "7F7F7F",
}

# Longest text Excel keeps in a cell, and the longest Word core property (title, subject).
XLSX_CELL_LIMIT = 32767
DOCX_PROPERTY_LIMIT = 255

# The CSV is the Word plan as a table a school can sort and filter: the same columns.
CSV_COLUMNS = PLAN_HEADERS


# ----- shared helpers ----------------------------------------------------------------------


def _statement_title(row: SummaryRow) -> str:
    """ "1.5 Governance" -> "Governance"."""
    prefix = f"{row.statement_id} "
    return row.label[len(prefix) :] if row.label.startswith(prefix) else row.label


def _edition_label(edition: str) -> str:
    try:
        return Edition(edition).label
    except ValueError:
        return edition


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def _flag_label(row: SummaryRow) -> str:
    if row.level is None:
        return "Not answered"
    if row.priority:
        return "Priority action area"
    if row.strength:
        return "Area of strength"
    return ""


def _text_lines(text: str) -> list[str]:
    """A level descriptor one line per paragraph, list items ("- item") as bullets."""
    return [f"• {line[2:]}" if line.startswith("- ") else line for line in text.splitlines()]


def _last_update(row: PlanRow) -> str:
    """ "28 Jan 2025 Sam Rivers: Deadline HT3 -> HT5": the latest update says what changed."""
    update = row.latest_update
    if update is None:
        return ""
    parts = [f"{update.at.day} {update.at:%b %Y}"]
    if update.by:
        parts.append(update.by)
    return f"{' '.join(parts)}: {update.summary}"


def _level_lines(level: int | None, descriptor: str) -> list[str]:
    """ "Level 2" then the descriptor's lines: the plan's position, with its level named."""
    if not level:
        return _text_lines(descriptor) if descriptor else []
    return [f"Level {level}", *(_text_lines(descriptor) if descriptor else [])]


def _level_text(level: int | None, descriptor: str) -> str:
    """ "Level 2 – The school ...": one cell's worth of `_level_lines`, for CSV."""
    lines = _level_lines(level, descriptor)
    if not lines:
        return ""
    if level and len(lines) > 1:
        return f"{lines[0]} – " + "\n".join(lines[1:])
    return "\n".join(lines)


def _plan_rows(document: PlanDocument) -> dict[str, list[PlanRow]]:
    """The plan's rows by statement: a statement can have more than one action (seed 003)."""
    rows: dict[str, list[PlanRow]] = {}
    for row in document.plan.rows:
        rows.setdefault(row.statement_id, []).append(row)
    return rows


def _evidence(document: PlanDocument, statement_id: str) -> list[EvidenceLink]:
    """The statement's evidence from the review and its actions, each url once."""
    rows = _plan_rows(document).get(statement_id, [])
    links: list[EvidenceLink] = []
    seen: set[str] = set()
    action_links = [link for row in rows for link in row.evidence]
    for link in [*document.evidence.get(statement_id, []), *action_links]:
        if link.url not in seen:
            seen.add(link.url)
            links.append(link)
    return links


def _slug(text: str) -> str:
    text = re.sub(r"['’`]", "", text)  # "St Mary's" -> "st-marys"
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def default_filename(document: PlanDocument, fmt: str) -> str:
    """ "careers-action-plan-hill-school-2025-01.docx": organisation and review month, slugified."""
    fmt = _format(fmt)
    parts = ["careers-action-plan", _slug(document.organisation), f"{document.as_of:%Y-%m}"]
    return "-".join(part for part in parts if part) + f".{fmt}"


def _format(fmt: str) -> str:
    normal = fmt.strip().lower().lstrip(".")
    normal = {"markdown": "md", "word": "docx", "excel": "xlsx"}.get(normal, normal)
    if normal not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}: use one of {', '.join(FORMATS)}.")
    return normal


def _previous(document: PlanDocument, previous: Summary | None) -> Summary | None:
    """The review to compare with in the chart: the one given, else the document's own."""
    if previous is not None:
        return previous
    return getattr(document, "previous_summary", None)


def chart(document: PlanDocument, previous: Summary | None = None) -> bytes:
    """The document's chart: titled with the school and the review, with the plan's targets."""
    return maturity_chart(
        document.summary,
        _previous(document, previous),
        title=chart_title(document.organisation, document.as_of),
        targets=theme_targets(document.summary, document.plan),
    )


def _other_notes(document: PlanDocument) -> list[SummaryRow]:
    """Statements with a note that the action plan table does not show (no action row)."""
    planned = _plan_rows(document)
    return [row for row in document.summary.rows if row.note and row.statement_id not in planned]


def export(document: PlanDocument, fmt: str, *, previous: Summary | None = None) -> bytes:
    """The document in one of `FORMATS` (case-insensitive; "markdown" is "md").

    The chart (in "docx" and "png") compares with `previous`, else with the document's
    `previous_summary` where it has one. Raises ValueError for an unknown format.
    """
    fmt = _format(fmt)
    if fmt == "docx":
        return to_docx(document, previous=previous)
    if fmt == "png":
        return chart(document, previous)
    writers: dict[str, Callable[[PlanDocument], bytes]] = {
        "xlsx": to_xlsx,
        "csv": to_csv,
        "md": to_markdown,
        "json": to_json,
    }
    return writers[fmt](document)


# ----- Word --------------------------------------------------------------------------------


def _shade(cell: _Cell, fill: str) -> None:
    tc_pr = cell._tc.get_or_add_tcPr()
    for old in tc_pr.findall(qn("w:shd")):
        tc_pr.remove(old)
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    # Schema order: shd comes before noWrap, tcMar, textDirection, tcFitText, vAlign, hideMark.
    following = [
        qn(tag)
        for tag in (
            "w:noWrap",
            "w:tcMar",
            "w:textDirection",
            "w:tcFitText",
            "w:vAlign",
            "w:hideMark",
        )
    ]
    for index, child in enumerate(tc_pr):
        if child.tag in following:
            tc_pr.insert(index, shd)
            return
    tc_pr.append(shd)


def _repeat_as_header(row: _Row) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    tr_pr.append(header)


def _keep_row_together(row: _Row) -> None:
    """A row is never split across pages (w:cantSplit): a plan row read across a page break
    loses its deadline and owner from its statement. First in trPr, as the schema orders it."""
    tr_pr = row._tr.get_or_add_trPr()
    if tr_pr.find(qn("w:cantSplit")) is not None:
        return
    cant_split = OxmlElement("w:cantSplit")
    cant_split.set(qn("w:val"), "true")
    tr_pr.insert(0, cant_split)


def _describe_picture(doc: Any, description: str, title: str) -> None:
    """Alternative text on the last picture (wp:docPr descr/title), read by screen readers."""
    doc_prs = doc.inline_shapes[-1]._inline.findall(qn("wp:docPr"))
    for doc_pr in doc_prs:
        doc_pr.set("descr", description[:4000])
        doc_pr.set("title", title[:DOCX_PROPERTY_LIMIT])


def _write(
    cell: _Cell,
    lines: Iterable[str],
    *,
    bold: bool = False,
    size: float | None = None,
    colour: str | None = None,
    align: WD_ALIGN_PARAGRAPH | None = None,
) -> None:
    """Replace the cell's text with one paragraph per line."""
    first = True
    for line in lines:
        paragraph = cell.paragraphs[0] if first else cell.add_paragraph()
        first = False
        _run(paragraph, line, bold=bold, size=size, colour=colour)
        paragraph.paragraph_format.space_after = Pt(1)
        if align is not None:
            paragraph.alignment = align


def _run(
    paragraph: Paragraph,
    text: str,
    *,
    bold: bool = False,
    italic: bool = False,
    size: float | None = None,
    colour: str | None = None,
) -> None:
    run = paragraph.add_run(text)
    run.bold = bold or None
    run.italic = italic or None
    if size is not None:
        run.font.size = Pt(size)
    if colour is not None:
        run.font.color.rgb = RGBColor.from_string(colour)


def _hyperlink(paragraph: Paragraph, url: str, text: str) -> None:
    """A clickable link for an http(s) address; any other scheme (javascript:, file:) is
    written as plain text, so opening the document never runs or opens it."""
    target = link_target(url)
    if target is None:
        _run(paragraph, text)
        return
    r_id = paragraph.part.relate_to(target, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), r_id)
    run = OxmlElement("w:r")
    properties = OxmlElement("w:rPr")
    colour = OxmlElement("w:color")
    colour.set(qn("w:val"), "0563C1")
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    properties.append(colour)
    properties.append(underline)
    run.append(properties)
    content = OxmlElement("w:t")
    content.set(qn("xml:space"), "preserve")
    content.text = text
    run.append(content)
    link.append(run)
    paragraph._p.append(link)


def _table(doc: Any, headers: list[str], widths: list[float]) -> Any:
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Cm(width)
    header = table.rows[0]
    for cell, text, width in zip(header.cells, headers, widths, strict=True):
        cell.width = Cm(width)
        _write(cell, [text], bold=True)
        _shade(cell, HEADER_FILL)
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    _keep_row_together(header)
    _repeat_as_header(header)
    return table


def _add_row(table: Any, widths: list[float]) -> _Row:
    """A new row of the given widths that never splits across pages."""
    row = table.add_row()
    for cell, width in zip(row.cells, widths, strict=True):
        cell.width = Cm(width)
    _keep_row_together(row)
    return cast(_Row, row)


# Word plan column widths, 26.7 cm across a landscape A4 page with 1.5 cm margins.
PLAN_WIDTHS_CM = (3.2, 4.6, 4.6, 3.8, 2.0, 1.7, 2.2, 2.5, 2.1)


# "->" with a word joiner (U+2060) inside: Word and LibreOffice may break a line after a
# hyphen, which split "HT3 -> HT5" into "HT3 -" and "> HT5" in a narrow column.
WORD_ARROW = "-\u2060>"


def _level_cell(cell: _Cell, level: int, descriptor: str) -> None:
    """ "Level 2" in bold, then the level's descriptor: where the school is, or aims to be."""
    lines = _level_lines(level, descriptor)
    _write(cell, lines[:1], bold=True)
    for line in lines[1:]:
        paragraph = cell.add_paragraph()
        _run(paragraph, line)
        paragraph.paragraph_format.space_after = Pt(1)


def to_docx(
    document: PlanDocument, *, previous: Summary | None = None, generated: date | None = None
) -> bytes:
    """The plan as a landscape A4 Word document, in the shape of the school's own plan."""
    document = clean_data(document)
    generated = generated or date.today()
    previous = _previous(document, previous)
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.5))

    normal = doc.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(9)
    normal.paragraph_format.space_after = Pt(2)

    properties = doc.core_properties
    # python-docx refuses longer core properties; a long school name must not fail the export.
    properties.title = document.title[:DOCX_PROPERTY_LIMIT]
    properties.subject = document.review_title[:DOCX_PROPERTY_LIMIT]
    properties.author = "Careers Impact Bot"
    properties.keywords = "careers; Careers Impact System; action plan"
    properties.created = datetime.combine(generated, time(0, 0))

    doc.add_heading(document.title, level=1)
    summary = document.summary
    intro = [document.review_title, f"{_edition_label(document.edition)} edition"]
    if document.participants:
        intro.append("Participants: " + ", ".join(document.participants))
    intro.append(f"Generated {_day(generated)}")
    doc.add_paragraph(" · ".join(intro))
    doc.add_paragraph(
        f"{summary.answered} of {summary.total} statements answered · "
        f"{len(summary.priorities)} priority action areas · "
        f"{len(summary.strengths)} areas of strength"
    )

    # The summary grid.
    doc.add_heading("Summary", level=2)
    for key, key_ink, shading in (
        (PRIORITY_KEY, PRIORITY_INK, "shaded red"),
        (STRENGTH_KEY, STRENGTH_INK, "shaded green"),
    ):
        paragraph = doc.add_paragraph()
        _run(paragraph, MARK, bold=True, colour=key_ink)
        _run(paragraph, key[len(MARK) :], bold=True)
        _run(paragraph, f"  (rows {shading})", italic=True, size=8, colour="595959")

    widths = [10.5, 2.6, 2.6, 2.6, 2.6, 5.0]
    headers = ["Maturity model statement", *(f"Level {n}" for n in LEVELS), "Priority / strength"]
    grid = _table(doc, headers, widths)
    for cell in grid.rows[0].cells[1:5]:
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    themes = {theme.number: theme for theme in summary.themes}
    shown_theme: int | None = None
    for item in summary.rows:
        if item.theme != shown_theme and item.theme in themes:
            shown_theme = item.theme
            row = _add_row(grid, widths)
            merged = row.cells[0].merge(row.cells[-1])
            _write(merged, [f"Theme {item.theme}: {themes[item.theme].title}"], bold=True)
            _shade(merged, THEME_FILL)
        row = _add_row(grid, widths)
        fill = PRIORITY_FILL if item.priority else STRENGTH_FILL if item.strength else None
        ink = PRIORITY_INK if item.priority else STRENGTH_INK if item.strength else None
        _write(row.cells[0], [item.label])
        for level in LEVELS:
            if item.level == level:
                _write(
                    row.cells[level], [MARK], bold=True, colour=ink, align=WD_ALIGN_PARAGRAPH.CENTER
                )
        _write(row.cells[5], [_flag_label(item)], bold=item.priority, colour=ink)
        for cell in row.cells:
            if fill:
                _shade(cell, fill)
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER

    # The maturity profile: after the grid, on its page if there is room (a picture never splits).
    doc.add_heading("Maturity profile by theme", level=2).paragraph_format.keep_with_next = True
    title = chart_title(document.organisation, document.as_of)
    targets = theme_targets(summary, document.plan)
    picture = maturity_chart(summary, previous, title=title, targets=targets)
    doc.add_picture(io.BytesIO(picture), width=Cm(19.0))
    description = chart_description(summary, previous, targets)
    _describe_picture(doc, description, title)
    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.paragraphs[-1].paragraph_format.keep_with_next = True  # with its caption
    caption = f"{title}: average level of each theme's statements (1-4) and how many were answered."
    if previous is not None:
        caption += f" Grey bars: {previous.title}."
    if targets:
        caption += (
            " Orange diamonds: each theme's average once its priority actions reach their"
            " target levels."
        )
    paragraph = doc.add_paragraph()
    _run(paragraph, caption, italic=True, size=8, colour="595959")

    # The action plan.
    # A new page by the heading itself: a break paragraph after a full page leaves one blank.
    doc.add_heading("Action plan", level=2).paragraph_format.page_break_before = True
    widths = list(PLAN_WIDTHS_CM)
    headers = list(PLAN_HEADERS)
    plan = _table(doc, headers, widths)
    for plan_row in document.plan.rows:
        row = _add_row(plan, widths)
        cells = row.cells
        _write(cells[0], [plan_row.leadership_area], bold=True)
        _level_cell(cells[1], plan_row.current_level, plan_row.current_position)
        if plan_row.target_level:
            _level_cell(cells[2], plan_row.target_level, plan_row.actions_to_improve)
        else:
            _write(cells[2], ["No target level set"], colour="595959")
        _write(cells[3], plan_row.next_steps)
        _write(cells[4], [plan_row.by_when_dated or "Not set"])
        _write(cells[5], [plan_row.who or "Not set"])
        _write(cells[6], [plan_row.status.label], bold=True, colour=STATUS_INK[plan_row.status])
        _write(cells[7], [_last_update(plan_row).replace(ARROW, WORD_ARROW)], size=8)
        _write(cells[8], [plan_row.note or ""], size=8)
    if not document.plan.rows:
        doc.add_paragraph("No priority action areas.")

    # Notes given for statements the plan table does not show.
    others = _other_notes(document)
    if others:
        doc.add_heading("Other notes from the review", level=2)
        for item in others:
            paragraph = doc.add_paragraph()
            _run(paragraph, f"{item.label}: ", bold=True)
            _run(paragraph, item.note or "")

    # Evidence links, per statement.
    doc.add_heading("Evidence", level=2)
    plan_rows = _plan_rows(document)
    any_evidence = False
    for item in summary.rows:
        links = _evidence(document, item.statement_id)
        updates = [u for row in plan_rows.get(item.statement_id, []) for u in row.updates if u.link]
        if not links and not updates:
            continue
        any_evidence = True
        paragraph = doc.add_paragraph()
        _run(paragraph, item.label, bold=True)
        paragraph.paragraph_format.keep_with_next = True
        for link in links:
            paragraph = doc.add_paragraph(style="List Bullet")
            if link.label:
                _run(paragraph, f"{link.label} – ")
            _hyperlink(paragraph, link.url, link.url)
        for update in updates:
            assert update.link is not None
            paragraph = doc.add_paragraph(style="List Bullet")
            _run(paragraph, f"{update.kind.capitalize()} update, {_day(update.at.date())} – ")
            _hyperlink(paragraph, update.link, update.link)
    if not any_evidence:
        doc.add_paragraph("No evidence links recorded yet.")

    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


# ----- Excel -------------------------------------------------------------------------------

_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor=HEADER_FILL)
_WRAP = Alignment(wrap_text=True, vertical="top")
_CENTRE = Alignment(horizontal="center", vertical="top", wrap_text=True)


# Excel reads "_x0001_" in a cell's text as the character U+0001; "_x005F_" is its escaped "_".
_XLSX_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


def _xlsx_value(value: Any) -> Any:
    """A cell value: text formula-safe, shown as typed ("_x0001_" too) and within Excel's
    limit; numbers and dates unchanged so they stay typed cells."""
    value = spreadsheet_value(value)
    if isinstance(value, str):
        value = _XLSX_ESCAPE.sub(r"_x005F_\1", value)
        if len(value) > XLSX_CELL_LIMIT:
            value = value[: XLSX_CELL_LIMIT - 1] + "…"
    return value


# Excel's default font (Calibri 11): a column width unit is one "0", about 1.4 characters of
# prose in Calibri and 1.25 in the wider fonts that stand in for it where Calibri is missing
# (LibreOffice's DejaVu Sans); a wrapped line is 15 points high. Estimates err tall: a row too
# tall wastes a little paper, one too short hides text under the next row.
_CHARS_PER_UNIT = 1.2
_LINE_POINTS = 15.0
_MAX_ROW_POINTS = 409.0  # Excel's limit


def _wrapped_lines(value: Any, width: float) -> int:
    """How many lines a wrapped cell's text takes in a column `width` units wide."""
    if value is None:
        return 1
    text = value if isinstance(value, str) else str(value)
    per_line = max(1, int(width * _CHARS_PER_UNIT))
    return sum(
        max(1, len(textwrap.wrap(line, per_line, break_long_words=True)))
        for line in text.split("\n")
    )


def _fit_rows(ws: Worksheet, widths: Sequence[float]) -> None:
    """Each row as tall as its most wrapped cell, so no text hides behind the next row
    (Excel does not grow rows written by a library; LibreOffice and Sheets differ again)."""
    for row in ws.iter_rows():
        lines = max(_wrapped_lines(cell.value, widths[index]) for index, cell in enumerate(row))
        height = min(_MAX_ROW_POINTS, lines * _LINE_POINTS + 3)
        ws.row_dimensions[row[0].row].height = height


def _sheet(
    ws: Worksheet, headers: list[str], widths: Sequence[float], rows: list[list[Any]], freeze: str
) -> None:
    """A filterable sheet that prints readably: wrapped text in rows sized to it, one page
    wide and as many tall as it needs (fitToHeight 0), landscape A4, the header on each page."""
    ws.append(headers)
    for cell in ws[1]:
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for values in rows:
        ws.append([_xlsx_value(value) for value in values])
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = _WRAP
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text is never a formula, whatever it starts with
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = freeze
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(ws.max_row, 2)}"
    _fit_rows(ws, widths)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
    ws.print_options.gridLines = True  # the cells' edges on paper, as on screen
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    ws.oddFooter.center.text = "&A – page &P of &N"


def to_xlsx(document: PlanDocument) -> bytes:
    """Sheets "Summary", "Actions" and "Themes", filterable, with a real date for each deadline."""
    document = clean_data(document)
    wb = Workbook()
    wb.properties.title = document.title
    wb.properties.subject = document.review_title
    wb.properties.creator = "Careers Impact Bot"
    wb.properties.keywords = "careers; Careers Impact System; action plan"

    summary_ws = wb.active
    assert summary_ws is not None
    summary_ws.title = "Summary"
    headers = ["Statement", "Short label", "Theme", "Level"]
    headers += [f"Level {n}" for n in LEVELS] + ["Flag", "Note"]
    rows: list[list[Any]] = []
    for item in document.summary.rows:
        marks = [MARK if item.level == n else None for n in LEVELS]
        rows.append(
            [item.statement_id, item.label, item.theme, item.level, *marks, _flag_label(item),
             item.note or None]
        )  # fmt: skip
    _sheet(summary_ws, headers, [10, 36, 7, 7, 8, 8, 8, 8, 20, 45], rows, "A2")
    for ws_row, item in zip(summary_ws.iter_rows(min_row=2), document.summary.rows, strict=True):
        fill = PRIORITY_FILL if item.priority else STRENGTH_FILL if item.strength else None
        for cell in ws_row[2:8]:
            cell.alignment = _CENTRE
        if fill:
            for cell in ws_row:
                cell.fill = PatternFill("solid", fgColor=fill)
        ws_row[8].font = Font(bold=item.priority)

    actions_ws = wb.create_sheet("Actions")
    headers = [
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
        "Note",
        "Evidence",
    ]
    rows = []
    for plan_row in document.plan.rows:
        rows.append(
            [
                plan_row.statement_id,
                plan_row.leadership_area,
                plan_row.current_level,
                plan_row.current_position,
                plan_row.target_level,
                plan_row.actions_to_improve,
                "\n".join(plan_row.next_steps),
                plan_row.by_when or None,
                plan_row.due_date,
                plan_row.who or None,
                plan_row.status.label,
                _last_update(plan_row) or None,
                plan_row.note or None,
                "\n".join(link.url for link in _evidence(document, plan_row.statement_id)) or None,
            ]
        )
    # About 210 units across: printed one page wide on landscape A4 at roughly 70%, so
    # 11-point text prints near 8 points, which a governor can read.
    widths = [10, 18, 8, 30, 8, 30, 24, 8, 11, 9, 11, 20, 18, 15]
    _sheet(actions_ws, headers, widths, rows, "B2")
    for ws_row in actions_ws.iter_rows(min_row=2):
        for cell in (ws_row[2], ws_row[4], ws_row[7]):
            cell.alignment = _CENTRE
        ws_row[8].number_format = "d mmm yyyy"
        ws_row[8].alignment = _CENTRE

    themes_ws = wb.create_sheet("Themes")
    targets = theme_targets(document.summary, document.plan)
    rows = [
        [t.number, t.title, t.answered, t.total, t.average_level, targets.get(t.number)]
        for t in document.summary.themes
    ]
    _sheet(themes_ws, ["Theme", "Title", "Answered", "Total", "Average level", "Target level"],
           [8, 60, 10, 8, 13, 13], rows, "A2")  # fmt: skip
    for ws_row in themes_ws.iter_rows(min_row=2):
        ws_row[4].number_format = ws_row[5].number_format = "0.00"

    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# ----- CSV ---------------------------------------------------------------------------------


def _plan_values(row: PlanRow) -> list[str]:
    """One action as the Word plan's columns (`PLAN_HEADERS`), each cell as text."""
    target = _level_text(row.target_level, row.actions_to_improve) if row.target_level else ""
    return [
        row.leadership_area,
        _level_text(row.current_level, row.current_position),
        target,
        "\n".join(row.next_steps),
        row.by_when_dated,
        row.who,
        row.status.label,
        _last_update(row),
        row.note or "",
    ]


def _statement_values(item: SummaryRow) -> list[str]:
    """A statement without an action in the plan's columns: its level, flag and note."""
    position = _level_text(item.level, item.position) if item.level else "Not answered"
    return [
        item.area or item.label,
        position,
        "",
        "",
        "",
        "",
        _flag_label(item),
        "",
        item.note or "",
    ]


def to_csv(document: PlanDocument) -> bytes:
    """The Word plan's columns (`CSV_COLUMNS`), UTF-8 with a BOM so Excel reads it right.

    One row per action, as seed 003's plan has them (a statement with two actions has two
    rows), and one per statement without an action, with its level and note, in statement
    order. Text that a spreadsheet would run as a formula starts with "'".
    """
    document = clean_data(document)
    plan_rows = _plan_rows(document)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    lines: list[list[str]] = []
    listed: set[str] = set()
    for item in document.summary.rows:
        listed.add(item.statement_id)
        rows = plan_rows.get(item.statement_id)
        if rows:
            lines += [_plan_values(row) for row in rows]
        else:
            lines.append(_statement_values(item))
    lines += [_plan_values(row) for row in document.plan.rows if row.statement_id not in listed]
    for values in lines:
        writer.writerow([spreadsheet_value(value) for value in values])
    return buffer.getvalue().encode("utf-8-sig")


# ----- Markdown ----------------------------------------------------------------------------


_cell = markdown_cell  # text safe inside a table cell: escaped, pipes too, line breaks as <br>


def _md_table(headers: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    align = align or ["---"] * len(headers)
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(document: PlanDocument) -> bytes:
    """The summary grid, theme profile, action plan and evidence as GitHub-flavoured Markdown.

    Every text is escaped (`bot.sanitise`), so a school's "<script>" or "*" shows as typed,
    and only http(s) evidence becomes a link.
    """
    document = clean_data(document)
    summary = document.summary
    out: list[str] = [f"# {markdown_text(document.title)}", ""]
    intro = [
        markdown_text(document.review_title),
        f"{markdown_text(_edition_label(document.edition))} edition",
    ]
    if document.participants:
        intro.append("Participants: " + ", ".join(markdown_text(p) for p in document.participants))
    out += [" · ".join(intro), ""]
    out += [
        f"{summary.answered} of {summary.total} statements answered · "
        f"{len(summary.priorities)} priority action areas · "
        f"{len(summary.strengths)} areas of strength",
        "",
        "## Summary",
        "",
        f"**Priority** = {PRIORITY_KEY[2:].lower()} · Strength = {STRENGTH_KEY[2:].lower()}",
        "",
    ]
    rows = []
    for item in summary.rows:
        marks = [MARK if item.level == n else "" for n in LEVELS]
        flag = "**Priority**" if item.priority else "Strength" if item.strength else ""
        if item.level is None:
            flag = "_Not answered_"
        rows.append([_cell(item.label), *marks, flag])
    out += [
        _md_table(
            ["Maturity model statement", *(f"Level {n}" for n in LEVELS), "Priority / strength"],
            rows,
            ["---", ":-:", ":-:", ":-:", ":-:", "---"],
        ),
        "",
        "## Maturity profile by theme",
        "",
    ]
    rows = [
        [
            _cell(f"{t.number}. {t.title}"),
            f"{t.answered}/{t.total}",
            "–" if t.average_level is None else f"{t.average_level:.2f}",
        ]
        for t in summary.themes
    ]
    out += [_md_table(["Theme", "Answered", "Average level"], rows, ["---", "-:", "-:"]), ""]

    out += ["## Action plan", ""]
    if document.plan.rows:
        rows = [[_cell(value) for value in _plan_values(r)] for r in document.plan.rows]
        out += [_md_table(list(PLAN_HEADERS), rows), ""]
    else:
        out += ["No priority action areas.", ""]

    others = _other_notes(document)
    if others:
        out += ["## Other notes from the review", ""]
        out += [f"- **{markdown_text(item.label)}**: {markdown_text(item.note)}" for item in others]
        out.append("")

    evidence = [(item, _evidence(document, item.statement_id)) for item in summary.rows]
    evidence = [(item, links) for item, links in evidence if links]
    if evidence:
        out += ["## Evidence", ""]
        for item, links in evidence:
            out.append(f"- **{markdown_text(item.label)}**")
            for link in links:
                out.append(f"  - {markdown_link(link.url, link.label)}")
        out.append("")
    return "\n".join(out).encode("utf-8")


# ----- JSON --------------------------------------------------------------------------------


def to_data(document: PlanDocument) -> dict[str, Any]:
    """The documented JSON structure (see the module docstring) as Python data, every text
    without control characters (they would make the UTF-8 encoding or a reader fail)."""
    document = clean_data(document)
    summary = document.summary
    return {
        "title": document.title,
        "organisation": document.organisation,
        "review": document.review_title,
        "edition": document.edition,
        "as_of": document.as_of.isoformat(),
        "participants": list(document.participants),
        "summary": [
            {
                "statement_id": item.statement_id,
                "statement": _statement_title(item),
                "theme": item.theme,
                "level": item.level,
                "flag": item.flag.value if item.flag else None,
                "note": item.note,
            }
            for item in summary.rows
        ],
        "themes": [
            {
                "number": t.number,
                "title": t.title,
                "answered": t.answered,
                "total": t.total,
                "average_level": t.average_level,
            }
            for t in summary.themes
        ],
        "actions": [
            {
                "statement_id": row.statement_id,
                "leadership_area": row.leadership_area,
                "current_level": row.current_level,
                "current_position": row.current_position,
                "target_level": row.target_level,
                "actions_to_improve": row.actions_to_improve,
                "next_steps": list(row.next_steps),
                "by_when": row.by_when or None,
                "due_date": row.due_date.isoformat() if row.due_date else None,
                "owners": list(row.owners),
                "owners_tbc": row.owners_tbc,
                "status": row.status.value,
                "note": row.note,
                "evidence": [
                    {"url": link.url, "label": link.label}
                    for link in _evidence(document, row.statement_id)
                ],
                "updates": [
                    {
                        "at": update.at.isoformat(),
                        "by": update.by,
                        "kind": update.kind,
                        "note": update.note,
                        "link": update.link,
                        "changes": update.changes,
                    }
                    for update in sorted(row.updates, key=lambda u: u.at)
                ],
            }
            for row in document.plan.rows
        ],
    }


def to_json(document: PlanDocument) -> bytes:
    return (json.dumps(to_data(document), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "MEDIA_TYPES",
    "default_filename",
    "export",
    "to_csv",
    "to_data",
    "to_docx",
    "to_json",
    "to_markdown",
    "to_xlsx",
]
