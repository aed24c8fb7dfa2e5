"""Typed shape of the maturity model files, so a malformed file is caught at start-up."""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
LevelNumber = Literal[1, 2, 3, 4]
LEVELS: tuple[LevelNumber, ...] = (1, 2, 3, 4)


class Edition(StrEnum):
    """The two published editions of the Careers Impact Maturity Model."""

    SCHOOL = "school"
    COLLEGE = "college"

    @property
    def label(self) -> str:
        return {
            Edition.SCHOOL: "school and special school",
            Edition.COLLEGE: "college / post-16 provider",
        }[self]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BulletList(_Frozen):
    """A bulleted list inside a level descriptor, kept as a list rather than flattened."""

    items: list[Text] = Field(min_length=1)


Block = Text | BulletList


def blocks_to_text(blocks: list[Block] | None) -> str | None:
    """Join blocks one per line, list items as "- item" (the documented export form)."""
    if blocks is None:
        return None
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, BulletList):
            lines.extend(f"- {item}" for item in block.items)
        else:
            lines.append(block)
    return "\n".join(lines)


_PROVENANCE_FIELDS = re.compile(r"^(title|short_title|levels\.[1-4])$")


class Statement(_Frozen):
    """One statement of the model (e.g. "2.3"), described at four levels of maturity."""

    id: Annotated[str, StringConstraints(pattern=r"^[1-6]\.[1-9]$")]
    title: Text
    short_title: Text
    levels: dict[int, list[Block] | None]
    provenance: dict[str, Text] = Field(default_factory=dict)

    @field_validator("levels")
    @classmethod
    def _four_levels(cls, value: dict[int, list[Block] | None]) -> dict[int, list[Block] | None]:
        if sorted(value) != list(LEVELS):
            raise ValueError(f"needs exactly levels 1, 2, 3 and 4, got {sorted(value)}")
        for number, blocks in value.items():
            if blocks is not None and not blocks:
                raise ValueError(f"level {number} is an empty list; use null for an empty cell")
        if all(value[n] is None for n in (2, 3, 4)):
            raise ValueError("levels 2 to 4 are all empty")
        return value

    @field_validator("provenance")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not _PROVENANCE_FIELDS.match(key):
                raise ValueError(f"unknown provenance field {key!r}")
        return value

    @property
    def theme_number(self) -> int:
        return int(self.id.split(".")[0])

    @cached_property
    def label(self) -> str:
        """Id and full title, as the action plan's "Leadership area" column shows it."""
        return f"{self.id} {self.title}"

    @cached_property
    def short_label(self) -> str:
        """Id and short title, as the summary grid shows it ("1.5 Governance")."""
        return f"{self.id} {self.short_title}"

    def level_text(self, level: int) -> str | None:
        """The descriptor of one level as plain text, or None where the source cell is empty."""
        return self._level_texts[level]

    @cached_property
    def _level_texts(self) -> dict[int, str | None]:
        """Each level's text, joined once: the model is frozen, and a Hub's digest sweep asks
        for it 32,000 times."""
        return {level: blocks_to_text(blocks) for level, blocks in self.levels.items()}

    def has_level(self, level: int) -> bool:
        return self.levels.get(level) is not None


class Theme(_Frozen):
    number: Annotated[int, Field(ge=1, le=6)]
    title: Text
    benchmarks: list[Annotated[int, Field(ge=1, le=8)]] = Field(min_length=1)
    statements: list[Statement] = Field(min_length=1)
    provenance: dict[str, Text] = Field(default_factory=dict)


class MaturityModel(_Frozen):
    """One edition of the model, in source order."""

    edition: Edition
    name: Text
    source: Text
    themes: list[Theme] = Field(min_length=6, max_length=6)

    @property
    def statements(self) -> list[Statement]:
        return [s for theme in self.themes for s in theme.statements]

    def statement(self, statement_id: str) -> Statement:
        return self._by_id[statement_id]  # KeyError for an id the edition does not have

    @cached_property
    def _by_id(self) -> dict[str, Statement]:
        """Statements by id, found once (the model is frozen; a sweep looks up thousands)."""
        return {s.id: s for theme in self.themes for s in theme.statements}

    def theme(self, number: int) -> Theme:
        for theme in self.themes:
            if theme.number == number:
                return theme
        raise KeyError(number)

    def to_export(self) -> dict[str, object]:
        """The documented JSON shape that other tools read (`careers-bot model export`)."""
        return {
            "edition": self.edition.value,
            "themes": [
                {
                    "number": t.number,
                    "title": t.title,
                    "benchmarks": list(t.benchmarks),
                    "statements": [
                        {
                            "id": s.id,
                            "title": s.title,
                            "short_title": s.short_title,
                            "levels": {str(n): s.level_text(n) for n in LEVELS},
                        }
                        for s in t.statements
                    ],
                }
                for t in self.themes
            ],
        }


# Where a glossary entry's text comes from: a seed document (../shared/seeds/, see its README)
# or "general" for a well-established public fact. Kept as a closed list so a typo fails at load.
GlossarySource = Literal[
    "000_b14dbdcf39abfeb7.txt",
    "001_6668cbd84df5fb93.txt",
    "002_34743147353248b0.txt",
    "003_1920c749d4b90711.txt",
    "004_bcfa8f21c600e95e.txt",
    "general",
]


class GlossaryTerm(_Frozen):
    """One entry; `source` says which seed(s) its text is drawn from, so it can be checked."""

    term: Text
    aliases: list[Text] = Field(default_factory=list)
    definition: Text
    source: list[GlossarySource] = Field(min_length=1)
    provenance: dict[str, Text] = Field(default_factory=dict)

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        """A single source may be written as a plain string."""
        return [value] if isinstance(value, str) else value

    @field_validator("source")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"a source is listed twice: {value}")
        return value

    def names(self) -> list[str]:
        return [self.term, *self.aliases]


class Glossary(_Frozen):
    source: Text
    terms: list[GlossaryTerm] = Field(min_length=1)


class Benchmark(_Frozen):
    number: Annotated[int, Field(ge=1, le=8)]
    title: Text
    summary: Text
    criteria: list[Block] = Field(min_length=1)
    provenance: dict[str, Text] = Field(default_factory=dict)


class Benchmarks(_Frozen):
    source: Text
    benchmarks: list[Benchmark] = Field(min_length=8, max_length=8)


class _ByEdition(_Frozen):
    school: Text
    college: Text

    def of(self, edition: Edition | str) -> str:
        return self.school if Edition(edition) is Edition.SCHOOL else self.college


class _ListByEdition(_Frozen):
    school: list[Text] = Field(min_length=1)
    college: list[Text] = Field(min_length=1)

    def of(self, edition: Edition | str) -> list[str]:
        return self.school if Edition(edition) is Edition.SCHOOL else self.college


class PolicyHeading(_Frozen):
    number: Annotated[int, Field(ge=1)]
    heading: Text


class AppendixTitle(_Frozen):
    number: Annotated[int, Field(ge=1)]
    title: Text


class PolicyStatutory(_Frozen):
    basis: Text
    guidance: Text
    refers_to: Text
    acts: list[Text] = Field(min_length=1)
    skills_act: Text
    school: list[Text] = Field(min_length=1)
    college: list[Text] = Field(min_length=1)
    benchmarks: Text
    definition: Text


class PolicyDuties(_Frozen):
    heading: Text
    lead: Text = ""
    duties: list[Text] = Field(min_length=1)


class CareersLeaderDuties(_Frozen):
    heading: Text
    intro: Text
    lead: Text
    duties: list[Text] = Field(min_length=1)


class SltDuties(_ListByEdition):
    heading: Text


class TeacherDuties(_Frozen):
    school: PolicyDuties
    college: PolicyDuties


class GovernorDuties(_Frozen):
    heading: Text
    intro: Text
    must_lead: Text
    must: list[Text] = Field(min_length=1)
    should_lead: Text
    should: list[Text] = Field(min_length=1)
    will_lead: Text
    will: _ListByEdition


class PolicyResponsibilities(_Frozen):
    school: PolicyDuties
    college: PolicyDuties
    careers_leader: CareersLeaderDuties
    slt: SltDuties
    teachers: TeacherDuties
    governors: GovernorDuties


class PolicyProgramme(_Frozen):
    send_heading: Text
    send: list[Text] = Field(min_length=1)
    access_heading: Text
    access: _ListByEdition
    pal_lead: Text
    pal: Text


class PolicyTemplate(_Frozen):
    """Seed 004's CEIAG policy template: its sections, statutory text and duties (the
    template's guidance and examples are not here: they never go into a draft)."""

    source: Text
    contents: list[PolicyHeading] = Field(min_length=7, max_length=7)
    appendices: list[AppendixTitle] = Field(min_length=1)
    signed_by: Text
    aims: _ByEdition
    access: Text
    statutory: PolicyStatutory
    responsibilities: PolicyResponsibilities
    programme: PolicyProgramme
    provenance: dict[str, Text] = Field(default_factory=dict)
