"""The SQL benchmark still runs against the service (counts only; no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from bench import sql


async def test_the_sql_counter_sees_every_service_turn(tmp_path: Path) -> None:
    rows = await sql.service_rows(tmp_path)
    assert [r.turn for r in rows][:3] == ["open review (new)", "open review (resume)",
                                          "participants"]  # fmt: skip
    level = next(r for r in rows if r.turn == "level answer")
    assert level.tally.statements and level.tally.begins >= 1
    assert all(len(r.tally.statements) > 0 for r in rows)
