"""The terminal adapter: the same conversation as Slack and Teams, rendered with rich.

Reads one answer per line, from the keyboard or piped on standard input, so a review can
be scripted. End of input or Ctrl-C leaves everything answered so far saved.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date
from typing import TextIO
from zoneinfo import ZoneInfo

from rich.console import Console, Group
from rich.padding import Padding
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from model_data import BulletList, Statement
from workflows.actions import ActionView
from workflows.plan import ActionPlan, Summary
from workflows.replies import (
    Choice,
    Message,
    Question,
    Reply,
    ShowAction,
    ShowActions,
    ShowPlan,
    ShowSummary,
    StatementPrompt,
    Tone,
)
from workflows.review import describe

_STYLE = {Tone.INFO: "", Tone.SUCCESS: "green", Tone.ERROR: "bold red"}
LEAVE_WORDS = {"quit", "exit", "bye", "pause", "stop"}


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
        out.append(
            Rule(
                f"[bold]Theme {prompt.theme.number}: {prompt.theme.title}[/] "
                f"(Gatsby {word} {benchmarks})"
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
    body: list[object] = [table]
    if prompt.current is not None:
        prefix = "Last review" if prompt.current.carried else "Your answer"
        body.append(Text(f"\n{prefix}: {describe(prompt.current)}", style="yellow"))
    out.append(
        Panel(
            Group(*body),
            title=f"[bold]{statement.id} {statement.title}[/]",
            subtitle=prompt.progress.text,
            subtitle_align="right",
        )
    )
    out.append(Text(f"{prompt.text}  {_choices(prompt.level_choices)}", style="bold"))
    return out


def _choices(choices: Iterable[Choice]) -> str:
    """What can be typed; a label that says more ("HT3 - ends Fri 13 Feb 2026") is shown whole."""
    shown = [
        c.label
        if c.label.lower().startswith(c.value.lower()) and len(c.label) > len(c.value)
        else c.value
        for c in choices
        if c.value
    ]
    return "[" + " | ".join(shown) + "]" if shown else ""


def render_summary(summary: Summary) -> Table:
    table = Table(title=f"Summary – {summary.title}", show_lines=False, expand=False)
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
        table.add_row(row.label, *marks, flag, style=style)
    table.caption = (
        f"{summary.answered} of {summary.total} answered · "
        f"{len(summary.priorities)} priority action areas · "
        f"{len(summary.strengths)} areas of strength"
    )
    return table


def render_plan(plan: ActionPlan) -> Table | Text:
    if not plan.rows:
        return Text("No priority action areas yet, so the action plan is empty.", style="dim")
    table = Table(title=f"Action plan – {plan.title}", show_lines=True)
    table.add_column("Leadership area", ratio=2)
    table.add_column("Current position", ratio=3)
    table.add_column("Actions to improve", ratio=3)
    table.add_column("Next steps", ratio=2)
    table.add_column("By when / who", ratio=1)
    for row in plan.rows:
        table.add_row(
            row.leadership_area,
            row.current_position,
            row.actions_to_improve,
            "\n".join(row.next_steps),
            row.by_when_who,
        )
    return table


def render_actions(title: str, actions: list[ActionView], today: date) -> Table:
    table = Table(title=title)
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
            str(action.id),
            action.statement_label,
            f"{action.current_level} → {action.target_level}" if action.target_level else "",
            action.next_steps or "",
            " / ".join(action.owner_names),
            action.by_when,
            status,
            style="bold red" if late else None,
        )
    return table


def render_action(action: ActionView, today: date, timezone: str = "Europe/London") -> Panel:
    lines = [
        Text(f"Level {action.current_level} → {action.target_level}"),
        Text(f"Next steps: {action.next_steps or ''}"),
        Text(f"Who: {' / '.join(action.owner_names)}"),
        Text(f"By when: {action.by_when or 'not set'}"),
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
            lines.append(Text(f"  {line}"))
    return Panel(Group(*lines), title=f"Action #{action.id} – {action.statement_label}")


def render(reply: Reply) -> list[object]:
    if isinstance(reply, StatementPrompt):
        return render_prompt(reply)
    if isinstance(reply, Question):
        out: list[object] = []
        if reply.hint:
            out.append(Text(reply.hint, style="yellow"))
        out.append(Text(f"{reply.text}  {_choices(reply.choices)}", style="bold"))
        return out
    if isinstance(reply, Message):
        return [Text(reply.text, style=_STYLE[reply.tone])]
    if isinstance(reply, ShowSummary):
        return [render_summary(reply.summary)]
    if isinstance(reply, ShowPlan):
        return [render_plan(reply.plan)]
    if isinstance(reply, ShowActions):
        return [render_actions(reply.title, reply.actions, reply.today)]
    if isinstance(reply, ShowAction):
        return [render_action(reply.action, reply.today, reply.timezone)]
    raise TypeError(f"cannot render {reply!r}")


class Terminal:
    """Prints replies and reads answers; knows nothing of the review itself."""

    def __init__(self, console: Console | None = None, stdin: TextIO | None = None) -> None:
        self.console = console or Console(highlight=False)
        self.stdin = stdin or sys.stdin
        self.interactive = self.stdin.isatty()

    def show(self, replies: Iterable[Reply]) -> None:
        for reply in replies:
            for renderable in render(reply):
                self.console.print(Padding(renderable, (0, 0, 0, 0)))  # type: ignore[arg-type]

    def read(self) -> str | None:
        """The next answer, or None at end of input.

        Blocking on purpose: nothing else runs in the terminal, and Ctrl-C then stops at once.
        """
        if self.interactive:
            try:
                return self.console.input("[bold cyan]> [/]")
            except EOFError:
                return None
        line = self.stdin.readline()
        if line == "":
            return None
        line = line.rstrip("\n")
        self.console.print(Text(f"> {line}", style="dim"))
        return line
