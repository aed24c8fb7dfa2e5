"""The evidence pack, opened and checked against the review's data (both editions), and asked
for through the terminal and the CLI."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from pathlib import Path

import pytest
from document_seed import NOW
from docx_reading import read_docx
from review_scripts import seed003_priorities, seed_review
from rich.console import Console

from bot import documents
from bot.reviews import ReviewService
from model_data import load_benchmarks, load_model
from storage.db import Database
from workflows.actions import MakeDocument, parse_command
from workflows.documents import DocumentKind, document_kind
from workflows.evidence import NO_DESCRIPTOR
from workflows.replies import SendDocument


def test_the_words_for_each_document() -> None:
    assert document_kind("Evidence pack") is DocumentKind.EVIDENCE_PACK
    assert document_kind("governors’ report!") is DocumentKind.GOVERNORS_REPORT
    assert document_kind("export policy draft") is DocumentKind.POLICY_DRAFT
    assert document_kind("the evidence pack is in the shared drive") is None
    assert parse_command("governors report") == MakeDocument(DocumentKind.GOVERNORS_REPORT)


async def test_every_statement_with_its_level_note_evidence_benchmarks_and_actions(
    seeded: tuple[ReviewService, int, str],
) -> None:
    service, organisation_id, edition = seeded
    model = load_model(edition)
    benchmarks = load_benchmarks()
    plan = await service.plan_document(organisation_id)
    doc = read_docx(documents.to_docx(await service.evidence_pack(organisation_id)))

    assert doc.title.startswith("Careers evidence pack – Hill School")
    top = doc.headings(1)
    assert top == [
        "About this pack",
        "Gaps: statements with no evidence",
        "By Gatsby Benchmark",
        "By theme",
    ]
    # Gaps first: exactly the statements without evidence (seed 003's priorities have links).
    priorities = {p.id for p in seed003_priorities()} & {s.id for s in model.statements}
    gaps = doc.part("Gaps: statements with no evidence").tables[0]
    gap_ids = {row[0].split()[0] for row in gaps[1:]}
    assert gap_ids == {s.id for s in model.statements} - priorities
    # By benchmark: all eight, each with the statements of the themes that serve it.
    assert [h for h in doc.headings(2) if h.startswith("Gatsby")] == [
        f"Gatsby Benchmark {b.number}: {b.title}" for b in benchmarks.benchmarks
    ]
    for benchmark in benchmarks.benchmarks:
        part = doc.part(f"Gatsby Benchmark {benchmark.number}: {benchmark.title}")
        assert benchmark.summary in part.lines
        listed = [row[0].split()[0] for row in part.tables[0][1:]]
        assert listed == [
            s.id for t in model.themes if benchmark.number in t.benchmarks for s in t.statements
        ]
    # By theme: every statement's entry.
    assert [h for h in doc.headings(2) if h.startswith("Theme")] == [
        f"Theme {t.number}: {t.title}" for t in model.themes
    ]
    assert doc.headings(3) == [s.label for s in model.statements]
    rows = {row.statement_id: row for row in plan.summary.rows}
    for statement in model.statements:
        entry = doc.part(statement.label).text
        level = rows[statement.id].level
        assert f"Level {level}" in entry
        descriptor = statement.level_text(level)
        if descriptor is None:
            assert NO_DESCRIPTOR in entry
        else:
            assert descriptor.splitlines()[0].removeprefix("- ") in entry
        theme = model.theme(statement.theme_number)
        assert "Gatsby Benchmarks: " + ", ".join(map(str, theme.benchmarks)) in entry
        if statement.id in priorities:
            assert f"Note on {statement.id}" in entry
            assert (
                f"Evidence for {statement.id} – https://school.example/evidence/{statement.id}"
                in entry
            )
            assert "Not started" in entry  # each action with its status
        else:
            assert "Evidence: none yet (a gap)" in entry


async def test_the_terminal_writes_the_pack_asked_for_mid_review(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`evidence pack` typed in the terminal chat: the file is written beside you."""
    from bot import cli

    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    database = Database(url)
    await database.migrate()
    await seed_review(database, load_model("school"), NOW)
    await database.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("evidence pack\nquit\n"))
    console = Console(file=io.StringIO(), width=120)
    args = cli.build_parser().parse_args(
        ["--database-url", url, "chat", "--org", "Hill School", "--name", "Sam Rivers"]
    )
    assert await cli.chat(args, console) == 0
    written = sorted(
        await asyncio.to_thread(tmp_path.glob, "careers-evidence-pack-hill-school-*.docx")
    )
    assert len(written) == 1
    assert "Wrote careers-evidence-pack-hill-school" in console.file.getvalue()  # type: ignore[attr-defined]
    assert read_docx(written[0].read_bytes()).headings(1)[1] == "Gaps: statements with no evidence"


async def test_typed_at_a_free_text_step_the_words_are_the_answer(
    seeded: tuple[ReviewService, int, str],
) -> None:
    """After a review, `evidence pack` asks for the file; at the participants question of a
    new review the same words are the answer, never a request."""
    service, organisation_id, _ = seeded
    from bot.reviews import Who

    sam = Who("terminal", "sam", "Sam Rivers", "")
    done = await service.turn(organisation_id, sam, "evidence pack")
    assert [r.kind for r in done.replies if isinstance(r, SendDocument)] == [
        DocumentKind.EVIDENCE_PACK
    ]
    await service.open(organisation_id, sam, new=True, blank=True)
    typed = await service.turn(organisation_id, sam, "evidence pack")
    assert not any(isinstance(r, SendDocument) for r in typed.replies)
    state = await service.state(organisation_id)
    assert state is not None and "evidence pack" in state.participants


def test_the_cli_writes_each_document(tmp_path: Path) -> None:
    import asyncio

    from bot import cli

    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"

    async def prepare() -> None:
        database = Database(url)
        await database.migrate()
        await seed_review(database, load_model("college"), NOW)
        await database.close()

    asyncio.run(prepare())
    for kind in DocumentKind:
        out = tmp_path / f"{kind.value}.docx"
        code = cli.main(
            ["--database-url", url, "export", "--org", "Hill School", "--document", kind.value,
             "--out", str(out)]
        )  # fmt: skip
        assert code == 0
        assert out.read_bytes()[:2] == b"PK"
    assert read_docx((tmp_path / "evidence-pack.docx").read_bytes()).title.startswith(
        "Careers evidence pack"
    )
    # Word or PDF only, for the documents.
    assert cli.main(
        ["--database-url", url, "export", "--org", "Hill School", "--document", "policy-draft",
         "--format", "xlsx"]
    ) == 1  # fmt: skip


@pytest.mark.skipif(documents.soffice() is None, reason="LibreOffice (soffice) not installed")
def test_the_cli_writes_a_pdf_where_libreoffice_is_installed(tmp_path: Path) -> None:
    import asyncio

    from bot import cli

    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"

    async def prepare() -> None:
        database = Database(url)
        await database.migrate()
        await seed_review(database, load_model("school"), NOW)
        await database.close()

    asyncio.run(prepare())
    out = tmp_path / "pack.pdf"
    code = cli.main(
        ["--database-url", url, "export", "--org", "Hill School", "--document", "evidence-pack",
         "--format", "pdf", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    assert out.read_bytes()[:5] == b"%PDF-"
    assert os.path.getsize(out) > 10_000
