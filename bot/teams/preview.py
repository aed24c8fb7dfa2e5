"""Ask the engine what it would say next, on a copy of the review, saving nothing.

A Teams card can hold several questions at once (the priority details), and a refused form
is drawn again with the question it answered. Both need the engine's own questions, with
its choices and real dates, before the person has answered: so the adapter runs the pure
engine on the loaded state and throws the result away. No wording or rule is repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.reviews import ReviewService, Who
from bot.teams.cards import PriorityForm, question_of
from workflows import review as engine
from workflows.replies import Question, StatementPrompt, Step

# What is typed in the dry run to reach the next question; never saved, never shown.
_PLACEHOLDER = "x"
_ASK_AGAIN = "help"  # the engine answers "help" by asking the current question again


@dataclass
class Preview:
    state: engine.ReviewState
    ctx: engine.Context

    @classmethod
    async def load(cls, service: ReviewService, organisation_id: int, who: Who) -> Preview | None:
        """The review in progress and a context built as the service builds it, or None."""
        snapshot = await service.snapshot(organisation_id, who.display_name)
        return cls(*snapshot) if snapshot else None

    def current_question(self) -> Question | StatementPrompt | None:
        """The question the review is waiting on, as the engine would ask it again."""
        return question_of(engine.handle(self.state, _ASK_AGAIN, self.ctx).replies)

    def priority_form(self) -> PriorityForm | None:
        """The target, next steps, owners and by-when questions of the current priority.

        None unless the review is waiting for a target level and the engine asks the three
        others in turn (if the engine ever changes that order, cards fall back to one
        question at a time).
        """
        cursor = self.state.cursor
        if cursor.step is not Step.TARGET or cursor.statement_id is None:
            return None
        target = self.current_question()
        if not isinstance(target, Question) or not target.choices:
            return None
        questions: list[Question] = []
        state = self.state
        for text in (target.choices[0].value, _PLACEHOLDER, _PLACEHOLDER):
            outcome = engine.handle(state, text, self.ctx)
            state = outcome.state
            asked = question_of(outcome.replies)
            if not isinstance(asked, Question):
                return None
            questions.append(asked)
        next_steps, owners, due = questions
        if (next_steps.step, owners.step, due.step) != (Step.NEXT_STEPS, Step.OWNERS, Step.DUE):
            return None
        answer = self.state.answers.get(cursor.statement_id)
        return PriorityForm(
            statement_id=cursor.statement_id,
            target=target,
            next_steps=next_steps,
            owners=owners,
            due=due,
            current=answer.action if answer is not None else None,
        )
