"""The evidence pack: every statement's level, descriptor, note, evidence and actions.

For an Ofsted inspector or a Quality in Careers assessor, who asks for evidence benchmark by
benchmark: statements with no evidence first (the gaps), then each Gatsby Benchmark with the
statements that serve it, then the full entry for each statement, theme by theme. A
statement serves its theme's benchmarks (seed 002 ties benchmarks to themes, not to single
statements; `Theme.benchmarks` in model_data).
"""

from __future__ import annotations

from dataclasses import dataclass

from model_data import Benchmarks, MaturityModel, Statement
from workflows.answers import EvidenceLink
from workflows.documents import (
    Bullets,
    Cell,
    Doc,
    DocumentKind,
    Link,
    Links,
    Para,
    Section,
    Table,
    cells,
)
from workflows.plan import PlanDocument, PlanRow, SummaryRow

NOT_ANSWERED = "Not answered in this review"
NO_DESCRIPTOR = "The model gives no descriptor for this level (its source cell is empty)."


@dataclass(frozen=True)
class StatementEvidence:
    """One statement as the pack shows it."""

    statement: Statement
    row: SummaryRow
    benchmarks: tuple[int, ...]
    links: tuple[EvidenceLink, ...]
    actions: tuple[PlanRow, ...]

    @property
    def level_text(self) -> str:
        return f"Level {self.row.level}" if self.row.level else NOT_ANSWERED

    @property
    def gap(self) -> bool:
        return not self.links


def statement_evidence(model: MaturityModel, document: PlanDocument) -> list[StatementEvidence]:
    """Each statement of the edition, in model order, with its evidence (each url once)."""
    rows = {row.statement_id: row for row in document.summary.rows}
    actions: dict[str, list[PlanRow]] = {}
    for plan_row in document.plan.rows:
        actions.setdefault(plan_row.statement_id, []).append(plan_row)
    result: list[StatementEvidence] = []
    for theme in model.themes:
        for statement in theme.statements:
            seen: set[str] = set()
            links: list[EvidenceLink] = []
            own = actions.get(statement.id, [])
            for link in [
                *document.evidence.get(statement.id, []),
                *(link for row in own for link in row.evidence),
            ]:
                if link.url not in seen:
                    seen.add(link.url)
                    links.append(link)
            result.append(
                StatementEvidence(
                    statement,
                    rows[statement.id],
                    tuple(theme.benchmarks),
                    tuple(links),
                    tuple(own),
                )
            )
    return result


def _actions_text(entry: StatementEvidence) -> str:
    if not entry.actions:
        return "None"
    return "\n".join(
        f"{'; '.join(row.next_steps) or 'Next steps not set'} – {row.status.label}"
        for row in entry.actions
    )


def _links_text(entry: StatementEvidence) -> str:
    return "\n".join(
        f"{link.label} – {link.url}" if link.label else link.url for link in entry.links
    )


def build_evidence_pack(
    model: MaturityModel, benchmarks: Benchmarks, document: PlanDocument
) -> Doc:
    """The pack for one review: gaps, then by Gatsby Benchmark, then by theme."""
    entries = statement_evidence(model, document)
    titles = {b.number: b.title for b in benchmarks.benchmarks}
    gaps = [e for e in entries if e.gap]
    with_evidence = len(entries) - len(gaps)
    links = sum(len(e.links) for e in entries)

    sections: list[Section] = [
        Section(
            "About this pack",
            blocks=(
                Para(
                    f"{with_evidence} of {len(entries)} statements have evidence "
                    f"({links} links); {len(gaps)} have none yet and are listed first."
                ),
                Para(
                    "Each statement serves the Gatsby Benchmarks of its theme. Levels and "
                    "descriptors are those of the Careers Impact Maturity Model; notes and "
                    "evidence are the school's own."
                ),
            ),
        )
    ]
    gap_rows = tuple(
        (
            Cell(e.statement.label, bold=True),
            Cell(e.level_text),
            Cell(", ".join(str(n) for n in e.benchmarks)),
            Cell(_actions_text(e)),
        )
        for e in gaps
    )
    sections.append(
        Section(
            "Gaps: statements with no evidence",
            blocks=(
                Table(
                    ("Statement", "Level", "Gatsby Benchmarks", "Actions"),
                    gap_rows,
                    (5, 1.6, 2.6, 5),
                )
                if gap_rows
                else Para("Every statement has at least one evidence link."),
            ),
        )
    )

    sections.append(Section("By Gatsby Benchmark", new_page=True))
    for benchmark in benchmarks.benchmarks:
        serving = [e for e in entries if benchmark.number in e.benchmarks]
        rows = tuple(
            (
                Cell(e.statement.short_label, bold=True),
                Cell(e.level_text),
                Cell(_links_text(e) or "No evidence yet"),
                Cell(_actions_text(e)),
            )
            for e in serving
        )
        sections.append(
            Section(
                f"Gatsby Benchmark {benchmark.number}: {benchmark.title}",
                level=2,
                blocks=(
                    Para(benchmark.summary, small=True),
                    Table(("Statement", "Level", "Evidence", "Actions"), rows, (4, 2, 5, 4)),
                ),
            )
        )

    sections.append(Section("By theme", new_page=True))
    by_theme: dict[int, list[StatementEvidence]] = {}
    for entry in entries:
        by_theme.setdefault(entry.statement.theme_number, []).append(entry)
    for theme in model.themes:
        served = ", ".join(f"{n} {titles[n]}" for n in theme.benchmarks)
        sections.append(
            Section(
                f"Theme {theme.number}: {theme.title}",
                level=2,
                blocks=(Para(f"Gatsby Benchmarks: {served}", small=True),),
            )
        )
        for entry in by_theme.get(theme.number, []):
            sections.append(Section(entry.statement.label, level=3, blocks=_entry_blocks(entry)))

    return Doc(
        kind=DocumentKind.EVIDENCE_PACK,
        title=f"Careers evidence pack – {document.organisation} – {document.as_of:%B %Y}",
        subtitle=f"{document.review_title} · {model.edition.label} edition",
        organisation=document.organisation,
        as_of=document.as_of,
        sections=tuple(sections),
        keywords=("careers", "evidence", "Gatsby Benchmarks", "Careers Impact System"),
    )


def _entry_blocks(entry: StatementEvidence) -> tuple[Para | Bullets | Links | Table, ...]:
    blocks: list[Para | Bullets | Links | Table] = [Para(entry.level_text, bold=True)]
    descriptor = entry.statement.level_text(entry.row.level) if entry.row.level else None
    if descriptor:
        lines = descriptor.splitlines()
        prose = [line for line in lines if not line.startswith("- ")]
        items = tuple(line[2:] for line in lines if line.startswith("- "))
        blocks += [Para(line) for line in prose]
        if items:
            blocks.append(Bullets(items))
    elif entry.row.level:
        blocks.append(Para(NO_DESCRIPTOR, small=True))
    blocks.append(Para(f"Note: {entry.row.note}" if entry.row.note else "Note: none given"))
    if entry.links:
        blocks.append(Para("Evidence:", bold=True))
        blocks.append(Links(tuple(Link(link.url, link.label) for link in entry.links)))
    else:
        blocks.append(Para("Evidence: none yet (a gap)", bold=True))
    blocks.append(
        Para("Gatsby Benchmarks: " + ", ".join(str(n) for n in entry.benchmarks), small=True)
    )
    if entry.actions:
        blocks.append(
            Table(
                ("Action", "Target", "By when", "Who", "Status"),
                tuple(
                    (
                        *cells(
                            "; ".join(row.next_steps) or "Next steps not set",
                            f"Level {row.target_level}" if row.target_level else "Not set",
                            row.by_when_dated or "Not set",
                            row.who or "Not set",
                        ),
                        Cell(row.status.label, bold=True),
                    )
                    for row in entry.actions
                ),
                (6, 2, 3, 2, 2),
            )
        )
    return tuple(blocks)
