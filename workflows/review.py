"""The review conversation: a pure reducer, (state, input, context) -> (new state, replies).

It knows nothing of Slack, Teams, SQL or the clock: time and the people known to the
organisation come in through `Context`, and storage persists the returned state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from model_data import Edition, Glossary, MaturityModel, Statement
from workflows import messages as msg
from workflows.answers import ActionDraft, Answer, EvidenceLink, Flag, Owner
from workflows.calendar import CalendarError, TermCalendar, local_date
from workflows.deadlines import ByWhen, DeadlineError, parse_by_when
from workflows.glossary import glossary_query, lookup, suggest
from workflows.inputs import Choose, Fields, Input, Text
from workflows.limits import MAX_INPUT, MAX_NAME, MAX_TEXT, tidy
from workflows.links import LinkError, parse_links
from workflows.plan import ActionPlan, Summary, build_action_plan, build_summary
from workflows.replies import (
    Choice,
    Message,
    Pending,
    Progress,
    Question,
    Refusal,
    Reply,
    ShowPlan,
    ShowSummary,
    StatementCard,
    StatementPrompt,
    Step,
    Tone,
)

MAX_LINKS = 20
MAX_NOTE = 2000
MAX_OWNER = 60

_STEP_ORDER = [Step.LEVEL, Step.EVIDENCE, Step.NOTE, Step.FLAG, Step.TARGET, Step.NEXT_STEPS,
               Step.OWNERS, Step.DUE, Step.ANOTHER]  # fmt: skip
# The questions about one action: the cursor's `action` says which of the statement's.
ACTION_STEPS = {Step.TARGET, Step.NEXT_STEPS, Step.OWNERS, Step.DUE, Step.ANOTHER}
# At the owners and by-when questions: decided later, saved as "not decided" (shown TBC),
# never as a person or a deadline called "TBC". ("later" is content here, not a pause.)
_TBC_WORDS = {
    "tbc",
    "tbd",
    "to be confirmed",
    "to be decided",
    "not decided",
    "not decided yet",
    "not yet decided",
    "undecided",
    "later",
    "decide later",
    "decided later",
    "not sure yet",
}
_YES_WORDS = {
    "yes",
    "y",
    "yes please",
    "add another",
    "add another action",
    "another",
    "another action",
    "add an action",
    "add action",
}
_NO_WORDS = {"no", "n", "no thanks", "no more", "none", "done", "that's all", "next", "finished"}

_DONE_WORDS = {
    "done",
    "none",
    "no",
    "n",
    "next",
    "-",
    "nothing",
    "no more",
    "that's all",
    "finished",
}
_KEEP_WORDS = {"keep", "same", "confirm", "still right", "unchanged"}
# Alone on their line these steer the conversation, whatever question is being asked.
CONTROL_WORDS = {"back", "skip", "pause", "help", "?"}
_HELP_WORDS = {"help", "?", "commands"}
_PAUSE_WORDS = {"pause", "stop", "quit", "exit", "later", "bye"}
# At the note step these alone mean "no note"; anything longer is the note.
_NO_NOTE_WORDS = {"none", "no", "no note", "-", "nothing", "n/a", "na"}
_RESUME_WORDS = {"resume", "continue", "carry on", "start", "review"}
_FLAG_WORDS = {
    Flag.STRENGTH: {"s", "strength", "area of strength", "a strength", "strong"},
    Flag.PRIORITY: {
        "p",
        "priority",
        "priority action area",
        "a priority",
        "action",
        "priority area",
    },
    Flag.NONE: {"n", "neither", "none", "no", "nothing", "not sure"},
}
# Steps that take free text: everything typed there is the answer, except a control word
# alone on its line. ("Edit handbook" is a next step, "What is working: SLT buy-in" a note.)
FREE_TEXT_STEPS = {Step.PARTICIPANTS, Step.NOTE, Step.NEXT_STEPS, Step.OWNERS}
# "go 2.3": only with something shaped like a statement number, so it cannot be a sentence.
_GO = re.compile(
    r"^\s*(?:go\s*to|goto|go|change|edit|jump\s*to)\s+(?:statement\s+)?(?P<id>\d{1,2}\.\d{1,2})"
    r"\s*[.?]?\s*$",
    re.IGNORECASE,
)
_LEVEL = re.compile(r"^\s*(?:level\s*|l)?(?P<n>[+-]?\d+)\s*\.?\s*$", re.IGNORECASE)
_NOT_YET = re.compile(r"^\s*not\s+yet(\s+at\s+level\s*2)?\s*$", re.IGNORECASE)
# Owners split on commas, semicolons, slashes and new lines; "and" / "&" only between people
# the organisation knows ("Head of Teaching and Learning" is one owner).
_OWNER_SPLIT = re.compile(r"\s*(?:,|/|;|\n)\s*")
_OWNER_AND = re.compile(r"\s+(?:and|&)\s+|\s*&\s*", re.IGNORECASE)
_ME = {"me", "myself"}


@dataclass(frozen=True)
class Person:
    """Someone the organisation knows, so owners typed as initials become real people."""

    id: int
    name: str
    initials: str | None = None


@dataclass(frozen=True)
class Context:
    """What a turn needs from outside: the model, the moment, who is answering, the calendar."""

    model: MaturityModel
    glossary: Glossary
    now: datetime
    actor: str
    people: Sequence[Person] = ()
    calendar: TermCalendar | None = None
    timezone: str = "Europe/London"
    actor_id: int | None = None  # the person answering, when the organisation knows them

    @property
    def actor_key(self) -> str:
        """Whose place in the review this turn moves: each person keeps their own."""
        return str(self.actor_id) if self.actor_id is not None else f"name:{self.actor}"

    @property
    def today(self) -> date:
        """The organisation's local date (a late-evening answer in BST is tomorrow in UTC)."""
        return local_date(self.now, self.timezone)

    def due_choices(self) -> list[Choice]:
        """Every deadline a plan may give (HT1-HT6, spans such as HT3/4, ongoing), each with
        its real date, in date order from the next one due; the same list in every channel."""
        codes = [f"HT{n}" for n in range(1, 7)] + [f"HT{n}/{n + 1}" for n in range(1, 6)]
        dated: list[tuple[date, int, Choice]] = []
        for index, code in enumerate(codes):
            by_when = parse_by_when(code)
            when = None
            if self.calendar is not None:
                try:
                    found = self.calendar.due(by_when, self.today)
                except CalendarError:
                    found = None
                when = found[1] if found else None
            dated.append((when or date.max, index, Choice(self.deadline(by_when)[1], code)))
        dated.sort(key=lambda item: (item[0], item[1]))
        return [choice for _, _, choice in dated] + [Choice("Ongoing", "ongoing")]

    def deadline(self, by_when: ByWhen) -> tuple[str | None, str]:
        """The academic year a deadline falls in, and how to say it: "HT3 - ends Fri 13 Feb 2026"."""
        if self.calendar is None or by_when.ongoing:
            return None, by_when.label
        try:
            due = self.calendar.due(by_when, self.today)
        except CalendarError:
            return None, by_when.label
        if due is None:
            return None, by_when.label
        return due[0], self.calendar.describe(by_when, due[0])


class Cursor(BaseModel):
    """One person's place in a review: the statement and question they are on."""

    model_config = ConfigDict(extra="forbid")

    statement_id: str | None = None
    step: Step = Step.PARTICIPANTS
    paused: bool = False
    shown_theme: int | None = None
    action: int = 0  # which of the statement's actions the action questions are about


class ReviewState(BaseModel):
    """Everything the conversation needs; storage keeps the answers as rows, the rest as JSON.

    Answers belong to the organisation; places (`cursors`) belong to people, so a colleague's
    message never answers the question the Careers Leader is on.
    """

    model_config = ConfigDict(extra="forbid")

    title: str
    edition: Edition
    cursors: dict[str, Cursor] = Field(default_factory=dict)
    last_actor: str | None = None
    participants: list[str] = Field(default_factory=list)
    answers: dict[str, Answer] = Field(default_factory=dict)
    completed: bool = False
    based_on_title: str | None = None

    @property
    def cursor(self) -> Cursor:
        """The place of whoever moved last (a review read without a person in mind)."""
        if self.last_actor is not None and self.last_actor in self.cursors:
            return self.cursors[self.last_actor]
        return self.cursor_for("")

    def cursor_for(self, key: str) -> Cursor:
        """A person's place; someone new to a started review starts paused, to be resumed."""
        found = self.cursors.get(key)
        if found is not None:
            return found
        if self.participants or self.cursors:
            return Cursor(step=Step.LEVEL, paused=True)
        return Cursor()

    def pending(self, key: str) -> Pending | None:
        """The question a person's place waits on, or None (paused, finished, not started)."""
        cursor = self.cursors.get(key)
        if cursor is None or cursor.paused or cursor.step is Step.DONE:
            return None
        return Pending(cursor.step, cursor.statement_id)

    def conversation(self) -> dict[str, object]:
        """The part of the state that is not answers: kept as JSON with the review."""
        return self.model_dump(mode="json", include={"cursors", "last_actor", "participants"})

    def answered(self) -> int:
        return sum(1 for a in self.answers.values() if a.complete)


@dataclass
class Outcome:
    state: ReviewState
    replies: list[Reply] = field(default_factory=list)
    pending: Pending | None = None  # what the person's place now waits on
    refusal: Refusal | None = None  # the first refusal, with the question it was for
    # Neither an answer nor one of the review's commands: the caller may try its own
    # commands (actions) before showing the refusal in `replies`.
    unrecognised: bool = False
    # The statements this turn concerned (where the person was, what was said about, where
    # they are now): a channel with one message per statement updates these.
    touched: list[str] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return self.refusal is not None


def new_review(
    model: MaturityModel,
    title: str,
    previous: dict[str, Answer] | None = None,
    previous_title: str | None = None,
) -> ReviewState:
    """A fresh review; answers from a previous one are carried, to be confirmed one by one."""
    answers: dict[str, Answer] = {}
    for statement_id, answer in (previous or {}).items():
        if answer.level is None:
            continue
        answers[statement_id] = answer.model_copy(
            deep=True, update={"carried": True, "answered_by": None, "answered_at": None}
        )
    return ReviewState(
        title=title,
        edition=model.edition,
        answers=answers,
        based_on_title=previous_title if previous else None,
    )


def open_review(state: ReviewState, ctx: Context) -> Outcome:
    """What to say when someone opens the review: the first question, or where they left off."""
    turn = _Turn(state, ctx)
    if turn.cursor.step is Step.PARTICIPANTS and not state.participants:
        turn.cursor.paused = False  # paused at the start: opening it again carries on
        turn.say(
            msg.STARTED.format(title=state.title, edition=ctx.model.edition.label, total=turn.total)
        )
        if state.based_on_title:
            turn.say(msg.STARTED_FROM.format(previous=state.based_on_title))
        turn.ask(Step.PARTICIPANTS)
    else:
        turn.resume()
    return turn.outcome()


def handle(state: ReviewState, given: Input | str, ctx: Context) -> Outcome:
    """Apply one input (typed text, a button, a form) to the person's place in the review."""
    turn = _Turn(state, ctx)
    if isinstance(given, str):
        given = Text(given)
    given = _tidied(given)
    too_long = _too_long(given)
    if too_long:
        turn.refuse(msg.INPUT_TOO_LONG.format(limit=MAX_INPUT))
        return turn.outcome()
    if isinstance(given, Text):
        turn.dispatch(given.text)
    elif isinstance(given, Choose):
        turn.choose(given)
    else:
        return turn.fill(given)
    return turn.outcome()


def statement_card(
    state: ReviewState,
    ctx: Context,
    statement_id: str,
    notices: Sequence[Message] = (),
    controls: bool = True,
) -> StatementCard:
    """A statement as one message: the answer so far and, while this person's place waits on
    it, exactly the pending question with the controls that answer it."""
    turn = _Turn(state, ctx)
    statement = ctx.model.statement(statement_id)
    answer = state.answers.get(statement_id)
    if answer is not None and answer.level is None and not answer.evidence:
        answer = None
    pending = state.pending(ctx.actor_key) if controls else None
    question = None
    if pending is not None and pending.statement_id == statement_id:
        if pending.step is Step.LEVEL:
            keep = answer is not None and answer.level is not None
            text = msg.ASK_LEVEL
            if keep and answer is not None:
                text = msg.ASK_LEVEL_CARRIED if answer.carried else msg.ASK_LEVEL_KEEP
            choices = turn.level_choices(statement) + ([Choice("Keep", "keep")] if keep else [])
            question = Question(Step.LEVEL, statement_id, text, choices)
        else:
            question = question_for(state, ctx, pending.step)
    ids = [s.id for s in ctx.model.statements]
    first_of_theme = next(
        s.id for s in ctx.model.statements if s.theme_number == statement.theme_number
    )
    return StatementCard(
        statement=statement,
        progress=Progress(
            position=ids.index(statement_id) + 1,
            total=len(ids),
            theme=statement.theme_number,
            answered=state.answered(),
        ),
        theme=ctx.model.theme(statement.theme_number) if first_of_theme == statement_id else None,
        answer=answer,
        level_choices=turn.level_choices(statement),
        question=question,
        notices=list(notices),
    )


def _tidied(given: Input) -> Input:
    """The input without control characters (NUL included), before anything reads it."""
    if isinstance(given, Text):
        return Text(tidy(given.text))
    if isinstance(given, Choose):
        return Choose(given.step, given.statement_id, tidy(given.value))
    return Fields(given.step, given.statement_id, tuple((s, tidy(v)) for s, v in given.values))


def _too_long(given: Input) -> bool:
    if isinstance(given, Text):
        return len(given.text) > MAX_INPUT
    if isinstance(given, Choose):
        return len(given.value) > MAX_INPUT
    return sum(len(v) for _, v in given.values) > MAX_INPUT


def question_for(state: ReviewState, ctx: Context, step: Step) -> Question | None:
    """The engine's own question for `step` of the person's current statement (with its
    choices and real dates), asked on a copy: a form shows exactly what typing would offer."""
    trial = _Turn(state, ctx)
    trial.cursor.step = step
    trial.cursor.paused = False
    trial.ask(step, brief=True)
    return next((r for r in trial.replies if isinstance(r, Question) and r.step is step), None)


def current_action(state: ReviewState, ctx: Context) -> ActionDraft | None:
    """The action this person's place is on (a form for a second action shows the second)."""
    cursor = state.cursors.get(ctx.actor_key)
    answer = state.answers.get(cursor.statement_id or "") if cursor is not None else None
    if cursor is None or answer is None or cursor.action >= len(answer.actions):
        return None
    return answer.actions[cursor.action]


class _Turn:
    """One turn: works on a deep copy of the state, collecting replies."""

    def __init__(self, state: ReviewState, ctx: Context) -> None:
        self.state = state.model_copy(deep=True)
        self.ctx = ctx
        self.key = ctx.actor_key
        self._cursor = self.state.cursor_for(self.key)
        waiting = not self._cursor.paused and self._cursor.step is not Step.DONE
        self.started_on = self._cursor.statement_id if waiting else None
        self.replies: list[Reply] = []
        self.refusal: Refusal | None = None
        self.unrecognised = False
        self.statements = ctx.model.statements
        self.ids = [s.id for s in self.statements]
        self.total = len(self.statements)

    # ----- plumbing -------------------------------------------------------------------------

    def outcome(self) -> Outcome:
        if self.key not in self.state.cursors and self._cursor != self.state.cursor_for(self.key):
            self.state.cursors[self.key] = self._cursor
        if self.key in self.state.cursors:
            self.state.last_actor = self.key
        pending = self.state.pending(self.key)
        touched = [self.started_on] if self.started_on else []
        touched += [r.about for r in self.replies if isinstance(r, Message) and r.about]
        if pending is not None and pending.statement_id:
            touched.append(pending.statement_id)
        return Outcome(
            self.state,
            self.replies,
            pending=pending,
            refusal=self.refusal,
            unrecognised=self.unrecognised,
            touched=list(dict.fromkeys(touched)),
        )

    def say(self, text: str, tone: Tone = Tone.INFO, about: str | None = None) -> None:
        self.replies.append(Message(text, tone, about))

    def note(self, text: str, tone: Tone = Tone.SUCCESS) -> None:
        """Something said about the statement this person is on (shown on its card)."""
        self.say(text, tone, self.cursor.statement_id)

    def refuse(self, text: str, step: Step | None = None) -> None:
        """A clear refusal, then the same question again; nothing saved is touched."""
        if self.refusal is None:
            self.refusal = Refusal(step or self.cursor.step, text)
        self.say(text, Tone.ERROR, self.cursor.statement_id)
        if self.cursor.step is not Step.DONE and not self.cursor.paused:
            self.ask(self.cursor.step, brief=True)

    @property
    def cursor(self) -> Cursor:
        return self._cursor

    @property
    def statement(self) -> Statement:
        assert self.cursor.statement_id is not None
        return self.ctx.model.statement(self.cursor.statement_id)

    def answer(self, statement_id: str | None = None) -> Answer:
        sid = statement_id or self.cursor.statement_id
        assert sid is not None
        if sid not in self.state.answers:
            self.state.answers[sid] = Answer(statement_id=sid)
        return self.state.answers[sid]

    def action(self) -> ActionDraft:
        """The action the person's place is on (the cursor's `action` of this statement)."""
        answer = self.answer()
        while len(answer.actions) <= self.cursor.action:
            answer.actions.append(ActionDraft())
        return answer.actions[self.cursor.action]

    def first_open_action(self, statement_id: str) -> int:
        """Where to pick a statement's actions up: the first one not yet complete."""
        answer = self.state.answers.get(statement_id)
        actions = answer.actions if answer is not None else []
        return next((i for i, a in enumerate(actions) if not a.complete), 0)

    def touch(self, answer: Answer) -> None:
        answer.carried = False
        answer.answered_by = self.ctx.actor
        answer.answered_at = self.ctx.now

    def complete(self, statement_id: str) -> bool:
        answer = self.state.answers.get(statement_id)
        return answer is not None and answer.complete

    def label(self, statement_id: str | None = None) -> str:
        sid = statement_id or self.cursor.statement_id
        return self.ctx.model.statement(sid).short_label if sid else ""

    # ----- dispatch -------------------------------------------------------------------------

    def dispatch(self, raw: str) -> None:
        """Typed text: content first (for the question asked), then the review's commands.

        At a free-text step everything but a control word alone on its line is the answer.
        """
        # Spaces are tidied but line breaks kept: a form's next steps come one per line.
        text = "\n".join(" ".join(line.split()) for line in raw.splitlines() if line.strip())
        word = " ".join(text.split()).lower().rstrip("!.")
        if not text:
            self.refuse(msg.EMPTY_INPUT)
            return
        if word in CONTROL_WORDS or word in _HELP_WORDS:
            self.control(word)
            return
        waiting = not self.cursor.paused and self.cursor.step is not Step.DONE
        if waiting and self.cursor.step in FREE_TEXT_STEPS:
            self.answer_step(text, word)
            return
        if waiting and self.accepts(text, word):
            self.answer_step(text, word)
            return
        if self.command(text, word):
            return
        if not waiting:
            self.unrecognised = True
            self.say(self.not_waiting())
            return
        self.unrecognised = True
        self.answer_step(text, word)  # not an answer either: the step's own refusal says why

    def control(self, word: str) -> None:
        if word in _HELP_WORDS:
            self.say(msg.HELP)
            if self.cursor.step is not Step.DONE and not self.cursor.paused:
                self.ask(self.cursor.step, brief=True)
        elif word == "pause":
            self.pause()
        elif self.cursor.paused or (self.cursor.step is Step.DONE and word != "back"):
            self.say(self.not_waiting())
        elif word == "back":
            self.back()
        elif word == "skip" and self.cursor.statement_id and self.cursor.step is not Step.DONE:
            self.skip()
        else:
            self.refuse(msg.NOTHING_TO_SKIP)

    def not_waiting(self) -> str:
        """Why typed words answered nothing: finished, paused, or this person not in it yet."""
        if self.cursor.step is Step.DONE:
            return msg.ALREADY_COMPLETE
        if self.key not in self.state.cursors and self.state.cursors:
            return msg.NOT_JOINED
        return msg.STILL_PAUSED

    def command(self, text: str, word: str) -> bool:
        """The review's own commands, for text that is not an answer to the question asked."""
        term = glossary_query(text)
        if term is not None:
            self.explain(term)
            return True
        if word in {"summary", "progress", "grid"}:
            self.replies.append(ShowSummary(self.summary()))
            return True
        if word in {"plan", "action plan"}:
            self.replies.append(ShowPlan(self.plan()))
            return True
        if word in _RESUME_WORDS and (
            self.cursor.paused
            or self.cursor.step is not Step.PARTICIPANTS
            or self.state.participants
        ):
            self.resume()
            return True
        go = _GO.match(text)
        if go:
            self.go(go.group("id"))
            return True
        return False

    def accepts(self, text: str, word: str) -> bool:
        """Whether typed text is an answer to the question asked (a choice step, evidence)."""
        step = self.cursor.step
        if word in _KEEP_WORDS:
            return True
        if step is Step.LEVEL:
            return bool(_LEVEL.match(text) or _NOT_YET.match(text))
        if step is Step.EVIDENCE:
            return (
                word in _DONE_WORDS
                or word in {"clear", "remove all", "delete all"}
                or bool(re.search(r"\b[a-z][a-z0-9+.-]*://", text, re.IGNORECASE))
            )
        if step is Step.FLAG:
            return any(word in words for words in _FLAG_WORDS.values())
        if step is Step.TARGET:
            return bool(_LEVEL.match(text))
        if step is Step.ANOTHER:
            return word in _YES_WORDS or word in _NO_WORDS
        if step is Step.DUE:
            if word in _TBC_WORDS:
                return True
            try:
                parse_by_when(text)
            except DeadlineError:
                return bool(re.match(r"^\s*(?:ht|on\s*going)", text, re.IGNORECASE))
            return True
        return True

    def answer_step(self, text: str, word: str) -> None:
        handler = getattr(self, f"on_{self.cursor.step.value}")
        handler(text, word)

    def choose(self, chosen: Choose) -> None:
        """A button: it answers the question it was drawn for, or nothing (stale)."""
        if not self.current(chosen.step, chosen.statement_id):
            self.stale(chosen.step, chosen.statement_id)
            return
        word = " ".join(chosen.value.split()).lower()
        if word in CONTROL_WORDS:
            self.control(word)
            return
        self.answer_step(chosen.value.strip(), word)

    def fill(self, form: Fields) -> Outcome:
        """A form's answers, one question after another: all of them, or none and why."""
        original = self.state.model_copy(deep=True)
        if not self.current(form.step, form.statement_id):
            self.stale(form.step, form.statement_id)
            return self.outcome()
        replies: list[Reply] = []
        for step, value in form.values:
            self.replies = []
            if self.cursor.step is not step or self.cursor.statement_id != form.statement_id:
                self.refusal = Refusal(step, msg.FORM_OUT_OF_STEP)
            else:
                self.answer_step(value.strip(), " ".join(value.split()).lower())
            if self.refusal is not None:
                refusal = self.refusal
                self.state = original
                self._cursor = original.cursor_for(self.key)
                return Outcome(
                    original,
                    [Message(refusal.reason, Tone.ERROR)],
                    pending=original.pending(self.key),
                    refusal=refusal,
                )
            replies.extend(self.replies)
        self.replies = replies
        return self.outcome()

    def current(self, step: Step, statement_id: str | None) -> bool:
        """Whether the person's place waits on this question now."""
        cursor = self.cursor
        return (
            not cursor.paused
            and cursor.step is not Step.DONE
            and cursor.step is step
            and cursor.statement_id == statement_id
        )

    def stale(self, step: Step, statement_id: str | None) -> None:
        self.refusal = Refusal(step, msg.STALE_QUESTION, stale=True)
        self.say(msg.STALE_QUESTION, Tone.ERROR, statement_id)

    # ----- navigation -----------------------------------------------------------------------

    def first_incomplete(self, after: str | None = None, exclude: str | None = None) -> str | None:
        """The next unanswered statement after `after` (wrapping round), or the first one."""
        start = self.ids.index(after) + 1 if after in self.ids else 0
        for sid in self.ids[start:] + self.ids[:start]:
            if sid != exclude and not self.complete(sid):
                return sid
        return None

    def resume_step(self, statement_id: str) -> Step:
        """Where to pick a partly answered statement up again."""
        answer = self.state.answers.get(statement_id)
        if answer is None or answer.level is None or answer.carried:
            return Step.LEVEL
        if answer.flag is None:
            return Step.EVIDENCE
        if answer.flag is Flag.PRIORITY:
            actions = answer.actions or [ActionDraft()]
            action = actions[self.first_open_action(statement_id)]
            if not action.target_level or action.target_level <= answer.level:
                return Step.TARGET
            if not action.next_steps:
                return Step.NEXT_STEPS
            if not action.owners and not action.owners_tbc:
                return Step.OWNERS
            if action.due is None and not action.due_tbc:
                return Step.DUE
        return Step.LEVEL

    def move_to(
        self, statement_id: str, step: Step = Step.LEVEL, action: int | None = None
    ) -> None:
        """Put the person's place on a question; on another statement, at its first open action."""
        if action is not None:
            self.cursor.action = action
        elif statement_id != self.cursor.statement_id or step not in ACTION_STEPS:
            self.cursor.action = self.first_open_action(statement_id)
        self.cursor.statement_id = statement_id
        self.cursor.step = step
        self.ask(step)

    def advance(self) -> None:
        """After a statement is finished: on to the next unanswered one, or the end."""
        was_completed = self.state.completed
        nxt = self.first_incomplete(after=self.cursor.statement_id)
        if nxt is None:
            self.finish(updated=was_completed)
            return
        self.state.completed = False
        self.move_to(nxt, self.resume_step(nxt))

    def finish(self, updated: bool = False) -> None:
        self.state.completed = True
        self.cursor.step = Step.DONE
        self.say(msg.UPDATED_COMPLETE if updated else msg.COMPLETE, Tone.SUCCESS)
        self.replies.append(ShowSummary(self.summary()))
        self.replies.append(ShowPlan(self.plan()))

    def pause(self) -> None:
        self.cursor.paused = True
        where = self.label() or "the start"
        self.say(msg.PAUSED.format(label=where, answered=self.state.answered(), total=self.total))

    def resume(self) -> None:
        self.cursor.paused = False
        if self.cursor.step is Step.PARTICIPANTS:
            self.ask(Step.PARTICIPANTS)
            return
        current = self.cursor.statement_id
        partial = self.state.answers.get(current or "")
        step: Step
        if (
            partial is not None
            and partial.level is not None
            and not partial.complete
            and not partial.carried
            and self.cursor.step is not Step.DONE
        ):
            # Half-way through a statement: carry on with the same question.
            target, step = partial.statement_id, self.cursor.step
        else:
            nxt = self.first_incomplete()
            if nxt is None:
                self.finish()
                return
            target, step = nxt, self.resume_step(nxt)
        self.say(
            msg.WELCOME_BACK.format(
                answered=self.state.answered(), total=self.total, label=self.label(target)
            )
        )
        self.cursor.shown_theme = None
        self.cursor.statement_id = target
        self.cursor.step = step
        if step is not Step.LEVEL:
            self.prompt_statement(asking=False)
        self.ask(step)

    def go(self, raw_id: str) -> None:
        sid = raw_id.strip().rstrip(".?")
        if sid not in self.ids:
            self.say(
                msg.NO_SUCH_STATEMENT.format(
                    value=raw_id, edition=self.ctx.model.edition.label, last=self.ids[-1]
                ),
                Tone.ERROR,
            )
            if self.cursor.step is not Step.DONE and not self.cursor.paused:
                self.ask(self.cursor.step, brief=True)
            return
        self.cursor.paused = False
        self.cursor.shown_theme = None
        self.move_to(sid, Step.LEVEL)

    def back(self) -> None:
        step = self.cursor.step
        if step is Step.PARTICIPANTS:
            self.refuse(msg.NOTHING_BEFORE)
            return
        if step is Step.DONE:
            self.move_to(self.ids[-1], Step.LEVEL)
            return
        if step is Step.LEVEL:
            index = self.ids.index(self.cursor.statement_id)  # type: ignore[arg-type]
            if index == 0:
                self.refuse(msg.FIRST_STATEMENT)
                return
            self.move_to(self.ids[index - 1], Step.LEVEL)
            return
        if step is Step.TARGET and self.cursor.action > 0:
            # Back from a further action: to the question that added it, dropping it if empty.
            answer = self.answer()
            index = self.cursor.action
            added = answer.actions[index] if index < len(answer.actions) else None
            if added is not None and added.action_id is None and added.next_steps is None:
                del answer.actions[index]
            self.move_to(self.cursor.statement_id, Step.ANOTHER, index - 1)  # type: ignore[arg-type]
            return
        previous = _STEP_ORDER[_STEP_ORDER.index(step) - 1]
        self.move_to(self.cursor.statement_id, previous)  # type: ignore[arg-type]

    def skip(self) -> None:
        current = self.cursor.statement_id
        nxt = self.first_incomplete(after=current, exclude=current)
        if nxt is None:
            if self.complete(current):  # type: ignore[arg-type]
                self.advance()
                return
            self.refuse(msg.ONLY_ONE_LEFT)
            return
        if not self.complete(current):  # type: ignore[arg-type]
            self.note(msg.SKIPPED.format(label=self.label(current)), Tone.INFO)
        self.move_to(nxt, self.resume_step(nxt))

    # ----- questions ------------------------------------------------------------------------

    def progress(self, statement_id: str) -> Progress:
        statement = self.ctx.model.statement(statement_id)
        return Progress(
            position=self.ids.index(statement_id) + 1,
            total=self.total,
            theme=statement.theme_number,
            answered=self.state.answered(),
        )

    def level_choices(self, statement: Statement) -> list[Choice]:
        choices = []
        for level in (1, 2, 3, 4):
            if statement.has_level(level):
                choices.append(Choice(f"Level {level}", str(level)))
            else:
                choices.append(Choice(f"Not yet at level {level + 1}", str(level)))
        return choices

    def prompt_statement(self, asking: bool = True) -> None:
        """The statement's card; `asking` False shows it for context only (resumed at a
        later question of it)."""
        statement = self.statement
        theme = None
        if self.cursor.shown_theme != statement.theme_number:
            theme = self.ctx.model.theme(statement.theme_number)
            self.cursor.shown_theme = statement.theme_number
        current = self.state.answers.get(statement.id)
        if current is not None and current.level is None:
            current = None
        if current is None:
            text, extra = msg.ASK_LEVEL, []
        elif current.carried:
            text, extra = msg.ASK_LEVEL_CARRIED, [Choice("Keep", "keep")]
        else:
            text, extra = msg.ASK_LEVEL_KEEP, [Choice("Keep", "keep")]
        self.replies.append(
            StatementPrompt(
                statement=statement,
                progress=self.progress(statement.id),
                theme=theme,
                current=current,
                level_choices=self.level_choices(statement) + extra,
                text=text,
                asking=asking,
            )
        )

    def ask(self, step: Step, brief: bool = False) -> None:
        """Ask the question for `step`; `brief` re-asks without repeating the whole statement."""
        sid = self.cursor.statement_id
        if step is Step.PARTICIPANTS:
            self.replies.append(
                Question(step, None, msg.ASK_PARTICIPANTS, [Choice("Just me", "just me")])
            )
            return
        if step is Step.DONE:
            return
        if step is Step.LEVEL:
            if brief:
                self.replies.append(
                    Question(step, sid, msg.ASK_LEVEL, self.level_choices(self.statement))
                )
            else:
                self.prompt_statement()
            return
        answer = self.answer()
        action = self.action() if step in ACTION_STEPS else (answer.action or ActionDraft())
        keep = [Choice("Keep", "keep")]
        if step is Step.EVIDENCE:
            saved = "\n".join(f"- {link}" for link in answer.evidence)
            hint = f"Saved so far:\n{saved}" if saved else None
            self.replies.append(
                Question(step, sid, msg.ASK_EVIDENCE, [Choice("Done", "done")], hint)
            )
        elif step is Step.NOTE:
            hint = f"Current note: {answer.note}. {msg.KEEP_HINT}" if answer.note else None
            choices = [Choice("No note", "none"), *(keep if answer.note else [])]
            self.replies.append(Question(step, sid, msg.ASK_NOTE, choices, hint))
        elif step is Step.FLAG:
            choices = [
                Choice("Area of strength", "strength"),
                Choice("Priority action area", "priority"),
                Choice("Neither", "neither"),
            ]
            if answer.level == 4:
                choices.pop(1)
            self.replies.append(Question(step, sid, msg.ASK_FLAG, choices))
        elif step is Step.TARGET:
            level = answer.level or 0
            options = [Choice(f"Level {n}", str(n)) for n in range(level + 1, 5)]
            text = f"Which level are you aiming for? (You are at level {level}.)"
            hint = None
            if self.cursor.action > 0:
                hint = msg.ANOTHER_ACTION.format(number=self.cursor.action + 1, label=self.label())
            self.replies.append(Question(step, sid, text, options, hint))
        elif step is Step.NEXT_STEPS:
            hint = (
                f"Current next steps: {action.next_steps}. {msg.KEEP_HINT}"
                if action.next_steps
                else None
            )
            self.replies.append(Question(step, sid, msg.ASK_NEXT_STEPS, keep if hint else [], hint))
        elif step is Step.OWNERS:
            current = ", ".join(action.owner_names) or (msg.TBC if action.owners_tbc else "")
            hint = f"Current owners: {current}. {msg.KEEP_HINT}" if current else None
            choices = [Choice(p.name, p.initials or p.name) for p in self.ctx.people][:10]
            choices.append(Choice(msg.NOT_DECIDED, "tbc"))
            self.replies.append(
                Question(step, sid, msg.ASK_OWNERS, choices + (keep if hint else []), hint)
            )
        elif step is Step.DUE:
            choices = [*self.ctx.due_choices(), Choice(msg.NOT_DECIDED, "tbc")]
            due = action.due or (msg.TBC if action.due_tbc else None)
            hint = f"Current deadline: {due}. {msg.KEEP_HINT}" if due else None
            self.replies.append(Question(step, sid, msg.ASK_DUE, choices, hint))
        elif step is Step.ANOTHER:
            choices = [Choice("Yes", "yes"), Choice("No", "no")]
            self.replies.append(Question(step, sid, msg.ASK_ANOTHER, choices))

    # ----- steps ----------------------------------------------------------------------------

    def on_participants(self, text: str, word: str) -> None:
        names = [self.ctx.actor]
        if word not in {"just me", "me", "only me", "no", "none", "no one else", "-"}:
            for name in re.split(r"\s*(?:,|;|\band\b)\s*", text):
                if name and name.lower() not in {n.lower() for n in names}:
                    names.append(name[:MAX_NAME])
        self.state.participants = names
        self.say(msg.PARTICIPANTS_SAVED.format(names=", ".join(names)), Tone.SUCCESS)
        first = self.first_incomplete()
        if first is None:
            self.finish()
            return
        self.move_to(first, self.resume_step(first))

    def on_level(self, text: str, word: str) -> None:
        answer = self.state.answers.get(self.statement.id)
        if word in _KEEP_WORDS:
            if answer is None or answer.level is None:
                self.refuse(msg.NOTHING_TO_KEEP)
                return
            self.touch(answer)
            if answer.complete:
                self.note(msg.STATEMENT_KEPT.format(label=self.label(), summary=describe(answer)))
                self.advance()
            else:
                self.move_to(self.statement.id, self.resume_step(self.statement.id))
            return
        if _NOT_YET.match(text) and not self.statement.has_level(1):
            level = 1
        else:
            match = _LEVEL.match(text)
            if not match:
                self.refuse(msg.NOT_A_LEVEL)
                return
            level = int(match.group("n"))
            if level not in (1, 2, 3, 4):
                self.refuse(msg.NO_SUCH_LEVEL.format(value=match.group("n")))
                return
        answer = self.answer()
        answer.level = level
        for action in answer.actions:
            if action.target_level and action.target_level <= level:
                action.target_level = None
        if level == 4 and answer.flag is Flag.PRIORITY:
            answer.flag = None
        self.touch(answer)
        self.note(msg.LEVEL_SAVED.format(level=level, label=self.label()))
        self.move_to(self.statement.id, Step.EVIDENCE)

    def on_evidence(self, text: str, word: str) -> None:
        answer = self.answer()
        if word in _DONE_WORDS or word in _KEEP_WORDS:
            self.move_to(self.statement.id, Step.NOTE)
            return
        if word in {"clear", "remove all", "delete all"}:
            answer.evidence = []
            self.touch(answer)
            self.note(msg.LINKS_CLEARED)
            self.ask(Step.EVIDENCE)
            return
        try:
            links = parse_links(text)
        except LinkError as exc:
            self.refuse(str(exc))
            return
        known = {link.url for link in answer.evidence}
        new = [link for link in links if link.url not in known]
        if not new:
            self.note(msg.LINKS_ALREADY, Tone.INFO)
            return
        if len(answer.evidence) + len(new) > MAX_LINKS:
            self.refuse(msg.TOO_MANY_LINKS.format(limit=MAX_LINKS))
            return
        answer.evidence.extend(EvidenceLink(url=link.url, label=link.label) for link in new)
        self.touch(answer)
        self.note(
            msg.LINKS_SAVED.format(
                added=len(new), s="" if len(new) == 1 else "s", total=len(answer.evidence)
            )
        )

    def on_note(self, text: str, word: str) -> None:
        answer = self.answer()
        if word in _KEEP_WORDS:
            if not answer.note:  # "keep" only ever confirms an earlier answer
                self.refuse(msg.NOTHING_TO_KEEP_TEXT.format(what="note"))
                return
        elif word in _NO_NOTE_WORDS:
            if answer.note:
                answer.note = None
                self.touch(answer)
        else:
            if len(text) > MAX_NOTE:
                self.refuse(msg.NOTE_TOO_LONG.format(length=len(text), limit=MAX_NOTE))
                return
            answer.note = text
            self.touch(answer)
        self.move_to(self.statement.id, Step.FLAG)

    def on_flag(self, text: str, word: str) -> None:
        flag = next((f for f, words in _FLAG_WORDS.items() if word in words), None)
        if flag is None:
            self.refuse(msg.NOT_A_FLAG)
            return
        answer = self.answer()
        if flag is Flag.PRIORITY and answer.level == 4:
            self.refuse(msg.PRIORITY_AT_TOP)
            return
        answer.flag = flag
        self.touch(answer)
        if flag is Flag.PRIORITY:
            answer.actions = answer.actions or [ActionDraft()]
            self.move_to(self.statement.id, Step.TARGET, 0)
            return
        answer.actions = []
        self.finish_statement()

    def on_target(self, text: str, word: str) -> None:
        answer = self.answer()
        level = answer.level or 0
        options = [str(n) for n in range(level + 1, 5)]
        match = _LEVEL.match(text)
        wanted = match.group("n") if match else None
        if wanted not in options:
            self.refuse(msg.NOT_A_TARGET.format(level=level, options=" or ".join(options)))
            return
        self.action().target_level = int(wanted)
        self.touch(answer)
        self.move_to(self.statement.id, Step.NEXT_STEPS)

    def on_next_steps(self, text: str, word: str) -> None:
        action = self.action()
        if word in _KEEP_WORDS:
            if not action.next_steps:
                self.refuse(msg.NOTHING_TO_KEEP_TEXT.format(what="next steps"))
                return
        else:
            steps = [part.strip() for part in re.split(r"\s*;\s*|\n", text) if part.strip()]
            if not steps or word in _NO_NOTE_WORDS:
                self.refuse(msg.NO_NEXT_STEPS)
                return
            if len("\n".join(steps)) > MAX_TEXT:
                self.refuse(msg.NEXT_STEPS_TOO_LONG.format(limit=MAX_TEXT))
                return
            action.next_steps = "\n".join(steps)
            self.touch(self.answer())
        self.move_to(self.statement.id, Step.OWNERS)

    def on_owners(self, text: str, word: str) -> None:
        action = self.action()
        if word in _KEEP_WORDS:
            if not action.owners and not action.owners_tbc:
                self.refuse(msg.NOTHING_TO_KEEP_TEXT.format(what="owners"))
                return
            self.move_to(self.statement.id, Step.DUE)
            return
        if word in _TBC_WORDS:
            action.owners, action.owners_tbc = [], True
            self.touch(self.answer())
            self.note(msg.OWNERS_TBC, Tone.INFO)
            self.move_to(self.statement.id, Step.DUE)
            return
        owners = parse_owners(text, self.ctx)
        if isinstance(owners, str):
            self.refuse(owners)
            return
        action.owners, action.owners_tbc = owners, False
        self.touch(self.answer())
        self.move_to(self.statement.id, Step.DUE)

    def on_due(self, text: str, word: str) -> None:
        action = self.action()
        if word in _KEEP_WORDS:
            if not action.due and not action.due_tbc:
                self.refuse(msg.NOTHING_TO_KEEP_TEXT.format(what="deadline"))
                return
        elif word in _TBC_WORDS:
            action.due, action.due_year, action.due_tbc = None, None, True
            self.touch(self.answer())
            self.note(msg.DEADLINE_TBC, Tone.INFO)
        else:
            try:
                by_when = parse_by_when(text)
            except DeadlineError as exc:
                self.refuse(str(exc))
                return
            action.due_year, label = self.ctx.deadline(by_when)
            action.due, action.due_tbc = by_when.code, False
            self.touch(self.answer())
            self.note(msg.DEADLINE_SET.format(label=label), Tone.INFO)
        if self.cursor.action + 1 < len(self.answer().actions):
            # Going through a statement's actions again: on to its next one, to keep or change.
            self.move_to(self.statement.id, Step.TARGET, self.cursor.action + 1)
            return
        self.move_to(self.statement.id, Step.ANOTHER)

    def on_another(self, text: str, word: str) -> None:
        """Another action for the same statement (its own target, steps, owners, deadline)?"""
        answer = self.answer()
        if word in _YES_WORDS:
            first = answer.actions[0] if answer.actions else ActionDraft()
            answer.actions.append(ActionDraft(target_level=first.target_level))
            self.touch(answer)
            self.move_to(self.statement.id, Step.TARGET, len(answer.actions) - 1)
            return
        if word not in _NO_WORDS and word not in _KEEP_WORDS:
            self.refuse(msg.NOT_YES_NO)
            return
        self.finish_statement()

    def finish_statement(self) -> None:
        answer = self.answer()
        self.note(msg.STATEMENT_SAVED.format(label=self.label(), summary=describe(answer)))
        self.advance()

    # ----- helpers --------------------------------------------------------------------------

    def explain(self, term: str) -> None:
        self.say(explanation(self.ctx.glossary, self.ctx.model, term))
        if self.cursor.step is not Step.DONE and not self.cursor.paused:
            self.ask(self.cursor.step, brief=True)

    def summary(self) -> Summary:
        return build_summary(self.ctx.model, self.state.answers, self.state.title)

    def plan(self) -> ActionPlan:
        return build_action_plan(
            self.ctx.model, self.state.answers, self.state.title, self.ctx.calendar
        )


def parse_owners(text: str, ctx: Context) -> list[Owner] | str:
    """Owners as typed, resolved to the people the school knows; or why not (a refusal).

    The one owner parser: the review's owners question and a peer's suggested action that
    the school accepts (workflows/peer_review.py) both read owners here."""
    word = " ".join(text.lower().split()).rstrip("!.")
    # "Not decided yet" picked next to people (a form) adds nobody called TBC.
    names = [n for n in owner_names(text, ctx) if n.lower() not in _TBC_WORDS]
    if not names or word in _NO_NOTE_WORDS:
        return msg.NO_OWNERS
    owners: list[Owner] = []
    for name in names:
        if len(name) > MAX_OWNER:
            return msg.OWNER_TOO_LONG.format(name=name[:80])
        found = resolve_owner(name, ctx)
        if isinstance(found, str):  # ambiguous: asked about, never guessed
            return found
        owners.append(found)
    return _dedupe(owners)


def owner_names(text: str, ctx: Context) -> list[str]:
    """Owners as typed: split on , ; / and new lines; on "and" / "&" only where every
    side is someone the organisation knows (by name or initials) or "me"."""
    names: list[str] = []
    for part in _OWNER_SPLIT.split(text):
        part = part.strip()
        if not part:
            continue
        sides = [side.strip() for side in _OWNER_AND.split(part) if side.strip()]
        if len(sides) > 1 and all(_known(side, ctx) for side in sides):
            names.extend(sides)
        else:
            names.append(part)
    return names


def _known(name: str, ctx: Context) -> bool:
    lowered = name.lower()
    return lowered in _ME or any(
        lowered in {person.name.lower(), (person.initials or "").lower()} for person in ctx.people
    )


def resolve_owner(name: str, ctx: Context) -> Owner | str:
    """A known person (kept as typed: initials stay initials, as plans write them), text
    for someone the bot does not know ("HOFS"), or a question when two people match."""
    lowered = name.lower()
    if lowered in _ME:
        if ctx.actor_id is not None:
            return Owner(name=ctx.actor, person_id=ctx.actor_id)
        name, lowered = ctx.actor, ctx.actor.lower()
    by_name = [p for p in ctx.people if p.name.lower() == lowered]
    by_initials = [p for p in ctx.people if (p.initials or "").lower() == lowered]
    matches = by_name or by_initials
    if len(matches) > 1:
        return msg.OWNER_AMBIGUOUS.format(name=name, people=" or ".join(p.name for p in matches))
    if by_name:
        return Owner(name=by_name[0].name, person_id=by_name[0].id)
    if by_initials:
        person = by_initials[0]
        return Owner(name=person.initials or person.name, person_id=person.id)
    return Owner(name=name)


def _dedupe(owners: list[Owner]) -> list[Owner]:
    seen: set[str] = set()
    unique = []
    for owner in owners:
        key = owner.name.lower()
        if key not in seen:
            seen.add(key)
            unique.append(owner)
    return unique


def describe(answer: Answer) -> str:
    """A one-line account of an answer: "level 2, priority action area (target 4, HT3 – SR)"."""
    parts = [f"level {answer.level}"]
    if answer.flag is not None:
        parts.append(answer.flag.label)
    text = ", ".join(parts)
    if answer.flag is Flag.PRIORITY:
        for action in answer.actions:
            who = msg.TBC if action.owners_tbc else " / ".join(action.owner_names)
            due = msg.TBC if action.due_tbc else ""
            due = parse_by_when(action.due).label if action.due else due
            details = [f"target {action.target_level}"] if action.target_level else []
            if due or who:
                details.append(" – ".join(p for p in (due, who) if p))
            if details:  # a priority half-way through its details shows only what is there
                text += f" ({', '.join(details)})"
    if answer.evidence:
        text += f", {len(answer.evidence)} evidence link{'s' if len(answer.evidence) != 1 else ''}"
    return text


def explanation(glossary: Glossary, model: MaturityModel, term: str) -> str:
    """The answer to "what is X?", in a review or before any: the glossary's entry, else an
    acronym the model text spells out, else the nearest terms, else that it is not known."""
    found = lookup(glossary, term)
    if found is not None:
        return msg.GLOSSARY_ANSWER.format(term=found.term, definition=found.definition)
    expansion = expand_acronym(model, term)
    if expansion:
        return expansion
    close = suggest(glossary, term)
    if close:
        return msg.GLOSSARY_SUGGEST.format(term=term, terms=", ".join(close))
    return msg.GLOSSARY_UNKNOWN.format(term=term)


def expand_acronym(model: MaturityModel, term: str) -> str | None:
    """Where the glossary has no entry, spell out an acronym the model text itself defines."""
    acronym = term.strip().upper()
    if not re.fullmatch(r"[A-Z+]{2,8}", acronym):
        return None
    letters = [c for c in acronym if c.isalpha()]
    found = None
    mentions: list[str] = []
    pattern = re.compile(
        rf"((?:[\w'-]+\s+){{{len(letters)}}})\({re.escape(acronym)}\)", re.IGNORECASE
    )
    for statement in model.statements:
        texts = [statement.title] + [statement.level_text(n) or "" for n in (1, 2, 3, 4)]
        blob = " ".join(texts)
        if re.search(rf"\b{re.escape(acronym)}\b", blob):
            mentions.append(statement.id)
        if found is None:
            for match in pattern.finditer(blob):
                words = match.group(1).split()
                if [w[0].upper() for w in words] == letters:
                    found = " ".join(words)
                    break
    if not found:
        return None
    where = ", ".join(mentions[:8])
    return f"{acronym} stands for {found} (as the model uses it in statements {where})."
