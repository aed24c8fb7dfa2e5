"""Adaptive Cards (schema 1.5) for the channel-neutral replies: rendering only, no decisions.

In a personal chat each statement is ONE card (`statement_message`, from the service's
`StatementCard`), updated in place as it is answered: the statement, its descriptors (folded
behind their level headings with Action.ToggleVisibility once a level is chosen), the answer
so far, what the turn said about it, and only the pending question's controls. Other replies
become a few more activities (Teams limits a bot's rate per conversation). Every button sends
back the very text a person could type (`Choice.value`), so a click and a typed answer take
the same road through the engine, with `drawn`, a token new for each drawing of a question.

What a submitted card sends back (`Activity.value`) is this module's own format, marked with
`MARK`:

``{"cib": "choice", "text": "3", "step": "level", "sid": "1.1", "drawn": ..., "label": ...}``
    a button: `chosen` makes it a typed `Choose` for the question it was drawn for.
``{"cib": "form", "form": <step>, "step": ..., "sid": ..., "title": ..., <input ids>: ...}``
    a form: `form_fields` makes its inputs the engine's `Fields`, applied all or none.
``{"cib": "command", "text": "export docx"}``
    a command button on an information card (welcome, plan, reminder): an action command
    (`workflows.actions.parse_command`) or one of the adapter's own words, never an answer.

`step` and `sid` say which question the card asked: the engine refuses a stale card (the
person's place has moved on) in the same transaction that would have saved the answer.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from botbuilder.schema import Activity, ActivityTypes, Attachment

from bot.sanitise import markdown_text
from bot.teams import wording as teams_wording
from model_data import MaturityModel, Statement, Theme
from workflows import groups, peer_review
from workflows.actions import ActionView
from workflows.answers import ActionDraft, Answer, Flag
from workflows.deadlines import parse_by_when
from workflows.documents import DocumentKind
from workflows.inputs import Choose, Fields
from workflows.notices import Notice
from workflows.plan import ActionPlan, Summary
from workflows.replies import (
    Choice,
    Message,
    Question,
    Reply,
    SendDocument,
    SendGroupWorkbook,
    ShowAction,
    ShowActions,
    ShowComparison,
    ShowGroupView,
    ShowInvitations,
    ShowPeerComparison,
    ShowPlan,
    ShowSummary,
    StatementCard,
    StatementPrompt,
    Step,
    Tone,
)
from workflows.review import describe

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
MARK = "cib"
DRAWN = "drawn"  # a question's token, new each time it is drawn (see `answer_token`)
CHOICE, FORM, COMMAND = "choice", "form", "command"
LINK_ROWS = 3  # more links can be pasted as messages
NAVIGATION = ("back", "skip", "pause")  # the engine's own words for these buttons
KEEP = "keep"  # the engine's "leave it as it is" choice: a button, never a value in a list
TBC = "tbc"  # the engine's "Not decided yet" owners choice: typed, not a person to pick
PEOPLE_DATASET = "graph.microsoft.com/users"
_TONE_COLOUR = {Tone.INFO: "Default", Tone.SUCCESS: "Good", Tone.ERROR: "Attention"}
LABEL = teams_wording.TEAMS_LABELS


class FormError(ValueError):
    """A submitted form that cannot be given to the engine as it is (a required box empty);
    `field` is the input it is about, so the card shows the reason beside that box."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# Which box of a card holds the answer to each question: where a refusal is shown.
FIELD_OF_STEP = {
    Step.PARTICIPANTS: "participants",
    Step.EVIDENCE: "link_1",
    Step.NOTE: "note",
    Step.TARGET: "target",
    Step.NEXT_STEPS: "next_steps",
    Step.OWNERS: "owners_typed",
    Step.DUE: "due",
}


@dataclass(frozen=True)
class PriorityForm:
    """The four questions that follow "priority", asked by the engine ahead of time.

    Each is the engine's own Question (its text, its choices with real dates), so the card
    offers exactly what typing would accept; `current` fills the boxes when an answer is
    being changed.
    """

    statement_id: str
    target: Question
    next_steps: Question
    owners: Question
    due: Question
    current: ActionDraft | None = None


@dataclass(frozen=True)
class RenderOptions:
    """How far a conversation can interact: personal chats get forms, channels read-only cards."""

    model: MaturityModel | None = None
    interactive: bool = True
    people_picker: bool = False  # Teams' Graph people search (not in the Emulator)
    exports: bool = False  # offer the plan as a document under the plan card
    priority: PriorityForm | None = None
    errors: Sequence[str] = ()  # a refused form shown again: why, at the top
    values: Mapping[str, str] = field(default_factory=dict)  # ... and what was typed in it
    invalid: Mapping[str, str] = field(default_factory=dict)  # input id -> why, beside it
    timezone: str = "Europe/London"  # the organisation's: times in action histories


# ----- building blocks ---------------------------------------------------------------------


def card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return content


def text_block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def fact_set(facts: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "FactSet",
        "facts": [{"title": title, "value": value} for title, value in facts if value],
    }


def submit(title: str, data: dict[str, Any], style: str | None = None) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "Action.Submit", "title": title, "data": data}
    if style:
        action["style"] = style
    return action


def action_set(actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "ActionSet", "actions": actions}


def attachment(content: dict[str, Any]) -> Attachment:
    return Attachment(content_type=CARD_CONTENT_TYPE, content=content)


def card_activity(content: dict[str, Any], summary: str = "") -> Activity:
    """A message carrying one card; `summary` is what notifications and old clients show."""
    return Activity(
        type=ActivityTypes.message,
        attachments=[attachment(content)],
        summary=summary or None,
    )


def text_activity(text: str) -> Activity:
    return Activity(type=ActivityTypes.message, text=text, text_format="markdown")


def _message_blocks(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [text_block(m.text, color=_TONE_COLOUR[m.tone]) for m in messages]


def _error_blocks(errors: Sequence[str]) -> list[dict[str, Any]]:
    return [text_block(e, color="Attention", weight="Bolder") for e in errors]


def _descriptor(statement: Statement, level: int) -> str:
    return statement.level_text(level) or teams_wording.TEAMS_NO_DESCRIPTOR


def _heading(options: RenderOptions, statement_id: str | None) -> str:
    if statement_id is None:
        return ""
    if options.model is not None:
        try:
            return options.model.statement(statement_id).short_label
        except KeyError:
            pass
    return statement_id


# ----- questions ---------------------------------------------------------------------------


def _choice_data(
    choice: Choice, step: Step, statement_id: str | None, title: str, drawn: str = ""
) -> dict[str, Any]:
    data = {
        MARK: CHOICE,
        "text": choice.value,
        "step": step.value,
        "sid": statement_id,
        "title": title,
        "label": choice.label,
    }
    if drawn:
        data[DRAWN] = drawn
    return data


def _form_data(
    form: str, step: Step, statement_id: str | None, title: str, drawn: str = ""
) -> dict[str, Any]:
    data = {MARK: FORM, "form": form, "step": step.value, "sid": statement_id, "title": title}
    if drawn:
        data[DRAWN] = drawn
    return data


def _navigation(
    step: Step, statement_id: str | None, title: str, drawn: str = ""
) -> dict[str, Any] | None:
    if statement_id is None:
        return None
    return action_set(
        [
            submit(
                LABEL[word],
                _choice_data(Choice(LABEL[word], word), step, statement_id, title, drawn),
            )
            for word in NAVIGATION
        ]
    )


def _buttons(
    choices: Sequence[Choice], step: Step, statement_id: str | None, title: str, drawn: str = ""
) -> list[dict[str, Any]]:
    return [submit(c.label, _choice_data(c, step, statement_id, title, drawn)) for c in choices]


def _theme_header(theme: Theme) -> dict[str, Any]:
    benchmarks = theme.benchmarks
    return {
        "type": "Container",
        "style": "emphasis",
        "bleed": True,
        "items": [
            text_block(
                teams_wording.TEAMS_THEME.format(number=theme.number, title=theme.title),
                size="Large",
                weight="Bolder",
            ),
            text_block(
                teams_wording.TEAMS_BENCHMARKS[len(benchmarks) > 1].format(
                    numbers=", ".join(str(b) for b in benchmarks)
                ),
                isSubtle=True,
                spacing="None",
            ),
        ],
    }


def _level_row(label: str, descriptor: str) -> dict[str, Any]:
    """A level beside its descriptor: how the four read while a level is being chosen."""
    return {
        "type": "ColumnSet",
        "separator": True,
        "columns": [
            {"type": "Column", "width": "90px", "items": [text_block(label, weight="Bolder")]},
            {"type": "Column", "width": "stretch", "items": [text_block(descriptor)]},
        ],
    }


def _level_folded(level: int, label: str, descriptor: str, chosen: bool) -> list[dict[str, Any]]:
    """A level's heading that shows or hides its descriptor (Action.ToggleVisibility): once a
    level is chosen the four descriptors are folded away, so the card stays short on a phone."""
    target = f"descriptor_{level}"
    heading = teams_wording.TEAMS_LEVEL_CHOSEN if chosen else teams_wording.TEAMS_LEVEL_FOLDED
    return [
        {
            "type": "Container",
            "separator": True,
            "selectAction": {
                "type": "Action.ToggleVisibility",
                "title": label,
                "targetElements": [target],
            },
            "items": [
                text_block(
                    heading.format(level=label),
                    weight="Bolder",
                    color="Good" if chosen else "Default",
                )
            ],
        },
        {"type": "Container", "id": target, "isVisible": False, "items": [text_block(descriptor)]},
    ]


def _answer_blocks(answer: Answer) -> list[dict[str, Any]]:
    """The answer so far: its level and flag in a line, then its links, note and action."""
    out: list[dict[str, Any]] = []
    if answer.level is not None:
        template = (
            teams_wording.TEAMS_LAST_REVIEW if answer.carried else teams_wording.TEAMS_YOUR_ANSWER
        )
        out.append(text_block(template.format(answer=describe(answer)), color="Accent"))
    if answer.evidence:
        lines = [
            f"- [{link.label or link.url}]({link.url})" if "://" in link.url else f"- {link}"
            for link in answer.evidence
        ]
        out.append(text_block(LABEL["evidence"], weight="Bolder", spacing="Small"))
        out.append(text_block("\n".join(lines), spacing="None"))
    if answer.note:
        out.append(text_block(teams_wording.TEAMS_NOTE_SHOWN.format(note=answer.note)))
    action = answer.action
    if answer.flag is Flag.PRIORITY and action is not None and action.target_level:
        due = ""
        if action.due:
            try:
                due = parse_by_when(action.due).label
            except ValueError:
                due = action.due
        out.append(
            fact_set(
                [
                    (LABEL["target"], str(action.target_level)),
                    (LABEL["next_steps"], "; ".join((action.next_steps or "").splitlines())),
                    (LABEL["who"], " / ".join(action.owner_names)),
                    (LABEL["due"], due),
                ]
            )
        )
    return out


def statement_message(
    statement_card: StatementCard,
    preface: Sequence[Message],
    options: RenderOptions,
    drawn: str = "",
) -> dict[str, Any]:
    """A statement's one card, redrawn as it is answered: the theme (on its first statement),
    the statement, its four descriptors (folded behind their headings once a level is
    chosen), the answer so far, what this turn said about it, and only the pending question's
    controls, each carrying `drawn` so one drawing of a question is answered once."""
    shown = statement_card
    statement = shown.statement
    body: list[dict[str, Any]] = _error_blocks(options.errors) + _message_blocks(preface)
    if shown.theme is not None:
        body.append(_theme_header(shown.theme))
    body.append(text_block(statement.label, size="Medium", weight="Bolder"))
    body.append(text_block(shown.progress.text, isSubtle=True, spacing="None"))
    chosen = shown.answer.level if shown.answer is not None else None
    asking_level = shown.question is not None and shown.question.step is Step.LEVEL
    for choice in shown.level_choices:
        if not choice.value.isdigit():
            continue
        level = int(choice.value)
        text = _descriptor(statement, level)
        if chosen is None or asking_level:
            body.append(_level_row(choice.label, text))
        else:
            body.extend(_level_folded(level, choice.label, text, level == chosen))
    if shown.answer is not None:
        body.extend(_answer_blocks(shown.answer))
    body.extend(_message_blocks(shown.notices))
    if shown.question is None or not options.interactive:
        return card(body)
    return question_card(shown.question, (), options, drawn=drawn, head=body)


def statement_card(
    prompt: StatementPrompt,
    preface: Sequence[Message],
    options: RenderOptions,
) -> dict[str, Any]:
    """Theme (when it starts), statement, the four descriptors, progress and level buttons.

    A prompt that is not `asking` (a review resumed part-way through a statement) shows the
    statement for context only: the question waiting is a later one (its own card follows),
    so the level prompt and its buttons would answer nothing.
    """
    statement = prompt.statement
    title = statement.short_label
    body: list[dict[str, Any]] = _error_blocks(options.errors) + _message_blocks(preface)
    if prompt.theme is not None:
        body.append(_theme_header(prompt.theme))
    body.append(text_block(statement.label, size="Medium", weight="Bolder"))
    body.append(text_block(prompt.progress.text, isSubtle=True, spacing="None"))
    for choice in prompt.level_choices:
        if not choice.value.isdigit():
            continue
        body.append(_level_row(choice.label, _descriptor(statement, int(choice.value))))
    if prompt.current is not None:
        template = (
            teams_wording.TEAMS_LAST_REVIEW
            if prompt.current.carried
            else teams_wording.TEAMS_YOUR_ANSWER
        )
        body.append(text_block(template.format(answer=describe(prompt.current)), color="Accent"))
    if not prompt.asking:
        return card(body)
    body.append(text_block(prompt.text, weight="Bolder"))
    if options.interactive:
        body.append(action_set(_buttons(prompt.level_choices, Step.LEVEL, statement.id, title)))
        navigation = _navigation(Step.LEVEL, statement.id, title)
        if navigation:
            body.append(navigation)
    return card(body)


def question_card(
    question: Question,
    preface: Sequence[Message],
    options: RenderOptions,
    *,
    drawn: str = "",
    head: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One question of a statement, with the inputs its step needs.

    `head` replaces the question's own title (a statement card draws the statement above its
    question); `drawn` is the drawing's token, sent back with every button and form."""
    sid, step = question.statement_id, question.step
    title = _heading(options, sid)
    body: list[dict[str, Any]]
    if head is not None:
        body = head
    else:
        body = _error_blocks(options.errors) + _message_blocks(preface)
        if title:
            body.append(text_block(title, weight="Bolder", isSubtle=True))
    if (
        step is Step.TARGET
        and options.priority is not None
        and options.priority.statement_id == sid
    ):
        priority = _priority_card(options.priority, body, options, title, drawn)
        return _mark_invalid(priority, options)
    if question.hint:
        body.append(text_block(question.hint, color="Accent"))
    body.append(text_block(question.text, weight="Bolder"))
    if not options.interactive:
        return card(body)
    values = options.values
    buttons = list(question.choices)
    form: list[dict[str, Any]] = []
    if step is Step.PARTICIPANTS:
        body.append(_text_input("participants", LABEL["participants"], values))
        data = _form_data("participants", step, sid, title, drawn)
        form = [submit(LABEL["save"], data, "positive")]
    elif step is Step.EVIDENCE:
        for n in range(1, LINK_ROWS + 1):
            body.append(_link_row(n, values))
        data = _form_data("evidence", step, sid, title, drawn)
        data["finish"] = buttons[0].value if buttons else ""
        form = [submit(LABEL["save_links"], data, "positive")]
    elif step is Step.NOTE:
        body.append(_text_input("note", LABEL["note"], values, multiline=True))
        data = _form_data("note", step, sid, title, drawn)
        data["empty"] = buttons[0].value if buttons else ""
        form = [submit(LABEL["save"], data, "positive")]
    elif step is Step.NEXT_STEPS:
        body.append(_text_input("next_steps", LABEL["next_steps"], values, multiline=True))
        data = _form_data("next_steps", step, sid, title, drawn)
        form = [submit(LABEL["save"], data, "positive")]
    elif step is Step.OWNERS:
        people = [c for c in buttons if c.value != KEEP]
        buttons = [c for c in buttons if c.value == KEEP]
        body.extend(_owner_inputs(people, values, options.people_picker))
        form = [submit(LABEL["save"], _form_data("owners", step, sid, title, drawn), "positive")]
    elif step is Step.DUE:
        dated = [c for c in buttons if c.value != KEEP]
        buttons = [c for c in buttons if c.value == KEEP]
        body.append(_choice_input("due", LABEL["due"], dated, values.get("due")))
        data = _form_data("due", step, sid, title, drawn)
        data["labels"] = {c.value: c.label for c in dated}
        form = [submit(LABEL["save"], data, "positive")]
    body.append(action_set(form + _buttons(buttons, step, sid, title, drawn)))
    if step is not Step.PARTICIPANTS:
        navigation = _navigation(step, sid, title, drawn)
        if navigation:
            body.append(navigation)
    return _mark_invalid(card(body), options)


def _mark_invalid(content: dict[str, Any], options: RenderOptions) -> dict[str, Any]:
    """Put each refusal right under the box it is about (the one the engine refused)."""
    if not options.invalid:
        return content

    def visit(elements: list[Any]) -> None:
        index = 0
        while index < len(elements):
            element = elements[index]
            if isinstance(element, dict):
                reason = options.invalid.get(str(element.get("id")))
                if reason is not None and str(element.get("type", "")).startswith("Input."):
                    elements.insert(
                        index + 1, text_block(reason, color="Attention", weight="Bolder")
                    )
                    index += 1
                for key in ("items", "columns"):
                    if isinstance(element.get(key), list):
                        visit(element[key])
            index += 1

    visit(content["body"])
    return content


def _text_input(
    input_id: str,
    label: str,
    values: Mapping[str, str],
    *,
    multiline: bool = False,
    placeholder: str | None = None,
    style: str | None = None,
    required: bool = False,
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "Input.Text", "id": input_id, "label": label}
    if multiline:
        element["isMultiline"] = True
    if placeholder:
        element["placeholder"] = placeholder
    if style:
        element["style"] = style
    if required:
        element["isRequired"] = True
        element["errorMessage"] = teams_wording.TEAMS_FORM_MISSING.format(field=label)
    if values.get(input_id):
        element["value"] = values[input_id]
    return element


def _link_row(n: int, values: Mapping[str, str]) -> dict[str, Any]:
    return {
        "type": "ColumnSet",
        "columns": [
            {
                "type": "Column",
                "width": 2,
                "items": [_text_input(f"label_{n}", LABEL["link_label"], values)],
            },
            {
                "type": "Column",
                "width": 3,
                "items": [
                    _text_input(
                        f"link_{n}",
                        LABEL["link"].format(n=n),
                        values,
                        style="Url",
                        placeholder=LABEL["link_placeholder"],
                    )
                ],
            },
        ],
    }


def _choice_input(
    input_id: str,
    label: str,
    choices: Sequence[Choice],
    value: str | None,
    *,
    required: bool = True,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "Input.ChoiceSet",
        "id": input_id,
        "label": label,
        "style": "compact",
        "choices": [{"title": c.label, "value": c.value} for c in choices],
    }
    if value:
        element["value"] = value
    if required:
        element["isRequired"] = True
        element["errorMessage"] = teams_wording.TEAMS_FORM_MISSING.format(field=label)
    return element


def _owner_inputs(
    people: Sequence[Choice], values: Mapping[str, str], picker: bool
) -> list[dict[str, Any]]:
    """People the organisation knows (and, in Teams, anyone in the tenant) or typed initials."""
    elements: list[dict[str, Any]] = []
    if people or picker:
        pick: dict[str, Any] = {
            "type": "Input.ChoiceSet",
            "id": "owners_pick",
            "label": LABEL["owners_pick"],
            "isMultiSelect": True,
            "choices": [{"title": c.label, "value": c.value} for c in people],
        }
        if picker:
            pick["choices.data"] = {"type": "Data.Query", "dataset": PEOPLE_DATASET}
        if values.get("owners_pick"):
            pick["value"] = values["owners_pick"]
        elements.append(pick)
    elements.append(
        _text_input(
            "owners_typed",
            LABEL["owners_typed"],
            values,
            placeholder=LABEL["owners_placeholder"],
        )
    )
    return elements


def _priority_card(
    form: PriorityForm,
    body: list[dict[str, Any]],
    options: RenderOptions,
    title: str,
    drawn: str = "",
) -> dict[str, Any]:
    """Target level, next steps, owners and by when, saved together or not at all."""
    sid = form.statement_id
    values = dict(priority_values(form))
    values.update({k: v for k, v in options.values.items() if v})
    body.append(text_block(teams_wording.TEAMS_PRIORITY_INTRO))
    if not options.interactive:
        return card(body)
    targets = [c for c in form.target.choices if c.value != KEEP]
    body.append(text_block(form.target.text, isSubtle=True))
    body.append(_choice_input("target", LABEL["target"], targets, values.get("target")))
    body.append(
        _text_input("next_steps", LABEL["next_steps"], values, multiline=True, required=True)
    )
    # "Not decided yet" is typed (TBC) in the owners field, never picked as a person.
    people = [c for c in form.owners.choices if c.value not in (KEEP, TBC)]
    body.extend(_owner_inputs(people, values, options.people_picker))
    dated = [c for c in form.due.choices if c.value != KEEP]
    body.append(_choice_input("due", LABEL["due"], dated, values.get("due")))
    data = _form_data("priority", Step.TARGET, sid, title, drawn)
    data["labels"] = {c.value: c.label for c in dated}
    body.append(action_set([submit(LABEL["save"], data, "positive")]))
    navigation = _navigation(Step.TARGET, sid, title, drawn)
    if navigation:
        body.append(navigation)
    return card(body)


def priority_values(form: PriorityForm) -> dict[str, str]:
    """The boxes of a priority card filled from the answer being changed (if any)."""
    values: dict[str, str] = {}
    targets = [c.value for c in form.target.choices if c.value != KEEP]
    current = form.current
    if current is not None and current.target_level and str(current.target_level) in targets:
        values["target"] = str(current.target_level)
    elif targets:
        values["target"] = targets[0]
    if current is None:
        return values
    if current.next_steps:
        values["next_steps"] = current.next_steps
    people = {
        c.value.casefold(): c.value for c in form.owners.choices if c.value not in (KEEP, TBC)
    }
    picked = [people[o.casefold()] for o in current.owner_names if o.casefold() in people]
    typed = [o for o in current.owner_names if o.casefold() not in people]
    if picked:
        values["owners_pick"] = ",".join(picked)
    if typed:
        values["owners_typed"] = ", ".join(typed)
    dated = {c.value for c in form.due.choices}
    if current.due and current.due in dated:
        values["due"] = current.due
    return values


# ----- what a submitted form means -----------------------------------------------------------

_INPUTS = {
    "participants": ("participants",),
    "evidence": tuple(f"{kind}_{n}" for n in range(1, LINK_ROWS + 1) for kind in ("label", "link")),
    "note": ("note",),
    "next_steps": ("next_steps",),
    "owners": ("owners_pick", "owners_typed"),
    "due": ("due",),
    "priority": ("target", "next_steps", "owners_pick", "owners_typed", "due"),
}


def form_values(value: Mapping[str, Any]) -> dict[str, str]:
    """The inputs of a submitted form, as strings (Teams sends what the person left in them)."""
    names = _INPUTS.get(str(value.get("form")), ())
    return {name: str(value.get(name) or "").strip() for name in names}


def picked(values: Mapping[str, str]) -> list[str]:
    """The values chosen in the people picker (Teams joins a multi-select with commas)."""
    return [v.strip() for v in values.get("owners_pick", "").split(",") if v.strip()]


def owners_text(names: Sequence[str], typed: str) -> str:
    return ", ".join([*names, typed] if typed else names)


def _steps(text: str) -> str:
    """Next steps one per line, as the engine keeps them (blank lines dropped)."""
    return "\n".join(line.strip() for line in re.split(r"[\r\n]+", text) if line.strip())


def _required(text: str, input_id: str, label_key: str | None = None) -> str:
    if not text:
        label = LABEL[label_key or input_id]
        raise FormError(teams_wording.TEAMS_FORM_MISSING.format(field=label), input_id)
    return text


def _where(value: Mapping[str, Any]) -> tuple[Step, str | None]:
    """The question a card was drawn for (its buttons and forms answer only that one)."""
    try:
        step = Step(str(value.get("step")))
    except ValueError:
        raise FormError(teams_wording.TEAMS_CARD_OUT_OF_DATE) from None
    sid = value.get("sid")
    return step, str(sid) if sid is not None else None


def chosen(value: Mapping[str, Any]) -> Choose:
    """A button on a question card, as the typed choice it is."""
    step, sid = _where(value)
    return Choose(step, sid, str(value.get("text") or ""))


def typed_links(value: Mapping[str, Any]) -> list[str]:
    """The evidence links typed into a card, whichever of its buttons sent it (Teams sends
    every input of the card with any Action.Submit), each as "label url"."""
    texts = []
    for n in range(1, LINK_ROWS + 1):
        label = str(value.get(f"label_{n}") or "").strip()
        link = str(value.get(f"link_{n}") or "").strip()
        if link:
            texts.append(f"{label} {link}".strip())
    return texts


def evidence_fields(sid: str | None, links: Sequence[str], then: str | None) -> Fields:
    """Links typed on an evidence card, then (optionally) the word that moves on: one form."""
    values = [(Step.EVIDENCE, link) for link in links]
    if then:
        values.append((Step.EVIDENCE, then))
    return Fields(Step.EVIDENCE, sid, tuple(values))


def form_fields(value: Mapping[str, Any], owner_names: Sequence[str] = ()) -> Fields:
    """A submitted form as the engine's Fields: its answers, in the engine's order.

    `owner_names` are the people picked, already turned into names or initials. Raises
    FormError when a box the answer needs is empty (checked here, before any transaction).
    """
    form = value.get("form")
    step, sid = _where(value)
    values = form_values(value)
    answers: list[tuple[Step, str]]
    if form == "participants":
        answers = [(Step.PARTICIPANTS, _required(values["participants"], "participants"))]
    elif form == "evidence":
        return evidence_fields(sid, typed_links(value), str(value.get("finish") or "") or None)
    elif form == "note":
        answers = [(Step.NOTE, values["note"] or str(value.get("empty") or ""))]
    elif form == "next_steps":
        answers = [(Step.NEXT_STEPS, _required(_steps(values["next_steps"]), "next_steps"))]
    elif form == "owners":
        owners = owners_text(owner_names, values["owners_typed"])
        answers = [(Step.OWNERS, _required(owners, "owners_typed"))]
    elif form == "due":
        answers = [(Step.DUE, _required(values["due"], "due"))]
    elif form == "priority":
        owners = owners_text(owner_names, values["owners_typed"])
        answers = [
            (Step.TARGET, _required(values["target"], "target")),
            (Step.NEXT_STEPS, _required(_steps(values["next_steps"]), "next_steps")),
            (Step.OWNERS, _required(owners, "owners_typed")),
            (Step.DUE, _required(values["due"], "due")),
        ]
    else:
        raise FormError(teams_wording.TEAMS_CARD_OUT_OF_DATE)
    return Fields(step, sid, tuple(answers))


def form_answer(value: Mapping[str, Any], fields: Fields) -> str:
    """How a saved form reads on the card it replaces."""
    form = value.get("form")
    labels: Mapping[str, str] = value.get("labels") or {}
    texts = [text for _, text in fields.values]
    if fields.step is Step.EVIDENCE:
        links = [t for t in texts if "://" in t or t.lower().startswith("www.")]
        return (
            teams_wording.TEAMS_ANSWER_LINKS.format(count=len(links))
            if links
            else teams_wording.TEAMS_ANSWER_NO_LINKS
        )
    if form == "priority" and len(texts) == 4:
        target, next_steps, owners, due = texts
        return teams_wording.TEAMS_ANSWER_PRIORITY.format(
            target=target,
            next_steps="; ".join(next_steps.splitlines()),
            owners=owners,
            due=labels.get(due, due),
        )
    if form == "due" and texts:
        return labels.get(texts[0], texts[0])
    return "; ".join(" ".join(t.splitlines()) for t in texts)


def answered_card(title: str, answer: str) -> dict[str, Any]:
    """What an answered card becomes: the question's title and the answer, and no buttons."""
    body = [text_block(title, weight="Bolder")] if title else []
    body.append(text_block(teams_wording.TEAMS_ANSWERED.format(answer=answer), color="Good"))
    return card(body)


def retired_card(title: str) -> dict[str, Any]:
    body = [text_block(title, weight="Bolder")] if title else []
    body.append(text_block(teams_wording.TEAMS_CARD_RETIRED, isSubtle=True))
    return card(body)


# ----- information cards ---------------------------------------------------------------------


def _cell(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TableCell", "items": [text_block(text, **style)]}


def summary_card(summary: Summary) -> dict[str, Any]:
    """The summary grid: every statement against levels 1-4, priorities and strengths marked."""
    header = {
        "type": "TableRow",
        "style": "accent",
        "cells": [
            _cell(LABEL["statement"], weight="Bolder"),
            *(
                _cell(str(level), weight="Bolder", horizontalAlignment="Center")
                for level in (1, 2, 3, 4)
            ),
            _cell(""),
        ],
    }
    rows = [header]
    for row in summary.rows:
        flag = LABEL["priority"] if row.priority else LABEL["strength"] if row.strength else ""
        colour = "Attention" if row.priority else "Good" if row.strength else "Default"
        rows.append(
            {
                "type": "TableRow",
                "cells": [
                    _cell(row.label),
                    *(
                        _cell("●" if row.level == level else "", horizontalAlignment="Center")
                        for level in (1, 2, 3, 4)
                    ),
                    _cell(flag, color=colour, weight="Bolder"),
                ],
            }
        )
    caption = teams_wording.TEAMS_SUMMARY_CAPTION.format(
        answered=summary.answered,
        total=summary.total,
        priorities=len(summary.priorities),
        strengths=len(summary.strengths),
    )
    return card(
        [
            text_block(
                teams_wording.TEAMS_SUMMARY_TITLE.format(title=summary.title),
                size="Medium",
                weight="Bolder",
            ),
            {
                "type": "Table",
                "firstRowAsHeader": True,
                "showGridLines": True,
                "gridStyle": "default",
                "columns": [{"width": 6}, *({"width": 1} for _ in range(4)), {"width": 2}],
                "rows": rows,
            },
            text_block(caption, isSubtle=True),
        ]
    )


def plan_card(plan: ActionPlan, exports: bool) -> dict[str, Any]:
    """The action plan, one block per priority, with the real deadline and owners."""
    body: list[dict[str, Any]] = [
        text_block(
            teams_wording.TEAMS_PLAN_TITLE.format(title=plan.title), size="Medium", weight="Bolder"
        )
    ]
    if not plan.rows:
        body.append(text_block(teams_wording.TEAMS_PLAN_EMPTY, isSubtle=True))
    for row in plan.rows:
        who = row.who
        body.append(
            {
                "type": "Container",
                "separator": True,
                "items": [
                    text_block(row.leadership_area, weight="Bolder"),
                    fact_set(
                        [
                            (
                                LABEL["current_position"],
                                f"{row.current_level}: {row.current_position}",
                            ),
                            (
                                LABEL["actions_to_improve"],
                                f"{row.target_level}: {row.actions_to_improve}"
                                if row.target_level
                                else "",
                            ),
                            (LABEL["next_steps"], "\n".join(row.next_steps)),
                            (
                                LABEL["by_when_who"],
                                " – ".join(p for p in (row.by_when_dated, who) if p),
                            ),
                        ]
                    ),
                ],
            }
        )
    actions = None
    if exports and plan.rows:
        # The plan as a file, and the three documents built from it (the same commands as
        # typed: `evidence pack`, `governors report`, `policy draft`), each offered to save.
        actions = [
            submit(LABEL["download_docx"], {MARK: COMMAND, "text": "export docx"}),
            submit(LABEL["download_xlsx"], {MARK: COMMAND, "text": "export xlsx"}),
            *(
                submit(LABEL[kind.name.lower()], {MARK: COMMAND, "text": kind.value})
                for kind in DocumentKind
            ),
        ]
    return card(body, actions)


def _action_facts(action: ActionView, today: Any) -> list[tuple[str, str]]:
    late = action.overdue(today)
    return [
        (
            LABEL["target"],
            f"{action.current_level} → {action.target_level}" if action.target_level else "",
        ),
        (LABEL["next_steps"], action.next_steps or ""),
        (LABEL["who"], " / ".join(action.owner_names)),
        (LABEL["due"], action.by_when),
        (LABEL["status"], teams_wording.TEAMS_OVERDUE if late else action.status.label),
    ]


def actions_card(title: str, actions: Sequence[ActionView], today: Any) -> dict[str, Any]:
    body: list[dict[str, Any]] = [text_block(title, size="Medium", weight="Bolder")]
    for action in actions:
        body.append(
            {
                "type": "Container",
                "separator": True,
                "items": [
                    text_block(
                        f"#{action.ref} {action.statement_label}",
                        weight="Bolder",
                        color="Attention" if action.overdue(today) else "Default",
                    ),
                    fact_set(_action_facts(action, today)),
                ],
            }
        )
    return card(body)


def local_time(at: datetime, timezone: str) -> datetime:
    """A stored moment (UTC; naive means UTC) in the organisation's own time."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(ZoneInfo(timezone))


def action_card(action: ActionView, today: Any, timezone: str = "Europe/London") -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        text_block(
            teams_wording.TEAMS_ACTION_TITLE.format(id=action.ref, label=action.statement_label),
            size="Medium",
            weight="Bolder",
        ),
        fact_set(_action_facts(action, today)),
    ]
    if action.updates:
        body.append(text_block(LABEL["history"], weight="Bolder"))
        for update in action.updates:
            at = local_time(update.at, timezone)
            line = f"{at:%a} {at.day} {at:%b %Y} {at:%H:%M} · {update.kind}"
            if update.by:
                line += f" · {update.by}"
            if update.note:
                line += f": {update.note}"
            if update.link:
                line += f" ({update.link})"
            body.append(text_block(line, spacing="Small"))
    return card(body)


def notice_card(notice: Notice) -> dict[str, Any]:
    """A reminder or digest: its sections, and buttons that send their command as typed."""
    body: list[dict[str, Any]] = [text_block(notice.title, size="Medium", weight="Bolder")]
    for heading, lines in notice.sections:
        if heading:
            body.append(text_block(heading, weight="Bolder", spacing="Medium"))
            body.append(text_block("\n".join(f"- {line}" for line in lines), spacing="Small"))
        else:
            body.extend(text_block(line) for line in lines)
    actions = [submit(b.label, {MARK: COMMAND, "text": b.value}) for b in notice.buttons]
    if notice.document_url:  # a channel message cannot carry a file: a signed link instead
        actions.append(
            {
                "type": "Action.OpenUrl",
                "title": LABEL["open_governors_report"],
                "url": notice.document_url,
            }
        )
    elif notice.document:
        body.append(text_block(teams_wording.TEAMS_GOVERNORS_REPORT_ASK, isSubtle=True))
    return card(body, actions or None)


def welcome_card(text: str) -> dict[str, Any]:
    return card(
        [text_block(text)],
        [submit(LABEL["start"], {MARK: COMMAND, "text": "review"}, "positive")],
    )


# ----- a turn's replies ----------------------------------------------------------------------


@dataclass(frozen=True)
class Drawn:
    """One activity of a turn; `statement_id` marks a statement's one card (updated in place)."""

    activity: Activity
    statement_id: str | None = None
    step: Step | None = None  # the question a question card (not a statement's) asks


def peer_comparison_card(shown: ShowPeerComparison) -> dict[str, Any]:
    """A peer's ratings beside the school's, one block per statement, differences first."""
    body = [text_block(shown.title, weight="Bolder", size="Medium", wrap=True)]
    for row in shown.rows:
        body.append(text_block(row.label, weight="Bolder", separator=True))
        body.append(text_block(peer_review.row_levels(row, shown.peer)))
        if row.comment:
            body.append(text_block(row.comment, isSubtle=True))
        if row.suggestion:
            body.append(text_block(f"Suggested action: {row.suggestion}", isSubtle=True))
    return card(body)


def render(replies: Sequence[Reply], options: RenderOptions | None = None) -> list[Activity]:
    """The replies of one turn as Teams activities, in order."""
    return [d.activity for d in draw(replies, options)]


def draw(
    replies: Sequence[Reply],
    options: RenderOptions | None = None,
    on_screen: Collection[str] = (),
) -> list[Drawn]:
    """The replies of one turn as Teams activities, in order, each statement's card marked.

    Plain messages ride at the top of the card that follows them. Statement cards already
    `on_screen` are updated in place, perhaps far up the chat, so messages go on the turn's
    last card only when it is new (and no summary or plan follows); otherwise they are sent
    on their own, as refusals always are, next to the words they answer."""
    options = options or RenderOptions()
    out: list[Drawn] = []
    pending: list[Message] = []

    def flush() -> None:
        if pending:
            out.append(Drawn(text_activity("\n\n".join(m.text for m in pending))))
            pending.clear()

    for index, reply in enumerate(replies):
        if isinstance(reply, Message):
            pending.append(reply)
        elif isinstance(reply, StatementCard):
            rest = [m for m in pending if m.tone is not Tone.ERROR]
            if len(rest) < len(pending):  # refusals first, on their own
                pending[:] = [m for m in pending if m.tone is Tone.ERROR]
                flush()
                pending.extend(rest)
            last = all(isinstance(r, Message) for r in replies[index + 1 :])
            preface: list[Message] = []
            if last and reply.statement.id not in on_screen:
                preface, pending[:] = list(pending), []
            else:
                flush()
            content = statement_message(reply, preface, options, drawn=answer_token())
            summary = reply.statement.short_label
            if reply.question is not None:
                summary = f"{summary} – {reply.question.text}"
            out.append(Drawn(card_activity(content, summary), reply.statement.id))
        elif isinstance(reply, StatementPrompt):
            content = statement_card(reply, pending, options)
            summary = reply.statement.short_label
            pending.clear()
            out.append(Drawn(card_activity(content, summary)))
        elif isinstance(reply, Question):
            content = question_card(reply, pending, options, drawn=answer_token())
            pending.clear()
            out.append(Drawn(card_activity(content, reply.text), step=reply.step))
        elif isinstance(reply, ShowSummary):
            flush()
            out.append(Drawn(card_activity(summary_card(reply.summary), reply.summary.title)))
        elif isinstance(reply, ShowPlan):
            flush()
            plan = plan_card(reply.plan, options.exports)
            out.append(Drawn(card_activity(plan, reply.plan.title)))
        elif isinstance(reply, ShowActions):
            flush()
            listing = actions_card(reply.title, reply.actions, reply.today)
            out.append(Drawn(card_activity(listing, reply.title)))
        elif isinstance(reply, ShowAction):
            flush()
            shown = action_card(reply.action, reply.today, options.timezone)
            out.append(Drawn(card_activity(shown)))
        elif isinstance(reply, ShowPeerComparison):
            flush()
            out.append(Drawn(card_activity(peer_comparison_card(reply), reply.title)))
        elif isinstance(reply, SendDocument):
            continue  # the bot says it is preparing it and sends it as a file (bot._export)
        elif isinstance(reply, ShowGroupView):
            flush()
            out.append(Drawn(card_activity(group_card(reply.view), reply.view.name)))
        elif isinstance(reply, ShowComparison):
            flush()
            out.append(Drawn(card_activity(comparison_card(reply.comparison))))
        elif isinstance(reply, ShowInvitations):
            flush()
            out.extend(Drawn(card_activity(c)) for c in invitation_cards(reply))
        elif isinstance(reply, SendGroupWorkbook):
            continue  # the bot says it is preparing it and sends it as a file (bot._export)
        else:  # pragma: no cover - the Reply union is closed
            raise TypeError(f"cannot render {reply!r}")
    flush()
    return out


def answer_token() -> str:
    """A new token for one drawing of a question: its buttons and forms send it back, so a
    double click is one answer while the same question drawn again (after "back") is new."""
    return uuid4().hex[:8]


def question_of(replies: Sequence[Reply]) -> Question | StatementPrompt | None:
    """The last question among replies (the one a card would ask)."""
    for reply in reversed(replies):
        if isinstance(reply, StatementCard) and reply.question is not None:
            return reply.question
        if isinstance(reply, Question | StatementPrompt):
            return reply
    return None


# ----- groups ---------------------------------------------------------------------------------


def group_card(view: groups.GroupView) -> dict[str, Any]:
    """A lead's group view: progress, maturity by theme per edition, then the schools."""
    body: list[dict[str, Any]] = [
        text_block(markdown_text(groups.view_heading(view)), size="Medium", weight="Bolder"),
        fact_set(groups.progress_facts(view)),
    ]
    for figures in view.editions:
        body.append(text_block(groups.edition_heading(figures), weight="Bolder", spacing="Medium"))
        body.append(
            fact_set(
                [(f"{t.number} {t.title}", groups.spread_text(t.maturity)) for t in figures.themes]
            )
        )
    body.append(text_block(LABEL["group_schools"], weight="Bolder", spacing="Medium"))
    body.extend(
        text_block(markdown_text(groups.school_line(line)), spacing="None") for line in view.members
    )
    body.append(text_block(LABEL["group_caption"], isSubtle=True, spacing="Medium"))
    return card(body, [submit(LABEL["group_xlsx"], {MARK: COMMAND, "text": "group xlsx"})])


def comparison_card(c: groups.Comparison) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        text_block(markdown_text(groups.comparison_heading(c)), weight="Bolder")
    ]
    for theme in sorted({row.theme for row in c.rows}):
        facts = [
            (row.label, groups.comparison_line(row).split(": ", 1)[1])
            for row in c.rows
            if row.theme == theme
        ]
        body.append(fact_set(facts))
    return card(body)


def invitation_cards(reply: ShowInvitations) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for invitation in reply.invitations:
        text = LABEL["group_invitation"].format(
            group=markdown_text(invitation.name),
            kind=groups.KIND_LABELS.get(invitation.kind, invitation.kind),
            school=markdown_text(reply.organisation),
        )
        out.append(
            card(
                [text_block(text)],
                [
                    submit(
                        LABEL["group_join"],
                        {MARK: COMMAND, "text": f"join group {invitation.group_id}"},
                        "positive",
                    ),
                    submit(
                        LABEL["group_decline"],
                        {MARK: COMMAND, "text": f"decline group {invitation.group_id}"},
                    ),
                ],
            )
        )
    return out
