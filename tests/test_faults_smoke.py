"""The fault script runs at its smallest size: nothing lost, nothing doubled (issue 11)."""

from __future__ import annotations

import pytest

from bench import faults

# Several processes on the real clock (leases, lock timeouts): with pytest-xdist these tests
# run one after another in one worker, never two such tests at once (Makefile: make test).
pytestmark = pytest.mark.xdist_group("processes")


def test_the_fault_script_loses_and_doubles_nothing() -> None:
    rows = faults.main(["--size", "2", "--lock-seconds", "5.5"])
    assert [r.scenario for _, r in rows] == list(faults.SCENARIOS)
    assert all(r.lost == 0 and r.doubled == 0 and r.delivered == r.expected > 0 for _, r in rows)
    kill = next(r for _, r in rows if r.scenario == "kill -9")
    assert kill.looked >= 1  # the send cut off by kill -9 was looked for, not sent again
