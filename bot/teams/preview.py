"""The engine's own questions for one person's place in the review, read without answering.

A Teams card can hold several questions at once (the priority details), and a refused form
is drawn again on its statement's card. Both need the engine's questions (their
text, choices and real dates) for this person's current statement: `engine.question_for`
asks them on a copy, so nothing is replayed, guessed or saved here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.reviews import ReviewService, Who
from bot.teams.cards import PriorityForm
from workflows import review as engine
from workflows.replies import Question, StatementCard, Step


@dataclass
class Preview:
    state: engine.ReviewState
    ctx: engine.Context

    @classmethod
    async def load(
        cls, service: ReviewService, organisation_id: int, who: Who, person_id: int | None
    ) -> Preview | None:
        """The review in progress, seen from this person's place (each has their own)."""
        snapshot = await service.snapshot(organisation_id, who.display_name)
        if snapshot is None:
            return None
        state, ctx = snapshot
        return cls(state, replace(ctx, actor_id=person_id))

    @property
    def statement_id(self) -> str | None:
        return self.state.cursor_for(self.ctx.actor_key).statement_id

    def card(self, statement_id: str) -> StatementCard:
        """A statement's one card as the engine draws it for this person now (a refused
        form is shown again on it, with what was typed and why)."""
        return engine.statement_card(self.state, self.ctx, statement_id)

    def question(self, step: Step) -> Question | None:
        """The engine's question for `step` of this person's current statement."""
        return engine.question_for(self.state, self.ctx, step)

    def priority_form(self) -> PriorityForm | None:
        """The target, next steps, owners and by-when questions of the current priority,
        or None unless this person's place waits for its target level."""
        pending = self.state.pending(self.ctx.actor_key)
        if pending is None or pending.step is not Step.TARGET or pending.statement_id is None:
            return None
        asked = [self.question(step) for step in (Step.TARGET, Step.NEXT_STEPS, Step.OWNERS)]
        due = self.question(Step.DUE)
        target, next_steps, owners = asked
        if target is None or next_steps is None or owners is None or due is None:
            return None
        if not target.choices:
            return None
        return PriorityForm(
            statement_id=pending.statement_id,
            target=target,
            next_steps=next_steps,
            owners=owners,
            due=due,
            current=engine.current_action(self.state, self.ctx),
        )
