"""Who may do what: the Careers Leader and named colleagues answer; senior leaders view."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CAREERS_LEADER = "careers_leader"
    COLLEAGUE = "colleague"
    SLT = "slt"

    @property
    def label(self) -> str:
        return {
            Role.CAREERS_LEADER: "Careers Leader",
            Role.COLLEAGUE: "colleague who answers",
            Role.SLT: "senior leader (view only)",
        }[self]


ANSWERING = {Role.CAREERS_LEADER, Role.COLLEAGUE}

# Commands that only look: anyone in the organisation may use them.
VIEW_WORDS = {"help", "?", "summary", "progress", "plan", "action plan", "my actions", "actions",
              "due", "overdue"}  # fmt: skip


def may_answer(role: str | None, leader_named: bool) -> bool:
    """Until a Careers Leader is named (at set-up or by starting), anyone may answer."""
    if not leader_named:
        return True
    return role in {r.value for r in ANSWERING}


def may_change_action(role: str | None, leader_named: bool, owns_it: bool) -> bool:
    """Owners update their own actions; those who answer the review may update any."""
    return owns_it or may_answer(role, leader_named)


def may_configure(role: str | None, leader_named: bool, workspace_admin: bool = False) -> bool:
    """Set-up (the school's name, roles, channels): the Careers Leader, anyone before one is
    named, or the chat workspace's own admin (an IT admin installing it for the school)."""
    return workspace_admin or not leader_named or role == Role.CAREERS_LEADER.value


def leads(role: str | None) -> bool:
    """Only the named Careers Leader (e.g. choosing the channel senior leaders' digest goes to)."""
    return role == Role.CAREERS_LEADER.value
