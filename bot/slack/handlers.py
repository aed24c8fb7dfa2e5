"""What each Slack request means for the review, and what to send back.

The listeners in `bolt.py` acknowledge first (Bolt then runs them after the HTTP response, so
no Web API call or retry sleep ever sits in Slack's 3-second window) and call these methods.
Each one translates: who and which workspace -> the organisation and a `Who`; a typed
message, button or form -> the text a person would type; the engine's replies -> Block Kit.
Rules (who may answer, what is valid, what comes next) stay in the service and the engine.

Idempotency keys: a message event's `event_id` (Slack retries with the same one), a button's
message (`slack:msg:{channel}:{ts}`: each question message takes one answer), a form's view
id and hash. A click on an older question, once the review has moved on, is refused.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.groups import GroupService
from bot.reviews import Conversation, Inbound, OpenReview, ReviewService, TurnResult, Who
from bot.slack import modals
from bot.slack import wording as slack_wording
from bot.slack.home import home_view
from bot.slack.render import (
    Block,
    QuestionRef,
    SlackMessage,
    answered,
    card_message,
    context,
    escape,
    render,
    section,
)
from bot.workspaces import DIGEST, SetupField, SetupRefusal, SetupRequest, WorkspaceService
from model_data import Edition, load_model
from storage import repo
from storage.db import Database
from workflows import actions
from workflows import messages as msg
from workflows.documents import DocumentKind
from workflows.groups import AnswerInvitation
from workflows.inputs import Choose, Fields, Text
from workflows.links import LinkError, parse_links
from workflows.plan import build_summary
from workflows.replies import (
    Message,
    Reply,
    SendDocument,
    SendGroupWorkbook,
    ShowAction,
    ShowPlan,
    ShowSummary,
    Step,
    Tone,
)
from workflows.roles import Role

# What a handler leaves for after Slack's acknowledgement: its replies.
Later = Callable[[], Awaitable[None]]

log = logging.getLogger("careers_bot.slack")

CHANNEL = "slack"
# Words that open (or resume) the review, as the slash command's `review` does.
OPEN_WORDS = {"review", "start"}
LISTINGS = {
    "": "actions",
    "all": "actions",
    "mine": "my actions",
    "my": "my actions",
    "due": "due",
    "overdue": "overdue",
}
EXPORT_FORMATS = ("docx", "xlsx")
# `/careers evidence`, `/careers governors`, `/careers policy`: the documents as files.
DOCUMENT_VERBS = {
    "evidence": DocumentKind.EVIDENCE_PACK,
    "governors": DocumentKind.GOVERNORS_REPORT,
    "policy": DocumentKind.POLICY_DRAFT,
}
# The priority form's fields, in the order the engine asks their questions.
PRIORITY_STEPS = (Step.TARGET, Step.NEXT_STEPS, Step.OWNERS, Step.DUE)
PRIORITY_BLOCKS = dict(zip(PRIORITY_STEPS, modals.PRIORITY_FIELDS, strict=True))
# Where a set-up form shows each of the service's refusals.
SETUP_BLOCKS = {
    SetupField.PERMISSION: modals.ORG_NAME,
    SetupField.EDITION: modals.EDITION,
    SetupField.PEOPLE: modals.SLT,
}
FAST_LOOKUP_SECONDS = 1.5  # a lookup made before a form's acknowledgement must be quick

_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL_MENTION = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto|ftp)[^|>\s]*)(?:\|([^>]*))?>")


@dataclass(frozen=True)
class Origin:
    """Where a request comes from: the workspace it was sent for, and who sent it."""

    team_id: str
    enterprise_id: str | None
    user_id: str
    user_team: str | None = None
    team_name: str | None = None

    @property
    def workspace(self) -> str:
        return self.team_id or self.enterprise_id or ""

    @property
    def foreign(self) -> bool:
        """Someone from another workspace (Slack Connect): never this workspace's review."""
        if not self.user_team or self.user_team == self.team_id:
            return False
        return not self.enterprise_id  # within one Enterprise Grid org, workspaces share

    @classmethod
    def of(cls, body: Mapping[str, Any], context: Mapping[str, Any]) -> Origin:
        event = body.get("event") or {}
        user = body.get("user") if isinstance(body.get("user"), dict) else {}
        team = body.get("team") if isinstance(body.get("team"), dict) else {}
        user_id = (
            context.get("user_id")
            or (user or {}).get("id")
            or body.get("user_id")
            or event.get("user")
            or ""
        )
        return cls(
            team_id=str(context.get("team_id") or ""),
            enterprise_id=context.get("enterprise_id"),
            user_id=str(user_id),
            user_team=(user or {}).get("team_id") or event.get("user_team"),
            team_name=(team or {}).get("domain") or body.get("team_domain"),
        )


def from_slack(text: str, names: Mapping[str, str] | None = None) -> str:
    """Slack's markup back into what the person typed: links, mentions, entities."""
    names = names or {}
    text = _LINK.sub(lambda m: f"{m.group(2)} {m.group(1)}" if m.group(2) else m.group(1), text)
    text = _USER_MENTION.sub(lambda m: names.get(m.group(1), m.group(1)), text)
    text = _CHANNEL_MENTION.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    return html.unescape(text)


def mentioned(text: str) -> list[str]:
    return _USER_MENTION.findall(text)


def display_name(user: Mapping[str, Any]) -> str | None:
    profile = user.get("profile") or {}
    for name in (
        profile.get("real_name"),
        user.get("real_name"),
        profile.get("display_name"),
        user.get("name"),
    ):
        if name:
            return str(name)
    return None


def errors_of(result: TurnResult) -> list[str]:
    return [r.text for r in result.replies if isinstance(r, Message) and r.tone is Tone.ERROR]


class SlackAdapter:
    """The translator between Slack requests and the review service."""

    def __init__(self, service: ReviewService, workspaces: WorkspaceService | None = None) -> None:
        self.service = service
        self.workspaces = workspaces or WorkspaceService(service.db, service.clock)
        self.groups = GroupService(service.db, service.clock)

    @property
    def db(self) -> Database:
        return self.service.db

    # ----- who and where -------------------------------------------------------------------

    async def organisation_id(self, origin: Origin) -> int:
        """The workspace's organisation (created on first contact), reconnected if it was."""
        organisation = await self.workspaces.organisation_for(
            CHANNEL,
            origin.workspace,
            name=f"Slack workspace {origin.team_name}" if origin.team_name else None,
        )
        return organisation.id

    async def whereabouts(self, origin: Origin, client: AsyncWebClient) -> tuple[int, Who]:
        """Which school and who, read together in the everyday case (one read, no lock)."""
        placed = await self.workspaces.place(CHANNEL, origin.workspace, origin.user_id)
        if placed is not None and placed[1] is not None:
            organisation, name = placed
            return organisation.id, Who(CHANNEL, origin.user_id, name, origin.workspace)
        organisation_id = await self.organisation_id(origin)
        return organisation_id, await self.who(organisation_id, origin, client)

    async def who(
        self, organisation_id: int, origin: Origin, client: AsyncWebClient, fast: bool = False
    ) -> Who:
        names = await self.names(organisation_id, origin, [origin.user_id], client, fast)
        name = names.get(origin.user_id) or origin.user_id
        return Who(CHANNEL, origin.user_id, name, origin.workspace)

    async def names(
        self,
        organisation_id: int,
        origin: Origin,
        user_ids: Sequence[str],
        client: AsyncWebClient,
        fast: bool = False,
    ) -> dict[str, str]:
        """Slack users' names: those the organisation knows from the database, others looked up.

        `fast` is for work done before a form is acknowledged: one quick attempt, no retries.
        """
        found = await self.workspaces.names(organisation_id, CHANNEL, origin.workspace, user_ids)
        lookup = client
        if fast:
            lookup = AsyncWebClient(
                token=client.token,
                base_url=client.base_url,
                session=client.session,
                timeout=int(FAST_LOOKUP_SECONDS) + 1,
                retry_handlers=[],
            )
        for user_id in (u for u in dict.fromkeys(user_ids) if u not in found):
            try:
                call = lookup.users_info(user=user_id)
                response = await (asyncio.wait_for(call, FAST_LOOKUP_SECONDS) if fast else call)
                name = display_name(response.get("user") or {})
            except (SlackApiError, TimeoutError) as exc:
                log.warning("users.info %s failed: %s", user_id, exc)
                name = None
            if name:
                found[user_id] = name
        return found

    async def kept(
        self, client: AsyncWebClient, channel: str, inbound: Inbound
    ) -> TurnResult | None:
        """The turn, or (when the database could not take it, after Slack already had its
        200) None after telling the person their answer was not saved, so nothing acknowledged
        is lost without a word."""
        try:
            return await self.service.handle(inbound)
        except (SQLAlchemyError, repo.ConcurrentTurn, TimeoutError):
            log.exception("turn not saved for %s", inbound.who.external_id)
            await self.post(client, channel, [Message(slack_wording.SLACK_NOT_SAVED, Tone.ERROR)])
            return None

    @staticmethod
    def dm_conversation(who: Who, channel_id: str) -> Conversation:
        """The DM as a conversation the turn remembers, for reminders later."""
        reference: dict[str, object] = {
            "team_id": who.workspace,
            "user_id": who.external_id,
            "channel_id": channel_id,
        }
        return Conversation(channel_id, "personal", reference)

    async def remember_dm(self, organisation_id: int, who: Who, channel_id: str) -> None:
        """Keep the DM for reminders later (ConversationRef kind "personal")."""
        await self.workspaces.remember_conversation(
            organisation_id, who, self.dm_conversation(who, channel_id)
        )

    # ----- sending -------------------------------------------------------------------------

    async def dm(self, client: AsyncWebClient, user_id: str) -> str:
        response = await client.conversations_open(users=user_id)
        return str(response["channel"]["id"])

    async def post(self, client: AsyncWebClient, channel: str, replies: Sequence[Reply]) -> None:
        await self.send(client, channel, render(replies))
        await self.send_documents(client, channel, replies)

    async def send_documents(
        self, client: AsyncWebClient, channel: str, replies: Sequence[Reply]
    ) -> None:
        """Each document a turn asked for, as a file in the channel, after the reply (Bolt
        runs this after Slack has its acknowledgement; drawn in a worker process)."""
        await self.send_workbooks(client, channel, replies)
        wanted = [r for r in replies if isinstance(r, SendDocument)]
        if not wanted:
            return
        from bot import rendering  # drawn in worker processes: never on this loop

        for request in wanted:
            try:
                doc = await self.service.document(
                    request.kind, request.organisation_id, request.review_id
                )
                data, name = await rendering.render_document(doc, request.fmt)
                await client.files_upload_v2(
                    file_uploads=[{"file": data, "filename": name, "title": doc.title}],
                    channel=channel,
                    initial_comment=slack_wording.SLACK_DOCUMENT_FILE.format(
                        document=request.kind.label.capitalize(), name=name
                    ),
                )
            except Exception:
                log.exception("could not send the %s", request.kind.label)
                text = slack_wording.SLACK_DOCUMENT_FAILED.format(document=request.kind.label)
                await self.send(client, channel, render([Message(text, Tone.ERROR)]))

    async def send_workbooks(
        self, client: AsyncWebClient, channel: str, replies: Sequence[Reply]
    ) -> None:
        """A lead's group view as an .xlsx file (drawn in a worker process), after the reply.
        The turn checked that they lead the group; the reply names only that group."""
        for request in (r for r in replies if isinstance(r, SendGroupWorkbook)):
            try:
                data, name = await self.groups.workbook(request.group_id)
                await client.files_upload_v2(
                    file_uploads=[{"file": data, "filename": name, "title": name}],
                    channel=channel,
                    initial_comment=slack_wording.SLACK_GROUP_WORKBOOK_FILE.format(
                        group=name.removesuffix(".xlsx"), name=name
                    ),
                )
            except Exception:
                log.exception("could not send the group workbook %s", request.group_id)
                text = slack_wording.SLACK_GROUP_WORKBOOK_FAILED
                await self.send(client, channel, render([Message(text, Tone.ERROR)]))

    async def show(
        self,
        client: AsyncWebClient,
        channel: str,
        organisation_id: int,
        who: Who,
        result: TurnResult,
    ) -> None:
        """A turn's replies: each statement's one message updated in place (its answered
        question loses its buttons), anything else posted; new statement messages are
        remembered so the next turn updates them."""
        for card, ts in result.retired:
            await self.replace(client, channel, ts, card_message(card))
        posted: dict[str, str] = {}
        for message in render(result.replies):
            sid = message.statement_id
            ts = result.messages.get(sid) if sid else None
            if ts is not None and await self.replace(client, channel, ts, message):
                continue
            response = await client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
            if sid:
                posted[sid] = str(response["ts"])
        await self.send_documents(client, channel, result.replies)
        if posted and result.review_id is not None:
            try:
                await self.service.remember_messages(
                    organisation_id, result.review_id, who, channel, posted
                )
            except SQLAlchemyError:  # the answer is saved; the next turn posts a fresh card
                log.warning("could not remember messages %s in %s", posted, channel)

    async def replace(
        self, client: AsyncWebClient, channel: str, ts: str, message: SlackMessage
    ) -> bool:
        """Update one of our messages; False if Slack no longer has it (then it is posted)."""
        try:
            await client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks
            )
        except SlackApiError as exc:
            log.info("chat.update %s %s: %s", channel, ts, exc)
            return False
        return True

    async def send(
        self, client: AsyncWebClient, channel: str, messages: Sequence[SlackMessage]
    ) -> None:
        """One message after another, in order; the client waits out any rate limit."""
        for message in messages:
            await client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )

    async def mark(
        self,
        client: AsyncWebClient,
        channel: str,
        ts: str,
        blocks: Sequence[Block] | None,
        text: str,
        note: str,
        only_block: str | None = None,
    ) -> None:
        """Show a question (or one action) as answered and take its buttons away."""
        if blocks is None:  # answered from a form: fetch the message to keep what it showed
            try:
                history = await client.conversations_history(
                    channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
                )
                found = history.get("messages") or []
                blocks = found[0].get("blocks") if found else None
                text = (found[0].get("text") if found else None) or text
            except SlackApiError as exc:
                log.warning("conversations.history failed: %s", exc)
        new = answered(blocks or [], note, only_block) if blocks else [context(escape(note))]
        await client.chat_update(channel=channel, ts=ts, text=text or note, blocks=new)

    async def refuse_foreign(
        self, client: AsyncWebClient, origin: Origin, channel: str | None
    ) -> None:
        if channel:
            await client.chat_postEphemeral(
                channel=channel, user=origin.user_id, text=slack_wording.SLACK_NOT_THIS_WORKSPACE
            )

    # ----- the slash command ---------------------------------------------------------------

    @staticmethod
    def command_ack(body: Mapping[str, Any]) -> str | None:
        """What the acknowledgement itself says (shown only to the person)."""
        verb = (str(body.get("text") or "").split() or ["help"])[0].lower()
        if verb in {"review", "actions", "plan", *DOCUMENT_VERBS}:
            return (
                None
                if body.get("channel_name") == "directmessage"
                else slack_wording.SLACK_SENT_TO_DM
            )
        if verb == "setup":
            return None
        return slack_wording.SLACK_HELP

    async def command(
        self, body: Mapping[str, Any], client: AsyncWebClient, origin: Origin, respond: Any
    ) -> None:
        words = str(body.get("text") or "").lower().split()
        verb, rest = (words[0], words[1:]) if words else ("help", [])
        if verb not in {"review", "actions", "plan", "setup", *DOCUMENT_VERBS}:
            return  # the acknowledgement carried the help
        if origin.foreign:
            await respond(text=slack_wording.SLACK_NOT_THIS_WORKSPACE, response_type="ephemeral")
            return
        organisation_id, who = await self.whereabouts(origin, client)
        if verb == "setup":
            await self.open_setup(body, client, origin, organisation_id, respond)
            return
        channel = await self.dm(client, origin.user_id)
        if verb == "review":
            new = "new" in rest
            opened = OpenReview(new=new, blank=new and "blank" in rest)
            where = self.dm_conversation(who, channel)
            result = await self.kept(
                client, channel, Inbound(organisation_id, who, opened, None, where)
            )
            if result is not None:
                await self.show(client, channel, organisation_id, who, result)
            return
        await self.remember_dm(organisation_id, who, channel)
        if verb == "actions":
            listing = LISTINGS.get(rest[0] if rest else "", "actions")
            result = await self.service.act(organisation_id, who, listing)
            await self.post(client, channel, result.replies)
        elif verb in DOCUMENT_VERBS:
            result = await self.service.act(organisation_id, who, DOCUMENT_VERBS[verb].value)
            await self.post(client, channel, result.replies)
        else:
            await self.plan(client, organisation_id, channel)

    async def plan(self, client: AsyncWebClient, organisation_id: int, channel: str) -> None:
        """The summary and plan in the DM, then the Word and Excel files (built off the loop)."""
        try:
            document = await self.service.plan_document(organisation_id)
        except LookupError:
            await self.post(client, channel, [Message(msg.NO_REVIEW_YET)])
            return
        await self.post(client, channel, [ShowSummary(document.summary), ShowPlan(document.plan)])
        from bot import rendering  # drawn in worker processes: never on this loop

        built = await asyncio.gather(
            *(rendering.render_named(document, fmt) for fmt in EXPORT_FORMATS)
        )
        files = [(name, data) for data, name in built]
        await client.files_upload_v2(
            file_uploads=[{"file": data, "filename": name, "title": name} for name, data in files],
            channel=channel,
            initial_comment=slack_wording.SLACK_PLAN_FILES.format(
                files=", ".join(n for n, _ in files)
            ),
        )

    # ----- buttons -------------------------------------------------------------------------

    async def pressed(
        self, body: Mapping[str, Any], client: AsyncWebClient, origin: Origin
    ) -> tuple[Any, Any, int, Who] | None:
        """Where a button was pressed and by whom; None (after saying why) from another workspace."""
        container = body.get("container") or {}
        channel, ts = container.get("channel_id"), container.get("message_ts")
        if origin.foreign:
            await self.refuse_foreign(client, origin, channel)
            return None
        organisation_id, who = await self.whereabouts(origin, client)
        return channel, ts, organisation_id, who

    async def answer(self, body: Mapping[str, Any], client: AsyncWebClient, origin: Origin) -> None:
        """A button answers the question it was drawn for (a typed `Choose`), once per message;
        a click on a question no longer asked changes nothing and loses its buttons."""
        then = await self.answer_saved(body, client, origin)
        if then is not None:
            await then()

    async def answer_saved(
        self, body: Mapping[str, Any], client: AsyncWebClient, origin: Origin
    ) -> Later | None:
        """The button's answer saved, before Slack is acknowledged (a crash after the ack
        never loses it); what is left to show afterwards is returned. A database that cannot
        take it is said to the person (a button is never resent by Slack)."""
        action = body["actions"][0]
        pressed = await self.pressed(body, client, origin)
        if pressed is None:
            return None
        channel, ts, organisation_id, who = pressed
        message = body.get("message") or {}
        blocks, text = message.get("blocks"), message.get("text", "")
        ref = QuestionRef.parse(str(action.get("block_id", "")))
        if ref is None:
            return partial(
                self.mark, client, channel, ts, blocks, text, slack_wording.SLACK_MOVED_ON
            )
        value = str(action.get("value") or "")
        chosen = Choose(ref.step, ref.statement_id, value)
        # One answer per drawing of a question: a double click is one answer, the same
        # question asked again on the same message (after "back") takes a new one.
        key = f"slack:msg:{channel}:{ts}:{ref.step.value}:{ref.statement_id}:{ref.drawn}"
        where = self.dm_conversation(who, channel) if str(channel).startswith("D") else None
        result = await self.kept(client, channel, Inbound(organisation_id, who, chosen, key, where))
        if result is None or result.duplicate:
            return None  # a double click: the first click shows the answer

        async def then() -> None:
            if ts in result.messages.values():  # the statement's own message: redrawn in place
                await self.show(client, channel, organisation_id, who, result)
                return
            # An older message (not a statement's current one): it loses its buttons.
            if result.stale:
                await self.mark(client, channel, ts, blocks, text, slack_wording.SLACK_MOVED_ON)
                return
            label = (action.get("text") or {}).get("text") or value
            note = (
                result.refusal.reason
                if result.refusal is not None
                else slack_wording.SLACK_ANSWERED.format(choice=label, name=who.display_name)
            )
            await self.mark(client, channel, ts, blocks, text, note)
            await self.show(client, channel, organisation_id, who, result)

        return then

    async def open_form(
        self, body: Mapping[str, Any], client: AsyncWebClient, origin: Origin, kind: str
    ) -> None:
        """The evidence or priority form for the question whose button was pressed."""
        action = body["actions"][0]
        pressed = await self.pressed(body, client, origin)
        if pressed is None:
            return
        channel, ts, organisation_id, who = pressed
        ref = QuestionRef.parse(str(action.get("block_id", "")))
        step = Step.EVIDENCE if kind == modals.EVIDENCE else Step.TARGET
        preview = await self.service.preview(organisation_id, who)
        if ref is None or preview is None or not preview.at(ref.statement_id, step):
            message = body.get("message") or {}
            await self.mark(
                client,
                channel,
                ts,
                message.get("blocks"),
                message.get("text", ""),
                slack_wording.SLACK_MOVED_ON,
            )
            return
        statement = preview.ctx.model.statement(ref.statement_id or "")
        meta = {"channel": channel, "ts": ts, "statement": statement.id}
        if kind == modals.EVIDENCE:
            view = modals.evidence_modal(statement.short_label, meta)
        else:
            target, due = preview.question(Step.TARGET), preview.question(Step.DUE)
            if target is None or due is None:
                return
            answer = preview.state.answers.get(statement.id)
            view = modals.priority_modal(
                statement.short_label,
                answer.level if answer else None,
                target,
                due,
                preview.current_action(),
                meta,
            )
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def action_button(
        self,
        body: Mapping[str, Any],
        client: AsyncWebClient,
        origin: Origin,
        command: actions.Command,
    ) -> None:
        """Mark done (or snooze) an action from a list, a reminder or the Home tab."""
        action = body["actions"][0]
        container = body.get("container") or {}
        pressed = await self.pressed(body, client, origin)
        if pressed is None:
            return
        channel, _, organisation_id, who = pressed
        view = body.get("view") or {}
        intent = "list"
        if isinstance(command, actions.ActOn):
            intent = f"{command.verb.value}:{command.number}"
        elif isinstance(command, AnswerInvitation):  # one answer per invitation message
            intent = f"group:{command.group_id}"
        if container.get("type") == "view":
            key = f"slack:view:{view.get('id')}:{view.get('hash')}:{intent}"
        else:
            key = f"slack:msg:{channel}:{container.get('message_ts')}:{intent}"
        result = await self.service.handle(Inbound(organisation_id, who, command, key))
        if result.duplicate:
            return
        if container.get("type") == "view":  # the Home tab: show it again, reply in the DM
            dm = await self.dm(client, origin.user_id)
            await self.post(client, dm, result.replies)
            await self.publish_home(client, origin)
            return
        errors = errors_of(result)
        if errors:
            await client.chat_postEphemeral(channel=channel, user=origin.user_id, text=errors[0])
            return
        message = body.get("message") or {}
        note = " ".join(r.text for r in result.replies if isinstance(r, Message))
        await self.mark(
            client,
            channel,
            container.get("message_ts"),
            message.get("blocks"),
            message.get("text", ""),
            slack_wording.SLACK_ACTION_CLICKED.format(result=note, name=who.display_name),
            only_block=str(action.get("block_id", "")),
        )

    async def open_update(
        self, body: Mapping[str, Any], client: AsyncWebClient, origin: Origin, action_id: int
    ) -> None:
        """The form for a progress note on an action."""
        if origin.foreign:
            await self.refuse_foreign(
                client, origin, (body.get("container") or {}).get("channel_id")
            )
            return
        organisation_id, who = await self.whereabouts(origin, client)
        shown = await self.service.act(organisation_id, who, f"action {action_id}")
        found = next((r for r in shown.replies if isinstance(r, ShowAction)), None)
        if found is None:
            dm = await self.dm(client, origin.user_id)
            await self.post(client, dm, shown.replies)
            return
        container = body.get("container") or {}
        meta = {"action": action_id, "home": container.get("type") == "view"}
        view = modals.update_modal(action_id, found.action.statement_label, meta)
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def open_review(self, client: AsyncWebClient, origin: Origin) -> None:
        """The Home tab's button: the review in the DM, as `/careers review`."""
        if origin.foreign:
            return
        organisation_id, who = await self.whereabouts(origin, client)
        channel = await self.dm(client, origin.user_id)
        where = self.dm_conversation(who, channel)
        result = await self.kept(
            client, channel, Inbound(organisation_id, who, OpenReview(), None, where)
        )
        if result is not None:
            await self.show(client, channel, organisation_id, who, result)

    # ----- forms ---------------------------------------------------------------------------

    async def evidence_submitted(
        self, body: Mapping[str, Any], client: AsyncWebClient, origin: Origin, ack: Any
    ) -> None:
        view = body["view"]
        meta = modals.metadata(view)
        form = modals.EvidenceForm.read(view)
        first = modals.link_url_block(1)
        if origin.foreign:
            await ack(
                response_action="errors", errors={first: slack_wording.SLACK_NOT_THIS_WORKSPACE}
            )
            return
        if not form.links:
            await ack(response_action="errors", errors={first: slack_wording.SLACK_NO_LINKS})
            return
        organisation_id = await self.organisation_id(origin)
        who = await self.who(organisation_id, origin, client, fast=True)
        statement = meta.get("statement")
        values = tuple((Step.EVIDENCE, text) for text in form.texts())
        result = await self.service.handle(
            Inbound(
                organisation_id,
                who,
                Fields(Step.EVIDENCE, statement, values),
                key=f"slack:view:{view['id']}:{view['hash']}",
                conversation=self.form_conversation(who, meta),
            )
        )
        if result.stale:
            await ack(response_action="errors", errors={first: slack_wording.SLACK_FORM_STALE})
            return
        if result.refusal is not None:
            errors: dict[str, str] = {}
            for block_id, text in form.links:  # which field: the engine's own link rules
                try:
                    parse_links(text)
                except LinkError as exc:
                    errors[block_id] = str(exc)
            if not errors:
                errors[form.links[0][0]] = result.refusal.reason
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        if not result.duplicate:
            await self.after_form(client, meta, organisation_id, who, result)

    async def priority_submitted(
        self, body: Mapping[str, Any], client: AsyncWebClient, origin: Origin, ack: Any
    ) -> None:
        view = body["view"]
        meta = modals.metadata(view)
        form = modals.PriorityForm.read(view)
        if origin.foreign:
            await ack(
                response_action="errors",
                errors={modals.TARGET: slack_wording.SLACK_NOT_THIS_WORKSPACE},
            )
            return
        organisation_id = await self.organisation_id(origin)
        who = await self.who(organisation_id, origin, client, fast=True)
        names = await self.names(organisation_id, origin, form.people, client, fast=True)
        if any(user not in names for user in form.people):
            await ack(
                response_action="errors",
                errors={modals.OWNERS_PEOPLE: slack_wording.SLACK_PEOPLE_LOOKUP_FAILED},
            )
            return
        # The chosen people become known to the organisation, so the engine matches them.
        async with self.db.transaction() as session:
            for user in form.people:
                await repo.person_for_identity(
                    session, organisation_id, CHANNEL, user, names[user], origin.workspace
                )
        texts = form.texts(names)
        # An empty answer is not a refusal to the engine (it asks again), so a form must not
        # send one: owners come from two optional fields, at least one of which is needed.
        empty = {
            field: msg.NO_OWNERS if field == modals.OWNERS_PEOPLE else slack_wording.SLACK_REQUIRED
            for field, text in zip(modals.PRIORITY_FIELDS, texts, strict=True)
            if not text.strip()
        }
        if empty:
            await ack(response_action="errors", errors=empty)
            return
        values = tuple(zip(PRIORITY_STEPS, texts, strict=True))
        result = await self.service.handle(
            Inbound(
                organisation_id,
                who,
                Fields(Step.TARGET, meta.get("statement"), values),
                key=f"slack:view:{view['id']}:{view['hash']}",
                conversation=self.form_conversation(who, meta),
            )
        )
        if result.stale:
            await ack(
                response_action="errors", errors={modals.TARGET: slack_wording.SLACK_FORM_STALE}
            )
            return
        if result.refusal is not None:
            block = PRIORITY_BLOCKS.get(result.refusal.step, modals.TARGET)
            if block == modals.OWNERS_PEOPLE and form.owners_text:
                block = modals.OWNERS_TEXT
            await ack(response_action="errors", errors={block: result.refusal.reason})
            return
        await ack()
        if not result.duplicate:
            await self.after_form(client, meta, organisation_id, who, result)

    async def after_form(
        self,
        client: AsyncWebClient,
        meta: Mapping[str, Any],
        organisation_id: int,
        who: Who,
        result: TurnResult,
    ) -> None:
        """The statement's message redrawn with what the form saved (an older message that
        opened the form is marked answered instead)."""
        channel, ts = meta.get("channel"), meta.get("ts")
        if channel and ts and ts not in result.messages.values():
            note = slack_wording.SLACK_ANSWERED_IN_FORM.format(name=who.display_name)
            await self.mark(client, channel, ts, None, "", note)
        if channel:
            await self.show(client, channel, organisation_id, who, result)

    def form_conversation(self, who: Who, meta: Mapping[str, Any]) -> Conversation | None:
        """The DM a form was opened from: its turn redraws that statement's message."""
        channel = str(meta.get("channel") or "")
        return self.dm_conversation(who, channel) if channel.startswith("D") else None

    async def update_submitted(
        self, body: Mapping[str, Any], client: AsyncWebClient, origin: Origin, ack: Any
    ) -> None:
        view = body["view"]
        meta = modals.metadata(view)
        if origin.foreign:
            await ack(
                response_action="errors",
                errors={modals.NOTE: slack_wording.SLACK_NOT_THIS_WORKSPACE},
            )
            return
        organisation_id = await self.organisation_id(origin)
        who = await self.who(organisation_id, origin, client, fast=True)
        text = modals.update_text(int(meta.get("action", 0)), view)
        result = await self.service.act(
            organisation_id, who, text, key=f"slack:view:{view['id']}:{view['hash']}"
        )
        errors = errors_of(result)
        if errors:
            await ack(response_action="errors", errors={modals.NOTE: errors[0]})
            return
        await ack()
        if result.duplicate:
            return
        channel = await self.dm(client, origin.user_id)
        await self.post(client, channel, result.replies)
        if meta.get("home"):
            await self.publish_home(client, origin)

    # ----- set-up --------------------------------------------------------------------------

    @staticmethod
    def caller(origin: Origin) -> Who:
        """The sender as an identity to look up (their name is not needed for that)."""
        return Who(CHANNEL, origin.user_id, origin.user_id, origin.workspace)

    async def leads(self, organisation_id: int, origin: Origin) -> bool:
        """The Careers Leader, or anyone while none is named (the first to start leads)."""
        return await self.workspaces.may_configure(organisation_id, self.caller(origin))

    async def slack_admin(self, origin: Origin, client: AsyncWebClient) -> bool:
        """A workspace admin or owner (an IT admin setting the bot up for the school)."""
        try:
            user = (await client.users_info(user=origin.user_id)).get("user") or {}
        except SlackApiError:
            return False
        return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))

    async def open_setup(
        self,
        body: Mapping[str, Any],
        client: AsyncWebClient,
        origin: Origin,
        organisation_id: int,
        respond: Any,
    ) -> None:
        admin = False
        if not await self.leads(organisation_id, origin):
            admin = await self.slack_admin(origin, client)
            if not admin:
                await respond(text=slack_wording.SLACK_SETUP_NOT_ALLOWED, response_type="ephemeral")
                return
        current = await self.workspaces.setup_of(organisation_id, CHANNEL, origin.workspace)
        roles = current.roles
        settings = {
            "slt_channel": current.digest,
            "digest_day": current.digest_day,
            "digest_time": current.digest_time,
        }
        leader = next((u for u, r in roles.items() if r == Role.CAREERS_LEADER.value), None)
        view = modals.setup_modal(
            current.name,
            current.edition,
            {key: value for key, value in settings.items() if value},
            leader,
            [u for u, r in roles.items() if r == Role.COLLEAGUE.value],
            [u for u, r in roles.items() if r == Role.SLT.value],
            # Checked again on submission; a Slack admin's status is vouched for here, as
            # looking it up then would put a Web API call before the acknowledgement.
            {"user": origin.user_id, "admin": admin},
        )
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    def setup_request(
        self, origin: Origin, form: modals.SetupForm, names: Mapping[str, str]
    ) -> SetupRequest:
        """The form as the workspace service's typed, channel-neutral set-up."""

        def who(user: str) -> Who:
            return Who(CHANNEL, user, names.get(user, user), origin.workspace)

        people = [(who(form.leader), Role.CAREERS_LEADER)] if form.leader else []
        people += [(who(user), Role.COLLEAGUE) for user in form.colleagues]
        people += [(who(user), Role.SLT) for user in form.slt]
        digest = None
        if form.slt_channel:
            reference: dict[str, object] = {
                "team_id": origin.workspace,
                "channel_id": form.slt_channel,
            }
            digest = Conversation(form.slt_channel, DIGEST, reference)
        return SetupRequest(
            by=who(origin.user_id),
            name=form.name or None,
            edition=form.edition,
            digest_day=form.digest_day,
            digest_time=form.digest_time,
            people=people,
            digest=digest,
        )

    async def setup_submitted(
        self, body: Mapping[str, Any], client: AsyncWebClient, origin: Origin, ack: Any
    ) -> None:
        view = body["view"]
        form = modals.SetupForm.read(view)
        if origin.foreign:
            await ack(
                response_action="errors",
                errors={modals.ORG_NAME: slack_wording.SLACK_NOT_THIS_WORKSPACE},
            )
            return
        organisation_id = await self.organisation_id(origin)
        meta = modals.metadata(view)
        admin = bool(meta.get("admin")) and meta.get("user") == origin.user_id
        if not admin and not await self.leads(organisation_id, origin):
            await ack(
                response_action="errors",
                errors={modals.ORG_NAME: slack_wording.SLACK_SETUP_NOT_ALLOWED},
            )
            return
        refusals = await self.workspaces.check_setup(
            organisation_id, self.setup_request(origin, form, {})
        )
        if refusals:
            await ack(
                response_action="errors",
                errors={SETUP_BLOCKS[r.field]: r.reason for r in refusals},
            )
            return
        await ack()
        await self.save_setup(client, origin, organisation_id, form)

    async def save_setup(
        self, client: AsyncWebClient, origin: Origin, organisation_id: int, form: modals.SetupForm
    ) -> None:
        """After the acknowledgement: names looked up, then everything saved in one transaction."""
        names = await self.names(organisation_id, origin, [*form.people(), origin.user_id], client)
        saved = await self.workspaces.save_setup(
            organisation_id, self.setup_request(origin, form, names)
        )
        channel = await self.dm(client, origin.user_id)
        if isinstance(saved, SetupRefusal):  # changed since the form was checked
            await self.send(client, channel, [SlackMessage(saved.reason, [section(saved.reason)])])
            return
        invite = False
        if form.slt_channel:
            try:
                await client.conversations_join(channel=form.slt_channel)
            except SlackApiError as exc:  # a private channel: the bot must be invited
                log.info("conversations.join %s: %s", form.slt_channel, exc)
                invite = True
        await self.send(
            client,
            channel,
            [setup_saved(form, saved.name, saved.edition, names, invite)],
        )

    # ----- typed messages, App Home, uninstall ---------------------------------------------

    async def message(
        self, body: Mapping[str, Any], client: AsyncWebClient, origin: Origin
    ) -> None:
        """A message in the DM: a typed answer or command, applied once per event id."""
        then = await self.message_saved(body, client, origin)
        if then is not None:
            await then()

    async def message_saved(
        self, body: Mapping[str, Any], client: AsyncWebClient, origin: Origin
    ) -> Later | None:
        """The typed turn saved, before Slack has its 200 (bot/slack/bolt.py runs this ahead
        of the acknowledgement): a database error raises, so Slack gets a 5xx and sends the
        event again. What is left to do after the acknowledgement (the replies) is returned."""
        event = body.get("event") or {}
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return None  # edits, deletions, joins and bots' messages are not answers
        channel = str(event.get("channel") or "")
        if origin.foreign:
            refusal = [Message(slack_wording.SLACK_NOT_THIS_WORKSPACE, Tone.ERROR)]
            return partial(self.post, client, channel, refusal)
        raw = str(event.get("text") or "")
        organisation_id, who = await self.whereabouts(origin, client)
        mentions = mentioned(raw)
        names = await self.names(organisation_id, origin, mentions, client) if mentions else {}
        text = from_slack(raw, names)
        key = f"slack:event:{body.get('event_id') or event.get('client_msg_id') or event.get('ts')}"
        where = self.dm_conversation(who, channel)
        result = await self.service.handle(Inbound(organisation_id, who, Text(text), key, where))
        if result.duplicate:
            return None
        return partial(self.show, client, channel, organisation_id, who, result)

    async def not_saved(self, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        """Slack's last try of an event the database could not take: the person is told, so
        nothing they typed is lost without a word."""
        event = body.get("event") or {}
        channel = str(event.get("channel") or "")
        if channel:
            await self.post(client, channel, [Message(slack_wording.SLACK_NOT_SAVED, Tone.ERROR)])

    async def publish_home(self, client: AsyncWebClient, origin: Origin) -> None:
        if origin.foreign:
            view = {"type": "home", "blocks": [context(slack_wording.SLACK_NOT_THIS_WORKSPACE)]}
            await client.views_publish(user_id=origin.user_id, view=view)
            return
        organisation_id, who = await self.whereabouts(origin, client)
        state = await self.service.state(organisation_id)
        summary = (
            build_summary(load_model(state.edition), state.answers, state.title) if state else None
        )
        mine = await self.service.act(organisation_id, who, "my actions")
        organisation = await self.workspaces.organisation(organisation_id)
        role = await self.workspaces.role_of(organisation_id, who)
        name = organisation.name if organisation else ""
        dashboard = await self.service.dashboard_link(organisation_id, who)
        view = home_view(
            name, role.label if role else None, state, summary, mine.replies, dashboard
        )
        await client.views_publish(user_id=origin.user_id, view=view)

    async def disconnected(self, origin: Origin) -> None:
        """The app was uninstalled or its bot token revoked: the organisation's data stays."""
        await self.workspaces.disconnect(CHANNEL, origin.workspace)


def setup_saved(
    form: modals.SetupForm, name: str, edition: str, names: Mapping[str, str], invite: bool
) -> SlackMessage:
    """The set-up as saved, people and channels as Slack mentions (shown as their names)."""

    def people(users: Sequence[str], mention: bool) -> str:
        shown = [f"<@{u}>" if mention else names.get(u, u) for u in users]
        return ", ".join(shown) or slack_wording.SLACK_SETUP_NOBODY

    def text(mention: bool) -> str:
        channel = f"<#{form.slt_channel}>" if mention else f"#{form.slt_channel}"
        digest = (
            slack_wording.SLACK_SETUP_DIGEST.format(
                channel=channel,
                day=slack_wording.SLACK_SETUP_DAYS.get(form.digest_day, form.digest_day),
                time=form.digest_time,
            )
            if form.slt_channel
            else slack_wording.SLACK_SETUP_NO_DIGEST
        )
        out = slack_wording.SLACK_SETUP_SAVED.format(
            name=escape(name) if mention else name,
            edition=Edition(edition).label,
            leader=people([form.leader] if form.leader else [], mention),
            colleagues=people(form.colleagues, mention),
            slt=people(form.slt, mention),
            digest=digest,
        )
        if invite:
            out += "\n" + slack_wording.SLACK_SETUP_INVITE.format(channel=channel)
        return out

    return SlackMessage(text(False), [section(":white_check_mark: " + text(True))])
