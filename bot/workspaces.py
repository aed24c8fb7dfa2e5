"""Which school a chat workspace is, who is speaking, set-up and roles, the digest channel, a
trust's teams, and uninstall: written once, beside the turn pipeline, for every channel.

Slack and Teams only parse their payloads into these calls and draw what comes back, so a
rule (who may set up, which school a team is, what an uninstall stops) cannot drift apart
between them. Every method is one short transaction; lookups use `Database.read()`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.inbound import Conversation, Who
from model_data import Edition
from storage import repo
from storage.db import Database
from storage.models import Organisation, Person
from workflows import messages as msg
from workflows.roles import Role, leads
from workflows.roles import may_configure as role_may_configure

# Kinds of stored conversation (ConversationRef.kind): a person's own chat; the channel the
# weekly digest goes to (one per chat service); any other channel the bot knows.
PERSONAL, DIGEST, KNOWN = "personal", "channel", "team"


class SetupField(StrEnum):
    """Which part of a set-up was refused, so a form can show the reason beside it."""

    PERMISSION = "permission"
    EDITION = "edition"
    PEOPLE = "people"


@dataclass(frozen=True)
class SetupRefusal:
    """A set-up not applied: which field and why (a neutral sentence); nothing was saved."""

    field: SetupField
    reason: str
    organisation: str = ""  # the school it concerns, for a channel's own wording


@dataclass(frozen=True)
class SetupRequest:
    """A school's set-up as any channel's form gives it, applied whole or not at all."""

    by: Who  # who saves it; their channel and workspace scope the roles it replaces
    name: str | None
    edition: Edition | str
    digest_day: str = "monday"
    digest_time: str = "08:00"
    people: Sequence[tuple[Who, Role]] = ()
    digest: Conversation | None = None  # where senior leaders' weekly digest goes


@dataclass(frozen=True)
class SetupView:
    """What a set-up form shows before it is changed."""

    name: str
    edition: str
    digest_day: str | None
    digest_time: str | None
    roles: dict[str, str] = field(default_factory=dict)  # external id -> role
    digest: str | None = None  # the digest conversation's id on this channel


@dataclass(frozen=True)
class Arrival:
    """A chat event placed: its school, the person's id (in a personal chat) and whether
    this conversation was new (so a welcome goes once)."""

    organisation: Organisation
    person_id: int | None
    first_contact: bool = False


class WorkspaceService:
    """Chat workspaces, people and set-up; shared by the Slack and Teams adapters."""

    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.clock = clock or (lambda: datetime.now(UTC))

    # ----- which school ----------------------------------------------------------------------

    async def organisation_for(
        self,
        channel: str,
        workspace: str,
        scope: str = "",
        name: str | None = None,
        edition: Edition | str = Edition.SCHOOL,
    ) -> Organisation:
        """The school a workspace (or a tenant's team, `scope`) belongs to, created on first
        contact; a school that had removed the app is reconnected by coming back."""
        async with self.db.read() as session:  # nearly always known: no write lock
            found = await _linked(session, channel, workspace, scope)
        if found is None or _disconnected(found, channel):
            async with self.db.transaction() as session:
                found = await self._find_or_create(
                    session, channel, workspace, scope, name, edition
                )
                await repo.set_channel_disconnected(session, found.id, channel, None)
        return found

    async def arrive(
        self,
        who: Who,
        conversation: Conversation,
        scope: str = "",
        name: str | None = None,
        edition: Edition | str = Edition.SCHOOL,
        named: bool = True,
        welcome_key: str | None = None,
    ) -> Arrival:
        """Place an event in one transaction: the school (a person's own school in their
        personal chat, else the team's or the workspace's), reconnected if it had removed
        the app, with the conversation remembered for reminders and digests.

        Someone new belongs to the school they first write in, but only with their name
        (`named`), which would stick to their answers.
        """
        personal = conversation.kind == PERSONAL
        async with self.db.transaction() as session:
            person = await self._identity(session, who) if personal else None
            organisation = (
                await repo.get_organisation(session, person.organisation_id) if person else None
            )
            if organisation is None:
                organisation = await self._find_or_create(
                    session, who.channel, who.workspace, scope, name, edition
                )
            await repo.set_channel_disconnected(session, organisation.id, who.channel, None)
            person_id = await self._remember(
                session, organisation, who, conversation, person, named
            )
            first = (
                await repo.claim_input(session, welcome_key, None, organisation.id)
                if welcome_key
                else False
            )
            return Arrival(organisation, person_id, first)

    async def organisation(self, organisation_id: int) -> Organisation | None:
        async with self.db.read() as session:
            return await repo.get_organisation(session, organisation_id)

    async def link_team(self, channel: str, tenant: str, team: str, organisation_id: int) -> None:
        """A team of a trust's tenant belongs to one of its schools (`team` "" is the tenant)."""
        async with self.db.transaction() as session:
            await repo.link_organisation(session, organisation_id, channel, tenant, team)

    # ----- uninstall -------------------------------------------------------------------------

    async def disconnect(self, channel: str, workspace: str, scope: str = "") -> list[int]:
        """The app was removed from a workspace, or from one team (`scope`) of a tenant: only
        the school that workspace or team belongs to stops hearing from this channel. Its data
        stays; coming back (reinstall, a message) reconnects it."""
        async with self.db.transaction() as session:
            organisation = await _linked(session, channel, workspace, scope)
            if organisation is None:
                return []
            await repo.set_channel_disconnected(session, organisation.id, channel, self.clock())
            return [organisation.id]

    async def disconnect_person(self, who: Who) -> list[int]:
        """Someone removed the app from their own chat: that only opts them out, unless they
        lead their school's review, when it is the school's uninstall."""
        async with self.db.transaction() as session:
            person = await self._identity(session, who)
            if person is None or not leads(person.role):
                return []
            at = self.clock()
            await repo.set_channel_disconnected(session, person.organisation_id, who.channel, at)
            return [person.organisation_id]

    async def reconnect(self, organisation_id: int, channel: str) -> bool:
        """Sending through `channel` resumes (reinstalled); False if it was connected."""
        async with self.db.transaction() as session:
            return await repo.set_channel_disconnected(session, organisation_id, channel, None)

    # ----- people and conversations ----------------------------------------------------------

    async def person(self, organisation_id: int, who: Who) -> Person:
        """The person behind a chat identity in this school, created on first contact."""
        async with self.db.transaction() as session:
            return await repo.person_for_identity(
                session, organisation_id, who.channel, who.external_id, who.display_name,
                who.workspace,
            )  # fmt: skip

    async def known_person(self, who: Who, organisation_id: int | None = None) -> Person | None:
        """The person behind a chat identity, if known (in this school, when given)."""
        async with self.db.read() as session:
            return await self._identity(session, who, organisation_id)

    async def place(
        self, channel: str, workspace: str, external_id: str
    ) -> tuple[Organisation, str | None] | None:
        """A known, connected workspace's school and the name it knows for this chat user,
        in one read (no lock): the everyday start of a turn. None means the slow path
        (`organisation_for`: first contact or coming back)."""
        async with self.db.read() as session:
            placed = await repo.place(session, channel, workspace, external_id)
        if placed is None or _disconnected(placed[0], channel):
            return None
        return placed

    async def names(
        self, organisation_id: int, channel: str, workspace: str, external_ids: Sequence[str]
    ) -> dict[str, str]:
        """The names this school knows for these chat users (the rest are the channel's to
        look up)."""
        found: dict[str, str] = {}
        async with self.db.read() as session:
            for external_id in dict.fromkeys(external_ids):
                person = await repo.person_by_identity(
                    session, channel, workspace, external_id, organisation_id
                )
                if person is not None:
                    found[external_id] = person.display_name
        return found

    async def ensure_people(self, organisation_id: int, people: Sequence[Who]) -> None:
        """Make chat users known to the school (e.g. picked as owners), so names match."""
        async with self.db.transaction() as session:
            for who in people:
                await repo.person_for_identity(
                    session, organisation_id, who.channel, who.external_id, who.display_name,
                    who.workspace,
                )  # fmt: skip

    async def remember_conversation(
        self, organisation_id: int, who: Who, conversation: Conversation
    ) -> int | None:
        """Keep where the bot can speak later (a DM for reminders); writes only if new.
        Returns the person's id for a personal conversation."""
        async with self.db.transaction() as session:
            organisation = await repo.get_organisation(session, organisation_id)
            if organisation is None:
                raise LookupError(f"no organisation {organisation_id}")
            return await self._remember(session, organisation, who, conversation, None, True)

    async def channel_conversations(self, organisation_id: int, channel: str) -> list[str]:
        """The channels (not personal chats) the bot knows for a school on one chat service."""
        async with self.db.read() as session:
            refs = await repo.conversation_refs(session, organisation_id, channel)
            return [r.conversation_id for r in refs if r.kind in (DIGEST, KNOWN)]

    # ----- roles and set-up ------------------------------------------------------------------

    async def roles(self, organisation_id: int, channel: str, workspace: str) -> dict[str, str]:
        """Chat user id -> role, for this workspace's people who have one."""
        async with self.db.read() as session:
            return await _roles(session, organisation_id, channel, workspace)

    async def role_of(self, organisation_id: int, who: Who) -> Role | None:
        person = await self.known_person(who, organisation_id)
        return Role(person.role) if person is not None and person.role else None

    async def may_configure(
        self, organisation_id: int, who: Who, workspace_admin: bool = False
    ) -> bool:
        """The Careers Leader, anyone while none is named, or the workspace's own admin."""
        async with self.db.read() as session:
            caller = await self._identity(session, who)
            return await _may_configure(session, organisation_id, caller, workspace_admin)

    async def setup_of(self, organisation_id: int, channel: str, workspace: str) -> SetupView:
        """What a set-up form starts from."""
        async with self.db.read() as session:
            organisation = await repo.get_organisation(session, organisation_id)
            if organisation is None:
                raise LookupError(f"no organisation {organisation_id}")
            settings = organisation.settings or {}
            digest = await repo.conversation_refs(session, organisation_id, channel, kind=DIGEST)
            return SetupView(
                organisation.name,
                organisation.edition,
                settings.get("digest_day"),
                settings.get("digest_time"),
                await _roles(session, organisation_id, channel, workspace),
                digest[0].conversation_id if digest else None,
            )

    async def check_setup(self, organisation_id: int, request: SetupRequest) -> list[SetupRefusal]:
        """Why a set-up would be refused (read only): a form shows these before it closes."""
        async with self.db.read() as session:
            return await _setup_refusals(session, organisation_id, request)

    async def save_setup(
        self, organisation_id: int, request: SetupRequest
    ) -> Organisation | SetupRefusal:
        """Name, edition, digest schedule and channel, and roles, in ONE transaction.

        The people named get their roles; others of the same workspace lose theirs; the
        edition is refused once a review has started (checked again here, in the transaction).
        """
        by = request.by
        async with self.db.transaction() as session:
            refusals = await _setup_refusals(session, organisation_id, request)
            if refusals:
                return refusals[0]
            organisation = await repo.update_organisation(
                session,
                organisation_id,
                name=request.name or None,
                edition=Edition(request.edition).value,
                settings={"digest_day": request.digest_day, "digest_time": request.digest_time},
            )
            named: set[int] = set()
            for who, role in request.people:
                person = await repo.person_for_identity(
                    session, organisation_id, who.channel, who.external_id, who.display_name,
                    who.workspace,
                )  # fmt: skip
                await repo.set_role(session, person, Role(role).value)
                named.add(person.id)
            for person in await repo.people(session, organisation_id):
                here = any(
                    i.channel == by.channel and i.workspace == by.workspace
                    for i in person.identities
                )
                if here and person.id not in named and person.role is not None:
                    await repo.set_role(session, person, None)
            await self._set_digest(session, organisation_id, by.channel, request.digest)
            return organisation

    async def set_digest_channel(
        self, organisation_id: int, who: Who, conversation: Conversation
    ) -> bool:
        """Senior leaders' digest goes to this conversation: only the Careers Leader chooses.
        An earlier digest channel stays known as an ordinary channel."""
        async with self.db.transaction() as session:
            person = await self._identity(session, who, organisation_id)
            if person is None or not leads(person.role):
                return False
            await self._set_digest(session, organisation_id, who.channel, conversation)
            return True

    async def join_school(
        self,
        who: Who,
        scope: str,
        name: str,
        edition: Edition | str,
        conversation: Conversation | None = None,
    ) -> Organisation | SetupRefusal:
        """Point a team (`scope`) or a whole tenant ("") at a school by name, as a trust does.

        Allowed for the Careers Leader of the school it points at now and of the school
        named, or anyone while one has none. A school of that name already linked in this
        tenant is joined; from a tenant-wide chat, the school first contact created for the
        tenant takes the name (keeping its review); otherwise a new school is made. The
        person setting up then belongs to it.
        """
        edition = Edition(edition).value
        async with self.db.transaction() as session:
            caller = await self._identity(session, who)
            current = await repo.linked_organisation(session, who.channel, who.workspace, scope)
            target = await repo.linked_organisation_named(session, who.channel, who.workspace, name)
            for organisation in (current, target):
                if organisation is not None and not await _may_configure(
                    session, organisation.id, caller
                ):
                    return _not_allowed(organisation)
            own_first_school = (
                not scope
                and current is not None
                and caller is not None
                and caller.organisation_id == current.id
            )
            if target is None and not own_first_school:
                target = await repo.create_organisation(session, name, edition)
            else:
                target = target or current
                assert target is not None
                refusal = await _edition_refusal(session, target, edition)
                if refusal is not None:
                    return refusal
                new_name = name if target is current and own_first_school else None
                target = await repo.update_organisation(
                    session, target.id, name=new_name, edition=edition
                )
            await repo.link_organisation(session, target.id, who.channel, who.workspace, scope)
            person = await repo.move_identity(
                session, who.channel, who.workspace, who.external_id, target.id, who.display_name
            )
            if conversation is not None and conversation.kind == PERSONAL:
                await repo.save_conversation_ref(
                    session, target.id, who.channel, conversation.conversation_id, PERSONAL,
                    conversation.reference, self.clock(), person.id,
                )  # fmt: skip
            return target

    # ----- inside a transaction --------------------------------------------------------------

    @staticmethod
    async def _identity(
        session: AsyncSession, who: Who, organisation_id: int | None = None
    ) -> Person | None:
        return await repo.person_by_identity(
            session, who.channel, who.workspace, who.external_id, organisation_id
        )

    @staticmethod
    async def _find_or_create(
        session: AsyncSession,
        channel: str,
        workspace: str,
        scope: str,
        name: str | None,
        edition: Edition | str,
    ) -> Organisation:
        found = await _linked(session, channel, workspace, scope)
        if found is not None:
            return found
        organisation = await repo.create_organisation(
            session, name or f"{channel.capitalize()} workspace {workspace}", Edition(edition).value
        )
        await repo.link_organisation(session, organisation.id, channel, workspace)
        return organisation

    async def _remember(
        self,
        session: AsyncSession,
        organisation: Organisation,
        who: Who,
        conversation: Conversation,
        person: Person | None,
        named: bool,
    ) -> int | None:
        """Remember a conversation, and someone new in it; a known digest channel stays one."""
        personal = conversation.kind == PERSONAL
        if person is None and named:
            known = None if personal else await self._identity(session, who)
            if known is None:
                person = await repo.person_for_identity(
                    session, organisation.id, who.channel, who.external_id, who.display_name,
                    who.workspace,
                )  # fmt: skip
        person_id = person.id if personal and person is not None else None
        kind = conversation.kind
        row = await repo.conversation_ref(session, who.channel, conversation.conversation_id)
        if (
            not personal
            and row is not None
            and (row.kind, row.organisation_id)
            == (
                DIGEST,
                organisation.id,
            )
        ):
            kind = DIGEST
        wanted = (organisation.id, kind, person_id, dict(conversation.reference))
        if row is None or (row.organisation_id, row.kind, row.person_id, row.reference) != wanted:
            await repo.save_conversation_ref(
                session, organisation.id, who.channel, conversation.conversation_id, kind,
                conversation.reference, self.clock(), person_id,
            )  # fmt: skip
        return person_id

    async def _set_digest(
        self,
        session: AsyncSession,
        organisation_id: int,
        channel: str,
        conversation: Conversation | None,
    ) -> None:
        """One digest conversation per chat service; the one before stays known."""
        keep = conversation.conversation_id if conversation is not None else None
        now = self.clock()
        for ref in await repo.conversation_refs(session, organisation_id, channel, kind=DIGEST):
            if ref.conversation_id != keep:
                await repo.save_conversation_ref(
                    session, organisation_id, channel, ref.conversation_id, KNOWN, ref.reference,
                    now, ref.person_id,
                )  # fmt: skip
        if conversation is not None:
            await repo.save_conversation_ref(
                session, organisation_id, channel, conversation.conversation_id, DIGEST,
                conversation.reference, now,
            )  # fmt: skip


async def _linked(
    session: AsyncSession, channel: str, workspace: str, scope: str
) -> Organisation | None:
    """A team linked on its own (`scope`) wins over the tenant-wide link."""
    if scope:
        found = await repo.linked_organisation(session, channel, workspace, scope)
        if found is not None:
            return found
    return await repo.linked_organisation(session, channel, workspace)


def _disconnected(organisation: Organisation, channel: str) -> bool:
    return organisation.disconnected_at is not None or channel in repo.disconnected_channels(
        organisation
    )


async def _roles(
    session: AsyncSession, organisation_id: int, channel: str, workspace: str
) -> dict[str, str]:
    out: dict[str, str] = {}
    for person in await repo.people(session, organisation_id):
        for identity in person.identities:
            if identity.channel == channel and identity.workspace == workspace and person.role:
                out[identity.external_id] = person.role
    return out


async def _may_configure(
    session: AsyncSession,
    organisation_id: int,
    caller: Person | None,
    workspace_admin: bool = False,
) -> bool:
    """A caller's role counts only in their own school."""
    named = await repo.careers_leader_named(session, organisation_id)
    own = caller is not None and caller.organisation_id == organisation_id
    role = caller.role if own and caller is not None else None
    return role_may_configure(role, named, workspace_admin)


def _not_allowed(organisation: Organisation) -> SetupRefusal:
    return SetupRefusal(
        SetupField.PERMISSION,
        msg.SETUP_NOT_ALLOWED.format(organisation=organisation.name),
        organisation.name,
    )


async def _edition_refusal(
    session: AsyncSession, organisation: Organisation, edition: str
) -> SetupRefusal | None:
    """A review keeps the edition it began with, so the school's edition is fixed by then."""
    if (
        edition == organisation.edition
        or await repo.latest_review(session, organisation.id) is None
    ):
        return None
    return SetupRefusal(SetupField.EDITION, msg.SETUP_EDITION_LOCKED, organisation.name)


async def _setup_refusals(
    session: AsyncSession, organisation_id: int, request: SetupRequest
) -> list[SetupRefusal]:
    organisation = await repo.get_organisation(session, organisation_id)
    if organisation is None:
        raise LookupError(f"no organisation {organisation_id}")
    out: list[SetupRefusal] = []
    edition = await _edition_refusal(session, organisation, Edition(request.edition).value)
    if edition is not None:
        out.append(edition)
    chosen = [(w.channel, w.workspace, w.external_id) for w, _ in request.people]
    if len(chosen) != len(set(chosen)):
        out.append(SetupRefusal(SetupField.PEOPLE, msg.SETUP_TWO_ROLES, organisation.name))
    return out
