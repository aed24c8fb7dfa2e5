"""The priority card's questions for one person's place in the review, read without answering.

A Teams card holds the priority details (target, next steps, owners, by when) at once, so it
needs the engine's questions for all four: `FormPreview` (the service's, shared by every
channel) asks them on a copy, so nothing is replayed, guessed or saved here.
"""

from __future__ import annotations

from bot.reviews import FormPreview
from bot.teams.cards import PriorityForm
from workflows.replies import Step


def priority_form(preview: FormPreview) -> PriorityForm | None:
    """The target, next steps, owners and by-when questions of the current priority,
    or None unless this person's place waits for its target level."""
    pending = preview.state.pending(preview.ctx.actor_key)
    if pending is None or pending.step is not Step.TARGET or pending.statement_id is None:
        return None
    asked = [preview.question(step) for step in (Step.TARGET, Step.NEXT_STEPS, Step.OWNERS)]
    due = preview.question(Step.DUE)
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
        current=preview.current_action(),
    )
