"""Following actions through the year: "my actions", "overdue", "done 12 ...", "move 12 to HT5".

Pure: the service loads the organisation's actions into `ActionView`s, asks `parse_command`
what was meant, and applies the `ActionChange` this module returns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from workflows import messages as msg
from workflows.answers import Owner
from workflows.calendar import CalendarError, TermCalendar
from workflows.deadlines import ByWhen, DeadlineError, parse_by_when
from workflows.documents import DocumentKind, document_kind
from workflows.groups import GROUP_COMMANDS, GroupCommand, parse_group_command
from workflows.links import LinkError, parse_links
from workflows.plan import ActionStatus, ActionUpdateView

SNOOZE_DAYS = 7


class Listing(StrEnum):
    MINE = "mine"
    ALL = "all"
    DUE = "due"
    OVERDUE = "overdue"
    DONE = "done"
    DROPPED = "dropped"


class Verb(StrEnum):
    SHOW = "show"
    PROGRESS = "progress"
    DONE = "done"
    DROP = "drop"
    REASSIGN = "reassign"
    MOVE = "move"
    SNOOZE = "snooze"


@dataclass(frozen=True)
class ListActions:
    listing: Listing


@dataclass(frozen=True)
class ActOn:
    """A command on one action, by the school's own action number (never the internal id)."""

    verb: Verb
    number: int
    rest: str = ""


@dataclass(frozen=True)
class ListReviews:
    """`reviews`: the school's reviews with their numbers, dates, status and counts."""


@dataclass(frozen=True)
class AddAction:
    """`add action 2.3 <next steps>`: an action outside a review, with defaults to adjust."""

    statement_id: str
    next_steps: str


@dataclass(frozen=True)
class AnswerHistory:
    """`history 2.3`: how an answer changed in the latest review."""

    statement_id: str


@dataclass(frozen=True)
class MakeDocument:
    """`evidence pack`, `governors report`, `policy draft`: the document as a file."""

    kind: DocumentKind
    fmt: str = "docx"


@dataclass(frozen=True)
class OpenDashboard:
    """`dashboard`: a link to the school's dashboard page, made for the person who asked."""


@dataclass(frozen=True)
class SetDocumentPeople:
    """`set link governor Jo Bloggs`, `set careers hub Kent and Medway`: who the governors'
    report and the policy draft name (the Careers Leader's; the CLI's `org set` does the same).
    An empty name (`set link governor none`) clears it."""

    link_governor: str | None = None
    careers_hub: str | None = None


@dataclass(frozen=True)
class GovernorsReportWithDigest:
    """`governors report with digest on|off`: whether the weekly digest carries the
    governors' report in the first week of each half-term (the Careers Leader's)."""

    on: bool


Command = (
    ListActions
    | ActOn
    | ListReviews
    | AddAction
    | AnswerHistory
    | MakeDocument
    | SetDocumentPeople
    | GovernorsReportWithDigest
    | GroupCommand
    | OpenDashboard
)
COMMANDS = (
    ListActions,
    ActOn,
    ListReviews,
    AddAction,
    AnswerHistory,
    MakeDocument,
    SetDocumentPeople,
    GovernorsReportWithDigest,
    *GROUP_COMMANDS,
    OpenDashboard,
)

_LISTINGS = {
    Listing.MINE: {"my actions", "my action", "mine", "my jobs"},
    Listing.ALL: {"actions", "all actions", "open actions", "action list"},
    Listing.DUE: {
        "due",
        "actions due",
        "due this half-term",
        "due this half term",
        "actions due this half-term",
        "actions due this half term",
        "this half-term",
        "this half term",
    },
    Listing.OVERDUE: {"overdue", "overdue actions", "late", "late actions"},
    Listing.DONE: {"actions done", "done actions", "completed actions", "finished actions"},
    Listing.DROPPED: {"actions dropped", "dropped actions", "cancelled actions"},
}
_REVIEWS = {"reviews", "list reviews", "past reviews", "all reviews"}
_DASHBOARD = {"dashboard", "my dashboard", "dashboard link", "open dashboard", "open the dashboard"}
_STATEMENT = r"(?P<sid>\d\.\d{1,2})"
_ADD = re.compile(
    rf"^\s*(?:add|new)\s+action\s+(?:for\s+)?{_STATEMENT}\b[\s:,-]*(?P<rest>.*)$", re.I | re.S
)
_HISTORY = re.compile(
    rf"^\s*(?:history|changes)\s+(?:of\s+|for\s+)?{_STATEMENT}\s*[?.!]?\s*$", re.I
)
# Settings always begin "set ..." or name the report and say on/off, so no answer, note or
# next step reads as one (and at a free-text step nothing typed is a command anyway).
_SET_PERSON = re.compile(
    r"^\s*set\s+(?:the\s+|our\s+)?(?P<who>link\s+governor|careers\s+hub)\b"
    r"(?:\s+(?:to|as|is)\b|\s*[:=])?\s*(?P<name>.*?)\s*$",
    re.I | re.S,
)
_CLEAR = {"none", "nobody", "no one", "-", "clear"}  # `set link governor none` clears it
_WITH_DIGEST = re.compile(
    r"^\s*governors[’']?\s+report\s+(?:with|in)\s+(?:the\s+)?digests?\s*[:=]?\s*"
    r"(?P<switch>on|off|yes|no)\s*[.!]?\s*$",
    re.I,
)
_VERB_WORDS = {
    Verb.SHOW: ("action", "show", "history"),
    Verb.PROGRESS: ("progress", "update", "started"),
    Verb.DONE: ("done", "complete", "completed", "finished"),
    Verb.DROP: ("drop", "cancel"),
    Verb.REASSIGN: ("reassign", "assign"),
    Verb.MOVE: ("move", "defer", "postpone", "deadline"),
    Verb.SNOOZE: ("snooze",),
}
_ACT = re.compile(
    r"^\s*(?P<verb>[a-z]+)\s+(?:action\s+)?#?(?P<id>\d{1,9})\b[\s:,-]*(?P<rest>.*)$", re.I | re.S
)


def parse_command(text: str) -> Command | None:
    """The action command in `text`, or None if it is not one (then it is a review answer)."""
    plain = " ".join(text.lower().split()).rstrip("?.!")
    group = parse_group_command(text)
    if group is not None:
        return group
    for listing, words in _LISTINGS.items():
        if plain in words:
            return ListActions(listing)
    if plain in _REVIEWS:
        return ListReviews()
    if plain in _DASHBOARD:
        return OpenDashboard()
    kind = document_kind(text)
    if kind is not None:
        return MakeDocument(kind)
    person = _SET_PERSON.match(text)
    if person:
        name: str | None = person.group("name")
        if not name:
            return SetDocumentPeople()  # no name given: the service says how
        if name.lower() in _CLEAR:
            name = ""
        if "governor" in person.group("who").lower():
            return SetDocumentPeople(link_governor=name)
        return SetDocumentPeople(careers_hub=name)
    switch = _WITH_DIGEST.match(text)
    if switch:
        return GovernorsReportWithDigest(switch.group("switch").lower() in {"on", "yes"})
    added = _ADD.match(text)
    if added:
        return AddAction(added.group("sid"), added.group("rest").strip())
    history = _HISTORY.match(text)
    if history:
        return AnswerHistory(history.group("sid"))
    match = _ACT.match(text)
    if not match:
        return None
    word = match.group("verb").lower()
    for verb, spellings in _VERB_WORDS.items():
        if word in spellings:
            return ActOn(verb, int(match.group("id")), match.group("rest").strip())
    return None


@dataclass(frozen=True)
class ActionView:
    """An action as people see it: which statement, where to, who, by when, how it is going."""

    id: int
    statement_id: str
    statement_label: str
    current_level: int
    target_level: int | None
    next_steps: str | None
    owners: tuple[Owner, ...]
    due: str | None
    due_year: str | None
    due_date: date | None
    status: ActionStatus
    updated_at: datetime
    updates: tuple[ActionUpdateView, ...] = ()
    created_at: datetime | None = None
    number: int | None = None  # the school's own number; `id` stays internal

    @property
    def ref(self) -> int:
        """The number people see and type (`done 3`)."""
        return self.number if self.number is not None else self.id

    @property
    def owner_names(self) -> list[str]:
        return [o.name for o in self.owners]

    @property
    def by_when(self) -> str:
        if not self.due:
            return ""
        text = parse_by_when(self.due).label
        if self.due_date is not None:
            text += f" (ends {self.due_date:%a} {self.due_date.day} {self.due_date:%b %Y})"
        return text

    def owned_by(self, person_id: int | None, names: Sequence[str]) -> bool:
        wanted = {n.casefold() for n in names if n}
        return any(
            (person_id is not None and o.person_id == person_id) or o.name.casefold() in wanted
            for o in self.owners
        )

    def overdue(self, today: date) -> bool:
        return self.status.open and self.due_date is not None and self.due_date < today


@dataclass(frozen=True)
class ActionChange:
    """What to store for one command: new field values and the dated update that explains them."""

    action_id: int
    kind: str
    status: ActionStatus | None = None
    owners: tuple[Owner, ...] | None = None
    due: str | None = None
    due_year: str | None = None
    note: str | None = None
    link: str | None = None
    before: dict[str, object] = field(default_factory=dict)
    after: dict[str, object] = field(default_factory=dict)


def select(
    actions: Sequence[ActionView],
    listing: Listing,
    today: date,
    person_id: int | None,
    names: Sequence[str],
    calendar: TermCalendar | None,
) -> list[ActionView]:
    """The actions a listing asks for, soonest deadline first."""
    open_actions = [a for a in actions if a.status.open]
    if listing in (Listing.DONE, Listing.DROPPED):
        closed = [a for a in actions if a.status.value == listing.value]
        return sorted(closed, key=lambda a: (a.updated_at, a.ref), reverse=True)
    if listing is Listing.MINE:
        chosen = [a for a in open_actions if a.owned_by(person_id, names)]
    elif listing is Listing.OVERDUE:
        chosen = [a for a in open_actions if a.overdue(today)]
    elif listing is Listing.DUE:
        end = _end_of_current_half_term(calendar, today)
        chosen = [
            a
            for a in open_actions
            if a.due_date is not None and end is not None and a.due_date <= end
        ]
    else:
        chosen = open_actions
    return sorted(chosen, key=lambda a: (a.due_date or date.max, a.statement_id))


def _end_of_current_half_term(calendar: TermCalendar | None, today: date) -> date | None:
    if calendar is None:
        return None
    try:
        return calendar.current_or_next_half_term(today).end
    except CalendarError:
        return None


def change(
    command: ActOn,
    action: ActionView,
    today: date,
    calendar: TermCalendar | None,
    resolve_owner: OwnerResolver,
) -> ActionChange:
    """The change a command makes; raises ValueError with a helpful message on bad input."""
    note, link = _note_and_link(command.rest)
    if command.verb is Verb.DONE:
        return ActionChange(action.id, "done", status=ActionStatus.DONE, note=note, link=link,
                            before={"status": action.status.value}, after={"status": "done"})  # fmt: skip
    if command.verb is Verb.PROGRESS:
        if not note and not link:
            raise ValueError(msg.ACTION_NEEDS_NOTE.format(id=action.id))
        return ActionChange(action.id, "progress", status=ActionStatus.IN_PROGRESS, note=note,
                            link=link, before={"status": action.status.value},
                            after={"status": "in_progress"})  # fmt: skip
    if command.verb is Verb.DROP:
        return ActionChange(action.id, "dropped", status=ActionStatus.DROPPED, note=note,
                            before={"status": action.status.value}, after={"status": "dropped"})  # fmt: skip
    if command.verb is Verb.REASSIGN:
        text = re.sub(r"^\s*to\b\s*", "", command.rest, flags=re.I)
        names = [n.strip() for n in re.split(r"\s*(?:,|/|;|&|\band\b)\s*", text) if n.strip()]
        if not names:
            raise ValueError(msg.REASSIGN_HOW.format(id=action.id))
        owners = tuple(resolve_owner(name) for name in names)
        return ActionChange(action.id, "reassigned", owners=owners,
                            before={"owners": action.owner_names},
                            after={"owners": [o.name for o in owners]})  # fmt: skip
    if command.verb is Verb.MOVE:
        text = re.sub(r"^\s*to\b\s*", "", command.rest, flags=re.I)
        if not text.strip():
            raise ValueError(msg.MOVE_HOW.format(id=action.id))
        try:
            by_when = parse_by_when(text)
        except DeadlineError as exc:
            raise ValueError(str(exc)) from exc
        year = _due_year(by_when, today, calendar)
        return ActionChange(action.id, "deadline", due=by_when.code, due_year=year,
                            before={"due": action.due, "due_year": action.due_year},
                            after={"due": by_when.code, "due_year": year})  # fmt: skip
    if command.verb is Verb.SNOOZE:
        until = today + timedelta(days=SNOOZE_DAYS)
        return ActionChange(action.id, "snoozed", note=note, after={"until": until.isoformat()})
    raise ValueError(f"cannot {command.verb.value} an action")


def _due_year(by_when: ByWhen, today: date, calendar: TermCalendar | None) -> str | None:
    if calendar is None or by_when.ongoing:
        return None
    try:
        due = calendar.due(by_when, today)
    except CalendarError:
        return None
    return due[0] if due else None


def _note_and_link(rest: str) -> tuple[str | None, str | None]:
    """Split "Shared with governors https://a and minutes https://b" into a note and a link.

    An update stores one link, so the first is the update's link and every further one is
    kept, with its own words, at the end of the note: no link a person gave is dropped.
    """
    if not rest:
        return None, None
    try:
        links = parse_links(rest)
    except LinkError:
        return rest.strip() or None, None
    first, *others = links
    parts = [(first.label or "").strip()]
    for link in others:
        label = re.sub(r"^(?:and|&|also|plus)\b\s*", "", link.label or "", flags=re.I).strip()
        parts.append(f"{label} {link.url}" if label else link.url)
    note = "; ".join(part for part in parts if part) or None
    return note, first.url


class OwnerResolver:
    """Turns a typed name or initials into an Owner, matching the organisation's people."""

    def __init__(self, people: Sequence[tuple[int, str, str | None]]) -> None:
        self.people = people

    def __call__(self, name: str) -> Owner:
        lowered = name.casefold()
        for person_id, display, initials in self.people:
            if initials and lowered == initials.casefold():
                return Owner(name=initials, person_id=person_id)
            if lowered == display.casefold():
                return Owner(name=display, person_id=person_id)
        return Owner(name=name)
