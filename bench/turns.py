"""What a saved turn costs: the pure engine (baseline) against a full service turn on SQLite.

A person answers one statement every few seconds, so a turn only has to be well under
Slack's 3-second and Teams' 15-second limits; this shows how much of a turn is storage.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.reviews import ReviewService, Who
from model_data import Edition, load_glossary, load_model
from storage.db import Database
from workflows.review import Context, handle, new_review, open_review

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from review_scripts import full_review_lines

ROUNDS = 3


def engine_only(lines: list[str]) -> float:
    model = load_model(Edition.SCHOOL)
    ctx = Context(model, load_glossary(), datetime.now(UTC), "Bench")
    state = open_review(new_review(model, "Bench"), ctx).state
    start = time.perf_counter()
    for line in lines:
        state = handle(state, line, ctx).state
    assert state.completed
    return (time.perf_counter() - start) / len(lines)


async def service_turns(lines: list[str], folder: Path, n: int) -> float:
    db = Database(f"sqlite:///{folder / f'bench-{n}.sqlite3'}")
    await db.migrate()
    service = ReviewService(db)
    who = Who("bench", "b", "Bench")
    organisation = await service.organisation(f"Bench {n}", "school")
    await service.open(organisation.id, who)
    start = time.perf_counter()
    for line in lines:
        result = await service.turn(organisation.id, who, line)
    elapsed = (time.perf_counter() - start) / len(lines)
    assert result.completed
    await db.close()
    return elapsed


def main(argv: list[str] | None = None) -> None:
    lines = full_review_lines(load_model(Edition.SCHOOL))
    engine_only(lines)  # warm caches
    base = statistics.median(engine_only(lines) for _ in range(ROUNDS))
    with tempfile.TemporaryDirectory() as folder:
        full = statistics.median(
            asyncio.run(service_turns(lines, Path(folder), n)) for n in range(ROUNDS)
        )
    print(f"turns: {len(lines)} answers of a complete school review, median of {ROUNDS} runs")
    print(f"  engine only (baseline): {base * 1000:8.3f} ms/turn   ratio 1.0")
    print(f"  service on SQLite:      {full * 1000:8.3f} ms/turn   ratio {full / base:.1f}")


if __name__ == "__main__":
    main()
