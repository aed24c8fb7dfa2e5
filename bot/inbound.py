"""What a channel hands the turn pipeline: who, where, and what, typed.

Every channel's parser makes an `Inbound`; `ReviewService.handle` takes nothing else. Kept
apart from the service so that the services built on it (workspaces) and the channels can
share these types without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflows import actions
from workflows.inputs import Input, PeerCommand


@dataclass(frozen=True)
class Who:
    """A chat identity as an adapter sees it."""

    channel: str
    external_id: str
    display_name: str
    workspace: str = ""


@dataclass(frozen=True)
class OpenReview:
    """Open (resume) the review, or start a new one from the last answers (or `blank`)."""

    new: bool = False
    blank: bool = False


# What a person asked for, typed by the channel: an answer (typed text, a button, a form),
# opening the review, or an action command from a button ("done 12" as a typed intent).
What = Input | OpenReview | actions.Command | PeerCommand


@dataclass(frozen=True)
class Conversation:
    """Where the turn came from, to speak there later (reminders to a DM): kept in the turn."""

    conversation_id: str
    kind: str  # "personal" or "channel"
    reference: dict[str, object]


@dataclass(frozen=True)
class Inbound:
    """One turn from any channel: who, which school, what, and a key that makes a retry
    (Slack's redelivery, a double click, Teams sending the same submit twice) harmless."""

    organisation_id: int
    who: Who
    what: What
    key: str | None = None
    conversation: Conversation | None = None
