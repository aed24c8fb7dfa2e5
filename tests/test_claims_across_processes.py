"""Issue 11: four OS processes claim from one PostgreSQL database at once; no delivery is
claimed twice while its lease is live, and every one is claimed. Without `FOR UPDATE SKIP
LOCKED` in `deliveries.claim` this fails (checked by removing it)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from storage import models as m
from storage.db import Database

# Several processes on the real clock (leases, lock timeouts): with pytest-xdist these tests
# run one after another in one worker, never two such tests at once (Makefile: make test).
pytestmark = pytest.mark.xdist_group("processes")

CLAIMER = Path(__file__).with_name("claimer.py")
PROCESSES = 4
DELIVERIES = 4000
AS_OF = datetime(2025, 2, 3, 8, 0, tzinfo=UTC)


async def test_four_processes_never_claim_the_same_delivery(postgresql_database_url: str) -> None:
    database = Database(postgresql_database_url)
    await database.migrate()
    async with database.transaction() as session:
        hill = m.Organisation(name="Hill School", edition="school")
        session.add(hill)
        await session.flush()
        rows = [
            {"key": f"reminder:{n}", "organisation_id": hill.id, "kind": "reminder",
             "payload": {}, "due_at": AS_OF, "stale_at": AS_OF + timedelta(days=7),
             "status": "pending", "attempts": 0, "next_attempt_at": AS_OF, "sent_to": []}
            for n in range(DELIVERIES)
        ]  # fmt: skip
        await session.execute(insert(m.Delivery), rows)
    await database.close()
    start = time.time() + 4  # every process connected and waiting by then
    processes = []
    for n in range(PROCESSES):
        argv = [str(CLAIMER), postgresql_database_url, f"worker-{n}", str(start)]
        processes.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                *argv,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        )
    results = [await asyncio.wait_for(p.communicate(), 120) for p in processes]
    for process, (_, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err.decode()
    claimed = [json.loads(out) for out, _ in results]
    counts = Counter(i for ids in claimed for i in ids)
    assert [i for i, n in counts.items() if n > 1] == []  # nothing claimed twice
    assert len(counts) == DELIVERIES  # everything claimed
    assert sum(1 for ids in claimed if ids) >= 2  # they really did claim at the same time
