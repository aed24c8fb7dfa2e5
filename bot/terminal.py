"""The terminal adapter: the same conversation as Slack and Teams, rendered with rich.

Reads one answer per line, from the keyboard or piped on standard input, so a review can
be scripted. End of input or Ctrl-C leaves everything answered so far saved. Everything
people typed (notes, next steps, names, links) passes `terminal_safe` before it is printed,
so a stored escape sequence cannot recolour, clear or retitle the reader's terminal.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from types import FrameType
from typing import TextIO
from zoneinfo import ZoneInfo

from rich.console import Console, Group
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from bot.sanitise import terminal_safe
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
    StatementPrompt,
    Step,
    Tone,
)
from workflows.review import describe

_STYLE = {Tone.INFO: "", Tone.SUCCESS: "green", Tone.ERROR: "bold red"}
LEAVE_WORDS = {"quit", "exit", "bye", "pause", "stop"}


def safe(text: str | None) -> Text:
    """People's words as plain text: no escape sequences, and no rich markup read into them."""
    return Text(terminal_safe(text or ""))


def level_renderable(statement: Statement, level: int) -> Group | Text:
    blocks = statement.levels[level]
    if blocks is None:
        return Text("(no descriptor at this level in the model)", style="dim italic")
    parts: list[Text] = []
    for block in blocks:
        if isinstance(block, BulletList):
            parts.extend(Text(f"  • {item}") for item in block.items)
        else:
            parts.append(Text(block))
    return Group(*parts)


def render_prompt(prompt: StatementPrompt) -> list[object]:
    out: list[object] = []
    statement = prompt.statement
    if prompt.theme is not None:
        benchmarks = ", ".join(str(b) for b in prompt.theme.benchmarks)
        word = "Benchmark" if len(prompt.theme.benchmarks) == 1 else "Benchmarks"
        # A rule's title is cut to one line, so the theme is a wrapping line under a plain rule.
        out.append(Rule())
        out.append(
            Text(
                f"Theme {prompt.theme.number}: {prompt.theme.title} (Gatsby {word} {benchmarks})",
                style="bold",
            )
        )
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for choice in prompt.level_choices:
        if not choice.value.isdigit():
            continue
        level = int(choice.value)
        label = f"Level {level}" if statement.has_level(level) else choice.label
        table.add_row(label, level_renderable(statement, level))
    # The whole title wraps inside the panel: a panel's own title is cut at the border.
    body: list[object] = [Text(f"{statement.id} {statement.title}", style="bold"), Text(), table]
    if prompt.current is not None:
        prefix = "Last review" if prompt.current.carried else "Your answer"
        body.append(Text(f"\n{prefix}: {terminal_safe(describe(prompt.current))}", style="yellow"))
    out.append(
        Panel(
            Group(*body),  # type: ignore[arg-type]
            title=Text(statement.short_label, style="bold"),
            subtitle=prompt.progress.text,
            subtitle_align="right",
        )
    )
    if prompt.asking:  # otherwise the question waiting follows
        out.append(_ask(prompt.text, prompt.level_choices, Step.LEVEL))
    return out


def default_choice(choices: Iterable[Choice], step: Step | None) -> Choice | None:
    """What Enter means at a question: "keep" where there is something to keep, else the one
    offered answer ("just me", "done", "none"); people are never guessed (owners)."""
    offered = [c for c in choices if c.value]
    for choice in offered:
        if choice.value == "keep":
            return choice
    if len(offered) == 1 and step is not Step.OWNERS:
        return offered[0]
    return None


def _ask(text: str, choices: list[Choice], step: Step | None) -> Text:
    """The question with what can be typed in (a | b), and Enter's default in [brackets]."""
    default = default_choice(choices, step)
    others = [c for c in choices if c.value and c != default]
    line = Text(terminal_safe(text), style="bold")
    if others:
        line.append(f"  ({_choices(others)})", style="bold")
    if default is not None:
        line.append(f"  [{_label(default)}]", style="bold cyan")
    return line


def _label(choice: Choice) -> str:
    """What to type for a choice; a label that says more ("HT3 - ends Fri 13 Feb 2026") whole."""
    label, value = terminal_safe(choice.label), terminal_safe(choice.value)
    if label.lower().startswith(value.lower()) and len(label) > len(value):
        return label
    return value


def _choices(choices: Iterable[Choice]) -> str:
    return " | ".join(_label(c) for c in choices if c.value)


def summary_caption(summary: Summary) -> str:
    return (
        f"{summary.answered} of {summary.total} answered · "
        f"{len(summary.priorities)} priority action areas · "
        f"{len(summary.strengths)} areas of strength"
    )


def render_summary(summary: Summary) -> Table:
    table = Table(title=safe(f"Summary – {summary.title}"), show_lines=False, expand=False)
    table.add_column("Maturity model statement")
    for level in (1, 2, 3, 4):
        table.add_column(f"Level {level}", justify="center")
    table.add_column("Priority / strength")
    theme = None
    for row in summary.rows:
        if theme is not None and row.theme != theme:
            table.add_section()
        theme = row.theme
        marks = ["●" if row.level == level else "" for level in (1, 2, 3, 4)]
        flag = "PRIORITY" if row.priority else "STRENGTH" if row.strength else ""
        style = "bold red" if row.priority else "bold green" if row.strength else None
        table.add_row(safe(row.label), *marks, flag, style=style)
    table.caption = summary_caption(summary)
    return table


def render_completed(summary: Summary) -> list[object]:
    """A finished review opens on a few lines, not the whole summary and plan (~1,000 lines
    at 80 columns): what it is, how far it got, and the commands that show the rest."""
    return [
        Text(f"“{terminal_safe(summary.title)}” is complete.", style="bold green"),
        Text(summary_caption(summary)),
        Text(
            "Type 'summary' for the maturity table, 'plan' for the action plan, "
            "'go 2.3' to see or change one statement, 'actions' for the actions, "
            "or 'quit' to leave."
        ),
    ]


def render_plan(plan: ActionPlan) -> Table | Text:
    if not plan.rows:
        return Text("No priority action areas yet, so the action plan is empty.", style="dim")
    table = Table(title=safe(f"Action plan – {plan.title}"), show_lines=True)
    table.add_column("Leadership area", ratio=2)
    table.add_column("Current position", ratio=3)
    table.add_column("Actions to improve", ratio=3)
    table.add_column("Next steps", ratio=2)
    table.add_column("By when / who", ratio=1)
    for row in plan.rows:
        table.add_row(
            safe(row.leadership_area),
            safe(row.current_position),
            safe(row.actions_to_improve),
            safe("\n".join(row.next_steps)),
            safe(row.by_when_who),
        )
    return table


def render_actions(title: str, actions: list[ActionView], today: date) -> Table:
    table = Table(title=safe(title))
    table.add_column("#", justify="right")
    table.add_column("Statement")
    table.add_column("Target")
    table.add_column("Next steps")
    table.add_column("Who")
    table.add_column("By when")
    table.add_column("Status")
    for action in actions:
        late = action.overdue(today)
        status = "OVERDUE" if late else action.status.label
        table.add_row(
            str(action.ref),
            safe(action.statement_label),
            f"{action.current_level} → {action.target_level}" if action.target_level else "",
            safe(action.next_steps),
            safe(" / ".join(action.owner_names)),
            safe(action.by_when),
            status,
            style="bold red" if late else None,
        )
    return table


def render_action(action: ActionView, today: date, timezone: str = "Europe/London") -> Panel:
    lines = [
        Text(f"Level {action.current_level} → {action.target_level}"),
        safe(f"Next steps: {action.next_steps or ''}"),
        safe(f"Who: {' / '.join(action.owner_names)}"),
        safe(f"By when: {action.by_when or 'not set'}"),
        Text(
            f"Status: {'OVERDUE' if action.overdue(today) else action.status.label}",
            style="bold red" if action.overdue(today) else "",
        ),
    ]
    if action.updates:
        lines.append(Text("History:", style="bold"))
        for update in action.updates:
            when = update.at.astimezone(ZoneInfo(timezone))  # the organisation's own
            parts = [f"{when:%a} {when.day} {when:%b %Y} {when:%H:%M}", update.kind]
            if update.by:
                parts.append(f"by {update.by}")
            line = " · ".join(parts)
            if update.note:
                line += f": {update.note}"
            if update.link:
                line += f" ({update.link})"
            lines.append(safe(f"  {line}"))
    return Panel(Group(*lines), title=safe(f"Action #{action.ref} – {action.statement_label}"))


def render_group(view: groups.GroupView) -> list[object]:
    """A lead's group view: progress, then maturity by theme per edition, then the schools."""
    out: list[object] = [Text(terminal_safe(groups.view_heading(view)), style="bold")]
    progress = Table(show_header=False)
    for label, value in groups.progress_facts(view):
        progress.add_row(label, value)
    out.append(progress)
    for figures in view.editions:
        table = Table(title=terminal_safe(groups.edition_heading(figures)))
        table.add_column("Theme")
        table.add_column("Group")
        for theme in figures.themes:
            table.add_row(safe(f"{theme.number} {theme.title}"), groups.spread_text(theme.maturity))
        out.append(table)
    schools = Table(title="Schools")
    schools.add_column("School")
    for line in view.members:
        schools.add_row(safe(groups.school_line(line)))
    out.append(schools)
    return out


def render_comparison(c: groups.Comparison) -> Table:
    table = Table(title=terminal_safe(groups.comparison_heading(c)))
    for column in ("Statement", "Yours", "Group"):
        table.add_column(column)
    for row in c.rows:
        own = str(row.own) if row.own is not None else "–"
        table.add_row(safe(row.label), own, groups.spread_text(row.group))
    return table


def render_peer_comparison(shown: ShowPeerComparison) -> Table:
    """A peer's ratings beside the school's, differences first."""
    table = Table(title=safe(shown.title), show_lines=True)
    for column in ("Statement", "Levels", "Comment", "Suggested action"):
        table.add_column(column)
    for row in shown.rows:
        table.add_row(
            safe(row.label),
            safe(peer_review.row_levels(row, shown.peer)),
            safe(row.comment or ""),
            safe(row.suggestion or ""),
        )
    return table


def render(reply: Reply) -> list[object]:
    if isinstance(reply, StatementPrompt):
        return render_prompt(reply)
    if isinstance(reply, Question):
        out: list[object] = []
        if reply.hint:
            out.append(Text(terminal_safe(reply.hint), style="yellow"))
        out.append(_ask(reply.text, reply.choices, reply.step))
        return out
    if isinstance(reply, Message):
        return [Text(terminal_safe(reply.text), style=_STYLE[reply.tone])]
    if isinstance(reply, ShowSummary):
        return [render_summary(reply.summary)]
    if isinstance(reply, ShowPlan):
        return [render_plan(reply.plan)]
    if isinstance(reply, SendDocument):  # the CLI writes the file after the turn
        return [Text(f"Preparing the {reply.kind.label} as a Word file…", style="dim")]
    if isinstance(reply, ShowActions):
        return [render_actions(reply.title, reply.actions, reply.today)]
    if isinstance(reply, ShowAction):
        return [render_action(reply.action, reply.today, reply.timezone)]
    if isinstance(reply, ShowGroupView):
        return render_group(reply.view)
    if isinstance(reply, ShowComparison):
        return [render_comparison(reply.comparison)]
    if isinstance(reply, ShowInvitations):
        lines = [
            safe(f"{i.name} ({groups.KIND_LABELS.get(i.kind, i.kind)}) invites "
                 f"{reply.organisation}: type 'join group {i.group_id}' or "
                 f"'decline group {i.group_id}'.")
            for i in reply.invitations
        ]  # fmt: skip
        return [Panel(Group(*lines), title="Group invitations")]
    if isinstance(reply, SendGroupWorkbook):  # the CLI writes it: `careers-bot group view`
        return [Text(f"Write the workbook with `careers-bot group view {reply.group_id} --xlsx "
                     "FILE`.", style="dim")]  # fmt: skip
    if isinstance(reply, ShowPeerComparison):
        return [render_peer_comparison(reply)]
    raise TypeError(f"cannot render {reply!r}")


class Interrupted(Exception):
    """Ctrl-C while waiting for an answer: stop, with every answer already saved."""


class Terminal:
    """Prints replies and reads answers; knows nothing of the review itself.

    Enter alone at a question with a [bracketed] default answers it with that default, the
    way command-line prompts do. Ctrl-C stops at once while it waits for an answer; during a
    turn it lets that turn save first, and a second Ctrl-C stops even then.
    """

    def __init__(self, console: Console | None = None, stdin: TextIO | None = None) -> None:
        self.console = console or Console(highlight=False)
        self.stdin = stdin or sys.stdin
        self.interactive = self.stdin.isatty()
        self.default: Choice | None = None
        self.stop_requested = False
        self.stopping = False
        self._reading = False

    def show(self, replies: Iterable[Reply]) -> None:
        for reply in replies:
            if isinstance(reply, StatementPrompt):
                self.default = default_choice(reply.level_choices, Step.LEVEL)
            elif isinstance(reply, Question):
                self.default = default_choice(reply.choices, reply.step)
            for renderable in render(reply):
                self.console.print(renderable)

    def show_completed(self, replies: Iterable[Reply]) -> None:
        """Opening a finished review: its short summary instead of the full tables."""
        replies = list(replies)
        summary = next((r.summary for r in replies if isinstance(r, ShowSummary)), None)
        if summary is None:
            self.show(replies)
            return
        self.default = None
        for renderable in render_completed(summary):
            self.console.print(renderable)

    def ask_name(self, default: str) -> str:
        """Asked once, the first time someone chats for a school without --name."""
        self.console.print(
            _ask("What is your name, as it should appear in the review?", [], None).append(
                f"  [{default}]", style="bold cyan"
            )
        )
        line = self._read_line()
        return terminal_safe(line or "").strip() or default

    def read(self) -> str | None:
        """The next answer (Enter alone: the question's default), or None at end of input.

        Raises Interrupted on Ctrl-C. Blocking on purpose: nothing else runs in the terminal.
        """
        line = self._read_line()
        if line is None:
            return None
        if not line.strip() and self.default is not None:
            line = self.default.value
            self.console.print(Text(f"  ({_label(self.default)})", style="dim"))
        return line

    def _read_line(self) -> str | None:
        if self.stop_requested:
            raise Interrupted
        self._reading = True
        try:
            if self.interactive:
                try:
                    return self.console.input("[bold cyan]> [/]")
                except EOFError:
                    return None
            line = self.stdin.readline()
        except KeyboardInterrupt:
            raise Interrupted from None
        finally:
            self._reading = False
        if line == "":
            return None
        line = line.rstrip("\n")
        self.console.print(Text(f"> {terminal_safe(line)}", style="dim"))
        return line

    @contextmanager
    def catching_interrupts(self) -> Iterator[None]:
        """Ctrl-C handling for a chat: see the class docstring. Restores the old handler."""

        def on_interrupt(signum: int, frame: FrameType | None) -> None:
            if self.stopping:
                return  # already closing: saving and closing take a moment, let them finish
            if self._reading or self.stop_requested:
                raise KeyboardInterrupt  # waiting for input, or a second Ctrl-C: stop now
            self.stop_requested = True  # a turn is being saved: stop when it is

        previous = signal.signal(signal.SIGINT, on_interrupt)
        try:
            yield
        except Interrupted:
            # Stopped by Ctrl-C: one more press while the program closes changes nothing.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            raise
        else:
            signal.signal(signal.SIGINT, previous)
