"""The group view as an Excel workbook (openpyxl), for a Hub or trust lead.

Sheets: Progress (review progress and actions to chase), Themes and Statements (median,
lowest, highest, quartiles and the number of schools, per edition), Schools (the group's own
schools, for its leads). A suppressed figure is an empty cell with the reason beside it, never
a number. Every text cell goes through `spreadsheet_text` (no formula injection); figures stay
numbers so they sort and sum.
"""

from __future__ import annotations

import io
import re
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from bot.sanitise import spreadsheet_value
from model_data import Edition
from workflows.groups import Count, Distribution, GroupView, progress_facts

DISTRIBUTION_COLUMNS = (
    "Schools", "Median", "Lowest", "Highest", "Lower quartile", "Upper quartile", "Suppressed",
)  # fmt: skip


def filename(view: GroupView) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", view.name).strip("-").lower() or "group"
    return f"group-view-{slug}-{view.today:%Y-%m-%d}.xlsx"


def _row(sheet: Worksheet, values: list[Any], bold: bool = False) -> None:
    sheet.append([spreadsheet_value(v) for v in values])
    if bold:
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)


def _spread(d: Distribution) -> list[Any]:
    return [
        d.schools, d.median, d.lowest, d.highest, d.lower_quartile, d.upper_quartile,
        d.suppressed or "",
    ]  # fmt: skip


def _count(c: Count) -> list[Any]:
    return [c.value, c.suppressed or ""]


def workbook(view: GroupView) -> bytes:
    """The .xlsx bytes of one group view."""
    wb = Workbook()
    progress = wb.active
    assert progress is not None
    progress.title = "Progress"
    _row(
        progress,
        [f"{view.name} ({view.kind})", f"{view.schools} schools", f"{view.today:%d/%m/%Y}"],
        True,
    )
    _row(progress, ["Figure", "Value", "Suppressed"], True)
    counts = [
        view.started, view.completed, view.answered, view.overdue, view.without_owner,
        view.without_date,
    ]  # fmt: skip
    for (label, _), c in zip(progress_facts(view), counts, strict=True):
        _row(progress, [label, *_count(c)])
    themes = wb.create_sheet("Themes")
    _row(themes, ["Edition", "Theme", "Title", *DISTRIBUTION_COLUMNS], True)
    statements = wb.create_sheet("Statements")
    _row(statements, ["Edition", "Statement", "Title", *DISTRIBUTION_COLUMNS], True)
    for figures in view.editions:
        label = Edition(figures.edition).label
        for t in figures.themes:
            _row(themes, [label, t.number, t.title, *_spread(t.maturity)])
        for s in figures.statements:
            _row(statements, [label, s.statement_id, s.label, *_spread(s.levels)])
    schools = wb.create_sheet("Schools")
    _row(schools, ["School", "Edition", "Review started", "Review completed", "Answered",
                   "Overdue", "Without owner", "Without date"], True)  # fmt: skip
    for line in view.members:
        _row(schools, [
            line.name, Edition(line.edition).label, "yes" if line.started else "no",
            "yes" if line.completed else "no", line.answered, line.overdue,
            line.without_owner, line.without_date,
        ])  # fmt: skip
    for sheet in wb.worksheets:
        sheet.column_dimensions["A"].width = 38
        sheet.column_dimensions["C"].width = 30
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
