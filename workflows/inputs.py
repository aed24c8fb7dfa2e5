"""What a person sends the review, typed by the channel that received it.

A channel never turns a button into text: a button is a `Choose` naming the question it
answers, a form is `Fields` (its answers in order, applied whole or not at all), and only
what a person typed is `Text`. So "done 12" typed as a note is a note, and a click on an
old card is recognised as stale instead of answering whatever the review asks now.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflows.replies import Step


@dataclass(frozen=True)
class Text:
    """Typed words: content for the question asked, or a control word alone on its line."""

    text: str


@dataclass(frozen=True)
class Choose:
    """A button or menu choice: the question it belongs to and the value chosen."""

    step: Step
    statement_id: str | None
    value: str


@dataclass(frozen=True)
class Fields:
    """A form's answers for consecutive questions of one statement, in order: all or none."""

    step: Step  # the question the form was opened on
    statement_id: str | None
    values: tuple[tuple[Step, str], ...]


Input = Text | Choose | Fields


# ----- peer review commands (workflows/peer_review.py parses them where typed text may be one)


@dataclass(frozen=True)
class InvitePeer:
    """A Careers Leader asks a peer to review chosen themes (empty: the whole model)."""

    themes: tuple[int, ...] = ()


@dataclass(frozen=True)
class JoinPeerReview:
    """A peer, in their own chat, takes up an invitation by its one-time code."""

    code: str


@dataclass(frozen=True)
class PeerResults:
    """The school asks for its peers' ratings side by side with its own."""


@dataclass(frozen=True)
class ResumePeerReview:
    """A peer returns to the statements they were rating."""


@dataclass(frozen=True)
class ClosePeerReview:
    """The school closes its peer review: no peer sees anything of it afterwards."""


PeerCommand = InvitePeer | JoinPeerReview | PeerResults | ResumePeerReview | ClosePeerReview
