"""Documents and charts drawn away from the event loop, in a small pool of worker processes.

Drawing a chart takes 100-150 ms of CPU and a Word file more; on the loop that answers Slack
and Teams that is a stall for everyone. A thread would still hold the GIL while matplotlib
draws, so the work goes to separate processes (started with "spawn", never forked from a
process that has an event loop and threads). The serving process never imports matplotlib,
python-docx or openpyxl at all.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from workflows.documents import Doc
    from workflows.groups import GroupView
    from workflows.plan import PlanDocument, Summary

_pool: Executor | None = None
T = TypeVar("T")


def workers() -> int:
    """RENDER_WORKERS, else 2: enough for a digest run and a person's export at once."""
    try:
        return max(1, int(os.environ.get("RENDER_WORKERS", "2")))
    except ValueError:
        return 2


class _HereAndNow(Executor):
    """Runs each drawing at once in this process: for one-off commands (`careers-bot export`,
    `remind`), where nothing else waits on the loop and starting workers would cost more
    (seconds, each importing matplotlib) than the drawing."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the awaiting caller, as a worker's would be
            future.set_exception(exc)
        return future


def draw_here() -> None:
    """Draw in this process from now on (the CLI's commands other than `serve`)."""
    global _pool
    shutdown()
    _pool = _HereAndNow()


def _executor() -> Executor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(
            max_workers=workers(), mp_context=multiprocessing.get_context("spawn")
        )
    return _pool


def _export(document: PlanDocument, fmt: str, previous: Summary | None) -> bytes:
    """Runs in a worker: the only place bot.exports (and matplotlib) is imported."""
    from bot import exports

    return exports.export(document, fmt, previous=previous)


def _export_named(document: PlanDocument, fmt: str) -> tuple[bytes, str]:
    """Runs in a worker: the document and its file name (bot.exports names it)."""
    from bot import exports

    return exports.export(document, fmt), exports.default_filename(document, fmt)


async def render_named(document: PlanDocument, fmt: str) -> tuple[bytes, str]:
    """`render`, with the file name `exports.default_filename` gives it (worked out in the
    worker too, so that the caller need not import bot.exports for it)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), _export_named, document, fmt)


def _document_named(doc: Doc, fmt: str) -> tuple[bytes, str]:
    """Runs in a worker: an evidence pack, governors' report or policy draft (bot.documents)."""
    from bot import documents

    return documents.write(doc, fmt), documents.filename(doc, fmt)


async def render_document(doc: Doc, fmt: str = "docx") -> tuple[bytes, str]:
    """One of the three documents (workflows/documents.py) and its file name, drawn in a
    worker process like the plan."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), _document_named, doc, fmt)


async def render(document: PlanDocument, fmt: str, *, previous: Summary | None = None) -> bytes:
    """`exports.export` in a worker process; the same bytes, the loop left free meanwhile."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), _export, document, fmt, previous)


async def pool_context(_app: object) -> AsyncIterator[None]:
    """An aiohttp cleanup_ctx: the workers (started on first use) stop with the app."""
    yield
    await asyncio.to_thread(shutdown)


def shutdown() -> None:
    """Stop the workers (the app's cleanup, and the end of a CLI command)."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


def _group_workbook(view: GroupView) -> tuple[bytes, str]:
    """Runs in a worker: the group view as an .xlsx workbook (bot/group_workbook.py)."""
    from bot import group_workbook

    return group_workbook.workbook(view), group_workbook.filename(view)


async def render_group_workbook(view: GroupView) -> tuple[bytes, str]:
    """A lead's group view as a workbook and its file name, drawn in a worker process."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), _group_workbook, view)
