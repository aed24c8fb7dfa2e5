"""The Teams activity handler: a translator between Teams activities and the review service.

In: who is speaking (Teams user in a tenant), which organisation (tenant, team, or the
school the person was set up in), and what they typed or pressed. Out: the engine's
channel-neutral replies drawn as Adaptive Cards. Decisions about the review stay in the
engine and the service; what is decided here is only Teams plumbing: which card was
answered (a typed `Choose` or `Fields` naming its question), how to redraw or retire it
after the service's one transaction says so, where to store a conversation reference.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from hashlib import sha256
from typing import Any

import aiohttp
from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes, Attachment, ConversationReference
from botbuilder.schema.teams import FileConsentCardResponse

from bot.config import Settings
from bot.formats import FORMATS
from bot.groups import GroupService
from bot.reviews import Conversation, Inbound, OpenReview, ReviewService, TurnResult, What, Who
from bot.teams import cards
from bot.teams import wording as teams_wording
from bot.teams.preview import priority_form
from bot.teams.proactive import (
    CHANNEL,
    CHANNEL_KIND,
    PERSONAL,
    TEAM_KIND,
    speak,
    stored_reference,
    tenant_of,
)
from bot.teams.sending import update_failed
from bot.teams.work import BackgroundWork
from bot.workspaces import SetupField, SetupRefusal, WorkspaceService
from model_data import Edition, load_model
from storage import repo
from storage.models import Organisation
from workflows import messages as msg
from workflows.actions import parse_command
from workflows.documents import DocumentKind
from workflows.inputs import Choose, Fields, Text
from workflows.replies import (
    Message,
    Question,
    Refusal,
    Reply,
    SendDocument,
    SendGroupWorkbook,
    ShowPlan,
    ShowSummary,
    StatementCard,
    Step,
    Tone,
)

log = logging.getLogger("careers_bot.teams")

LOCAL_TENANT = "local"  # the Bot Framework Emulator sends no tenant
FILE_CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"
MAX_KEY = 300  # HandledInput.key
# The participants question is no statement, but its card is kept like one (in the statement
# column of the bot's messages: no statement id looks like this) so that answered by typing
# it loses its Save button.
PARTICIPANTS_CARD = "people"

# What people type to the adapter itself: command forms that cannot be an answer (everything
# else, "review" included, goes to the engine as typed: the service opens a review when there
# is none, and the engine reads a resume word only where it is not an answer).
REVIEW_WORDS = {"review", "start review", "start the review", "start"}  # the welcome's button
NEW_REVIEW_WORDS = {"new review", "next review", "start a new review"}
HELP_WORDS = {"help", "?", "commands"}
DIGEST_WORDS = {"digest here", "post the digest here", "slt digest here"}
PLAN_WORDS = {"plan", "action plan"}
SUMMARY_WORDS = {"summary", "grid", "progress"}
SETUP = re.compile(r"^set\s*-?\s*up\s+(?P<edition>school|college)\s+(?P<name>.+)$", re.I)
EXPORT = re.compile(r"^(?:export|download)(?:\s+(?:as\s+)?(?P<fmt>[a-z]+))?$", re.I)
FORMAT_WORDS = {"word": "docx", "excel": "xlsx", "markdown": "md", "chart": "png"}
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


@dataclass
class Turn:
    """One incoming activity, translated: where it came from and who sent it."""

    activity: Activity
    tenant: str
    team: str  # the team's id in a team channel, "" in a personal chat
    conversation_id: str  # as stored: a channel's own id, without the thread
    personal: bool
    who: Who
    organisation: Organisation
    person_id: int | None = None
    first_contact: bool = False  # no welcome was sent to this conversation before
    named: bool = True  # Teams leaves the name out of some events (conversationUpdate)
    conversation: Conversation | None = None  # as the workspace service remembers it

    @property
    def answer_key(self) -> str:
        """What makes a retry harmless: for a button, the card, its question and the token
        of that drawing of it (a double click, or Teams delivering the same submit again, is
        one answer; the same question drawn again on the same card, after "back", is a new
        one); for a form, also exactly what was sent (corrected after a refusal, it is new);
        otherwise the activity (each typed message and command button is its own turn)."""
        activity = self.activity
        value = activity.value if isinstance(activity.value, dict) else {}
        kind = value.get(cards.MARK)
        drawn = str(value.get(cards.DRAWN) or "")
        if kind == cards.CHOICE and drawn and activity.reply_to_id:
            target = f"{activity.reply_to_id}:{value.get('step')}:{value.get('sid')}:{drawn}"
        elif kind in {cards.CHOICE, cards.FORM} and activity.reply_to_id:
            sent = json.dumps(value, sort_keys=True, default=str).encode()
            target = f"{activity.reply_to_id}:{sha256(sent).hexdigest()[:16]}"
        else:
            target = activity.id
        key = f"teams:{activity.conversation.id}:{target}"
        if len(key) > MAX_KEY:
            key = "teams:" + sha256(key.encode()).hexdigest()
        return key


def plain_text(activity: Activity) -> str:
    """What the person typed, without the @mention of the bot and Teams' HTML."""
    text = activity.text or ""
    if activity.recipient is not None and activity.entities:
        text = TurnContext.remove_recipient_mention(activity) or ""
    return " ".join(html.unescape(_TAG.sub(" ", text)).split())


def normalised(text: str) -> str:
    return " ".join(text.lower().split()).rstrip("!.")


class CareersBot(TeamsActivityHandler):
    def __init__(
        self,
        service: ReviewService,
        settings: Settings,
        adapter: CloudAdapter,
        work: BackgroundWork,
        http: aiohttp.ClientSession,
        workspaces: WorkspaceService | None = None,
    ) -> None:
        self.service = service
        self.workspaces = workspaces or WorkspaceService(service.db, service.clock)
        self.settings = settings
        self.adapter = adapter
        self.work = work
        self.groups = GroupService(service.db, service.clock)
        self.http = http

    @property
    def app_id(self) -> str:
        return self.settings.microsoft_app_id

    # ----- activities ------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        turn = await self._begin(turn_context)
        value = turn_context.activity.value
        if isinstance(value, dict) and value.get(cards.MARK):
            await self._card(turn_context, turn, value)
        elif turn.personal:
            await self._text(turn_context, turn, plain_text(turn_context.activity))
        else:
            await self._channel_text(turn_context, turn, plain_text(turn_context.activity))

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        """Installed in a chat or team (the bot among the members added), or a new member.

        Handled here rather than by TeamsActivityHandler, which would fetch every added
        member's profile from Teams first.
        """
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if any(member.id == bot_id for member in activity.members_removed or []):
            await self._uninstalled(turn_context)  # the bot was removed from a team
            return
        if not activity.members_added:
            return
        installed = any(member.id == bot_id for member in activity.members_added)
        turn = await self._begin(turn_context, welcome=installed)
        if installed and turn.first_contact:
            await self._welcome(turn_context, turn)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        turn = await self._begin(turn_context, welcome=True)
        if turn.first_contact:
            await self._welcome(turn_context, turn)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        await self._uninstalled(turn_context)

    async def _uninstalled(self, turn_context: TurnContext) -> None:
        """The app was removed: the organisation is recorded as disconnected (as Slack does),
        so no reminder or digest is attempted; its data stays, and a message resumes it.

        From a team (or the whole tenant) it is the school's uninstall. One person removing
        the app from their own chat only opts that person out, unless they lead the review.
        """
        activity = turn_context.activity
        tenant = tenant_of(activity) or LOCAL_TENANT
        kind = getattr(activity.conversation, "conversation_type", None)
        user = activity.from_property
        if kind in (None, "personal"):
            external = (user.aad_object_id or user.id) if user else ""
            ids = await self.workspaces.disconnect_person(Who(CHANNEL, external, "", tenant))
        else:  # only the school this team belongs to: a trust's other schools carry on
            team = ((activity.channel_data or {}).get("team") or {}).get("id") or ""
            ids = await self.workspaces.disconnect(CHANNEL, tenant, team)
        log.info("uninstalled from %s: organisations %s disconnected", tenant, ids)

    async def on_teams_file_consent_accept(
        self, turn_context: TurnContext, file_consent_card_response: FileConsentCardResponse
    ) -> None:
        """The person agreed to save the plan: upload it after answering Teams at once."""
        turn = await self._begin(turn_context)
        context = file_consent_card_response.context or {}
        upload = file_consent_card_response.upload_info
        group = context.get("group")
        if isinstance(group, int) and upload is not None:  # a lead's group workbook
            if not await self.groups.leads_group(turn.who, group):
                await turn_context.send_activity(teams_wording.TEAMS_EXPORT_MISMATCH)
                return
            await self._upload_group(turn_context, turn, group, upload)
            return
        if context.get("org") != turn.organisation.id or upload is None:
            await turn_context.send_activity(teams_wording.TEAMS_EXPORT_MISMATCH)
            return
        reference = stored_reference(turn_context.activity, channel_post=False)
        consent_id = turn_context.activity.reply_to_id
        fmt = str(context.get("format"))
        review_id = context.get("review")

        kind = DocumentKind(context["kind"]) if context.get("kind") else None

        async def job() -> None:
            data, name = await self._document(turn.organisation.id, review_id, fmt, kind)
            await self._saved(reference, consent_id, upload, data, name, fmt)

        self.work.start(
            f"upload {fmt} for {turn.who.display_name}", job, self._failed(reference, fmt)
        )

    async def _saved(
        self,
        reference: ConversationReference,
        consent_id: str | None,
        upload: Any,
        data: bytes,
        name: str,
        fmt: str,
    ) -> None:
        """Upload the file the person agreed to save, then swap the consent card for it."""
        await self._upload(upload.upload_url, data)
        info = Attachment(
            content_type=FILE_INFO,
            content_url=upload.content_url,
            name=upload.name or name,
            content={"uniqueId": upload.unique_id, "fileType": upload.file_type or fmt},
        )
        done = cards.text_activity(
            teams_wording.TEAMS_EXPORT_UPLOADED.format(name=upload.name or name)
        )
        await speak(
            self.adapter,
            self.app_id,
            reference,
            [Activity(type=ActivityTypes.message, attachments=[info])],
            update_id=consent_id,
            replacement=done,
        )

    async def _upload_group(
        self, turn_context: TurnContext, turn: Turn, group_id: int, upload: Any
    ) -> None:
        reference = stored_reference(turn_context.activity, channel_post=False)
        consent_id = turn_context.activity.reply_to_id

        async def job() -> None:
            data, name = await self.groups.workbook(group_id)
            await self._saved(reference, consent_id, upload, data, name, "xlsx")

        self.work.start(
            f"upload group workbook for {turn.who.display_name}",
            job,
            self._failed(reference, "xlsx"),
        )

    async def on_teams_file_consent_decline(
        self, turn_context: TurnContext, file_consent_card_response: FileConsentCardResponse
    ) -> None:
        await self._begin(turn_context)
        name = (file_consent_card_response.context or {}).get("name", "")
        if turn_context.activity.reply_to_id:
            await turn_context.update_activity(
                Activity(
                    id=turn_context.activity.reply_to_id,
                    type=ActivityTypes.message,
                    text=teams_wording.TEAMS_EXPORT_DECLINED.format(name=name),
                )
            )

    # ----- where and who ---------------------------------------------------------------------

    async def _begin(self, turn_context: TurnContext, welcome: bool = False) -> Turn:
        """Find the organisation and remember this conversation (for reminders and digests)."""
        activity = turn_context.activity
        channel_data: dict[str, Any] = activity.channel_data or {}
        tenant = tenant_of(activity) or LOCAL_TENANT
        team = (channel_data.get("team") or {}).get("id") or ""
        team_name = (channel_data.get("team") or {}).get("name")
        kind = getattr(activity.conversation, "conversation_type", None)
        personal = kind in (None, "personal")
        user = activity.from_property
        who = Who(
            channel=CHANNEL,
            external_id=(user.aad_object_id or user.id) if user else "unknown",
            display_name=(user.name if user and user.name else "Teams user"),
            workspace=tenant,
        )
        reference = stored_reference(activity, channel_post=not personal)
        conversation = Conversation(
            reference.conversation.id,
            PERSONAL if personal else TEAM_KIND,
            reference.serialize(),
        )
        arrival = await self.workspaces.arrive(
            who,
            conversation,
            scope=team,
            name=team_name if team else None,
            edition=self.settings.default_edition,
            named=bool(user and user.name),
            welcome_key=f"teams:welcome:{conversation.conversation_id}"[:MAX_KEY]
            if welcome
            else None,
        )
        return Turn(
            activity=activity,
            tenant=tenant,
            team=team,
            conversation_id=conversation.conversation_id,
            personal=personal,
            who=who,
            organisation=arrival.organisation,
            person_id=arrival.person_id,
            first_contact=arrival.first_contact,
            named=bool(user and user.name),
            conversation=conversation,
        )

    # ----- typed messages ----------------------------------------------------------------------

    async def _text(self, turn_context: TurnContext, turn: Turn, text: str) -> None:
        """A personal chat: the adapter's own few commands, then everything else to the engine."""
        word = normalised(text)
        setup = SETUP.match(text)
        export = EXPORT.match(word)
        if word in NEW_REVIEW_WORDS:
            result = await self._handle(turn, OpenReview(new=True))
        elif setup:
            await self._setup(turn_context, turn, setup.group("edition"), setup.group("name"))
            return
        elif word in DIGEST_WORDS:
            await self._say(
                turn_context, turn, [Message(teams_wording.TEAMS_DIGEST_IN_CHANNEL_ONLY)]
            )
            return
        elif export:
            await self._export(turn_context, turn, export.group("fmt") or "docx")
            return
        else:
            result = await self._handle(turn, Text(text), turn.answer_key)
            if result.duplicate:
                return
            if word in HELP_WORDS:  # the adapter's commands, then the engine's (if a review)
                engine_help = result.replies if result.review_id is not None else []
                result.replies = [Message(teams_wording.TEAMS_HELP), *engine_help]
        await self._show(turn_context, turn, result)

    async def _handle(
        self, turn: Turn, what: What, key: str | None = None, cards_here: bool = True
    ) -> TurnResult:
        """The service's one turn pipeline, for this organisation and person. From a personal
        chat (unless `cards_here` is False) the turn knows the conversation: it remembers it
        for reminders and answers with each statement's one card and where it already is."""
        where = self._conversation(turn) if cards_here else None
        return await self.service.handle(Inbound(turn.organisation.id, turn.who, what, key, where))

    @staticmethod
    def _conversation(turn: Turn) -> Conversation | None:
        if not turn.personal:
            return None
        reference = stored_reference(turn.activity, channel_post=False)
        return Conversation(turn.conversation_id, PERSONAL, reference.serialize())

    async def _channel_text(self, turn_context: TurnContext, turn: Turn, text: str) -> None:
        """A team channel: views, set-up and the digest; the review stays in personal chats."""
        word = normalised(text)
        setup = SETUP.match(text)
        if word in DIGEST_WORDS:
            await self._digest_here(turn_context, turn)
        elif setup:
            await self._setup(turn_context, turn, setup.group("edition"), setup.group("name"))
        elif word in PLAN_WORDS | SUMMARY_WORDS:
            try:
                document = await self.service.plan_document(turn.organisation.id)
            except LookupError:
                replies: list[Reply] = [
                    Message(
                        teams_wording.TEAMS_CHANNEL_NO_REVIEW.format(
                            organisation=turn.organisation.name
                        )
                    )
                ]
            else:
                replies = (
                    [ShowPlan(document.plan)]
                    if word in PLAN_WORDS
                    else [ShowSummary(document.summary)]
                )
            await self._say(turn_context, turn, replies)
        elif word in HELP_WORDS:
            await self._say(turn_context, turn, [Message(teams_wording.TEAMS_CHANNEL_HELP)])
        elif EXPORT.match(word):
            await self._say(
                turn_context, turn, [Message(teams_wording.TEAMS_EXPORT_IN_PERSONAL_CHAT)]
            )
        else:
            await self._say(
                turn_context,
                turn,
                [
                    Message(teams_wording.TEAMS_REVIEW_IN_PERSONAL_CHAT),
                    Message(teams_wording.TEAMS_CHANNEL_HELP),
                ],
            )

    # ----- cards -------------------------------------------------------------------------------

    async def _card(self, turn_context: TurnContext, turn: Turn, value: dict[str, Any]) -> None:
        """A button or form on one of our cards, as a typed intent through the one pipeline;
        then the card is replaced in place (answered), drawn again (refused), or retired."""
        kind = value.get(cards.MARK)
        if kind == cards.COMMAND:
            await self._command(turn_context, turn, str(value.get("text") or ""))
            return
        if not turn.personal:
            await self._say(
                turn_context, turn, [Message(teams_wording.TEAMS_REVIEW_IN_PERSONAL_CHAT)]
            )
            return
        card_id = turn_context.activity.reply_to_id
        title = str(value.get("title") or "")
        values = cards.form_values(value)
        try:
            if kind == cards.CHOICE:
                what, answer, first = self._choice(value)
            else:
                owners = await self._owner_names(turn_context, turn, values)
                what = cards.form_fields(value, owners)
                answer, first = cards.form_answer(value, what), None
        except cards.FormError as problem:  # an empty box: nothing sent to the service
            step = Step(value["step"]) if value.get("step") in set(Step) else Step.DONE
            refusal = Refusal(step, str(problem))  # DONE: a card no step of ours drew
            await self._show_again(turn_context, turn, card_id, value, refusal, problem.field)
            return
        earlier: list[Message] = []
        if first is not None:  # links typed on an evidence card, then Back, Skip or Pause
            saved = await self._handle(turn, first, f"{turn.answer_key}:links", cards_here=False)
            if saved.refusal is not None and not saved.stale:
                await self._show_again(turn_context, turn, card_id, value, saved.refusal)
                return
            earlier = [r for r in saved.replies if isinstance(r, Message)]
        result = await self._handle(turn, what, turn.answer_key)
        if result.duplicate:
            return  # a double click, or Teams delivering the same submit again
        if result.refusal is not None and isinstance(what, Fields) and not result.stale:
            await self._show_again(turn_context, turn, card_id, value, result.refusal)
            return
        if card_id and card_id not in result.messages.values():
            # Not a statement's current card (the participants question, or a card drawn
            # before cards were kept one per statement): it loses its controls here.
            if result.stale:
                await self._replace(turn_context, card_id, cards.retired_card(title))
            elif result.refusal is None:
                await self._replace(turn_context, card_id, cards.answered_card(title, answer))
        # A statement's card is redrawn in place by the turn: answered, refused (the reason
        # on it), or stale (the card says nothing was changed, and shows the question now).
        await self._show(turn_context, turn, result, earlier)

    def _choice(self, value: dict[str, Any]) -> tuple[Choose | Fields, str, Fields | None]:
        """A button as a typed choice, how it reads once answered, and anything to save first.

        Teams sends every input of a card with any of its buttons: links typed into the
        evidence card are saved whichever button is pressed (with "Done", in one form).
        """
        choice = cards.chosen(value)
        answer = str(value.get("label") or choice.value)
        links = cards.typed_links(value) if choice.step is Step.EVIDENCE else []
        if not links:
            return choice, answer, None
        saved = teams_wording.TEAMS_ANSWER_LINKS.format(count=len(links))
        if choice.value.lower() in cards.NAVIGATION:
            return (
                choice,
                f"{saved}; {answer}",
                cards.evidence_fields(choice.statement_id, links, None),
            )
        return cards.evidence_fields(choice.statement_id, links, choice.value), saved, None

    async def _command(self, turn_context: TurnContext, turn: Turn, text: str) -> None:
        """A command button (welcome, plan, reminder): its own data, never a review answer."""
        if not turn.personal:
            await self._channel_text(turn_context, turn, text)
            return
        if normalised(text) in REVIEW_WORDS:  # the welcome card's button: open the review
            result = await self._handle(turn, OpenReview(), turn.answer_key)
        else:
            command = parse_command(text)
            if command is None:  # the adapter's own words ("export docx")
                await self._text(turn_context, turn, text)
                return
            result = await self._handle(turn, command, turn.answer_key)
        if not result.duplicate:
            await self._show(turn_context, turn, result)

    async def _show_again(
        self,
        turn_context: TurnContext,
        turn: Turn,
        card_id: str | None,
        value: dict[str, Any],
        refusal: Refusal,
        field: str | None = None,
    ) -> None:
        """A refused form: the same card, the reason beside the box the engine refused
        (`refusal.step`), and what was typed still in it. Nothing was saved."""
        values = cards.form_values(value)
        if not values and value.get("step") == Step.EVIDENCE.value:
            values = cards.form_values({**value, "form": "evidence"})
        field = field or cards.FIELD_OF_STEP.get(refusal.step)
        try:
            step = Step(str(value.get("step")))
        except ValueError:
            step = refusal.step
        preview = await self.service.preview(turn.organisation.id, turn.who, turn.person_id)
        if card_id is None or preview is None:
            await self._say(turn_context, turn, [Message(refusal.reason, Tone.ERROR)])
            return
        priority = priority_form(preview) if step is Step.TARGET else None
        options = self._options(
            turn,
            errors=[] if field else [refusal.reason],
            values=values,
            priority=priority,
            invalid={field: refusal.reason} if field else {},
        )
        sid = value.get("sid")
        shown: Reply | None = None
        if sid is not None and sid == preview.statement_id:
            shown = preview.card(str(sid))  # the statement's card, its question still asked
            if shown.question is None or shown.question.step is not step:
                shown = None
        if shown is None:
            shown = preview.question(step)
        if shown is None:
            await self._say(turn_context, turn, [Message(refusal.reason, Tone.ERROR)])
            return
        (drawn,) = cards.draw([shown], options)
        await self._replace(turn_context, card_id, drawn.activity.attachments[0].content)

    async def _owner_names(
        self, turn_context: TurnContext, turn: Turn, values: dict[str, str]
    ) -> list[str]:
        """People picked on a card, as the names or initials the engine matches.

        Static choices already carry the engine's values; Teams' people picker sends Azure
        AD object ids, which are looked up among the organisation's people, then in Teams.
        """
        names: list[str] = []
        for value in cards.picked(values):
            if not GUID.match(value):
                names.append(value)
                continue
            name = await self._person_name(turn_context, turn, value)
            if name is None:
                raise cards.FormError(teams_wording.TEAMS_UNKNOWN_PERSON, "owners_pick")
            names.append(name)
        return names

    async def _person_name(self, turn_context: TurnContext, turn: Turn, aad_id: str) -> str | None:
        known = Who(CHANNEL, aad_id, "", turn.tenant)
        person = await self.workspaces.known_person(known, turn.organisation.id)
        if person is not None:
            return person.initials or person.display_name
        channels = await self.workspaces.channel_conversations(turn.organisation.id, CHANNEL)
        connector = turn_context.turn_state.get(self.adapter.BOT_CONNECTOR_CLIENT_KEY)
        if connector is None:
            return None
        for conversation in [turn.activity.conversation.id, *channels]:
            try:
                member = await connector.conversations.get_conversation_member(conversation, aad_id)
            except Exception as exc:  # not in that roster: try the next one
                log.debug("member %s not found in %s: %s", aad_id, conversation, exc)
                continue
            if member is not None and member.name:
                return str(member.name)
        return None

    # ----- set-up and the SLT digest channel ---------------------------------------------------

    async def _digest_here(self, turn_context: TurnContext, turn: Turn) -> None:
        """This team channel gets senior leaders' weekly digest (the Careers Leader's choice)."""
        org = turn.organisation
        assert turn.conversation is not None
        digest = Conversation(turn.conversation_id, CHANNEL_KIND, turn.conversation.reference)
        leader = await self.workspaces.set_digest_channel(org.id, turn.who, digest)
        text = teams_wording.TEAMS_DIGEST_SET if leader else teams_wording.TEAMS_DIGEST_NOT_LEADER
        tone = Tone.SUCCESS if leader else Tone.ERROR
        await self._say(turn_context, turn, [Message(text.format(organisation=org.name), tone)])

    async def _setup(self, turn_context: TurnContext, turn: Turn, edition: str, name: str) -> None:
        """Link this team (or, from a personal chat, the tenant) to a school by name; the
        rules (who may, which school, the edition once a review started) are the service's."""
        name = " ".join(name.strip().strip("\"'“”‘’").split())
        if not name:
            await self._say(turn_context, turn, [Message(teams_wording.TEAMS_SETUP_HOW)])
            return
        scope = "" if turn.personal else turn.team
        joined = await self.workspaces.join_school(
            turn.who, scope, name, edition, turn.conversation if turn.personal else None
        )
        if isinstance(joined, SetupRefusal):
            reason = (
                teams_wording.TEAMS_SETUP_NOT_ALLOWED.format(organisation=joined.organisation)
                if joined.field is SetupField.PERMISSION
                else joined.reason
            )
            await self._say(turn_context, turn, [Message(reason, Tone.ERROR)])
            return
        turn.organisation = joined
        where = (
            teams_wording.TEAMS_SETUP_WHERE_TENANT
            if turn.personal
            else teams_wording.TEAMS_SETUP_WHERE_TEAM
        )
        done = teams_wording.TEAMS_SETUP_DONE.format(
            where=where, organisation=joined.name, edition=Edition(joined.edition).label
        )
        await self._say(turn_context, turn, [Message(done, Tone.SUCCESS)])

    # ----- the plan as a document (after the reply) --------------------------------------------

    async def _export(
        self,
        turn_context: TurnContext,
        turn: Turn,
        wanted: str,
        kind: DocumentKind | None = None,
        review_id: int | None = None,
    ) -> None:
        """The plan (`export docx`), or one of the documents (`kind`: `evidence pack`...), as
        a file: prepared after the reply, then offered to save in the person's OneDrive."""
        fmt = FORMAT_WORDS.get(wanted.lower(), wanted.lower())
        allowed = FORMATS if kind is None else ("docx",)
        if fmt not in allowed:
            text = teams_wording.TEAMS_EXPORT_UNKNOWN_FORMAT.format(formats=", ".join(allowed))
            await self._say(turn_context, turn, [Message(text, Tone.ERROR)])
            return
        if review_id is None:
            async with self.service.db.transaction() as session:
                review = await repo.plan_review(session, turn.organisation.id)
            if review is None:
                await self._say(turn_context, turn, [Message(msg.NO_REVIEW_YET, Tone.ERROR)])
                return
            review_id = review.id
        preparing = (
            teams_wording.TEAMS_EXPORT_PREPARING.format(format=fmt)
            if kind is None
            else teams_wording.TEAMS_DOCUMENT_PREPARING.format(document=kind.label)
        )
        await self._say(turn_context, turn, [Message(preparing)])
        reference = stored_reference(turn_context.activity, channel_post=False)
        organisation_id = turn.organisation.id
        chosen = review_id

        async def job() -> None:
            data, name = await self._document(organisation_id, chosen, fmt, kind)
            context = {
                cards.MARK: "export",
                "org": organisation_id,
                "review": chosen,
                "format": fmt,
                "name": name,
                "kind": kind.value if kind else None,
            }
            await self._offer_file(reference, name, len(data), context)

        self.work.start(
            f"export {fmt} for {turn.who.display_name}", job, self._failed(reference, fmt)
        )

    async def _document(
        self,
        organisation_id: int,
        review_id: int | None,
        fmt: str,
        kind: DocumentKind | None = None,
    ) -> tuple[bytes, str]:
        """The plan document (or one of the three others) and its file name, drawn in a
        worker process (Word, Excel, the chart): bot/rendering.py. The serving process never
        imports matplotlib."""
        from bot import rendering

        if kind is not None:
            doc = await self.service.document(kind, organisation_id, review_id)
            return await rendering.render_document(doc, fmt)
        document = await self.service.plan_document(organisation_id, review_id)
        return await rendering.render_named(document, fmt)

    async def _upload(self, url: str, data: bytes) -> None:
        """PUT the file to the OneDrive upload session Teams opened for it, in one piece."""
        headers = {
            "Content-Length": str(len(data)),
            "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}",
        }
        async with self.http.put(url, data=data, headers=headers) as response:
            response.raise_for_status()

    def _failed(self, reference: ConversationReference, fmt: str) -> Any:
        async def tell(_: BaseException) -> None:
            text = teams_wording.TEAMS_EXPORT_FAILED.format(format=fmt)
            await speak(self.adapter, self.app_id, reference, [cards.text_activity(text)])

        return tell

    # ----- saying things -----------------------------------------------------------------------

    async def _welcome(self, turn_context: TurnContext, turn: Turn) -> None:
        if turn.personal:
            await turn_context.send_activity(
                cards.card_activity(cards.welcome_card(teams_wording.TEAMS_WELCOME_PERSONAL))
            )
        else:
            await turn_context.send_activity(cards.text_activity(teams_wording.TEAMS_WELCOME_TEAM))

    def _options(
        self,
        turn: Turn,
        *,
        errors: Sequence[str] = (),
        values: dict[str, str] | None = None,
        priority: cards.PriorityForm | None = None,
        invalid: dict[str, str] | None = None,
    ) -> cards.RenderOptions:
        return cards.RenderOptions(
            model=load_model(turn.organisation.edition),
            interactive=turn.personal,
            people_picker=turn.personal and turn.activity.channel_id == "msteams",
            exports=turn.personal,
            priority=priority,
            errors=errors,
            values=values or {},
            invalid=invalid or {},
            timezone=turn.organisation.timezone or "Europe/London",
        )

    async def _say(self, turn_context: TurnContext, turn: Turn, replies: Sequence[Reply]) -> None:
        """Render replies as cards and send them; a priority question gets the whole form."""
        if not replies:
            return
        activities = cards.render(replies, await self._turn_options(turn, replies))
        if activities:
            await turn_context.send_activities(activities)
        await self._send_documents(turn_context, turn, replies)

    async def _show(
        self,
        turn_context: TurnContext,
        turn: Turn,
        result: TurnResult,
        earlier: Sequence[Message] = (),
    ) -> None:
        """`_show_replies`, then any document the turn asked for, as a file after them."""
        await self._show_replies(turn_context, turn, result, earlier)
        await self._send_documents(turn_context, turn, result.replies)

    async def _send_documents(
        self, turn_context: TurnContext, turn: Turn, replies: Sequence[Reply]
    ) -> None:
        for reply in replies:
            if isinstance(reply, SendDocument):
                await self._export(
                    turn_context, turn, reply.fmt, kind=reply.kind, review_id=reply.review_id
                )
            elif isinstance(reply, SendGroupWorkbook):
                await self._export_group(turn_context, turn, reply.group_id)

    async def _export_group(self, turn_context: TurnContext, turn: Turn, group_id: int) -> None:
        """A lead's group view as an .xlsx file: drawn after the reply, then offered to save
        in their OneDrive (the turn checked they lead the group; the upload checks again)."""
        await self._say(turn_context, turn, [Message(teams_wording.TEAMS_GROUP_WORKBOOK_PREPARING)])
        reference = stored_reference(turn_context.activity, channel_post=False)

        async def job() -> None:
            data, name = await self.groups.workbook(group_id)
            context = {cards.MARK: "export", "group": group_id, "format": "xlsx", "name": name}
            await self._offer_file(reference, name, len(data), context)

        self.work.start(
            f"group workbook for {turn.who.display_name}", job, self._failed(reference, "xlsx")
        )

    async def _offer_file(
        self, reference: ConversationReference, name: str, size: int, context: dict[str, Any]
    ) -> None:
        """Teams' file consent card: the file is uploaded to the person's OneDrive only once
        they accept (`context` comes back with the answer and says what to upload)."""
        consent = Attachment(
            content_type=FILE_CONSENT,
            name=name,
            content={
                "description": teams_wording.TEAMS_EXPORT_CONSENT.format(title=name),
                "sizeInBytes": size,
                "acceptContext": context,
                "declineContext": context,
            },
        )
        await speak(
            self.adapter,
            self.app_id,
            reference,
            [Activity(type=ActivityTypes.message, attachments=[consent])],
        )

    async def _show_replies(
        self,
        turn_context: TurnContext,
        turn: Turn,
        result: TurnResult,
        earlier: Sequence[Message] = (),
    ) -> None:
        """A turn's replies: each statement's one card updated in place where it already is
        (an answered question loses its controls at once), sent afresh if the update fails or
        it is new, anything else sent; new cards are remembered for the next turn to update.

        `earlier` is what a first part of the same press said (links saved before Back):
        shown on its statement's card."""
        replies = _with_notices(list(result.replies), earlier)
        options = await self._turn_options(turn, replies)
        for bare, retired_id in result.retired:  # the review opened again: the old card retires
            content = cards.statement_message(bare, (), options)
            await self._update(turn_context, retired_id, cards.card_activity(content))
        fresh: list[cards.Drawn] = []
        for drawn in cards.draw(replies, options, on_screen=result.messages):
            old_id = result.messages.get(drawn.statement_id) if drawn.statement_id else None
            if old_id is not None and await self._update(turn_context, old_id, drawn.activity):
                continue
            fresh.append(drawn)
        if not fresh:
            return
        responses = await turn_context.send_activities([d.activity for d in fresh])
        posted: dict[str, str] = {}
        for drawn, response in zip(fresh, responses or [], strict=False):
            if response is None or not response.id:
                continue
            if drawn.statement_id:
                posted[drawn.statement_id] = response.id
            elif drawn.step is Step.PARTICIPANTS:
                posted[PARTICIPANTS_CARD] = response.id
        if not posted or result.review_id is None or not turn.personal:
            return
        await self.service.remember_messages(
            turn.organisation.id, result.review_id, turn.who, turn.conversation_id, posted
        )
        first = load_model(turn.organisation.edition).statements[0].id
        if first in posted:  # the review's first card: the participants were answered
            await self._retire_participants(turn_context, turn, result.review_id, replies)

    async def _retire_participants(
        self, turn_context: TurnContext, turn: Turn, review_id: int, replies: Sequence[Reply]
    ) -> None:
        """The participants question answered (typed, or on its card): its card keeps no
        Save button. Looked for only when the review's first statement card is posted."""
        async with self.service.db.read() as session:
            found = await repo.bot_messages(
                session, CHANNEL, turn.conversation_id, review_id, [PARTICIPANTS_CARD]
            )
        card_id = found.get(PARTICIPANTS_CARD)
        if card_id is None or card_id == turn.activity.reply_to_id:
            return  # none, or the card just pressed (replaced with its answer already)
        said = next(
            (r.text for r in replies if isinstance(r, Message) and r.tone is not Tone.ERROR),
            "",
        )
        content = (
            cards.card([cards.text_block(said, color="Good")]) if said else cards.retired_card("")
        )
        await self._update(turn_context, card_id, cards.card_activity(content))

    async def _turn_options(self, turn: Turn, replies: Sequence[Reply]) -> cards.RenderOptions:
        """How to draw a turn: a priority question gets the whole priority form."""
        priority = None
        question = cards.question_of(replies)
        if turn.personal and isinstance(question, Question) and question.step is Step.TARGET:
            preview = await self.service.preview(turn.organisation.id, turn.who, turn.person_id)
            priority = priority_form(preview) if preview else None
        return self._options(turn, priority=priority)

    async def _update(
        self, turn_context: TurnContext, activity_id: str, activity: Activity
    ) -> bool:
        """Replace one of our activities in place; False if Teams would not (then the caller
        sends it anew, so the person always sees the card as it is now)."""
        activity.id = activity_id
        try:
            outcome = await turn_context.update_activity(activity)
        except Exception:  # the answer is saved; the card is sent again instead
            log.exception("could not update activity %s", activity_id)
            outcome = None
            failed = True
        else:
            failed = update_failed(outcome)
        if failed:
            activity.id = None
        return not failed

    async def _replace(
        self, turn_context: TurnContext, card_id: str | None, content: dict[str, Any]
    ) -> None:
        """Replace a card in place (update_activity), so it cannot be answered twice."""
        if not card_id:
            return
        replacement = cards.card_activity(content)
        replacement.id = card_id
        try:
            await turn_context.update_activity(replacement)
        except Exception:  # the answer is saved; a card that stays clickable is only stale
            log.exception("could not replace card %s", card_id)


def _with_notices(replies: list[Reply], earlier: Sequence[Message]) -> list[Reply]:
    """Messages from an earlier part of the same press, on their statement's card (or
    ahead of the replies when no card of theirs is drawn)."""
    if not earlier:
        return replies
    loose: list[Reply] = []
    for message in earlier:
        index = next(
            (
                i
                for i, r in enumerate(replies)
                if isinstance(r, StatementCard) and r.statement.id == message.about
            ),
            None,
        )
        if index is None:
            loose.append(message)
            continue
        shown = replies[index]
        assert isinstance(shown, StatementCard)
        replies[index] = replace(shown, notices=[message, *shown.notices])
    return [*loose, *replies]
