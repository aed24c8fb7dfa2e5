"""Reminders and digests in Slack: the scheduler's Notifier for conversations on channel "slack".

Each message carries its delivery's key as message metadata, so that a send cut off before
it was marked (a crash, a lost response) is found in the conversation's history instead of
being sent again (docs/delivery.md).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.notify import DeliveryError, File, RateLimited, Stored
from bot.slack.render import NOTICE_BUTTON, Block, button, escape, header, section
from bot.slack.wording import SLACK_DIGEST_DOCUMENT
from workflows.notices import Notice

if TYPE_CHECKING:
    from bot.slack.bolt import SlackBot

log = logging.getLogger("careers_bot.slack")

CHART_FILENAME = "maturity-profile.png"
EVENT_TYPE = "careers_bot_delivery"
MAX_CLIENTS = 1000  # cached clients (one per workspace token), forgotten all at once beyond
HISTORY_LIMIT = 50  # the bot's own recent posts; a DM or an SLT channel is rarely busier
# Why a conversation cannot be searched at all (so a resend is the only way): said in the log.
UNSEARCHABLE = {"missing_scope", "not_in_channel", "channel_not_found", "not_allowed_token_type"}


def retry_after_seconds(headers: Any) -> float:
    """Slack's Retry-After (whole seconds); 1 if it is missing or unreadable."""
    for name, value in dict(headers or {}).items():
        if str(name).lower() == "retry-after":
            try:
                return max(0.0, float(value if not isinstance(value, list) else value[0]))
            except (TypeError, ValueError):
                break
    return 1.0


def metadata(key: str, conversation: str) -> dict[str, Any]:
    return {"event_type": EVENT_TYPE, "event_payload": {"key": key, "target": conversation}}


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
    takes_files = True  # a digest's governors' report is uploaded into the channel

    def __init__(self, bot: SlackBot) -> None:
        self.bot = bot
        # One client per token (and rate-limit handling), reused for every message: a client
        # holds no state of a call, and all share the app's HTTP session.
        self.clients: dict[tuple[str, bool], AsyncWebClient] = {}

    async def _client(
        self, conversation: Stored, wait_out_rate_limits: bool = True
    ) -> AsyncWebClient:
        """A client that never resends after a server error or a dropped connection (Slack
        may have taken it): the scheduler's next attempt looks in the history first. It waits
        out rate limits (Slack did not take the message) unless told not to: a message's
        post leaves that to the scheduler, which holds back only that conversation."""
        reference = conversation.reference or {}
        token = await self.bot.token_for(
            reference.get("team_id"), reference.get("enterprise_id") or None
        )
        if not token:
            raise DeliveryError(f"no Slack token for team {reference.get('team_id')}")
        client = self.clients.get((token, wait_out_rate_limits))
        if client is None or client.session is not self.bot.session:
            if len(self.clients) >= MAX_CLIENTS:  # tokens rotated or workspaces gone
                self.clients.clear()
            client = self.clients[(token, wait_out_rate_limits)] = AsyncWebClient(
                token=token,
                base_url=self.bot.settings.slack_api_url,
                session=self.bot.session,
                retry_handlers=(
                    [AsyncRateLimitErrorRetryHandler(max_retry_count=2)]
                    if wait_out_rate_limits
                    else []
                ),
            )
        return client

    async def send(
        self,
        conversation: Stored,
        notice: Notice,
        chart: bytes | None,
        key: str = "",
        file: File | None = None,
    ) -> str | None:
        client = await self._client(conversation, wait_out_rate_limits=False)
        try:
            response = await client.chat_postMessage(
                channel=conversation.conversation_id,
                text=notice.title,
                blocks=notice_blocks(notice),
                unfurl_links=False,
                metadata=metadata(key, conversation.conversation_id) if key else None,
            )
        except SlackApiError as exc:
            if exc.response.status_code == 429:  # not taken: the scheduler sends it again
                raise RateLimited(
                    "Slack: ratelimited", retry_after_seconds(exc.response.headers)
                ) from exc
            raise DeliveryError(f"Slack: {exc.response.get('error', exc)}") from exc
        except Exception as exc:  # a dropped connection, a timeout: maybe sent, maybe not
            raise DeliveryError(f"Slack: {type(exc).__name__}: {exc}") from exc
        ts = str(response.get("ts") or "") or None
        if chart is not None:
            # The message is out: a chart that fails is logged, never a reason to send the
            # message again.
            try:
                uploads = await self._client(conversation)
                await uploads.files_upload_v2(
                    file=chart,
                    filename=CHART_FILENAME,
                    title=notice.title,
                    channel=conversation.conversation_id,
                )
            except Exception as exc:
                log.warning("chart for %s not uploaded: %s", conversation.conversation_id, exc)
        if file is not None:
            # Like the chart: the message is out, so a failed upload is logged and never
            # sends the message (nor the file) again; `governors report` gets it by hand.
            try:
                uploads = await self._client(conversation)
                await uploads.files_upload_v2(
                    file=file.data,
                    filename=file.filename,
                    title=file.filename,
                    channel=conversation.conversation_id,
                    initial_comment=SLACK_DIGEST_DOCUMENT.format(name=file.filename),
                )
            except Exception as exc:
                log.warning(
                    "%s for %s not uploaded: %s", file.filename, conversation.conversation_id, exc
                )
        return ts

    async def find(self, conversation: Stored, key: str, since: datetime) -> str | None:
        """The ts of the bot's message carrying `key` in this conversation since `since`."""
        client = await self._client(conversation)
        try:
            response = await client.conversations_history(
                channel=conversation.conversation_id,
                oldest=f"{since.timestamp():.6f}",
                limit=HISTORY_LIMIT,
                include_all_metadata=True,
            )
        except SlackApiError as exc:
            error = exc.response.get("error", "")
            if error in UNSEARCHABLE:
                log.warning(
                    "cannot look for %s in %s (%s): sending it again",
                    key, conversation.conversation_id, error,
                )  # fmt: skip
                return None
            raise DeliveryError(f"Slack history: {error or exc}") from exc
        except Exception as exc:
            raise DeliveryError(f"Slack history: {type(exc).__name__}: {exc}") from exc
        for message in response.get("messages") or []:
            found = message.get("metadata") or {}
            payload = found.get("event_payload") or {}
            if found.get("event_type") == EVENT_TYPE and payload.get("key") == key:
                return str(message.get("ts"))
        return None
