"""One `careers-bot serve` replica as its own OS process, for tests/test_replicas.py.

    python tests/replica.py FAKE_START REAL_START

What `careers-bot serve` does (bot.cli.serve_command: settings from the environment,
`init_app`, the scheduler on), with two differences a test needs:

- the app's clock runs at real speed from the moment FAKE_START (ISO) at the real Unix time
  REAL_START, the same in every replica: a school day with reminders and a digest due,
  whatever day the test runs on (leases are measured on it too, so all replicas agree);
- it listens on a free loopback port and prints one JSON line once it is serving:
  `{"port": ..., "worker": ..., "pid": ...}` (the worker is the id its claims carry in
  `deliveries.claimed_by`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web

from bot.app import init_app
from bot.cli import settle_after_start
from bot.config import get_settings
from bot.scheduler import DISPATCHERS


async def serve(fake_start: datetime, real_start: float) -> None:
    offset = fake_start - datetime.fromtimestamp(real_start, UTC)

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    settings = get_settings().model_copy(update={"scheduler_enabled": True})
    app = init_app(settings, clock=clock)
    app.on_startup.append(settle_after_start)  # as serve_command does
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()  # migrations (a no-op here), Slack's session, the scheduler
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    workers = [d.worker for d in DISPATCHERS.values()]
    print(json.dumps({"port": port, "worker": workers[0], "pid": os.getpid()}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    start = datetime.fromisoformat(sys.argv[1])
    assert start.tzinfo is not None and timedelta(0) <= datetime.now(UTC) - start
    asyncio.run(serve(start, float(sys.argv[2])))
