"""Who may answer, configure and choose the digest channel (pure rules)."""

from __future__ import annotations

from workflows.roles import leads, may_answer, may_change_action, may_configure


def test_who_may_configure_and_choose_the_digest_channel() -> None:
    assert may_configure(None, leader_named=False)  # before anyone leads, anyone sets up
    assert not may_configure("slt", leader_named=True)
    assert may_configure("slt", leader_named=True, workspace_admin=True)
    assert may_configure("careers_leader", leader_named=True)
    assert leads("careers_leader")
    assert not leads("colleague")


def test_who_may_answer_and_change_actions() -> None:
    assert may_answer(None, leader_named=False)
    assert may_answer("colleague", leader_named=True)
    assert not may_answer("slt", leader_named=True)
    assert may_change_action("slt", leader_named=True, owns_it=True)
    assert not may_change_action(None, leader_named=True, owns_it=False)
