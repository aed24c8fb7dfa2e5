"""Documents for readers outside the careers team, as plain blocks: no Word inside.

The evidence pack (an Ofsted inspector or Quality in Careers assessor), the governors' report
(the link governor) and the CEIAG policy draft are built from a review's data by pure
functions (workflows/evidence.py, governors.py, policy.py) into a `Doc` of sections and a few
kinds of block. One Word writer (bot/documents.py) draws any `Doc`; tests read the same
blocks back out of the .docx. Words a school must still write are `Placeholder`s, drawn
highlighted so they cannot be missed or published by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class DocumentKind(StrEnum):
    """The documents chat and the CLI offer besides the plan itself."""

    EVIDENCE_PACK = "evidence-pack"
    GOVERNORS_REPORT = "governors-report"
    POLICY_DRAFT = "policy-draft"

    @property
    def label(self) -> str:
        return {
            DocumentKind.EVIDENCE_PACK: "evidence pack",
            DocumentKind.GOVERNORS_REPORT: "governors' report",
            DocumentKind.POLICY_DRAFT: "CEIAG policy draft",
        }[self]


# What people type for each document (lower case, spaces collapsed, end punctuation dropped).
_WORDS = {
    DocumentKind.EVIDENCE_PACK: {"evidence pack", "evidence", "evidence-pack", "the evidence pack"},
    DocumentKind.GOVERNORS_REPORT: {
        "governors report",
        "governors' report",
        "governor report",
        "governors-report",
        "the governors report",
        "report for governors",
    },
    DocumentKind.POLICY_DRAFT: {
        "policy draft",
        "policy-draft",
        "draft policy",
        "ceiag policy",
        "ceiag policy draft",
        "careers policy",
        "careers policy draft",
    },
}
_APOSTROPHES = re.compile(r"[’`]")


def document_kind(text: str) -> DocumentKind | None:
    """The document asked for in `text` ("governors report", "policy draft"), or None.

    Only the whole message counts, so a note that mentions an evidence pack is a note."""
    plain = " ".join(_APOSTROPHES.sub("'", text).lower().split()).rstrip("?.!")
    for verb in ("export ", "send ", "make ", "download "):
        if plain.startswith(verb):
            plain = plain[len(verb) :]
    for kind, words in _WORDS.items():
        if plain in words:
            return kind
    return None


@dataclass(frozen=True)
class Placeholder:
    """What the school must still write, shown highlighted in square brackets."""

    prompt: str

    @property
    def text(self) -> str:
        return f"[{self.prompt}]"


@dataclass(frozen=True)
class Para:
    """A paragraph; `placeholder` follows its text where the school must complete it."""

    text: str = ""
    bold: bool = False
    placeholder: Placeholder | None = None
    small: bool = False  # a caption or a source line


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]
    lead: str = ""  # "Our Careers Leader will:" before the list


@dataclass(frozen=True)
class Link:
    url: str
    label: str | None = None


@dataclass(frozen=True)
class Links:
    links: tuple[Link, ...]


class Rag(StrEnum):
    """A governors' report status: done, on track, at risk, overdue."""

    DONE = "done"
    ON_TRACK = "on track"
    AT_RISK = "at risk"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Cell:
    text: str
    rag: Rag | None = None  # coloured as its status
    bold: bool = False
    placeholder: bool = False  # for the school to fill in: highlighted


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    widths: tuple[float, ...] = ()  # relative widths; equal if empty


Block = Para | Bullets | Links | Table | Placeholder


@dataclass(frozen=True)
class Section:
    heading: str
    level: int = 1  # 1 for a section, 2 for a part of one, 3 for an entry
    blocks: tuple[Block, ...] = ()
    new_page: bool = False


@dataclass(frozen=True)
class Doc:
    """One document: its title, a line under it, its sections, and how its file is named."""

    kind: DocumentKind
    title: str
    subtitle: str
    organisation: str
    as_of: date
    sections: tuple[Section, ...]
    landscape: bool = False
    keywords: tuple[str, ...] = field(default_factory=tuple)

    def section(self, heading: str) -> Section:
        for section in self.sections:
            if section.heading == heading:
                return section
        raise KeyError(heading)

    @property
    def headings(self) -> list[str]:
        return [section.heading for section in self.sections]


def cells(*values: str | Cell | Placeholder) -> tuple[Cell, ...]:
    """A table row: text, ready cells, or placeholders (highlighted cells)."""
    return tuple(
        value
        if isinstance(value, Cell)
        else Cell(value.text, placeholder=True)
        if isinstance(value, Placeholder)
        else Cell(value)
        for value in values
    )
