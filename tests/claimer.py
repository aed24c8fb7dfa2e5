"""One claiming worker, as its own OS process: `python tests/claimer.py URL WORKER START`.

Waits until the wall-clock moment START (so that several start together), then claims
deliveries in small batches and marks each sent until none is left, and prints the ids it
claimed as JSON. Used by tests/test_claims_across_processes.py.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.exc import DBAPIError

from storage import deliveries
from storage.db import Database

AS_OF = datetime(2025, 2, 3, 8, 0, tzinfo=UTC)


async def main(url: str, worker: str, start: float) -> list[int]:
    database = Database(url)
    claimed: list[int] = []
    try:
        async with database.read() as session:  # connect before the start, not at it
            await deliveries.deliveries(session, status="sent")
        await asyncio.sleep(max(0.0, start - time.time()))
        while True:
            try:
                async with database.transaction() as session:
                    batch = await deliveries.claim(
                        session, worker, AS_OF, deliveries.CLAIM_BATCH, datetime.now(UTC)
                    )
            except DBAPIError as exc:  # a deadlock, say: the next sweep would try again
                print(f"{worker}: {type(exc.orig).__name__}", file=sys.stderr)
                continue
            if not batch:
                return claimed
            claimed.extend(d.id for d in batch)
            async with database.transaction() as session:
                for delivery in batch:
                    await deliveries.mark_sent(session, delivery.id, worker, AS_OF, [])
    finally:
        await database.close()


if __name__ == "__main__":
    url, worker, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
    print(json.dumps(asyncio.run(main(url, worker, start))))
