"""The engine's replies drawn as Block Kit: nothing is decided here, only how it looks in Slack.

Each question (a statement prompt, a step's question) becomes one message with its buttons;
plain messages that come before it in the same turn ride along in that message, so a turn
costs as few `chat.postMessage` calls as possible (Slack allows about one per second per
channel). A button's value is exactly the text a person would type ("3", "done", "back").

Every actions block that answers the review carries the question it belongs to in its
`block_id` ("q|1.2|level|0"), so a click on an old message is recognised and refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from bot.slack import wording as slack_wording
from model_data import BulletList, Statement
from workflows import groups, peer_review
from workflows.actions import ActionView
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

Block = dict[str, Any]

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_BUTTON = 75
MAX_ELEMENTS = 25
MAX_FALLBACK = 3000

# action_id prefixes the listeners match on.
ANSWER = "careers:answer"  # a button whose value is an answer or a command for the review
EVIDENCE_FORM = "careers:evidence_form"
PRIORITY_FORM = "careers:priority_form"
ACTION_DONE = "careers:action_done"
ACTION_UPDATE = "careers:action_update"
OPEN_REVIEW = "careers:open_review"
NOTICE_BUTTON = "careers:notice"  # reminder buttons: the value is an action command

_ICONS = {Tone.INFO: "", Tone.SUCCESS: ":white_check_mark: ", Tone.ERROR: ":warning: "}
_NAVIGATION = ("back", "skip", "pause")


def escape(text: str) -> str:
    """Slack mrkdwn needs &, < and > escaped, or it reads them as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, MAX_SECTION)}]}


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER)}}


def button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": clip(label, MAX_BUTTON), "emoji": True},
        "value": value,
    }
    if style:
        element["style"] = style
    return element


@dataclass(frozen=True)
class QuestionRef:
    """Which question an actions block answers: statement and step, kept in its block_id,
    with a token new each time the question is drawn, so the same button pressed twice is one
    answer while the same question asked again (after "back") takes a new one."""

    statement_id: str | None
    step: Step
    drawn: str = ""

    def block_id(self, n: int) -> str:
        return f"q|{self.statement_id or ''}|{self.step.value}|{n}|{self.drawn}"

    @classmethod
    def parse(cls, block_id: str) -> QuestionRef | None:
        parts = block_id.split("|")
        if len(parts) not in (4, 5) or parts[0] != "q":
            return None
        try:
            return cls(parts[1] or None, Step(parts[2]), parts[4] if len(parts) == 5 else "")
        except ValueError:
            return None


@dataclass
class SlackMessage:
    """One chat.postMessage (or chat.update of a statement's message): its notification text
    and its blocks; `statement_id` marks a statement's one message."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    statement_id: str | None = None


def render(replies: Sequence[Reply]) -> list[SlackMessage]:
    """The replies of one turn as Slack messages, in order."""
    out: list[SlackMessage] = []
    blocks: list[Block] = []
    texts: list[str] = []

    def flush() -> None:
        if blocks:
            out.extend(_split(" ".join(texts), blocks))
        blocks.clear()
        texts.clear()

    for reply in replies:
        if isinstance(reply, Message):
            blocks.append(message_block(reply))
            texts.append(reply.text)
        elif isinstance(reply, StatementPrompt):
            # Resuming part-way through a statement: the prompt only shows where we are, and
            # the question that follows carries the buttons.
            blocks.extend(prompt_blocks(reply))
            texts.append(f"{reply.statement.id} {reply.statement.title}")
            if reply.asking:
                flush()
        elif isinstance(reply, Question):
            blocks.extend(question_blocks(reply))
            texts.append(reply.text)
            flush()
        elif isinstance(reply, StatementCard):
            flush()
            out.append(card_message(reply))
        elif isinstance(reply, ShowSummary):
            blocks.extend(summary_blocks(reply.summary))
            texts.append(f"Summary – {reply.summary.title}")
            flush()
        elif isinstance(reply, ShowPlan):
            blocks.extend(plan_blocks(reply.plan))
            texts.append(f"Action plan – {reply.plan.title}")
            flush()
        elif isinstance(reply, ShowActions):
            blocks.extend(actions_blocks(reply.title, reply.actions, reply.today))
            texts.append(reply.title)
            flush()
        elif isinstance(reply, ShowAction):
            blocks.extend(action_blocks(reply.action, reply.today, reply.timezone))
            texts.append(f"Action #{reply.action.ref}")
            flush()
        elif isinstance(reply, SendDocument):  # the file follows (handlers.send_documents)
            text = slack_wording.SLACK_DOCUMENT_PREPARING.format(document=reply.kind.label)
            blocks.append(section(escape(text)))
            texts.append(text)
            flush()
        elif isinstance(reply, ShowGroupView):
            blocks.extend(group_blocks(reply.view))
            texts.append(groups.view_heading(reply.view))
            flush()
        elif isinstance(reply, ShowComparison):
            blocks.extend(comparison_blocks(reply.comparison))
            texts.append(f"Compared with {reply.comparison.group_name}")
            flush()
        elif isinstance(reply, ShowInvitations):
            blocks.extend(invitation_blocks(reply))
            texts.append("Group invitations")
            flush()
        elif isinstance(reply, SendGroupWorkbook):  # the file follows (handlers.send_documents)
            blocks.append(section(escape(slack_wording.SLACK_GROUP_WORKBOOK_PREPARING)))
            texts.append(slack_wording.SLACK_GROUP_WORKBOOK_PREPARING)
            flush()
        elif isinstance(reply, ShowPeerComparison):
            blocks.extend(peer_comparison_blocks(reply))
            texts.append(reply.title)
            flush()
        else:  # pragma: no cover - every Reply type is drawn above
            raise TypeError(f"cannot render {reply!r}")
    flush()
    return out


def peer_comparison_blocks(shown: ShowPeerComparison) -> list[Block]:
    """A peer's ratings beside the school's, one section per statement, differences first."""
    out = [header(clip(shown.title, 150))]
    for row in shown.rows:
        text = f"*{escape(row.label)}*\n{escape(peer_review.row_levels(row, shown.peer))}"
        if row.comment:
            text += f"\n> {escape(row.comment)}"
        if row.suggestion:
            text += f"\n_Suggested action:_ {escape(row.suggestion)}"
        out.append(section(clip(text, 3000)))
    return out


def _split(text: str, blocks: list[Block]) -> list[SlackMessage]:
    """Slack takes at most 50 blocks a message: long summaries go in several."""
    chunks = [blocks[i : i + MAX_BLOCKS] for i in range(0, len(blocks), MAX_BLOCKS)]
    return [SlackMessage(clip(text, MAX_FALLBACK), list(chunk)) for chunk in chunks]


def message_block(reply: Message) -> Block:
    return section(_ICONS[reply.tone] + escape(reply.text))


def descriptor(statement: Statement, level: int) -> str | None:
    """A level's descriptor as mrkdwn, its lists as bullets."""
    blocks = statement.levels.get(level)
    if blocks is None:
        return None
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, BulletList):
            lines.extend(f"• {escape(item)}" for item in block.items)
        else:
            lines.append(escape(block))
    return "\n".join(lines)


def prompt_blocks(prompt: StatementPrompt) -> list[Block]:
    """Theme header, statement, its four descriptors, level buttons, Back/Skip/Pause, progress
    (no question and no buttons when the prompt is shown for context only)."""
    statement = prompt.statement
    out: list[Block] = []
    if prompt.theme is not None:
        numbers = ", ".join(str(b) for b in prompt.theme.benchmarks)
        word = "Benchmark" if len(prompt.theme.benchmarks) == 1 else "Benchmarks"
        out.append(header(f"Theme {prompt.theme.number}: {prompt.theme.title}"))
        out.append(context(slack_wording.SLACK_BENCHMARKS.format(word=word, numbers=numbers)))
    out.append(section(f"*{escape(statement.id)} {escape(statement.title)}*"))
    for choice in prompt.level_choices:
        if not choice.value.isdigit():
            continue
        level = int(choice.value)
        label = f"Level {level}" if statement.has_level(level) else choice.label
        text = descriptor(statement, level) or f"_{slack_wording.SLACK_NO_DESCRIPTOR}_"
        out.append(section(f"*{escape(label)}*\n{text}"))
    if prompt.current is not None:
        prefix = (
            slack_wording.SLACK_LAST_REVIEW
            if prompt.current.carried
            else slack_wording.SLACK_YOUR_ANSWER
        )
        out.append(context(f"{prefix}: {escape(describe(prompt.current))}"))
    if prompt.asking:
        ref = QuestionRef(statement.id, Step.LEVEL)
        out.append(section(f"*{escape(prompt.text)}*"))
        out.append(_answers(ref, prompt.level_choices, primary=True))
        out.append(_navigation(ref))
    progress = prompt.progress
    out.append(
        context(
            slack_wording.SLACK_PROGRESS.format(
                progress=progress.text, answered=progress.answered, total=progress.total
            )
        )
    )
    return out


def card_message(card: StatementCard) -> SlackMessage:
    """A statement's one message: header, statement, descriptors, the answer so far, what
    this turn said about it, and the pending question's buttons (none once it is answered)."""
    statement = card.statement
    out: list[Block] = []
    if card.theme is not None:
        numbers = ", ".join(str(b) for b in card.theme.benchmarks)
        word = "Benchmark" if len(card.theme.benchmarks) == 1 else "Benchmarks"
        out.append(header(f"Theme {card.theme.number}: {card.theme.title}"))
        out.append(context(slack_wording.SLACK_BENCHMARKS.format(word=word, numbers=numbers)))
    out.append(section(f"*{escape(statement.id)} {escape(statement.title)}*"))
    chosen = card.answer.level if card.answer is not None else None
    for choice in card.level_choices:
        level = int(choice.value)
        label = f"Level {level}" if statement.has_level(level) else choice.label
        if chosen is not None and card.question is None and level != chosen:
            continue  # answered: the chosen descriptor only, so the message stays short
        text = descriptor(statement, level) or f"_{slack_wording.SLACK_NO_DESCRIPTOR}_"
        mark = " :white_check_mark:" if level == chosen else ""
        out.append(section(f"*{escape(label)}*{mark}\n{text}"))
    if card.answer is not None and card.answer.level is not None:
        prefix = (
            slack_wording.SLACK_LAST_REVIEW
            if card.answer.carried
            else slack_wording.SLACK_YOUR_ANSWER
        )
        out.append(context(f"{prefix}: {escape(describe(card.answer))}"))
        if card.answer.note:
            out.append(context(f"{slack_wording.SLACK_NOTE}: {escape(card.answer.note)}"))
    out.extend(message_block(notice) for notice in card.notices)
    if card.question is not None:
        out.extend(question_blocks(card.question, drawn=uuid4().hex[:8]))
    progress = card.progress
    out.append(
        context(
            slack_wording.SLACK_PROGRESS.format(
                progress=progress.text, answered=progress.answered, total=progress.total
            )
        )
    )
    text = f"{statement.id} {statement.title}"
    if card.question is not None:
        text += f" – {card.question.text}"
    return SlackMessage(clip(text, MAX_FALLBACK), out[:MAX_BLOCKS], statement.id)


def question_blocks(question: Question, drawn: str = "") -> list[Block]:
    """The question, its choices as buttons, a form button where one helps, Back/Skip/Pause."""
    ref = QuestionRef(question.statement_id, question.step, drawn)
    out: list[Block] = []
    if question.hint:
        out.append(context(escape(question.hint)))
    out.append(section(f"*{escape(question.text)}*"))
    extra: list[dict[str, Any]] = []
    if question.step is Step.EVIDENCE:
        extra.append(button(slack_wording.SLACK_ADD_LINKS, EVIDENCE_FORM, "evidence", "primary"))
    elif question.step is Step.TARGET:
        extra.append(
            button(slack_wording.SLACK_PRIORITY_FORM, PRIORITY_FORM, "priority", "primary")
        )
    if question.choices or extra:
        out.append(_answers(ref, question.choices, extra=extra))
    if question.statement_id is not None:
        out.append(_navigation(ref))
    return out


def _answers(
    ref: QuestionRef,
    choices: Iterable[Choice],
    primary: bool = False,
    extra: Sequence[dict[str, Any]] = (),
) -> Block:
    elements = list(extra)
    for n, choice in enumerate(choices):
        style = "primary" if primary and choice.value.isdigit() else None
        elements.append(button(choice.label, f"{ANSWER}:{n}", choice.value, style))
    return {"type": "actions", "block_id": ref.block_id(0), "elements": elements[:MAX_ELEMENTS]}


def _navigation(ref: QuestionRef) -> Block:
    elements = [
        button(slack_wording.SLACK_BUTTONS[word], f"{ANSWER}:nav:{word}", word)
        for word in _NAVIGATION
    ]
    return {"type": "actions", "block_id": ref.block_id(1), "elements": elements}


def answered(blocks: Sequence[Block], note: str, only_block: str | None = None) -> list[Block]:
    """A message after its answer: the buttons gone (all, or one block's), the answer shown."""
    kept: list[Block] = []
    for block in blocks:
        if block.get("type") != "actions":
            kept.append(block)
            continue
        block_id = str(block.get("block_id", ""))
        if only_block is not None and block_id != only_block:
            kept.append(block)
        elif only_block is not None:
            kept.append(context(escape(note)))
    if only_block is None:
        kept.append(context(escape(note)))
    return kept[:MAX_BLOCKS]


# ----- summary, plan, actions ----------------------------------------------------------------


def summary_blocks(summary: Summary) -> list[Block]:
    out: list[Block] = [header(f"Summary – {summary.title}")]
    titles = {t.number: t.title for t in summary.themes}
    for theme in titles:
        lines = [f"*Theme {theme}: {escape(titles[theme])}*"]
        for row in (r for r in summary.rows if r.theme == theme):
            level = f"`{row.level}`" if row.level is not None else "`–`"
            mark = ""
            if row.priority:
                mark = f"  :red_circle: *{slack_wording.SLACK_SUMMARY_ROW_PRIORITY}*"
            elif row.strength:
                mark = f"  :large_green_circle: _{slack_wording.SLACK_SUMMARY_ROW_STRENGTH}_"
            lines.append(f"{level} {escape(row.label)}{mark}")
        out.append(section("\n".join(lines)))
    out.append(
        context(
            slack_wording.SLACK_SUMMARY_CAPTION.format(
                answered=summary.answered,
                total=summary.total,
                priorities=len(summary.priorities),
                strengths=len(summary.strengths),
            )
        )
    )
    return out


def plan_blocks(plan: ActionPlan) -> list[Block]:
    out: list[Block] = [header(f"Action plan – {plan.title}")]
    if not plan.rows:
        out.append(section(slack_wording.SLACK_PLAN_EMPTY))
        return out
    for row in plan.rows:
        steps = "\n".join(f"• {escape(step)}" for step in row.next_steps) or "–"
        who = " / ".join(row.owners)
        by_when = " – ".join(part for part in (row.by_when_dated, who) if part) or "–"
        out.append(
            section(
                slack_wording.SLACK_PLAN_ROW.format(
                    area=escape(row.leadership_area),
                    current=row.current_level,
                    position=escape(clip(row.current_position, 900)),
                    target=row.target_level or "–",
                    improve=escape(clip(row.actions_to_improve, 900)) or "–",
                    steps=steps,
                    by_when=escape(by_when),
                )
            )
        )
    return out


def action_line(action: ActionView, today: date) -> str:
    status = slack_wording.SLACK_ACTION_OVERDUE if action.overdue(today) else action.status.label
    return slack_wording.SLACK_ACTION_LINE.format(
        id=action.ref,
        label=escape(action.statement_label),
        current=action.current_level,
        target=action.target_level or "–",
        owners=escape(" / ".join(action.owner_names)) or "–",
        by_when=escape(action.by_when) or "–",
        status=status,
        steps=escape(action.next_steps or ""),
    )


def action_buttons(action: ActionView) -> Block:
    return {
        "type": "actions",
        "block_id": f"a|{action.ref}",
        "elements": [
            button(slack_wording.SLACK_MARK_DONE, ACTION_DONE, str(action.ref), "primary"),
            button(slack_wording.SLACK_UPDATE_ACTION, ACTION_UPDATE, str(action.ref)),
        ],
    }


def actions_blocks(title: str, actions: Sequence[ActionView], today: date) -> list[Block]:
    out: list[Block] = [header(title)]
    for action in actions:
        out.append(section(action_line(action, today)))
        if action.status.open:
            out.append(action_buttons(action))
    return out


def action_blocks(action: ActionView, today: date, timezone: str = "Europe/London") -> list[Block]:
    """One action with its dated history, in the organisation's own timezone."""
    zone = ZoneInfo(timezone)
    out = [section(action_line(action, today))]
    if action.updates:
        lines = []
        for update in action.updates:
            at = update.at.astimezone(zone)
            line = f"{at:%a} {at.day} {at:%b %Y} {at:%H:%M} · {update.kind}"
            if update.by:
                line += f" · {update.by}"
            if update.note:
                line += f": {update.note}"
            if update.link:
                line += f" ({update.link})"
            lines.append(escape(line))
        out.append(context(f"*{slack_wording.SLACK_ACTION_HISTORY}*\n" + "\n".join(lines)))
    if action.status.open:
        out.append(action_buttons(action))
    return out


# ----- groups ---------------------------------------------------------------------------------


def group_blocks(view: groups.GroupView) -> list[Block]:
    """A lead's group view: progress, maturity by theme per edition, then the schools."""
    out: list[Block] = [header(groups.view_heading(view))]
    facts = [f"*{escape(label)}*: {escape(value)}" for label, value in groups.progress_facts(view)]
    out.append(section("\n".join(facts)))
    for figures in view.editions:
        lines = [f"*{escape(groups.edition_heading(figures))}*"]
        lines += [
            f"{t.number} {escape(t.title)}: {escape(groups.spread_text(t.maturity))}"
            for t in figures.themes
        ]
        out.append(section("\n".join(lines)))
    schools = [escape(groups.school_line(line)) for line in view.members]
    for start in range(0, len(schools), 20):  # a section holds at most 3,000 characters
        out.append(section("\n".join(schools[start : start + 20])))
    out.append(context(escape(slack_wording.SLACK_GROUP_CAPTION)))
    return out


def comparison_blocks(c: groups.Comparison) -> list[Block]:
    out: list[Block] = [section(f"*{escape(groups.comparison_heading(c))}*")]
    for theme in sorted({row.theme for row in c.rows}):
        lines = [escape(groups.comparison_line(r)) for r in c.rows if r.theme == theme]
        out.append(section("\n".join(lines)))
    return out


def invitation_blocks(reply: ShowInvitations) -> list[Block]:
    out: list[Block] = []
    for invitation in reply.invitations:
        kind = groups.KIND_LABELS.get(invitation.kind, invitation.kind)
        text = slack_wording.SLACK_GROUP_INVITATION.format(
            group=escape(invitation.name), kind=kind, school=escape(reply.organisation)
        )
        out.append(section(text))
        out.append(
            {
                "type": "actions",
                "block_id": f"group|{invitation.group_id}",
                "elements": [
                    button(
                        slack_wording.SLACK_GROUP_JOIN,
                        f"{NOTICE_BUTTON}:join:{invitation.group_id}",
                        f"join group {invitation.group_id}",
                        "primary",
                    ),
                    button(
                        slack_wording.SLACK_GROUP_DECLINE,
                        f"{NOTICE_BUTTON}:decline:{invitation.group_id}",
                        f"decline group {invitation.group_id}",
                    ),
                ],
            }
        )
    return out
