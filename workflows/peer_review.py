"""Peer-to-peer review (issue 13): the pure rules, channel-neutral, with no storage or clock.

A school's Careers Leader invites peers (a Careers Leader of another school of a shared
group, or the group's facilitator) to rate chosen themes, or the whole model, of its latest
review. Each peer goes through those statements one at a time in their own chat: the
statement and its four descriptors, with the school's note and evidence links, but never
the school's own level until the peer has given theirs. Then a short comment and an
optional suggested "highest leverage action". The school then sees the two side by side
(differences first), agrees a level per statement, and accepts or declines each suggested
action as a draft, giving owners and a deadline through the review's own parsers.

Like the review engine, a turn is a reducer: state and an input in, new state and typed
replies out, with the pending question and typed refusals. Storage lives in
storage/peer_reviews.py, the turn in bot/peer_reviews.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from model_data import MaturityModel, Statement
from workflows import messages as msg
from workflows.deadlines import ByWhen, DeadlineError, parse_by_when
from workflows.inputs import (
    Choose,
    ClosePeerReview,
    Fields,
    Input,
    InvitePeer,
    JoinPeerReview,
    PeerCommand,
    PeerResults,
    ResumePeerReview,
)
from workflows.limits import MAX_TEXT, tidy
from workflows.notices import Notice
from workflows.replies import (
    Choice,
    Message,
    PeerComparisonRow,
    Pending,
    Question,
    Refusal,
    Reply,
    Step,
    Tone,
)
from workflows.review import Context as ReviewContext

PEER_STEPS = {Step.PEER_LEVEL, Step.PEER_COMMENT, Step.PEER_ACTION}
SCHOOL_STEPS = {Step.PEER_AGREE, Step.PEER_DRAFT, Step.PEER_OWNERS, Step.PEER_DUE}
FREE_TEXT_STEPS = {Step.PEER_COMMENT, Step.PEER_ACTION, Step.PEER_OWNERS}

# ----- wording (neutral: each channel draws it its own way) ---------------------------------

INVITED = (
    "Peer review of {scope} of '{title}' opened. Give this one-time code to your peer "
    "reviewer (a Careers Leader of another school in your group, or its facilitator): "
    "{code}\nThey type 'peer join {code}' in their own chat with the bot. Type 'peer review' "
    "again for a code for another peer, 'peer results' to see their ratings beside yours, and "
    "'close peer review' when you have agreed."
)
ANOTHER_CODE = (
    "Another one-time code for your open peer review of {scope}: {code}\n"
    "They type 'peer join {code}' in their own chat with the bot."
)
OTHER_SCOPE_OPEN = (
    "Your open peer review covers {scope}. Close it ('close peer review') before inviting "
    "peers to review {asked}."
)
NOT_LEADER = (
    "Only the school's Careers Leader can invite peers, agree levels or close a peer review."
)
NO_REVIEW = "There is no review to peer review yet: start one with 'review'."
NO_SUCH_THEME = "There is no theme {theme}: themes are numbered 1 to {last}."
BAD_CODE = "That is not a peer review code, or it has been used already."
CLOSED = "This peer review is closed."
NOT_A_PEER = (
    "Only a Careers Leader of another school in a group with {school}, or a facilitator "
    "of such a group, can review it."
)
OWN_SCHOOL = "A school's own Careers Leader cannot peer review it: the code is for someone else."
JOINED = (
    "You are peer reviewing {school}: {count} statements of {scope}. For each, read the "
    "statement, the school's note and evidence, and give your level; the school's own level "
    "is shown once you have given yours. Type 'pause' to stop and 'peer resume' to carry on."
)
WELCOME_BACK = "Back to your peer review of {school}: {done} of {count} statements rated."
NOTHING_TO_RESUME = "You have no peer review to carry on."
PAUSED = "Paused your peer review of {school}. Type 'peer resume' to carry on."
LEVEL_NOTED = "Your level {level} is noted for {label}. {school} rated itself {theirs}."
NOT_RATED_BY_SCHOOL = "not yet"
SKIPPED = "Skipped {label}."
FINISHED = (
    "Thank you: your peer review of {school} is complete. Its Careers Leader now sees your "
    "ratings beside theirs."
)
ASK_LEVEL = "Which level do you see for {label}? (1 to 4)"
ASK_COMMENT = (
    "A short comment for the school on {label}: what you saw, what would raise it. "
    "('skip' for none)"
)
ASK_ACTION = (
    "Your suggested highest-leverage action for {label}, if any. It becomes a draft action "
    "the school may accept. ('skip' for none)"
)
NOT_A_LEVEL = "Please give a level from 1 to 4 ('skip' to leave this statement, 'pause' to stop)."
NO_BACK = "Back is not available in a peer review: each answer is saved as given."
TOO_LONG = "Please keep it under {limit} characters."
SCHOOL_NOTE = "The school's note: {note}"
NO_SCHOOL_NOTE = "The school left no note."
SCHOOL_EVIDENCE = "The school's evidence: {links}"
NO_SCHOOL_EVIDENCE = "The school gave no evidence links."

NO_PEER_REVIEW = (
    "There is no open peer review: start one with 'peer review all' or 'peer review themes 1,3'."
)
NO_RESULTS_YET = "No peer has finished rating yet ({joined} of {invited} invited have joined)."
COMPARISON_TITLE = "{peer}'s ratings beside yours: {scope}"
ASK_AGREE = (
    "{label}: you said {ours}, {peer} said {theirs}. Which level do you agree? "
    "('ours', 'peer', or 1 to 4)"
)
NOT_AN_AGREEMENT = "Please choose 'ours', 'peer', or a level from 1 to 4."
AGREED = "Agreed level {level} for {label} (yours {ours}, {peer}'s {theirs})."
ASK_DRAFT = '{peer} suggests for {label}: "{suggestion}". Make it an action in your plan?'
NOT_ACCEPT_DECLINE = "Please answer 'accept' or 'decline'."
DECLINED = "Declined the suggested action for {label}."
ACTION_MADE = "Action #{number} added to your plan for {label}: {owners}, {by_when}."
ALL_AGREED = "All agreed: every level and suggested action is settled. Type 'close peer review' when you are done."
PEER_CLOSED = "Peer review closed. Peers no longer see anything of {school}."
READY_TITLE = "{peer} has finished peer reviewing {school}"
READY_LINE = "Type 'peer results' to see their ratings beside yours and agree the levels."
AGREEING_PAUSED = "Paused. Type 'peer results' to carry on agreeing."

_LEVEL = re.compile(r"^(?:level\s*|l)?([1-4])$")
_CODE = re.compile(r"^[A-Z0-9-]{6,40}$")
ACCEPT_WORDS = {"accept", "yes", "y", "ok", "accept it"}
DECLINE_WORDS = {"decline", "no", "n", "reject", "decline it"}
_OURS = {"ours", "our level", "school", "keep ours", "ours please"}
_THEIRS = {"peer", "peers", "peer's", "theirs", "their level"}


def _word(text: str) -> str:
    return " ".join(text.lower().split()).rstrip("!.")


# ----- commands ---------------------------------------------------------------------------


def parse_command(text: str) -> PeerCommand | None:
    """A peer review command typed in full ("peer review themes 1,3", "peer join CODE",
    "peer results", "peer resume", "close peer review"); None for anything else, so the
    service only asks here where typed words are not an answer (free text is content)."""
    word = _word(text)
    if word in {"peer results", "peer review results"}:
        return PeerResults()
    if word in {"peer resume", "resume peer review"}:
        return ResumePeerReview()
    if word in {"close peer review", "peer review close", "peer close"}:
        return ClosePeerReview()
    if word == "peer join" or word.startswith("peer join "):
        parts = text.split(None, 2)
        code = parts[2].strip().upper() if len(parts) == 3 else ""
        return JoinPeerReview(code if _CODE.match(code) else "")
    if word in {"peer review", "peer review all", "peer review the whole model"}:
        return InvitePeer()
    found = re.fullmatch(r"peer review themes? ([0-9][0-9 ,and&]*)", word)
    if found:
        numbers = tuple(sorted({int(n) for n in re.findall(r"\d+", found.group(1))}))
        return InvitePeer(numbers)
    return None


def statements_for(model: MaturityModel, themes: Sequence[int]) -> tuple[str, ...]:
    """The statements of the chosen themes, in the model's order (all for none chosen).
    Raises ValueError naming a theme the model does not have."""
    numbers = {t.number for t in model.themes}
    for theme in themes:
        if theme not in numbers:
            raise ValueError(NO_SUCH_THEME.format(theme=theme, last=max(numbers)))
    return tuple(s.id for s in model.statements if not themes or s.theme_number in themes)


def scope_text(themes: Sequence[int]) -> str:
    """ "the whole model", "theme 2", "themes 1 and 3"."""
    if not themes:
        return "the whole model"
    if len(themes) == 1:
        return f"theme {themes[0]}"
    return "themes " + ", ".join(str(t) for t in themes[:-1]) + f" and {themes[-1]}"


# ----- the peer's side ----------------------------------------------------------------------


@dataclass(frozen=True)
class SchoolAnswer:
    """What the peer may read of the school's answer. The level is here for the reveal after
    the peer has answered and for the side by side; the question never shows it."""

    level: int | None = None
    note: str | None = None
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rating:
    level: int | None = None
    comment: str | None = None
    suggestion: str | None = None
    done: bool = False  # every question of the statement answered (or skipped)


@dataclass(frozen=True)
class PeerPlace:
    """Where the peer is: a statement and one of its three questions; None when finished."""

    statement_id: str | None
    step: Step = Step.PEER_LEVEL


@dataclass(frozen=True)
class PeerState:
    school: str
    statements: tuple[str, ...]
    school_answers: Mapping[str, SchoolAnswer]
    ratings: Mapping[str, Rating]
    place: PeerPlace

    @property
    def finished(self) -> bool:
        return self.place.statement_id is None

    @property
    def rated(self) -> int:
        return sum(1 for sid in self.statements if self.ratings.get(sid, Rating()).done)


@dataclass
class PeerOutcome:
    state: PeerState
    replies: list[Reply] = field(default_factory=list)
    refusal: Refusal | None = None
    unrecognised: bool = False  # typed words that answer nothing here: maybe a command
    paused: bool = False
    changed: list[str] = field(default_factory=list)  # statements whose rating was written

    @property
    def pending(self) -> Pending | None:
        if self.paused or self.state.finished:
            return None
        return Pending(self.state.place.step, self.state.place.statement_id)


def first_place(statements: Sequence[str], ratings: Mapping[str, Rating]) -> PeerPlace:
    """Where a peer starts or resumes: the first statement not yet fully rated, at its
    first unanswered question."""
    for sid in statements:
        rating = ratings.get(sid, Rating())
        if rating.done:
            continue
        if rating.level is None:
            return PeerPlace(sid, Step.PEER_LEVEL)
        if rating.comment is None:
            return PeerPlace(sid, Step.PEER_COMMENT)
        return PeerPlace(sid, Step.PEER_ACTION)
    return PeerPlace(None)


def peer_question(state: PeerState, model: MaturityModel) -> Question | None:
    """The question the peer's place waits on. At the level question: the statement, its
    descriptors, the school's note and evidence, and never the school's level."""
    sid, step = state.place.statement_id, state.place.step
    if sid is None:
        return None
    statement = model.statement(sid)
    label = statement.short_label
    if step is Step.PEER_LEVEL:
        return Question(
            step,
            sid,
            ASK_LEVEL.format(label=label),
            [Choice(f"Level {n}", str(n)) for n in range(1, 5)],
            hint=statement_text(statement, state.school_answers.get(sid, SchoolAnswer())),
        )
    if step is Step.PEER_COMMENT:
        return Question(step, sid, ASK_COMMENT.format(label=label))
    return Question(step, sid, ASK_ACTION.format(label=label))


def statement_text(statement: Statement, answer: SchoolAnswer) -> str:
    """The statement as the peer reads it: title, the four descriptors, the school's note and
    evidence links. Built from named parts so the school's level cannot slip in."""
    lines = [f"{statement.id} {statement.title}"]
    for level in sorted(statement.levels):
        text = statement.level_text(level)
        if text is not None:
            lines.append(f"Level {level}: {text}")
    lines.append(SCHOOL_NOTE.format(note=answer.note) if answer.note else NO_SCHOOL_NOTE)
    lines.append(
        SCHOOL_EVIDENCE.format(links=" ".join(answer.evidence))
        if answer.evidence
        else NO_SCHOOL_EVIDENCE
    )
    return "\n".join(lines)


def resume(state: PeerState, model: MaturityModel, joined: bool = False) -> PeerOutcome:
    """Joining, or coming back: where the peer is, and the question their place waits on."""
    outcome = PeerOutcome(state)
    if joined:
        return outcome  # the service says "joined" with the scope, then asks
    outcome.replies.append(
        Message(
            WELCOME_BACK.format(school=state.school, done=state.rated, count=len(state.statements))
        )
    )
    _ask(outcome, model)
    return outcome


def rate(state: PeerState, given: Input, model: MaturityModel) -> PeerOutcome:
    """One answer from the peer: a level, a comment or a suggested action (typed, or a
    button naming its question). A button for another question is stale and changes nothing."""
    outcome = PeerOutcome(state)
    place = state.place
    if place.statement_id is None:
        outcome.replies.append(Message(FINISHED.format(school=state.school)))
        return outcome
    if isinstance(given, Fields):
        outcome.refusal = Refusal(place.step, msg.STALE_QUESTION, stale=True)
        outcome.replies.append(Message(msg.STALE_QUESTION, Tone.ERROR))
        return outcome
    if isinstance(given, Choose) and (
        given.step is not place.step or given.statement_id != place.statement_id
    ):
        outcome.refusal = Refusal(given.step, msg.STALE_QUESTION, stale=True)
        outcome.replies.append(Message(msg.STALE_QUESTION, Tone.ERROR))
        _ask(outcome, model)
        return outcome
    text = tidy(given.value if isinstance(given, Choose) else given.text).strip()
    word = _word(text)
    sid = place.statement_id
    label = model.statement(sid).short_label
    rating = state.ratings.get(sid, Rating())
    if word == "pause":
        outcome.paused = True
        outcome.replies.append(Message(PAUSED.format(school=state.school)))
        return outcome
    if word == "back":
        _refuse(outcome, NO_BACK, model)
        return outcome
    if place.step is Step.PEER_LEVEL:
        if word == "skip":
            _write(outcome, sid, Rating(done=True))
            outcome.replies.append(Message(SKIPPED.format(label=label), about=sid))
            _next(outcome, model)
            return outcome
        found = _LEVEL.match(word)
        if found is None:
            if isinstance(given, Choose):
                _refuse(outcome, NOT_A_LEVEL, model)
            else:
                outcome.unrecognised = True
                outcome.refusal = Refusal(place.step, NOT_A_LEVEL)
                outcome.replies.append(Message(NOT_A_LEVEL, Tone.ERROR))
            return outcome
        level = int(found.group(1))
        _write(outcome, sid, replace(rating, level=level))
        theirs = state.school_answers.get(sid, SchoolAnswer()).level
        outcome.replies.append(
            Message(
                LEVEL_NOTED.format(
                    level=level,
                    label=label,
                    school=state.school,
                    theirs=f"level {theirs}" if theirs is not None else NOT_RATED_BY_SCHOOL,
                ),
                Tone.SUCCESS,
                about=sid,
            )
        )
        _move(outcome, PeerPlace(sid, Step.PEER_COMMENT), model)
        return outcome
    # The comment and the suggested action are free text: all of it is content, except a
    # control word alone ("skip", "pause", "back").
    if len(text) > MAX_TEXT:
        _refuse(outcome, TOO_LONG.format(limit=MAX_TEXT), model)
        return outcome
    content = None if word in {"skip", "none", "-"} or not text else text
    if place.step is Step.PEER_COMMENT:
        _write(outcome, sid, replace(rating, comment=content or ""))
        _move(outcome, PeerPlace(sid, Step.PEER_ACTION), model)
        return outcome
    _write(outcome, sid, replace(rating, suggestion=content, done=True))
    _next(outcome, model)
    return outcome


def _write(outcome: PeerOutcome, sid: str, rating: Rating) -> None:
    ratings = dict(outcome.state.ratings)
    ratings[sid] = rating
    outcome.state = replace(outcome.state, ratings=ratings)
    outcome.changed.append(sid)


def _move(outcome: PeerOutcome, place: PeerPlace, model: MaturityModel) -> None:
    outcome.state = replace(outcome.state, place=place)
    _ask(outcome, model)


def _next(outcome: PeerOutcome, model: MaturityModel) -> None:
    place = first_place(outcome.state.statements, outcome.state.ratings)
    outcome.state = replace(outcome.state, place=place)
    if place.statement_id is None:
        outcome.replies.append(Message(FINISHED.format(school=outcome.state.school), Tone.SUCCESS))
        return
    _ask(outcome, model)


def _ask(outcome: PeerOutcome, model: MaturityModel) -> None:
    question = peer_question(outcome.state, model)
    if question is not None:
        outcome.replies.append(question)


def _refuse(outcome: PeerOutcome, reason: str, model: MaturityModel) -> None:
    outcome.refusal = Refusal(outcome.state.place.step, reason)
    outcome.replies.append(Message(reason, Tone.ERROR))
    _ask(outcome, model)


# ----- the school's side: side by side, agreement, drafts -------------------------------------


def comparison(
    model: MaturityModel,
    statements: Sequence[str],
    school_levels: Mapping[str, int | None],
    ratings: Mapping[str, Rating],
    agreed: Mapping[str, int],
) -> list[PeerComparisonRow]:
    """Each rated statement with both levels, the statements where they differ first (the
    widest gap first), then the rest in the model's order."""
    rows = []
    for sid in statements:
        rating = ratings.get(sid)
        if rating is None or rating.level is None:
            continue  # skipped by the peer: nothing to compare
        rows.append(
            PeerComparisonRow(
                statement_id=sid,
                label=model.statement(sid).short_label,
                school_level=school_levels.get(sid),
                peer_level=rating.level,
                comment=rating.comment or None,
                suggestion=rating.suggestion,
                agreed=agreed.get(sid),
            )
        )
    order = {sid: n for n, sid in enumerate(statements)}

    def gap(row: PeerComparisonRow) -> int:
        if not row.differs:
            return 0
        return abs((row.school_level or 0) - (row.peer_level or 0))

    return sorted(rows, key=lambda r: (not r.differs, -gap(r), order[r.statement_id]))


def agree_question(row: PeerComparisonRow, peer: str) -> Question:
    ours = row.school_level if row.school_level is not None else "–"
    choices = [
        Choice(f"Ours: level {ours}", "ours"),
        Choice(f"{peer}'s: level {row.peer_level}", "peer"),
        *(Choice(f"Level {n}", str(n)) for n in range(1, 5)),
    ]
    if row.school_level is None:
        choices.pop(0)
    text = ASK_AGREE.format(label=row.label, ours=ours, peer=peer, theirs=row.peer_level)
    hint = f"{peer}'s comment: {row.comment}" if row.comment else None
    return Question(Step.PEER_AGREE, row.statement_id, text, choices, hint)


def agreed_level(value: str, row: PeerComparisonRow) -> int | None:
    """'ours', 'peer' or a level 1-4 as the agreed level; None if it is none of them."""
    word = _word(value)
    if word in _OURS:
        return row.school_level
    if word in _THEIRS:
        return row.peer_level
    found = _LEVEL.match(word)
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class Draft:
    """A peer's suggested action on its way to the school's plan."""

    peer_id: int
    peer: str
    statement_id: str
    suggestion: str
    status: str  # pending, owners, due (then accepted or declined, no longer a draft)


def draft_step(draft: Draft) -> Step:
    return {"owners": Step.PEER_OWNERS, "due": Step.PEER_DUE}.get(draft.status, Step.PEER_DRAFT)


def draft_question(draft: Draft, model: MaturityModel, ctx: ReviewContext) -> Question:
    """Accept or decline; then owners and a deadline, asked as the review asks them (the same
    choices: the school's people; HT1-HT6 and spans with their real dates)."""
    label = model.statement(draft.statement_id).short_label
    step = draft_step(draft)
    hint = f"Suggested action for {label}: {draft.suggestion}"
    if step is Step.PEER_OWNERS:
        choices = [Choice(p.name, p.initials or p.name) for p in ctx.people][:10]
        return Question(step, draft.statement_id, msg.ASK_OWNERS, choices, hint)
    if step is Step.PEER_DUE:
        return Question(step, draft.statement_id, msg.ASK_DUE, ctx.due_choices(), hint)
    text = ASK_DRAFT.format(peer=draft.peer, label=label, suggestion=draft.suggestion)
    return Question(
        step, draft.statement_id, text, [Choice("Accept", "accept"), Choice("Decline", "decline")]
    )


def draft_decision(value: str) -> bool | None:
    word = _word(value)
    if word in ACCEPT_WORDS:
        return True
    if word in DECLINE_WORDS:
        return False
    return None


def deadline_of(text: str) -> ByWhen | str:
    """A deadline as the review reads one (HT3, HT3/4, ongoing), or why it is not one."""
    try:
        return parse_by_when(text)
    except DeadlineError as exc:
        return str(exc)


def row_levels(row: PeerComparisonRow, peer: str) -> str:
    """One comparison row's levels in a few words, the same in every channel:
    "You: level 2 · Alex: level 3 · differs · agreed: level 3"."""
    ours = f"level {row.school_level}" if row.school_level is not None else "not rated"
    parts = [f"You: {ours}", f"{peer}: level {row.peer_level}"]
    parts.append("differs" if row.differs else "same")
    if row.agreed is not None:
        parts.append(f"agreed: level {row.agreed}")
    return " · ".join(parts)


def finished_notice(peer: str, school: str) -> Notice:
    """What the school's Careers Leader is sent, unasked, when a peer has finished."""
    return Notice(
        kind="peer_review",
        title=READY_TITLE.format(peer=peer, school=school),
        sections=[("", [READY_LINE])],
    )
