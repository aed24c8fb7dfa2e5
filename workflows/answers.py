"""What a careers leader records for one statement: level, evidence, note, flag, and the action."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Flag(StrEnum):
    """Whether a statement is an area of strength, a priority action area, or neither."""

    STRENGTH = "strength"
    PRIORITY = "priority"
    NONE = "none"

    @property
    def label(self) -> str:
        return {
            Flag.STRENGTH: "area of strength",
            Flag.PRIORITY: "priority action area",
            Flag.NONE: "neither",
        }[self]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvidenceLink(_Record):
    url: str
    label: str | None = None

    def __str__(self) -> str:
        return f"{self.label} – {self.url}" if self.label else self.url


class Owner(_Record):
    """An action owner: a person known to the bot, or initials/names typed as text ("HOFS")."""

    name: str
    person_id: int | None = None


class ActionDraft(_Record):
    """The priority details of an answer; storage keeps it as an Action."""

    target_level: int | None = None
    next_steps: str | None = None
    owners: list[Owner] = Field(default_factory=list)
    due: str | None = None  # canonical ByWhen code: "HT3", "HT3/4", "ongoing"
    due_year: str | None = None  # the academic year the half-term deadline falls in: "2025/26"
    # The stored Action this draft is, once saved (a carried priority keeps its action).
    action_id: int | None = None
    # "Not decided yet": asked and left open on purpose, as real plans leave a blank (seed
    # 003). Kept apart from the owners/deadline so nobody is ever a person called "TBC".
    owners_tbc: bool = False
    due_tbc: bool = False

    @property
    def complete(self) -> bool:
        return bool(
            self.target_level
            and self.next_steps
            and (self.owners or self.owners_tbc)
            and (self.due is not None or self.due_tbc)
        )

    @property
    def owner_names(self) -> list[str]:
        return [owner.name for owner in self.owners]


class Answer(_Record):
    """One statement's response in a review, saved piece by piece as it is given."""

    statement_id: str
    level: int | None = None
    evidence: list[EvidenceLink] = Field(default_factory=list)
    note: str | None = None
    flag: Flag | None = None
    # A priority's actions in the order given: a school may plan several for one statement
    # (seed 003 has two on 3.7), each its own row in the plan with its own owners and date.
    actions: list[ActionDraft] = Field(default_factory=list)
    # Taken over from the previous review and not yet confirmed or changed.
    carried: bool = False
    answered_by: str | None = None
    answered_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_action(cls, data: Any) -> Any:
        """`action=` (one action, as answers were before several) still builds an answer."""
        if isinstance(data, dict) and "action" in data:
            data = dict(data)
            one = data.pop("action")
            data.setdefault("actions", [one] if one is not None else [])
        return data

    @property
    def action(self) -> ActionDraft | None:
        """The first action: where one is enough (a form's defaults, a one-line summary)."""
        return self.actions[0] if self.actions else None

    @action.setter
    def action(self, value: ActionDraft | None) -> None:
        self.actions = [value] if value is not None else []

    @property
    def complete(self) -> bool:
        if self.carried or self.level is None or self.flag is None:
            return False
        if self.flag is Flag.PRIORITY:
            return bool(self.actions) and all(action.complete for action in self.actions)
        return True

    def content(self) -> dict[str, object]:
        """What was answered, without who and when: used to tell a real change from a re-save."""
        return self.model_dump(mode="json", exclude={"answered_by", "answered_at", "carried"})
