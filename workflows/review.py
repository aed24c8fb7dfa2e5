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
from workflows.glossary import glossary_query, lookup
from workflows.links import LinkError, parse_links
from workflows.plan import build_action_plan, build_summary
from workflows.replies import (
    Choice,
    Message,
    Progress,
    Question,
    Reply,
    ShowPlan,
    ShowSummary,
    StatementPrompt,
    Step,
    Tone,
)

MAX_LINKS = 20
MAX_NOTE = 2000
MAX_OWNER = 60

_STEP_ORDER = [Step.LEVEL, Step.EVIDENCE, Step.NOTE, Step.FLAG, Step.TARGET, Step.NEXT_STEPS,
               Step.OWNERS, Step.DUE]  # fmt: skip

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
_KEEP_WORDS = {"keep", "same", "confirm", "yes", "ok", "still right", "unchanged"}
_PAUSE_WORDS = {"pause", "stop", "quit", "exit", "later", "bye"}
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
# Steps that take free text: there a lone "plan" or "summary" is an answer, not a command.
FREE_TEXT_STEPS = {Step.PARTICIPANTS, Step.NOTE, Step.NEXT_STEPS, Step.OWNERS}
_GO = re.compile(r"^\s*(?:go\s*to|goto|go|change|edit|jump\s*to)\s+(?P<id>\S+)\s*$", re.IGNORECASE)
_LEVEL = re.compile(r"^\s*(?:level\s*|l)?(?P<n>[+-]?\d+)\s*\.?\s*$", re.IGNORECASE)
_NOT_YET = re.compile(r"^\s*not\s+yet(\s+at\s+level\s*2)?\s*$", re.IGNORECASE)
_OWNER_SPLIT = re.compile(r"\s*(?:,|/|;|&|\+|\n|\band\b)\s*", re.IGNORECASE)


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

    @property
    def today(self) -> date:
        """The organisation's local date (a late-evening answer in BST is tomorrow in UTC)."""
        return local_date(self.now, self.timezone)

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
    model_config = ConfigDict(extra="forbid")

    statement_id: str | None = None
    step: Step = Step.PARTICIPANTS
    paused: bool = False
    shown_theme: int | None = None


class ReviewState(BaseModel):
    """Everything the conversation needs; storage keeps the answers as rows, the rest as JSON."""

    model_config = ConfigDict(extra="forbid")

    title: str
    edition: Edition
    cursor: Cursor = Field(default_factory=Cursor)
    participants: list[str] = Field(default_factory=list)
    answers: dict[str, Answer] = Field(default_factory=dict)
    completed: bool = False
    based_on_title: str | None = None

    def conversation(self) -> dict[str, object]:
        """The part of the state that is not answers: kept as JSON with the review."""
        return self.model_dump(mode="json", include={"cursor", "participants"})

    def answered(self) -> int:
        return sum(1 for a in self.answers.values() if a.complete)


@dataclass
class Outcome:
    state: ReviewState
    replies: list[Reply] = field(default_factory=list)


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
    if state.cursor.step is Step.PARTICIPANTS:
        turn.say(
            msg.STARTED.format(title=state.title, edition=ctx.model.edition.label, total=turn.total)
        )
        if state.based_on_title:
            turn.say(msg.STARTED_FROM.format(previous=state.based_on_title))
        turn.ask(Step.PARTICIPANTS)
    else:
        turn.resume()
    return turn.outcome()


def handle(state: ReviewState, text: str, ctx: Context) -> Outcome:
    """Apply one message (typed text or a button's value) to the review."""
    turn = _Turn(state, ctx)
    turn.dispatch(text)
    return turn.outcome()


class _Turn:
    """One turn: works on a deep copy of the state, collecting replies."""

    def __init__(self, state: ReviewState, ctx: Context) -> None:
        self.state = state.model_copy(deep=True)
        self.ctx = ctx
        self.replies: list[Reply] = []
        self.statements = ctx.model.statements
        self.ids = [s.id for s in self.statements]
        self.total = len(self.statements)

    # ----- plumbing -------------------------------------------------------------------------

    def outcome(self) -> Outcome:
        return Outcome(self.state, self.replies)

    def say(self, text: str, tone: Tone = Tone.INFO) -> None:
        self.replies.append(Message(text, tone))

    def refuse(self, text: str) -> None:
        """A clear refusal, then the same question again; nothing saved is touched."""
        self.say(text, Tone.ERROR)
        self.ask(self.state.cursor.step, brief=True)

    @property
    def cursor(self) -> Cursor:
        return self.state.cursor

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
        # Spaces are tidied but line breaks kept: a form's next steps come one per line.
        text = "\n".join(" ".join(line.split()) for line in raw.splitlines() if line.strip())
        word = " ".join(text.split()).lower().rstrip("!.")
        if not text:
            self.refuse(msg.EMPTY_INPUT)
            return
        if word in {"help", "?", "commands"}:
            self.say(msg.HELP)
            self.ask(self.cursor.step, brief=True)
            return
        term = glossary_query(text)
        if term is not None:
            self.explain(term)
            return
        free_text = self.cursor.step in FREE_TEXT_STEPS
        if word in {"summary", "progress", "grid"} and not free_text:
            self.replies.append(ShowSummary(self.summary()))
            return
        if word in {"plan", "action plan"} and not free_text:
            self.replies.append(ShowPlan(self.plan()))
            return
        if word in _PAUSE_WORDS:
            self.pause()
            return
        if word in _RESUME_WORDS and (
            self.cursor.paused or self.cursor.step is not Step.PARTICIPANTS
        ):
            self.resume()
            return
        go = _GO.match(text)
        if go:
            self.go(go.group("id"))
            return
        if self.cursor.paused:
            self.say(msg.STILL_PAUSED)
            return
        if word == "back":
            self.back()
            return
        if word == "skip" and self.cursor.statement_id:
            self.skip()
            return
        if self.cursor.step is Step.DONE:
            self.say(msg.ALREADY_COMPLETE)
            return
        handler = getattr(self, f"on_{self.cursor.step.value}")
        handler(text, word)

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
            action = answer.action or ActionDraft()
            if not action.target_level or action.target_level <= answer.level:
                return Step.TARGET
            if not action.next_steps:
                return Step.NEXT_STEPS
            if not action.owners:
                return Step.OWNERS
            if action.due is None:
                return Step.DUE
        return Step.LEVEL

    def move_to(self, statement_id: str, step: Step = Step.LEVEL) -> None:
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
            self.prompt_statement()
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
            self.say(msg.SKIPPED.format(label=self.label(current)))
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

    def prompt_statement(self) -> None:
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
        action = answer.action or ActionDraft()
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
            self.replies.append(Question(step, sid, text, options))
        elif step is Step.NEXT_STEPS:
            hint = (
                f"Current next steps: {action.next_steps}. {msg.KEEP_HINT}"
                if action.next_steps
                else None
            )
            self.replies.append(Question(step, sid, msg.ASK_NEXT_STEPS, keep if hint else [], hint))
        elif step is Step.OWNERS:
            hint = (
                f"Current owners: {', '.join(action.owner_names)}. {msg.KEEP_HINT}"
                if action.owners
                else None
            )
            choices = [Choice(p.name, p.initials or p.name) for p in self.ctx.people][:10]
            self.replies.append(
                Question(step, sid, msg.ASK_OWNERS, choices + (keep if hint else []), hint)
            )
        elif step is Step.DUE:
            choices = [
                Choice(self.ctx.deadline(parse_by_when(f"HT{n}"))[1], f"HT{n}") for n in range(1, 7)
            ] + [Choice("Ongoing", "ongoing")]
            hint = f"Current deadline: {action.due}. {msg.KEEP_HINT}" if action.due else None
            self.replies.append(Question(step, sid, msg.ASK_DUE, choices, hint))

    # ----- steps ----------------------------------------------------------------------------

    def on_participants(self, text: str, word: str) -> None:
        names = [self.ctx.actor]
        if word not in {"just me", "me", "only me", "no", "none", "no one else", "-"}:
            for name in re.split(r"\s*(?:,|;|\band\b)\s*", text):
                if name and name.lower() not in {n.lower() for n in names}:
                    names.append(name[:MAX_OWNER])
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
                self.say(
                    msg.STATEMENT_KEPT.format(label=self.label(), summary=describe(answer)),
                    Tone.SUCCESS,
                )
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
        if answer.action and answer.action.target_level and answer.action.target_level <= level:
            answer.action.target_level = None
        if level == 4 and answer.flag is Flag.PRIORITY:
            answer.flag = None
        self.touch(answer)
        self.say(msg.LEVEL_SAVED.format(level=level, label=self.label()), Tone.SUCCESS)
        self.move_to(self.statement.id, Step.EVIDENCE)

    def on_evidence(self, text: str, word: str) -> None:
        answer = self.answer()
        if word in _DONE_WORDS or word in _KEEP_WORDS:
            self.move_to(self.statement.id, Step.NOTE)
            return
        if word in {"clear", "remove all", "delete all"}:
            answer.evidence = []
            self.touch(answer)
            self.say(msg.LINKS_CLEARED, Tone.SUCCESS)
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
            self.say(msg.LINKS_ALREADY)
            return
        if len(answer.evidence) + len(new) > MAX_LINKS:
            self.refuse(msg.TOO_MANY_LINKS.format(limit=MAX_LINKS))
            return
        answer.evidence.extend(EvidenceLink(url=link.url, label=link.label) for link in new)
        self.touch(answer)
        self.say(
            msg.LINKS_SAVED.format(
                added=len(new), s="" if len(new) == 1 else "s", total=len(answer.evidence)
            ),
            Tone.SUCCESS,
        )

    def on_note(self, text: str, word: str) -> None:
        answer = self.answer()
        if word in _KEEP_WORDS and answer.note:
            pass
        elif word in _DONE_WORDS:
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
            answer.action = answer.action or ActionDraft()
            self.move_to(self.statement.id, Step.TARGET)
            return
        answer.action = None
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
        answer.action = answer.action or ActionDraft()
        answer.action.target_level = int(wanted)  # type: ignore[arg-type]
        self.touch(answer)
        self.move_to(self.statement.id, Step.NEXT_STEPS)

    def on_next_steps(self, text: str, word: str) -> None:
        action = self.answer().action
        assert action is not None
        if not (word in _KEEP_WORDS and action.next_steps):
            steps = [part.strip() for part in re.split(r"\s*;\s*|\n", text) if part.strip()]
            if not steps or word in _DONE_WORDS:
                self.refuse(msg.NO_NEXT_STEPS)
                return
            action.next_steps = "\n".join(steps)
            self.touch(self.answer())
        self.move_to(self.statement.id, Step.OWNERS)

    def on_owners(self, text: str, word: str) -> None:
        action = self.answer().action
        assert action is not None
        if not (word in _KEEP_WORDS and action.owners):
            names = [part.strip() for part in _OWNER_SPLIT.split(text) if part.strip()]
            if not names or word in _DONE_WORDS:
                self.refuse(msg.NO_OWNERS)
                return
            for name in names:
                if len(name) > MAX_OWNER:
                    self.refuse(msg.OWNER_TOO_LONG.format(name=name[:80]))
                    return
            action.owners = _dedupe([self.owner(name) for name in names])
            self.touch(self.answer())
        self.move_to(self.statement.id, Step.DUE)

    def on_due(self, text: str, word: str) -> None:
        action = self.answer().action
        assert action is not None
        if not (word in _KEEP_WORDS and action.due):
            try:
                by_when = parse_by_when(text)
            except DeadlineError as exc:
                self.refuse(str(exc))
                return
            action.due_year, label = self.ctx.deadline(by_when)
            action.due = by_when.code
            self.touch(self.answer())
            self.say(msg.DEADLINE_SET.format(label=label))
        self.finish_statement()

    def finish_statement(self) -> None:
        answer = self.answer()
        self.say(
            msg.STATEMENT_SAVED.format(label=self.label(), summary=describe(answer)), Tone.SUCCESS
        )
        self.advance()

    # ----- helpers --------------------------------------------------------------------------

    def owner(self, name: str) -> Owner:
        """A known person (kept as typed: initials stay initials, as plans write them) or text."""
        lowered = name.lower()
        if lowered in {"me", "myself"}:
            name, lowered = self.ctx.actor, self.ctx.actor.lower()
        for person in self.ctx.people:
            if person.initials and lowered == person.initials.lower():
                return Owner(name=person.initials, person_id=person.id)
            if lowered == person.name.lower():
                return Owner(name=person.name, person_id=person.id)
        return Owner(name=name)

    def explain(self, term: str) -> None:
        found = lookup(self.ctx.glossary, term)
        if found is not None:
            self.say(msg.GLOSSARY_ANSWER.format(term=found.term, definition=found.definition))
        else:
            expansion = expand_acronym(self.ctx.model, term)
            if expansion:
                self.say(expansion)
            else:
                terms = ", ".join(t.term for t in self.ctx.glossary.terms)
                self.say(msg.GLOSSARY_UNKNOWN.format(term=term, terms=terms))
        if self.cursor.step is not Step.DONE:
            self.ask(self.cursor.step, brief=True)

    def summary(self):  # type: ignore[no-untyped-def]
        return build_summary(self.ctx.model, self.state.answers, self.state.title)

    def plan(self):  # type: ignore[no-untyped-def]
        return build_action_plan(self.ctx.model, self.state.answers, self.state.title)


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
    action = answer.action
    if answer.flag is Flag.PRIORITY and action is not None:
        who = " / ".join(action.owner_names)
        due = parse_by_when(action.due).label if action.due else ""
        text += f" (target {action.target_level}, {' – '.join(p for p in (due, who) if p)})"
    if answer.evidence:
        text += f", {len(answer.evidence)} evidence link{'s' if len(answer.evidence) != 1 else ''}"
    return text


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
