"""Slow work that a turn starts and finishes after its reply (Teams waits 15 seconds at most).

Building a Word document with a chart, or uploading it to OneDrive, can take longer than
Teams lets a turn run. The turn answers at once ("Preparing the plan...") and hands the job
here: it runs as an asyncio task that the app keeps track of and waits for on shutdown; a
failure is logged and tried once more, and if that fails too the person is told, so a
document is never silently lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("careers_bot.teams")

Job = Callable[[], Awaitable[None]]
OnFailure = Callable[[BaseException], Awaitable[None]]


class BackgroundWork:
    """The app's jobs in flight; `close()` waits for them (with a time limit) on shutdown."""

    def __init__(self, retry_delay: float = 1.0, shutdown_timeout: float = 60.0) -> None:
        self.retry_delay = retry_delay
        self.shutdown_timeout = shutdown_timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self.failures = 0  # jobs that failed twice (for health checks and tests)

    def start(self, name: str, job: Job, on_failure: OnFailure) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._run(name, job, on_failure), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, name: str, job: Job, on_failure: OnFailure) -> None:
        for attempt in (1, 2):
            try:
                await job()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("%s failed (attempt %d of 2)", name, attempt)
                if attempt == 1:
                    await asyncio.sleep(self.retry_delay)
                    continue
                self.failures += 1
                try:
                    await on_failure(exc)
                except Exception:
                    log.exception("%s: could not tell the person it failed", name)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def idle(self) -> None:
        """Wait until no job is running (jobs may start others while we wait)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """On shutdown: let running jobs finish, cancelling only what overruns the limit."""
        if not self._tasks:
            return
        log.info("waiting for %d background job(s) to finish", len(self._tasks))
        try:
            await asyncio.wait_for(self.idle(), self.shutdown_timeout)
        except TimeoutError:
            for task in list(self._tasks):
                log.error("cancelling %s: still running at shutdown", task.get_name())
                task.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
