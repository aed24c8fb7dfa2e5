"""Reading a Word file back as sections: each heading with the text (paragraphs and table
cells) under it, for tests that check a document against the data it was built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from io import BytesIO

from docx import Document
from docx.enum.text import WD_COLOR_INDEX
from docx.table import Table
from docx.text.paragraph import Paragraph


@dataclass
class Part:
    heading: str
    level: int
    lines: list[str] = field(default_factory=list)
    tables: list[list[list[str]]] = field(default_factory=list)

    @property
    def text(self) -> str:
        cells = [cell for table in self.tables for row in table for cell in row]
        return "\n".join([*self.lines, *cells])


@dataclass
class ReadDoc:
    title: str
    parts: list[Part]
    highlighted: list[str]

    def part(self, heading: str) -> Part:
        for part in self.parts:
            if part.heading == heading:
                return part
        raise KeyError(f"{heading!r} not in {[p.heading for p in self.parts]}")

    def headings(self, level: int | None = None) -> list[str]:
        return [p.heading for p in self.parts if level is None or p.level == level]

    def under(self, heading: str) -> str:
        """The text of a section and of every deeper section until the next at its level."""
        out: list[str] = []
        inside: int | None = None
        for part in self.parts:
            if inside is not None and part.level <= inside:
                break
            if part.heading == heading:
                inside = part.level
            if inside is not None:
                out += [part.heading, part.text]
        if inside is None:
            raise KeyError(heading)
        return "\n".join(out)

    @property
    def text(self) -> str:
        return "\n".join(f"{p.heading}\n{p.text}" for p in self.parts)


def read_docx(data: bytes) -> ReadDoc:
    document = Document(BytesIO(data))
    title = ""
    parts: list[Part] = []
    highlighted: list[str] = []
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(child, document)
            style = paragraph.style.name if paragraph.style is not None else ""
            highlighted += [
                run.text
                for run in paragraph.runs
                if run.font.highlight_color == WD_COLOR_INDEX.YELLOW
            ]
            if style == "Title":
                title = paragraph.text
            elif style.startswith("Heading "):
                parts.append(Part(paragraph.text, int(style.split()[1])))
            elif parts and paragraph.text.strip():
                parts[-1].lines.append(paragraph.text)
        elif tag == "tbl" and parts:
            table = Table(child, document)
            rows = [[cell.text for cell in row.cells] for row in table.rows]
            for row in table.rows:
                for cell in row.cells:
                    for paragraph in cell.paragraphs:
                        highlighted += [
                            run.text
                            for run in paragraph.runs
                            if run.font.highlight_color == WD_COLOR_INDEX.YELLOW
                        ]
            parts[-1].tables.append(rows)
    return ReadDoc(title, parts, highlighted)
