"""Speaking first: reminders, digests and finished documents, through stored references.

A conversation reference (`TurnContext.get_conversation_reference`) is kept as JSON in
`ConversationRef.reference` whenever someone installs or talks to the bot, so any replica,
after any restart, can continue that conversation with `CloudAdapter.continue_conversation`.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)

from bot.keys import DATABASE
from bot.notify import DeliveryError, Stored
from bot.teams import cards
from bot.teams.runtime import TEAMS
from storage import models as m
from storage import repo
from workflows.notices import Notice
from workflows.replies import Reply

log = logging.getLogger("careers_bot.teams")

CHANNEL = "teams"
# Kinds of ConversationRef: a personal chat; the SLT digest channel (the scheduler sends the
# weekly digest to every "channel" of an organisation, so there is one per chat service);
# and any other team channel the bot was installed in or spoken to in.
PERSONAL, CHANNEL_KIND, TEAM_KIND = "personal", "channel", "team"
MAX_INLINE_IMAGE = 1024 * 1024  # Teams shows inline (base64) images up to 1 MB

Outgoing = Activity | str | dict[str, Any] | Sequence[Reply]


def base_conversation_id(conversation_id: str) -> str:
    """A channel thread ("19:...@thread.tacv2;messageid=17...") without its thread part.

    Posting to the bare channel id starts a new post, which is what a digest should do.
    """
    return conversation_id.split(";", 1)[0]


def tenant_of(activity: Activity) -> str | None:
    """The Microsoft 365 tenant of an activity (Teams puts it in channelData)."""
    tenant = ((activity.channel_data or {}).get("tenant") or {}).get("id")
    return tenant or (activity.conversation.tenant_id if activity.conversation else None)


def stored_reference(activity: Activity, channel_post: bool) -> ConversationReference:
    """The reference to keep for this conversation: no activity to reply to; the tenant (the
    SDK's schema reads it from a differently spelt key, so it is set here); and for a
    channel, the channel itself rather than the thread the bot was spoken to in."""
    reference = TurnContext.get_conversation_reference(activity)
    reference.activity_id = None
    if reference.conversation is not None:
        conversation = ConversationAccount().deserialize(reference.conversation.serialize())
        conversation.tenant_id = tenant_of(activity)
        if channel_post:
            channel = (activity.channel_data or {}).get("channel") or {}
            conversation.id = channel.get("id") or base_conversation_id(conversation.id)
        reference.conversation = conversation
    return reference


def as_activities(message: Outgoing) -> list[Activity]:
    """Whatever a caller has to say, as Teams activities: text, a card, or neutral replies."""
    if isinstance(message, Activity):
        return [message]
    if isinstance(message, str):
        return [cards.text_activity(message)]
    if isinstance(message, dict):
        return [cards.card_activity(message)]
    return cards.render(list(message), cards.RenderOptions(interactive=False))


async def speak(
    adapter: CloudAdapter,
    app_id: str,
    reference: ConversationReference,
    activities: Sequence[Activity],
    update_id: str | None = None,
    replacement: Activity | None = None,
) -> list[str]:
    """Send activities into a stored conversation (as new posts, not replies).

    With `update_id`, first replace that earlier activity with `replacement` (a card
    answered in the background, e.g. a file consent card once the file is uploaded).
    The adapter retries each send and the update when Teams is busy (`sending.py`); an
    update that still fails is logged and the new activities are sent all the same.
    """
    sent: list[str] = []

    async def callback(context: TurnContext) -> None:
        context.activity.id = None  # a new post, not a reply to the continuation event
        if update_id and replacement is not None:
            replacement.id = update_id
            replacement.type = replacement.type or ActivityTypes.message
            await context.update_activity(replacement)
        for activity in activities:
            response = await context.send_activity(activity)
            if response is not None and response.id:
                sent.append(response.id)

    await adapter.continue_conversation(reference, callback, bot_app_id=app_id or None)
    return sent


async def send_proactive(
    app: web.Application, conversation_ref_row: Stored, activity_or_card: Outgoing
) -> list[str]:
    """Send a message into a stored Teams conversation: the scheduler's way out.

    `activity_or_card` is text, an Adaptive Card (dict), an Activity, or channel-neutral
    replies (rendered read-only). Returns the ids Teams gave the new messages.
    """
    if conversation_ref_row.channel != CHANNEL:
        raise ValueError(f"not a Teams conversation: {conversation_ref_row.channel}")
    runtime = app[TEAMS]
    reference = ConversationReference().deserialize(conversation_ref_row.reference)
    return await speak(runtime.adapter, runtime.app_id, reference, as_activities(activity_or_card))


async def send_to_member(
    app: web.Application,
    via: m.ConversationRef,
    member_id: str,
    activity_or_card: Outgoing,
    person_id: int | None = None,
) -> m.ConversationRef:
    """Open a personal chat with a team member who has never written to the bot, and speak.

    `via` is a stored team channel of the same tenant (its service URL and bot account);
    the new personal chat is stored as a ConversationRef for the next time.
    """
    runtime = app[TEAMS]
    channel_reference = ConversationReference().deserialize(via.reference)
    tenant = (
        channel_reference.conversation.tenant_id if channel_reference.conversation else None
    ) or ""
    parameters = ConversationParameters(
        is_group=False,
        bot=channel_reference.bot,
        members=[ChannelAccount(id=member_id)],
        tenant_id=tenant or None,
        channel_data={"tenant": {"id": tenant}} if tenant else None,
    )
    stored: dict[str, m.ConversationRef] = {}

    async def callback(context: TurnContext) -> None:
        reference = TurnContext.get_conversation_reference(context.activity)
        reference.activity_id = None
        reference.user = ChannelAccount(id=member_id)
        reference.conversation.conversation_type = PERSONAL
        async with app[DATABASE].transaction() as session:
            stored["row"] = await repo.save_conversation_ref(
                session,
                via.organisation_id,
                CHANNEL,
                reference.conversation.id,
                PERSONAL,
                reference.serialize(),
                datetime.now(UTC),
                person_id,
            )
        context.activity.id = None
        for activity in as_activities(activity_or_card):
            await context.send_activity(activity)

    await runtime.adapter.create_conversation(
        runtime.app_id or None,
        callback,
        parameters,
        channel_id=channel_reference.channel_id,
        service_url=channel_reference.service_url,
    )
    return stored["row"]


class TeamsNotifier:
    """How the scheduler sends reminders and digests to Teams (a `bot.notify.Notifier`)."""

    channel = CHANNEL

    def __init__(self, app: web.Application) -> None:
        self.app = app

    async def send(
        self, conversation: Stored, notice: Notice, chart: bytes | None, key: str = ""
    ) -> str | None:
        """Send, and return the activity id. A Teams bot cannot read a chat's history, so
        `key` cannot be looked for later: a crash between Teams accepting the message and
        the scheduler marking it sent means it is sent again (docs/delivery.md)."""
        activity = cards.card_activity(cards.notice_card(notice), notice.title)
        if chart and len(chart) <= MAX_INLINE_IMAGE:
            activity.attachments.append(
                Attachment(
                    content_type="image/png",
                    content_url="data:image/png;base64," + base64.b64encode(chart).decode(),
                    name="maturity-chart.png",
                )
            )
        try:
            ids = await send_proactive(self.app, conversation, activity)
        except Exception as exc:  # the scheduler retries with backoff
            raise DeliveryError(f"Teams: {type(exc).__name__}: {exc}") from exc
        return ids[0] if ids else None
