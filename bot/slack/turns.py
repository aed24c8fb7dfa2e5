"""What the Slack adapter asks the service and the engine beyond a plain turn.

- `act`: an action command from a button or a form ("done 12", "progress 12 ..."), through
  `ReviewService.act`, which never reads it as a review answer.
- `Preview`: the engine's own questions for a form (the target levels above the current
  one, the deadlines with their real dates), asked on a copy of the state: nothing is saved.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.reviews import ReviewService, TurnResult, Who
from workflows import review as engine
from workflows.replies import Pending, Question, Step


async def act(
    service: ReviewService,
    organisation_id: int,
    who: Who,
    text: str,
    key: str | None = None,
) -> TurnResult:
    """Apply an action command (never read as a review answer); `key` makes repeats harmless."""
    return await service.act(organisation_id, who, text, key)


@dataclass(frozen=True)
class Preview:
    """The review as it stands and this person's engine context: to draw a form with the
    engine's own questions (target levels, dated deadlines) without saving anything."""

    state: engine.ReviewState
    ctx: engine.Context

    @classmethod
    async def load(cls, service: ReviewService, organisation_id: int, who: Who) -> Preview | None:
        snapshot = await service.snapshot(organisation_id, who)
        return cls(*snapshot) if snapshot else None

    def at(self, statement_id: str | None, step: Step) -> bool:
        """Whether this person's place waits on this question now."""
        return self.state.pending(self.ctx.actor_key) == Pending(step, statement_id)

    def question(self, step: Step) -> Question | None:
        """The engine's question for `step` of this person's current statement."""
        return engine.question_for(self.state, self.ctx, step)
