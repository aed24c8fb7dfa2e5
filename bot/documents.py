"""The evidence pack, governors' report and CEIAG policy draft as Word (and PDF) files.

One writer draws any `workflows.documents.Doc`: headings, paragraphs, bullet lists, evidence
links and tables, with the plan export's helpers (bot/exports.py) so the documents look
alike. Text is cleaned once (`bot.sanitise.clean_data`); only http(s) evidence becomes a
link. Placeholders (what the school must still write) are yellow-highlighted "[...]" runs;
RAG statuses are coloured cells. PDF comes from LibreOffice (`soffice --headless`) where it
is installed: offered by the CLI only then, never required.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_COLOR_INDEX
from docx.shared import Cm, Pt
from docx.text.paragraph import Paragraph

from bot.exports import (
    DOCX_PROPERTY_LIMIT,
    _add_row,
    _hyperlink,
    _run,
    _shade,
    _slug,
    _table,
)
from bot.sanitise import clean_data
from workflows.documents import (
    Bullets,
    Cell,
    Doc,
    DocumentKind,
    Links,
    Para,
    Placeholder,
    Rag,
    Table,
)

DOCUMENT_FORMATS = ("docx", "pdf")
MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}
RAG_FILL = {
    Rag.DONE: "C9DAF8",
    Rag.ON_TRACK: "D9EAD3",
    Rag.AT_RISK: "FCE5CD",
    Rag.OVERDUE: "F4CCCC",
}
GREY = "595959"
CONVERT_SECONDS = 120


def filename(doc: Doc, fmt: str = "docx") -> str:
    """ "evidence-pack-hill-school-2025-01.docx": the kind, the organisation, the month."""
    stem = {
        DocumentKind.EVIDENCE_PACK: "careers-evidence-pack",
        DocumentKind.GOVERNORS_REPORT: "careers-governors-report",
        DocumentKind.POLICY_DRAFT: "ceiag-policy-draft",
    }[doc.kind]
    parts = [stem, _slug(doc.organisation), f"{doc.as_of:%Y-%m}"]
    return "-".join(part for part in parts if part) + f".{fmt}"


def _placeholder(paragraph: Paragraph, placeholder: Placeholder) -> None:
    run = paragraph.add_run(placeholder.text)
    run.bold = True
    run.font.highlight_color = WD_COLOR_INDEX.YELLOW


def _cell(cell: Any, value: Cell) -> None:
    first = True
    for line in value.text.splitlines() or [""]:
        paragraph = cell.paragraphs[0] if first else cell.add_paragraph()
        first = False
        paragraph.paragraph_format.space_after = Pt(1)
        if value.placeholder:
            _placeholder(paragraph, Placeholder(line.strip("[]")))
        else:
            _run(paragraph, line, bold=value.bold)
    if value.rag is not None:
        _shade(cell, RAG_FILL[value.rag])


def _draw_table(doc: Any, block: Table, width_cm: float) -> None:
    weights = block.widths or tuple(1.0 for _ in block.headers)
    total = sum(weights)
    widths = [width_cm * w / total for w in weights]
    table = _table(doc, list(block.headers), widths)
    if not any(block.headers):  # a two-column list of fields: no header row
        table._tbl.remove(table.rows[0]._tr)
    for values in block.rows:
        row = _add_row(table, widths)
        for cell, value in zip(row.cells, values, strict=True):
            _cell(cell, value)
    doc.add_paragraph().paragraph_format.space_after = Pt(2)


def _bullet(doc: Any, text: str) -> Paragraph:
    paragraph: Paragraph = doc.add_paragraph(style="List Bullet")
    paragraph.paragraph_format.space_after = Pt(1)
    _run(paragraph, text)
    return paragraph


def to_docx(doc: Doc, *, generated: date | None = None) -> bytes:
    """The document as an A4 Word file."""
    doc = clean_data(doc)
    generated = generated or date.today()
    word = Document()
    section = word.sections[0]
    if doc.landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    else:
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.8))
    width_cm = (29.7 if doc.landscape else 21.0) - 3.6
    normal = word.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(9.5)
    normal.paragraph_format.space_after = Pt(3)
    properties = word.core_properties
    properties.title = doc.title[:DOCX_PROPERTY_LIMIT]
    properties.subject = doc.kind.label
    properties.author = "Careers Impact Bot"
    properties.keywords = "; ".join(doc.keywords)[:DOCX_PROPERTY_LIMIT]
    properties.created = datetime.combine(generated, time(0, 0))

    word.add_heading(doc.title, level=0)
    subtitle = word.add_paragraph()
    _run(subtitle, doc.subtitle, italic=True, colour=GREY)

    for part in doc.sections:
        heading = word.add_heading(part.heading, level=min(part.level, 3))
        heading.paragraph_format.keep_with_next = True
        if part.new_page:
            heading.paragraph_format.page_break_before = True
        for block in part.blocks:
            if isinstance(block, Para):
                paragraph = word.add_paragraph()
                if block.text:
                    _run(
                        paragraph,
                        block.text,
                        bold=block.bold,
                        size=8.5 if block.small else None,
                        colour=GREY if block.small else None,
                    )
                if block.placeholder is not None:
                    if block.text:
                        paragraph.add_run(" ")
                    _placeholder(paragraph, block.placeholder)
            elif isinstance(block, Placeholder):
                _placeholder(word.add_paragraph(), block)
            elif isinstance(block, Bullets):
                if block.lead:
                    lead = word.add_paragraph()
                    _run(lead, block.lead)
                    lead.paragraph_format.keep_with_next = True
                for item in block.items:
                    _bullet(word, item)
            elif isinstance(block, Links):
                for link in block.links:
                    paragraph = word.add_paragraph(style="List Bullet")
                    if link.label:
                        _run(paragraph, f"{link.label} – ")
                    _hyperlink(paragraph, link.url, link.url)
            elif isinstance(block, Table):
                _draw_table(word, block, width_cm)
    buffer = io.BytesIO()
    word.save(buffer)
    return buffer.getvalue()


def soffice() -> str | None:
    """LibreOffice's command, if installed (PDF needs it)."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(docx: bytes) -> bytes:
    """The Word file converted by LibreOffice; RuntimeError when it is missing or fails."""
    command = soffice()
    if command is None:
        raise RuntimeError("PDF needs LibreOffice (soffice), which is not installed here.")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "document.docx"
        source.write_bytes(docx)
        # Its own profile, so a LibreOffice the user has open does not take the job.
        profile = Path(folder, "profile").as_uri()
        done = subprocess.run(
            [
                command,
                f"-env:UserInstallation={profile}",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                folder,
                str(source),
            ],
            capture_output=True,
            timeout=CONVERT_SECONDS,
            check=False,
        )
        result = Path(folder) / "document.pdf"
        if done.returncode != 0 or not result.exists():
            raise RuntimeError(f"LibreOffice could not convert the document: {done.stderr!r}")
        return result.read_bytes()


def write(doc: Doc, fmt: str = "docx") -> bytes:
    """The document as "docx" or "pdf"."""
    if fmt not in DOCUMENT_FORMATS:
        raise ValueError(f"Unknown document format {fmt!r}: use docx or pdf.")
    data = to_docx(doc)
    return to_pdf(data) if fmt == "pdf" else data
