"""Reminders and digests in Slack: the scheduler's Notifier for conversations on channel "slack"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.notify import DeliveryError
from bot.slack.render import NOTICE_BUTTON, Block, button, escape, header, section
from storage.models import ConversationRef
from workflows.notices import Notice

if TYPE_CHECKING:
    from bot.slack.bolt import SlackBot

CHART_FILENAME = "maturity-profile.png"


def notice_blocks(notice: Notice) -> list[Block]:
    """A reminder or digest: title, sections, and its buttons (values are action commands)."""
    blocks: list[Block] = [header(notice.title)]
    for heading, lines in notice.sections:
        body = "\n".join(f"• {escape(line)}" if heading else escape(line) for line in lines)
        blocks.append(section(f"*{escape(heading)}*\n{body}" if heading else body or " "))
    if notice.buttons:
        elements: list[dict[str, Any]] = [
            button(choice.label, f"{NOTICE_BUTTON}:{n}", choice.value)
            for n, choice in enumerate(notice.buttons)
        ]
        blocks.append({"type": "actions", "block_id": "notice", "elements": elements})
    return blocks[:50]


class SlackNotifier:
    """Sends a claimed reminder or digest to a stored Slack DM or channel."""

    channel = "slack"

    def __init__(self, bot: SlackBot) -> None:
        self.bot = bot

    async def send(
        self, conversation: ConversationRef, notice: Notice, chart: bytes | None
    ) -> None:
        reference = conversation.reference or {}
        token = await self.bot.token_for(
            reference.get("team_id"), reference.get("enterprise_id") or None
        )
        if not token:
            raise DeliveryError(f"no Slack token for team {reference.get('team_id')}")
        client = self.bot.client(token)
        try:
            await client.chat_postMessage(
                channel=conversation.conversation_id,
                text=notice.title,
                blocks=notice_blocks(notice),
                unfurl_links=False,
            )
            if chart is not None:
                await client.files_upload_v2(
                    file=chart,
                    filename=CHART_FILENAME,
                    title=notice.title,
                    channel=conversation.conversation_id,
                )
        except SlackApiError as exc:
            raise DeliveryError(f"Slack: {exc.response.get('error', exc)}") from exc
