"""The App Home tab: where the review stands, the maturity profile by theme, and my actions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.slack import wording as slack_wording
from bot.slack.render import (
    OPEN_REVIEW,
    Block,
    action_buttons,
    action_line,
    button,
    context,
    escape,
    header,
    message_block,
    section,
)
from workflows.plan import Summary
from workflows.replies import Message, Reply, ShowActions
from workflows.review import ReviewState

MAX_HOME_BLOCKS = 100
MAX_HOME_ACTIONS = 30


def bar(average: float | None) -> str:
    """Four cells, filled to the nearest level: "▰▰▱▱"."""
    filled = round(average) if average is not None else 0
    return "▰" * filled + "▱" * (4 - filled)


def home_view(
    organisation: str,
    role: str | None,
    state: ReviewState | None,
    summary: Summary | None,
    mine: Sequence[Reply],
    dashboard: tuple[str, datetime] | None = None,
) -> dict[str, Any]:
    blocks: list[Block] = [header(slack_wording.SLACK_HOME_TITLE)]
    if role:
        blocks.append(
            context(
                slack_wording.SLACK_HOME_ROLE.format(role=role, organisation=escape(organisation))
            )
        )
    else:
        blocks.append(
            context(slack_wording.SLACK_HOME_NO_ROLE.format(organisation=escape(organisation)))
        )
    if state is None or summary is None:
        progress = section(slack_wording.SLACK_HOME_NO_REVIEW)
    else:
        where = ""
        if state.completed:
            where = slack_wording.SLACK_HOME_COMPLETE
        elif state.cursor.paused:
            where = slack_wording.SLACK_HOME_PAUSED
        progress = section(
            slack_wording.SLACK_HOME_PROGRESS.format(
                title=escape(state.title),
                answered=state.answered(),
                total=summary.total,
                state=where,
            )
        )
    progress["accessory"] = button(slack_wording.SLACK_HOME_OPEN, OPEN_REVIEW, "review", "primary")
    blocks.append(progress)
    if dashboard is not None:  # a plain link: a URL button would still send Slack an action
        url, until = dashboard
        blocks.append(
            section(
                slack_wording.SLACK_HOME_DASHBOARD.format(
                    url=escape(url), until=f"{until:%a} {until.day} {until:%b %Y}"
                )
            )
        )
    if summary is not None:
        blocks.append({"type": "divider"})
        blocks.append(header(slack_wording.SLACK_HOME_PROFILE))
        for theme in summary.themes:
            average = (
                f"{theme.average_level:.1f}"
                if theme.average_level is not None
                else slack_wording.SLACK_HOME_NOT_ANSWERED
            )
            blocks.append(
                section(
                    slack_wording.SLACK_HOME_THEME.format(
                        number=theme.number,
                        title=escape(theme.title),
                        bar=bar(theme.average_level),
                        average=average,
                        answered=theme.answered,
                        total=theme.total,
                    )
                )
            )
    blocks.append({"type": "divider"})
    blocks.append(header(slack_wording.SLACK_HOME_MY_ACTIONS))
    for reply in mine:
        if isinstance(reply, ShowActions):
            for action in reply.actions[:MAX_HOME_ACTIONS]:
                blocks.append(section(action_line(action, reply.today)))
                blocks.append(action_buttons(action))
        elif isinstance(reply, Message):
            blocks.append(message_block(reply))
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}
