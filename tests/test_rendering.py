"""Documents drawn in a worker process are the same bytes as drawn in place."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot import exports, rendering
from tests.test_export_hygiene import hostile_document, xlsx_cells


@pytest.fixture(scope="module", autouse=True)
def _pool() -> Iterator[None]:
    yield
    rendering.shutdown()


@pytest.mark.parametrize("fmt", ["csv", "md", "json"])
async def test_a_worker_draws_the_same_document(fmt: str) -> None:
    document = hostile_document(["Plan the week"])
    assert await rendering.render(document, fmt) == exports.export(document, fmt)


async def test_a_worker_draws_the_same_workbook() -> None:
    """Cell for cell (the file itself carries the moment it was written)."""
    document = hostile_document(["Plan the week"])
    drawn = xlsx_cells(await rendering.render(document, "xlsx"))
    assert [c.value for c in drawn] == [
        c.value for c in xlsx_cells(exports.export(document, "xlsx"))
    ]


async def test_a_worker_draws_the_chart_and_the_word_file() -> None:
    document = hostile_document(["Plan the week"])
    png = await rendering.render(document, "png")
    docx = await rendering.render(document, "docx")
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert docx.startswith(b"PK") and b"word/document.xml" in docx
