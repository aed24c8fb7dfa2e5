"""What the Slack adapter asks the service and the engine beyond a plain turn.

- `act`: an action command from a button or a form ("done 12", "progress 12 ..."), through
  `ReviewService.act`, which never reads it as a review answer.
- `Preview`: the engine's own questions for a form (the target levels above the current
  one, the half-terms with their real dates), and which of a form's answers it would refuse,
  worked out on a copy of the state: nothing is saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.reviews import ReviewService, TurnResult, Who
from workflows import review as engine
from workflows.replies import Message, Question, Step, Tone


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
    """The review as it stands and an engine context to ask it questions without saving."""

    state: engine.ReviewState
    ctx: engine.Context

    @classmethod
    async def load(cls, service: ReviewService, organisation_id: int, actor: str) -> Preview | None:
        snapshot = await service.snapshot(organisation_id, actor)
        return cls(*snapshot) if snapshot else None

    def at(self, statement_id: str | None, step: Step) -> bool:
        """Whether the review is waiting on this question now."""
        cursor = self.state.cursor
        return (
            not cursor.paused
            and not self.state.completed
            and cursor.statement_id == statement_id
            and cursor.step is step
        )

    def question(self, step: Step) -> Question | None:
        """The engine's question for `step` of the current statement ("help" asks it again)."""
        trial = self.state.model_copy(deep=True)
        trial.cursor.step = step
        trial.cursor.paused = False
        for reply in engine.handle(trial, "help", self.ctx).replies:
            if isinstance(reply, Question) and reply.step is step:
                return reply
        return None

    def refused_at(self, texts: Sequence[str]) -> int | None:
        """The index of the first answer of a form the engine would refuse, if any."""
        state = self.state
        for index, text in enumerate(texts):
            outcome = engine.handle(state, text, self.ctx)
            if any(isinstance(r, Message) and r.tone is Tone.ERROR for r in outcome.replies):
                return index
            state = outcome.state
        return None
