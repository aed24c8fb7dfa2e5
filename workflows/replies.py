"""Channel-neutral replies: each adapter renders these natively (Block Kit, Adaptive Card, rich)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from model_data import Statement, Theme
from workflows.actions import ActionView
from workflows.answers import Answer
from workflows.documents import DocumentKind
from workflows.groups import Comparison, GroupView
from workflows.plan import ActionPlan, Summary


class Tone(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    ERROR = "error"


class Step(StrEnum):
    """Where the conversation is inside one statement (or the review)."""

    PARTICIPANTS = "participants"
    LEVEL = "level"
    EVIDENCE = "evidence"
    NOTE = "note"
    FLAG = "flag"
    TARGET = "target"
    NEXT_STEPS = "next_steps"
    OWNERS = "owners"
    DUE = "due"
    ANOTHER = "another"  # add another action for this statement?
    DONE = "done"
    # A peer rating another school's statement (workflows/peer_review.py).
    PEER_LEVEL = "peer_level"
    PEER_COMMENT = "peer_comment"
    PEER_ACTION = "peer_action"
    # The school going through its peer's ratings: agree a level, accept a suggested action.
    PEER_AGREE = "peer_agree"
    PEER_DRAFT = "peer_draft"
    PEER_OWNERS = "peer_owners"
    PEER_DUE = "peer_due"


@dataclass(frozen=True)
class Choice:
    """A button or menu option; `value` is the text the engine receives when it is chosen."""

    label: str
    value: str


@dataclass(frozen=True)
class Progress:
    position: int  # 1-based position of the statement in the edition
    total: int
    theme: int
    answered: int

    @property
    def text(self) -> str:
        return f"Statement {self.position} of {self.total} - Theme {self.theme}"


@dataclass(frozen=True)
class Message:
    """Plain text: a confirmation, an explanation, or a refusal (tone ERROR).

    `about` names the statement it reports on ("Level 2 saved for 1.1"), so a channel that
    keeps one message per statement shows it there instead of posting it."""

    text: str
    tone: Tone = Tone.INFO
    about: str | None = None


@dataclass(frozen=True)
class StatementPrompt:
    """The statement with its four level descriptors, asking for a level; or, when a review
    is resumed part-way through a statement, shown for context only (`asking` False): the
    question waiting is a later one, which follows, and a level typed or pressed here would
    answer nothing. The engine decides; every channel obeys."""

    statement: Statement
    progress: Progress
    theme: Theme | None  # set when a theme starts (or after a jump), so the header is shown
    current: Answer | None  # the answer given so far (or carried from the previous review)
    level_choices: list[Choice]
    text: str
    asking: bool = True


@dataclass(frozen=True)
class Question:
    """A question for the current step of a statement."""

    step: Step
    statement_id: str | None
    text: str
    choices: list[Choice] = field(default_factory=list)
    hint: str | None = None


@dataclass(frozen=True)
class StatementCard:
    """One statement as a single message that is updated as it is answered: the statement and
    its descriptors, the answer so far, what this turn said about it, and (only while this
    person's place waits on it) the question with the controls that answer it."""

    statement: Statement
    progress: Progress
    theme: Theme | None  # the theme's header, on the theme's first statement
    answer: Answer | None
    level_choices: list[Choice]
    question: Question | None
    notices: list[Message] = field(default_factory=list)


@dataclass(frozen=True)
class Pending:
    """The question a person's own place in the review waits on: what a card's buttons answer."""

    step: Step
    statement_id: str | None


@dataclass(frozen=True)
class Refusal:
    """Why an answer was not taken, and which question (form field) it was for."""

    step: Step
    reason: str
    stale: bool = False  # the button or form answered a question no longer asked


@dataclass(frozen=True)
class ShowSummary:
    summary: Summary


@dataclass(frozen=True)
class ShowPlan:
    plan: ActionPlan


@dataclass(frozen=True)
class ShowActions:
    """A list of actions (mine, due, overdue), each with its number for follow-up commands."""

    title: str
    actions: list[ActionView]
    today: date
    timezone: str = "Europe/London"  # the organisation's: times are shown in it


@dataclass(frozen=True)
class ShowAction:
    """One action with its dated history."""

    action: ActionView
    today: date
    timezone: str = "Europe/London"  # the organisation's: times are shown in it


@dataclass(frozen=True)
class SendDocument:
    """A document to send as a file (workflows/documents.py): each channel builds it off its
    event loop (bot/rendering.py) and sends it its own way, after the turn's reply."""

    kind: DocumentKind
    organisation_id: int
    review_id: int
    fmt: str = "docx"


@dataclass(frozen=True)
class ShowGroupView:
    """A lead's view of one group they lead (names of its schools included: theirs to see)."""

    view: GroupView


@dataclass(frozen=True)
class ShowComparison:
    """A school against its group's median per statement: group figures only, no names."""

    comparison: Comparison


@dataclass(frozen=True)
class Invitation:
    group_id: int
    name: str
    kind: str  # hub, trust


@dataclass(frozen=True)
class ShowInvitations:
    """Groups waiting for the school's answer, each with join and decline buttons (their
    values are the commands `join group 4` and `decline group 4`)."""

    organisation: str
    invitations: list[Invitation]


@dataclass(frozen=True)
class SendGroupWorkbook:
    """The group view as an .xlsx file for a lead: drawn off the event loop
    (bot/rendering.py) and sent by each channel its own way, after the turn's reply."""

    group_id: int


@dataclass(frozen=True)
class PeerComparisonRow:
    """One statement as the school and its peer rated it, and the level agreed (if any)."""

    statement_id: str
    label: str
    school_level: int | None
    peer_level: int | None
    comment: str | None
    suggestion: str | None
    agreed: int | None = None

    @property
    def differs(self) -> bool:
        return self.school_level != self.peer_level


@dataclass(frozen=True)
class ShowPeerComparison:
    """A peer's ratings beside the school's own, the statements where they differ first."""

    title: str
    peer: str
    rows: list[PeerComparisonRow]


Reply = (
    Message
    | StatementPrompt
    | Question
    | StatementCard
    | ShowSummary
    | ShowPlan
    | ShowActions
    | ShowAction
    | SendDocument
    | ShowGroupView
    | ShowComparison
    | ShowInvitations
    | SendGroupWorkbook
    | ShowPeerComparison
)
