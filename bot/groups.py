"""Groups in the service layer: the group view from the database, a lead's and a school's
chat commands (called by the ONE turn pipeline, `ReviewService.handle`), and what the CLI
does for an admin (create, leads, invitations).

How people reach it:
- A **lead** (Hub lead, Enterprise Co-ordinator, trust careers lead, facilitator) is added by
  an admin with their chat identity (`careers-bot group lead add`). They talk to the bot in
  any workspace or tenant where it is installed; the channel resolves that workspace's
  organisation as for anyone, but `group` finds the lead by who they are (channel, workspace,
  user id), never by the school, and shows only the groups they lead.
- A **school** joins by invitation: an admin or lead invites it (`careers-bot group invite`),
  its people see it with `invitations` (and when the review is opened), and only its
  Careers Leader can accept (`join group 4`, or the button whose value is that command).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.inbound import Who
from storage import deliveries
from storage import groups as repo_groups
from storage.db import Database
from storage.models import Group, GroupLead, Organisation, Person
from workflows import messages as msg
from workflows.calendar import CalendarError, calendar_of, local_date
from workflows.deadlines import parse_by_when
from workflows.groups import (
    KIND_LABELS,
    ActionFacts,
    AnswerInvitation,
    CompareWithGroup,
    GroupCommand,
    GroupView,
    InviteSchool,
    ListInvitations,
    SchoolFacts,
    ShowGroup,
    build_group_view,
    compare_school,
)
from workflows.notices import Notice
from workflows.replies import (
    Choice,
    Invitation,
    Message,
    Reply,
    SendGroupWorkbook,
    ShowComparison,
    ShowGroupView,
    ShowInvitations,
    Tone,
)
from workflows.roles import leads

INVITATION_NOTICE_KEPT = timedelta(days=14)  # after that, `invitations` still shows it


def invitation_notice(group: Group, school: str) -> Notice:
    """The invitation as a notice: its buttons carry the typed commands (one pipeline)."""
    kind = KIND_LABELS.get(group.kind, group.kind)
    return Notice(
        kind="invitation",
        title=msg.INVITATION_TITLE.format(group=group.name, school=school),
        sections=[("", [msg.INVITATION_TEXT.format(group=group.name, kind=kind, id=group.id)])],
        buttons=[
            Choice(msg.INVITATION_JOIN, f"join group {group.id}"),
            Choice(msg.INVITATION_DECLINE, f"decline group {group.id}"),
        ],
    )


def facts(rows: repo_groups.GroupRows) -> tuple[list[SchoolFacts], list[ActionFacts]]:
    """The repository's plain rows as the pure view's inputs: each school's latest and latest
    completed review, and each open action's real deadline in its school's own calendar."""
    schools = [
        SchoolFacts(
            organisation_id=s.organisation_id,
            name=s.name,
            edition=s.edition,
            started=s.organisation_id in rows.latest,
            completed=s.organisation_id in rows.completed,
            answered=len(rows.levels.get(rows.latest.get(s.organisation_id, -1), {})),
            levels=dict(rows.levels.get(rows.completed.get(s.organisation_id, -1), {})),
        )
        for s in rows.schools
    ]
    calendars = {i: calendar_of(dates) for i, dates in rows.term_dates.items()}
    actions: list[ActionFacts] = []
    for a in rows.actions:
        due_date: date | None = None
        if a.due and a.due_year:
            try:
                due_date = calendars[a.organisation_id].due_in_year(
                    parse_by_when(a.due), a.due_year
                )
            except (ValueError, CalendarError):
                due_date = None
        actions.append(
            ActionFacts(
                organisation_id=a.organisation_id,
                due_date=due_date,
                has_owner=a.owners > 0 and not a.owners_tbc,
                has_date=bool(a.due) and not a.due_tbc,
            )
        )
    return schools, actions


class GroupService:
    """Groups for every channel and the CLI; no channel knowledge here."""

    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.clock = clock or (lambda: datetime.now(UTC))

    def today(self) -> date:
        return local_date(self.clock())

    # ----- the view (also for a dashboard page) --------------------------------------------

    async def view(self, group_id: int, today: date | None = None) -> GroupView | None:
        """The group view of one group, read in a constant number of statements."""
        async with self.db.read() as session:
            return await self.view_in(session, group_id, today)

    async def view_in(
        self, session: AsyncSession, group_id: int, today: date | None = None
    ) -> GroupView | None:
        group = await repo_groups.get_group(session, group_id)
        if group is None:
            return None
        schools, actions = facts(await repo_groups.group_rows(session, group_id))
        return build_group_view(
            group.id, group.name, group.kind, schools, actions, today or self.today()
        )

    async def workbook(self, group_id: int) -> tuple[bytes, str]:
        """The group view as an .xlsx file and its name, drawn in a worker process."""
        from bot import rendering

        view = await self.view(group_id)
        if view is None:
            raise LookupError(f"no group {group_id}")
        return await rendering.render_group_workbook(view)

    async def leads_group(self, who: Who, group_id: int) -> bool:
        """Whether this chat identity leads the group (checked again when a file is sent)."""
        async with self.db.read() as session:
            led = await repo_groups.groups_led_by(
                session, who.channel, who.workspace, who.external_id
            )
        return any(g.id == group_id for g in led)

    # ----- chat (called inside the turn's transaction) --------------------------------------

    async def command(
        self,
        session: AsyncSession,
        organisation: Organisation,
        person: Person,
        who: Who,
        command: GroupCommand,
    ) -> list[Reply]:
        if isinstance(command, ShowGroup):
            return await self._lead_view(session, who, command.xlsx)
        if isinstance(command, CompareWithGroup):
            return await self._compare(session, organisation)
        if isinstance(command, ListInvitations):
            return await self.invitations_for(session, organisation, always=True)
        if isinstance(command, InviteSchool):
            return await self._invite_school(session, person, who, command)
        return await self._answer(session, organisation, person, command)

    async def _invite_school(
        self, session: AsyncSession, person: Person, who: Who, command: InviteSchool
    ) -> list[Reply]:
        """A lead invites a school by name, to the group they lead (or the one named)."""
        led = await repo_groups.groups_led_by(session, who.channel, who.workspace, who.external_id)
        if not led:
            return [Message(msg.NOT_A_GROUP_LEAD, Tone.ERROR)]
        names = ", ".join(g.name for g in led)
        if command.group is not None:
            led = [g for g in led if g.name.lower() == command.group.strip().lower()]
            if not led:
                return [Message(msg.NO_SUCH_LED_GROUP.format(group=command.group, groups=names))]
        if len(led) > 1:
            return [
                Message(
                    msg.INVITE_WHICH_GROUP.format(
                        groups=names, school=command.school, first=led[0].name
                    )
                )
            ]
        group = led[0]
        schools = await repo_groups.schools_named(session, command.school)
        if not schools:
            return [Message(msg.NO_SCHOOL_NAMED.format(school=command.school), Tone.ERROR)]
        if len(schools) > 1:
            return [Message(msg.SEVERAL_SCHOOLS_NAMED.format(school=command.school), Tone.ERROR)]
        school = schools[0]
        if not await self._invite_in(session, group, school, person.display_name):
            return [Message(msg.ALREADY_INVITED.format(school=school.name, group=group.name))]
        return [
            Message(msg.INVITED_SCHOOL.format(school=school.name, group=group.name), Tone.SUCCESS)
        ]

    async def _lead_view(self, session: AsyncSession, who: Who, xlsx: bool) -> list[Reply]:
        groups = await repo_groups.groups_led_by(
            session, who.channel, who.workspace, who.external_id
        )
        if not groups:
            return [Message(msg.NOT_A_GROUP_LEAD, Tone.ERROR)]
        if xlsx:
            return [SendGroupWorkbook(g.id) for g in groups]
        replies: list[Reply] = []
        for group in groups:
            view = await self.view_in(session, group.id)
            if view is not None:
                replies.append(ShowGroupView(view))
        return replies

    async def _compare(self, session: AsyncSession, organisation: Organisation) -> list[Reply]:
        groups = await repo_groups.school_groups(session, organisation.id)
        if not groups:
            return [Message(msg.NOT_IN_A_GROUP)]
        replies: list[Reply] = []
        for group in groups:
            rows = await repo_groups.group_rows(session, group.id)
            schools, _ = facts(rows)
            own_review = rows.completed.get(organisation.id) or rows.latest.get(organisation.id)
            own = rows.levels.get(own_review, {}) if own_review is not None else {}
            replies.append(
                ShowComparison(compare_school(group.name, schools, organisation.id, own))
            )
        return replies

    async def invitations_for(
        self, session: AsyncSession, organisation: Organisation, always: bool = False
    ) -> list[Reply]:
        """The groups waiting for this school's answer, with buttons (nothing, unless
        `always`, when there are none)."""
        waiting = await repo_groups.invitations(session, organisation.id)
        if not waiting:
            return [Message(msg.NO_INVITATIONS)] if always else []
        shown = [Invitation(g.id, g.name, g.kind) for g in waiting]
        return [ShowInvitations(organisation.name, shown)]

    async def _answer(
        self,
        session: AsyncSession,
        organisation: Organisation,
        person: Person,
        command: AnswerInvitation,
    ) -> list[Reply]:
        if not leads(person.role):
            return [Message(msg.ONLY_CAREERS_LEADER_JOINS, Tone.ERROR)]
        group = await repo_groups.get_group(session, command.group_id)
        if command.accept:
            row = (
                await repo_groups.accept(
                    session, command.group_id, organisation.id, person.id, self.clock()
                )
                if group is not None
                else None
            )
            if row is None or group is None:
                return [Message(msg.NO_SUCH_INVITATION.format(id=command.group_id), Tone.ERROR)]
            return [Message(msg.JOINED_GROUP.format(group=group.name), Tone.SUCCESS)]
        declined = group is not None and await repo_groups.decline(
            session, command.group_id, organisation.id
        )
        if not declined or group is None:
            return [Message(msg.NO_SUCH_INVITATION.format(id=command.group_id), Tone.ERROR)]
        return [Message(msg.DECLINED_GROUP.format(group=group.name))]

    # ----- administration (the CLI) ----------------------------------------------------------

    async def create(self, name: str, kind: str) -> Group:
        async with self.db.transaction() as session:
            if await repo_groups.groups_matching(session, name):
                raise ValueError(f"A group called {name!r} exists already.")
            return await repo_groups.create_group(session, name, kind)

    async def find(self, reference: str) -> Group:
        async with self.db.read() as session:
            found = await repo_groups.groups_matching(session, reference)
        if not found:
            raise LookupError(f"No group {reference!r}: see `careers-bot group list`.")
        return found[0]

    async def add_lead(self, group_id: int, name: str, role: str, who: Who) -> GroupLead:
        async with self.db.transaction() as session:
            return await repo_groups.add_lead(
                session, group_id, name, role, who.channel, who.workspace, who.external_id
            )

    async def remove_lead(self, group_id: int, who: Who) -> bool:
        async with self.db.transaction() as session:
            return await repo_groups.remove_lead(
                session, group_id, who.channel, who.workspace, who.external_id
            )

    async def invite(self, group_id: int, organisation_id: int, by: str) -> bool:
        """Invite a school; False if it is a member or invited already.

        The invitation reaches the school's Careers Leader as a notice with Join and Decline
        buttons, recorded in the same transaction as a delivery (sent by `serve`'s scheduler
        to their personal chat, or the terminal's outbox); it is also shown when they open
        the review or type `invitations`."""
        async with self.db.transaction() as session:
            group = await repo_groups.get_group(session, group_id)
            organisation = await session.get(Organisation, organisation_id)
            if group is None or organisation is None:
                return False
            return await self._invite_in(session, group, organisation, by)

    async def _invite_in(
        self, session: AsyncSession, group: Group, organisation: Organisation, by: str
    ) -> bool:
        """The invitation and, in the same transaction, its notice to each Careers Leader."""
        now = self.clock()
        row, new = await repo_groups.invite(session, group.id, organisation.id, by, now)
        if not new:
            return False
        notice = invitation_notice(group, organisation.name)
        for person_id in await repo_groups.careers_leaders(session, organisation.id):
            await deliveries.record(
                session,
                key=f"group-invitation:{group.id}:{organisation.id}:{person_id}:"
                f"{row.invited_at.isoformat()}",
                organisation_id=organisation.id,
                kind="invitation",
                due_at=now,
                stale_at=now + INVITATION_NOTICE_KEPT,
                payload=notice.to_payload(),
                person_id=person_id,
            )
        return True

    async def leave(self, group_id: int, organisation_id: int) -> bool:
        async with self.db.transaction() as session:
            return await repo_groups.leave(session, group_id, organisation_id, self.clock())

    async def members(self, group_id: int, waiting: bool = True) -> Sequence[repo_groups.MemberRow]:
        async with self.db.read() as session:
            return await repo_groups.members(session, group_id, waiting=waiting)

    async def groups(self) -> list[repo_groups.GroupCounts]:
        async with self.db.read() as session:
            return await repo_groups.list_groups(session)

    async def leads(self, group_id: int) -> list[GroupLead]:
        async with self.db.read() as session:
            return await repo_groups.leads_of(session, group_id)
