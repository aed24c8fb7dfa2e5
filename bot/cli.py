"""`careers-bot`: the command line for careers leaders (chat) and IT admins (model, db)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import re
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.config import get_settings
from bot.formats import FORMATS
from bot.groups import GroupService
from bot.reviews import CAREERS_HUB, GOVERNORS_REPORT, LINK_GOVERNOR, ReviewService, Who
from bot.sanitise import terminal_safe
from bot.terminal import LEAVE_WORDS, Interrupted, Terminal, level_renderable, render_group

if TYPE_CHECKING:  # the scheduler (APScheduler) loads only for the commands that use it
    from bot.scheduler import Dispatcher
from model_data import LEVELS, Edition, ModelDataError, load_all, load_model
from storage import dashboards, repo
from storage import models as m
from storage.db import Database
from storage.models import Organisation
from workflows.calendar import (
    DATE_FORMS,
    CalendarError,
    HalfTerm,
    TermCalendar,
    format_date,
    local_date,
    parse_day,
    parse_ics,
)
from workflows.documents import DocumentKind
from workflows.groups import KINDS, LEAD_ROLES, ROLE_LABELS
from workflows.replies import Reply, SendDocument

EDITIONS = [e.value for e in Edition]
STOPPED = "Stopped. Everything answered so far is saved; run it again to resume."
NEUTRAL_NAME = "You"
CHAT_HELP = """Your name in the review (who took part, who updated an action) is the one you give
with --name, remembered for next time. Without it, the terminal asks once for your name
the first time you chat for a school (Enter alone: "You"); a piped review (answers on
standard input) is recorded as "You". The computer's login name is never used.

At a question, Enter alone takes the answer shown in [brackets]. Ctrl-C stops at once;
everything answered so far is saved, and the next run carries on where you stopped."""
FORCE_HELP = "send even at a weekend or in a school holiday (the scheduler never does)"
ORG_HELP = "organisation name, or its id as `org list` shows it (12 or id:12)"
GROUP_HELP = "group name, or its id as `group list` shows it (4 or id:4)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="careers-bot",
        description="Careers Impact Bot: the Careers Impact System self-review and action plan.",
    )
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: DATABASE_URL or SQLite)")
    commands = parser.add_subparsers(dest="command", required=True)

    chat = commands.add_parser(
        "chat",
        help="run the self-review in the terminal",
        description="Run the self-review in the terminal.",
        epilog=CHAT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chat.add_argument("--org", help=f"{ORG_HELP} (a name is created on first run)")
    chat.add_argument("--edition", choices=EDITIONS, help="model edition for a new organisation")
    chat.add_argument(
        "--name", help="your name as it should appear in the review (remembered; see below)"
    )
    chat.add_argument(
        "--new", action="store_true", help="start the next review after a completed one"
    )
    chat.add_argument(
        "--blank", action="store_true", help="with --new: don't start from the last answers"
    )

    model = commands.add_parser("model", help="the maturity model text")
    model_commands = model.add_subparsers(dest="model_command", required=True)
    export = model_commands.add_parser("export", help="print an edition as JSON")
    export.add_argument("--edition", choices=EDITIONS, default="school")
    show = model_commands.add_parser("show", help="print one statement")
    show.add_argument("statement", help="statement id, e.g. 3.4")
    show.add_argument("--edition", choices=EDITIONS, default="school")

    export = commands.add_parser("export", help="write the summary and action plan as a document")
    export.add_argument("--org", help=ORG_HELP)
    export.add_argument(
        "--review",
        type=int,
        help="the school's review number, as `reviews` lists it (default: the last completed)",
    )
    export.add_argument(
        "--document",
        choices=[kind.value for kind in DocumentKind],
        help="the evidence pack, governors' report or CEIAG policy draft instead of the plan",
    )
    export.add_argument(
        "--format",
        choices=[*FORMATS, *(["pdf"] if _pdf_available() else [])],
        default="docx",
        help="pdf (through LibreOffice) is offered where soffice is installed",
    )
    export.add_argument("--out", help="file to write ('-' for standard output)")

    reviews = commands.add_parser(
        "reviews", help="an organisation's reviews: number, dates, status and counts"
    )
    reviews.add_argument("--org", help=ORG_HELP)

    terms = commands.add_parser("terms", help="an organisation's term dates (half-terms)")
    terms_commands = terms.add_subparsers(dest="terms_command", required=True)
    terms_set = terms_commands.add_parser(
        "set",
        help="set one academic year: HT1 START END HT2 START END ... HT6 START END",
    )
    terms_set.add_argument("--org", help=ORG_HELP)
    terms_set.add_argument("--year", required=True, help="academic year, e.g. 2025/26")
    terms_set.add_argument(
        "dates", nargs="+", help="HT1 3/9/2025 24/10/2025 HT2 ... (day first, or 2025-09-03)"
    )
    terms_import = terms_commands.add_parser("import", help="import term dates from an .ics file")
    terms_import.add_argument("--org", help=ORG_HELP)
    terms_import.add_argument("file", help="iCalendar file published by the school or council")
    terms_show = terms_commands.add_parser("show", help="show the term dates in use")
    terms_show.add_argument("--org", help=ORG_HELP)
    terms_show.add_argument("--year", help="academic year (default: all)")

    serve = commands.add_parser("serve", help="run the Slack and Teams bot (aiohttp server)")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on")
    serve.add_argument("--port", type=int, default=3978, help="port to listen on")
    serve.add_argument(
        "--socket-mode", action="store_true", help="connect to Slack by Socket Mode (no public URL)"
    )
    serve.add_argument(
        "--no-scheduler", action="store_true", help="don't send reminders and digests from here"
    )

    teams_package = commands.add_parser(
        "teams-package", help="build the Microsoft Teams app package (zip) to upload"
    )
    teams_package.add_argument(
        "--out", help="zip file to write (default: careers-impact-bot-teams.zip)"
    )

    remind = commands.add_parser(
        "remind", help="send the reminders due now (what the scheduler does)"
    )
    remind.add_argument("--as-of", help=AS_OF_HELP)
    remind.add_argument("--org", help=f"only this organisation (with --dry-run): {ORG_HELP}")
    remind.add_argument("--dry-run", action="store_true", help="show what is due; send nothing")
    remind.add_argument("--force", action="store_true", help=FORCE_HELP)

    digest = commands.add_parser("digest", help="the weekly SLT digest")
    digest.add_argument("--org", help=ORG_HELP)
    digest.add_argument("--as-of", help=AS_OF_HELP)
    mode = digest.add_mutually_exclusive_group()
    mode.add_argument("--print", action="store_true", help="print it (the default)")
    mode.add_argument("--send", action="store_true", help="send this week's digest (once)")
    digest.add_argument("--force", action="store_true", help=f"with --send: {FORCE_HELP}")

    outbox = commands.add_parser(
        "outbox", help="reminders and digests sent where no chat is set up"
    )
    outbox.add_argument("--org", help=ORG_HELP)

    org = commands.add_parser("org", help="organisations (for IT admins)")
    org_commands = org.add_subparsers(dest="org_command", required=True)
    org_commands.add_parser("list", help="every organisation: id, name, edition and reviews")
    org_delete = org_commands.add_parser(
        "delete",
        help="delete an organisation and everything that names it (its Slack installation too)",
    )
    org_delete.add_argument("--org", required=True, help=ORG_HELP)
    org_delete.add_argument("--yes", action="store_true", help="really delete (no undo)")
    org_set = org_commands.add_parser("set", help="what the governors' report and policy draft use")
    org_set.add_argument("--org", required=True, help=ORG_HELP)
    org_set.add_argument("--link-governor", help="the link governor for careers, by name")
    org_set.add_argument("--careers-hub", help="the Careers Hub the school works with")
    org_set.add_argument(
        "--governors-report",
        choices=["on", "off"],
        help="send the governors' report with the digest in the first week of each half-term",
    )

    links = commands.add_parser("links", help="the plan links digests carried (for IT admins)")
    links_commands = links.add_subparsers(dest="links_command", required=True)
    links_list = links_commands.add_parser(
        "list", help="an organisation's plan links: issued to, expiry, uses, revoked"
    )
    links_list.add_argument("--org", help=ORG_HELP)
    links_list.add_argument(
        "--dashboard", action="store_true", help="the dashboard page's links instead"
    )
    links_revoke = links_commands.add_parser(
        "revoke", help="stop plan links working at once (the next digest has a new one)"
    )
    links_revoke.add_argument("--org", help=ORG_HELP)
    links_revoke.add_argument(
        "--dashboard", action="store_true", help="the dashboard page's links instead"
    )
    which = links_revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, help="the link's id, as `links list` shows it")
    which.add_argument("--all", action="store_true", help="every link of the organisation")

    group = commands.add_parser(
        "group", help="Careers Hubs and trusts: groups of schools, their leads and invitations"
    )
    group_commands = group.add_subparsers(dest="group_command", required=True)
    group_create = group_commands.add_parser("create", help="a new Careers Hub or trust")
    group_create.add_argument("name", help="the group's name, e.g. 'North Yorkshire Careers Hub'")
    group_create.add_argument("--kind", choices=KINDS, required=True)
    group_commands.add_parser("list", help="every group: id, name, kind, leads and schools")
    group_lead = group_commands.add_parser("lead", help="a group's leads, by chat identity")
    lead_commands = group_lead.add_subparsers(dest="lead_command", required=True)
    for verb, text in (("add", "add a lead (again: update name and role)"),
                       ("remove", "remove a lead")):  # fmt: skip
        lead = lead_commands.add_parser(verb, help=text)
        lead.add_argument("group", help=GROUP_HELP)
        lead.add_argument("--channel", choices=("slack", "teams", "terminal"), required=True)
        lead.add_argument(
            "--workspace", default="", help="Slack team id or Teams tenant id ('' in the terminal)"
        )
        lead.add_argument(
            "--user", required=True, help="Slack user id, Teams AAD object id or terminal name"
        )
        if verb == "add":
            lead.add_argument("--name", required=True, help="the lead's name")
            lead.add_argument("--role", choices=LEAD_ROLES, default="hub_lead")
    group_invite = group_commands.add_parser(
        "invite",
        help="invite a school: its Careers Leader sees it in chat ('invitations') and accepts",
    )
    group_invite.add_argument("group", help=GROUP_HELP)
    group_invite.add_argument("--org", required=True, help=ORG_HELP)
    group_invite.add_argument(
        "--by", default="admin", help="who invites (kept with the invitation)"
    )
    group_leave = group_commands.add_parser(
        "leave", help="take a school out of a group (or withdraw its invitation)"
    )
    group_leave.add_argument("group", help=GROUP_HELP)
    group_leave.add_argument("--org", required=True, help=ORG_HELP)
    group_members = group_commands.add_parser(
        "members", help="a group's schools: accepted, and invitations waiting"
    )
    group_members.add_argument("group", help=GROUP_HELP)
    group_view = group_commands.add_parser(
        "view", help="the group view: maturity by theme, progress, actions to chase"
    )
    group_view.add_argument("group", help=GROUP_HELP)
    group_view.add_argument("--xlsx", metavar="FILE", help="also write it as an Excel workbook")

    db = commands.add_parser("db", help="database administration")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply migrations (also done on every start)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(highlight=False)
    try:
        load_all()
    except ModelDataError as exc:
        console.print(f"[bold red]Model data error:[/] {exc}", markup=True)
        return 2
    if args.command == "model":
        return model_command(args, console)
    if args.command == "serve":
        return serve_command(args, console)
    if args.command == "teams-package":
        return teams_package_command(args, console)
    from bot import rendering

    rendering.draw_here()  # a one-off command: no server loop to keep free
    try:
        if args.command == "db":
            return asyncio.run(db_upgrade(args, console))
        if args.command == "export":
            return asyncio.run(export_command(args, console))
        if args.command == "reviews":
            return asyncio.run(reviews_command(args, console))
        if args.command == "terms":
            return asyncio.run(terms_command(args, console))
        if args.command == "org":
            return asyncio.run(org_command(args, console))
        if args.command == "links":
            return asyncio.run(links_command(args, console))
        if args.command == "group":
            return asyncio.run(group_command(args, console))
        if args.command in ("remind", "digest", "outbox"):
            return asyncio.run(schedule_command(args, console))
        return asyncio.run(chat(args, console))
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # closing: a further Ctrl-C changes nothing
        console.print(f"\n{STOPPED}")
        return 130


def model_command(args: argparse.Namespace, console: Console) -> int:
    model = load_model(args.edition)
    if args.model_command == "export":
        sys.stdout.write(json.dumps(model.to_export(), ensure_ascii=False, indent=2) + "\n")
        return 0
    try:
        statement = model.statement(args.statement)
    except KeyError:
        ids = [s.id for s in model.statements]
        console.print(
            f"There is no statement {args.statement!r} in the {model.edition.label} edition "
            f"({ids[0]} to {ids[-1]})."
        )
        return 1
    theme = model.theme(statement.theme_number)
    console.print(Text(f"Theme {theme.number}: {theme.title}", style="bold"))
    console.print(Text(f"Gatsby Benchmarks: {', '.join(map(str, theme.benchmarks))}"))
    for level in LEVELS:
        console.print(
            Panel(level_renderable(statement, level), title=f"Level {level}", title_align="left")
        )
    header = Text(f"{statement.id} {statement.title}", style="bold")
    console.print(header, Text(f"Short title: {statement.short_title}"))
    for field, note in statement.provenance.items():
        console.print(Text(f"Provenance ({field}): {note}", style="dim"))
    return 0


async def db_upgrade(args: argparse.Namespace, console: Console) -> int:
    db = Database(args.database_url or get_settings().database_url)
    try:
        await db.migrate()
    finally:
        await db.close()
    console.print("Database is up to date.")
    return 0


AS_OF_HELP = (
    "local time to act as: 16/02/2027 08:00, 2027-02-16T08:00, or a date alone for 09:00 "
    "(default: now)"
)
_AS_OF = re.compile(r"^(?P<day>[^\sT]+)(?:(?:T|\s+)(?P<time>\S+))?$")


def parse_as_of(text: str | None, timezone: str = "Europe/London") -> datetime:
    """A local wall-clock time (as people say it) to an aware UTC moment; now by default.

    The date is typed as anywhere else (2/9/2027 is 2 September); a date alone is 09:00,
    after the day's reminders and digest have gone, so "what was sent that day" is answered.
    """
    if not text:
        return datetime.now(UTC)
    match = _AS_OF.match(text.strip())
    if not match:
        raise UsageError(f"--as-of {text!r}: write it like 2026-02-02T08:00 or 2/2/2026 08:00.")
    try:
        day = parse_day(match.group("day"))
    except CalendarError as exc:
        if re.search(r"\d", match.group("day")) and re.fullmatch(r"[\d/-]+", match.group("day")):
            raise UsageError(f"--as-of: {exc}.") from exc
        raise UsageError(
            f"--as-of {text!r}: write it like 2026-02-02T08:00 or 2/2/2026 08:00."
        ) from exc
    try:
        moment_time = time.fromisoformat(match.group("time") or "09:00")
    except ValueError as exc:
        raise UsageError(
            f"--as-of {text!r}: write the time like 08:00 (24-hour clock), e.g. 2/2/2026 08:00."
        ) from exc
    moment = datetime.combine(day, moment_time)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC)


async def schedule_command(args: argparse.Namespace, console: Console) -> int:
    from bot.scheduler import Dispatcher

    db, service = await _open(args)
    try:
        sends = (args.command == "remind" and not args.dry_run) or (
            args.command == "digest" and getattr(args, "send", False)
        )
        if sends:
            # Sent through the configured chat channels, as `serve` would (the outbox is only
            # for schools with no chat channel).
            from bot.app import dashboard_links, report_link, senders

            settings = get_settings()
            pages = dashboard_links(settings)
            async with senders(settings, db) as (notifiers, link):
                dispatcher = Dispatcher(
                    service, notifiers, plan_link=link, report_link=report_link(settings),
                    dashboard_link=pages.for_digests if pages is not None else None,
                )  # fmt: skip
                return await _schedule(args, console, db, service, dispatcher)
        return await _schedule(args, console, db, service, Dispatcher(service))
    finally:
        await db.close()
        from bot import rendering

        await asyncio.to_thread(rendering.shutdown)  # a digest's chart was drawn in a worker


async def _schedule(
    args: argparse.Namespace,
    console: Console,
    db: Database,
    service: ReviewService,
    dispatcher: Dispatcher,
) -> int:
    from bot.scheduler import outbox_text
    from storage import deliveries

    try:
        if args.command == "outbox":
            organisation = await _existing_organisation(service, args.org)
            async with db.transaction() as session:
                rows = await deliveries.deliveries(session, organisation.id, status="sent")
            shown = [r for r in rows if {"channel": "outbox"} in r.sent_to]
            console.print(outbox_text(shown) if shown else "The outbox is empty.", markup=False)
            return 0
        as_of = parse_as_of(args.as_of)
        if args.command == "remind":
            if args.dry_run:
                organisations = (
                    [await _existing_organisation(service, args.org)]
                    if args.org
                    else await _all_organisations(service)
                )
                for organisation in organisations:
                    notices = await dispatcher.due_now(organisation.id, as_of)
                    console.print(
                        Text(f"{terminal_safe(organisation.name)}: {len(notices)} due", "bold")
                    )
                    reason = await dispatcher.quiet_reason(organisation.id, as_of)
                    if reason is not None:  # nothing is due on a quiet day: say why
                        console.print(Text(_quiet_line(reason, "remind", dry_run=True)))
                    for notice in notices:
                        console.print(Text(terminal_safe(notice.text())))
                return 0
            report = await dispatcher.remind_by_hand(as_of, force=args.force)
            for name, reason in report.quiet.items():
                console.print(Text(f"{terminal_safe(name)}: {_quiet_line(reason, 'remind')}"))
            console.print(
                f"Recorded {report.recorded}, sent {report.sent} ({report.outbox} to the outbox), "
                f"failed {report.failed}, waiting {report.waiting}, dropped {report.dropped}."
            )
            for error in report.errors:
                console.print(Text(f"  {terminal_safe(error)}"))
            return 1 if report.failed else 0
        organisation = await _existing_organisation(service, args.org)
        if not args.send:
            notice = await dispatcher.digest_notice(organisation.id, as_of)
            console.print(Text(terminal_safe(notice.text())))
            return 0
        report = await dispatcher.send_digest(organisation.id, as_of, force=args.force)
        if report.quiet:
            reason = next(iter(report.quiet.values()))
            console.print(Text(_quiet_line(reason, "digest --send")))
            return 0
        if report.waiting:
            console.print(
                "This week's digest is waiting for an SLT channel: choose one in set-up "
                "(Slack) or say 'digest here' in the channel (Teams); it goes out then."
            )
            return 0
        if report.failed:
            for error in report.errors:
                console.print(Text(f"Not sent yet (retried later): {terminal_safe(error)}"))
            return 1
        console.print(
            "Sent this week's digest." if report.sent else "This week's digest was sent already."
        )
        return 0
    except UsageError as exc:
        console.print(f"[bold red]{exc}[/]")
        return 1
    finally:
        await db.close()


def _quiet_line(reason: str, command: str, dry_run: bool = False) -> str:
    """Why a send by hand sends nothing (the scheduler's weekends and holidays), and the way
    round it."""
    if dry_run:
        return (
            f"Nothing would be sent now: {reason} (the scheduler waits for the next school "
            f"day); `careers-bot {command} --force` sends anyway."
        )
    return (
        f"Nothing sent: {reason}, and the scheduler waits for the next school day. "
        f"Run `careers-bot {command} --force` to send anyway."
    )


async def org_command(args: argparse.Namespace, console: Console) -> int:
    db, service = await _open(args)
    try:
        if args.org_command == "list":
            table = Table(title="Organisations")
            table.add_column("Id", justify="right")
            for column in ("Name", "Edition", "Reviews", "Connected"):
                table.add_column(column)
            async with db.transaction() as session:
                for organisation in await repo.all_organisations(session):
                    reviews = await repo.list_reviews(session, organisation.id)
                    table.add_row(
                        str(organisation.id),
                        terminal_safe(organisation.name),
                        organisation.edition,
                        str(len(reviews)),
                        "no (uninstalled)" if organisation.disconnected_at else "yes",
                    )
            console.print(table)
            return 0
        organisation = await _existing_organisation(service, args.org)
        named = f"{terminal_safe(organisation.name)} (id {organisation.id})"
        if args.org_command == "set":
            switch = args.governors_report
            settings = await service.set_documents(
                organisation.id,
                link_governor=args.link_governor,
                careers_hub=args.careers_hub,
                governors_report=None if switch is None else switch == "on",
            )
            shown = {k: settings.get(k) for k in (LINK_GOVERNOR, CAREERS_HUB, GOVERNORS_REPORT)}
            console.print(f"{named}: {terminal_safe(json.dumps(shown))}", markup=False)
            return 0
        if not args.yes:
            console.print(
                f"This deletes {named} with every review, answer, action, reminder and plan "
                "link, and its Slack installation. Run again with --yes to do it.",
                markup=False,
            )
            return 1
        async with db.transaction() as session:
            erased = await repo.delete_organisation(session, organisation)
        console.print(f"Deleted {named} and all its data.", markup=False)
        for workspace in erased.slack_workspaces:
            console.print(
                f"Removed the Slack installation of workspace {workspace} (its bot token).",
                markup=False,
            )
        for workspace in erased.shared_workspaces:
            console.print(
                f"Kept the Slack installation of workspace {workspace}: another organisation "
                "still uses it.",
                markup=False,
            )
        return 0
    except UsageError as exc:
        console.print(f"[bold red]{exc}[/]")
        return 1
    finally:
        await db.close()


async def _all_organisations(service: ReviewService) -> list[Organisation]:
    async with service.db.transaction() as session:
        return await repo.all_organisations(session)


async def settle_after_start(app: object) -> None:
    """The long-lived process only (not tests' many apps): see bot.app.settle."""
    from bot.app import settle

    settle()


def serve_command(args: argparse.Namespace, console: Console) -> int:
    from aiohttp import web

    from bot.app import ConfigurationError, init_app

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = get_settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    if args.socket_mode:
        settings = settings.model_copy(update={"socket_mode": True})
    settings = settings.model_copy(update={"scheduler_enabled": not args.no_scheduler})
    try:
        app = init_app(settings)
    except ConfigurationError as exc:
        console.print(f"[bold red]Cannot start:[/] {exc}")
        return 2
    app.on_startup.append(settle_after_start)
    web.run_app(app, host=args.host, port=args.port, print=None)
    return 0


def teams_package_command(args: argparse.Namespace, console: Console) -> int:
    """The zip an IT admin uploads to Teams, built from MICROSOFT_APP_ID and PUBLIC_URL."""
    from bot.teams.package import DEFAULT_FILENAME, PackageError, build_package

    try:
        data = build_package(get_settings())
    except PackageError as exc:
        console.print(f"[bold red]Cannot build the Teams app package:[/] {exc}")
        return 1
    path = Path(args.out or DEFAULT_FILENAME)
    path.write_bytes(data)
    console.print(f"Wrote {path}: upload it in Teams (see docs/teams.md).")
    return 0


class UsageError(Exception):
    """A command that cannot be carried out as asked: the message says what to do instead."""


async def _open(args: argparse.Namespace) -> tuple[Database, ReviewService]:
    db = Database(args.database_url or get_settings().database_url)
    await db.migrate()
    return db, ReviewService(db)


async def _matching(service: ReviewService, reference: str) -> list[Organisation]:
    """The organisations `--org` may mean; refused (UsageError) if more than one."""
    async with service.db.read() as session:
        found = await repo.organisations_matching(session, reference)
    if len(found) > 1:
        candidates = "; ".join(
            f"id:{o.id} {terminal_safe(o.name)} (created {format_date(local_date(o.created_at, o.timezone))})"
            for o in found
        )
        raise UsageError(
            f"{len(found)} organisations match {reference!r}: {candidates}. Nothing was done: "
            f"give the one you mean by its id, e.g. --org id:{found[0].id}."
        )
    return found


async def _existing_organisation(service: ReviewService, reference: str | None) -> Organisation:
    """The one organisation `--org` names, by name or id (`12`, `id:12`); an ambiguous name
    is refused rather than the first match taken."""
    reference = reference or get_settings().default_organisation
    found = await _matching(service, reference)
    if not found:
        if repo.organisation_id_of(reference) is not None:
            raise UsageError(
                f"No organisation has the id {reference!r}: see `careers-bot org list`."
            )
        raise UsageError(
            f"No organisation called {reference!r}. Start a review with "
            f"`careers-bot chat --org {reference!r}` first."
        )
    return found[0]


async def links_command(args: argparse.Namespace, console: Console) -> int:
    """`careers-bot links list|revoke`: the plan links a school's digests carried."""
    db, service = await _open(args)
    try:
        organisation = await _existing_organisation(service, args.org)
        named = f"{terminal_safe(organisation.name)} (id {organisation.id})"
        zone = ZoneInfo(organisation.timezone)
        kind = "dashboard" if args.dashboard else "plan"
        if args.links_command == "revoke":
            async with db.transaction() as session:
                one = None if args.all else args.id
                if args.dashboard:
                    count = await dashboards.revoke_dashboard_links(
                        session, datetime.now(UTC), organisation_id=organisation.id, link_id=one
                    )
                else:
                    count = await repo.revoke_plan_links(
                        session, organisation.id, datetime.now(UTC), one
                    )
            if args.id is not None and not count:
                raise UsageError(
                    f"{named} has no unrevoked {kind} link {args.id}: see `careers-bot links list`."
                )
            console.print(f"Revoked {count} {kind} link(s) of {named}.", markup=False)
            return 0
        async with db.read() as session:
            rows: Sequence[m.PlanLink | m.DashboardLink] = (
                await dashboards.dashboard_links_of(session, organisation_id=organisation.id)
                if args.dashboard
                else await repo.plan_links_of(session, organisation.id)
            )
        if not rows:
            console.print(f"{named} has no {kind} links.", markup=False)
            return 0

        def when(moment: datetime | None) -> str:
            return f"{moment.astimezone(zone):%d/%m/%Y %H:%M}" if moment else ""

        table = Table(title=f"{kind.capitalize()} links – {named}")
        table.add_column("Id", justify="right")
        for column in ("Issued to", "Created", "Expires"):
            table.add_column(column)
        table.add_column("Uses", justify="right")
        for column in ("Last used", "Revoked"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                str(row.id),
                terminal_safe(row.issued_to),
                when(row.created_at),
                when(row.expires_at),
                str(row.uses),
                when(row.last_used_at),
                when(row.revoked_at),
            )
        console.print(table)
        return 0
    except UsageError as exc:
        console.print(Text(str(exc), style="bold red"))
        return 1
    finally:
        await db.close()


async def group_command(args: argparse.Namespace, console: Console) -> int:
    """`careers-bot group ...`: groups, their leads, invitations, members and the view."""
    db, service = await _open(args)
    groups = GroupService(db, service.clock)
    try:
        if args.group_command == "create":
            try:
                made = await groups.create(args.name.strip(), args.kind)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            console.print(f"Created group {made.id}: {terminal_safe(made.name)} ({made.kind}).",
                          markup=False)  # fmt: skip
            return 0
        if args.group_command == "list":
            table = Table(title="Groups")
            table.add_column("Id", justify="right")
            for column in ("Name", "Kind", "Leads", "Schools", "Invited"):
                table.add_column(column)
            for row in await groups.groups():
                table.add_row(
                    str(row.group.id), terminal_safe(row.group.name), row.group.kind,
                    str(row.leads), str(row.members), str(row.invited),
                )  # fmt: skip
            console.print(table)
            return 0
        try:
            found = await groups.find(args.group)
        except LookupError as exc:
            raise UsageError(str(exc)) from None
        named = f"{terminal_safe(found.name)} (id {found.id})"
        if args.group_command == "lead":
            who = Who(args.channel, args.user, getattr(args, "name", "") or "", args.workspace)
            if args.lead_command == "add":
                lead = await groups.add_lead(found.id, args.name, args.role, who)
                console.print(f"{terminal_safe(lead.name)} is a {ROLE_LABELS[lead.role]} of "
                              f"{named}: they type 'group' to the bot.", markup=False)  # fmt: skip
                return 0
            if not await groups.remove_lead(found.id, who):
                raise UsageError(f"{named} has no such lead.")
            console.print(f"Removed the lead from {named}.", markup=False)
            return 0
        if args.group_command in ("invite", "leave"):
            organisation = await _existing_organisation(service, args.org)
            school = f"{terminal_safe(organisation.name)} (id {organisation.id})"
            if args.group_command == "leave":
                if not await groups.leave(found.id, organisation.id):
                    raise UsageError(f"{school} is not in {named}.")
                console.print(f"{school} is no longer in {named}.", markup=False)
                return 0
            if not await groups.invite(found.id, organisation.id, args.by):
                console.print(f"{school} is already a member of {named}, or invited.", markup=False)
                return 0
            console.print(
                f"Invited {school} to {named}. Its Careers Leader gets it in chat (sent by "
                "`serve`), sees it again on opening the review or typing 'invitations', and "
                "accepts with its button.",
                markup=False,
            )
            return 0
        if args.group_command == "members":
            table = Table(title=f"Schools of {named}")
            table.add_column("Id", justify="right")
            for column in ("School", "Edition", "Invited", "Joined"):
                table.add_column(column)
            for member in await groups.members(found.id):
                table.add_row(
                    str(member.organisation_id), terminal_safe(member.name), member.edition,
                    f"{member.invited_at:%d/%m/%Y}",
                    f"{member.accepted_at:%d/%m/%Y}" if member.accepted_at else "waiting",
                )  # fmt: skip
            console.print(table)
            return 0
        view = await groups.view(found.id)
        assert view is not None
        for renderable in render_group(view):
            console.print(renderable)
        if args.xlsx:
            from bot import group_workbook

            Path(args.xlsx).write_bytes(group_workbook.workbook(view))
            console.print(f"Wrote {args.xlsx} (the group view of {named}).", markup=False)
        return 0
    except UsageError as exc:
        console.print(Text(str(exc), style="bold red"))
        return 1
    finally:
        await db.close()


def _pdf_available() -> bool:
    """PDF is offered only where LibreOffice is installed (bot.documents converts with it)."""
    import shutil

    return bool(shutil.which("soffice") or shutil.which("libreoffice"))


async def export_command(args: argparse.Namespace, console: Console) -> int:
    from bot import documents, exports  # python-docx, matplotlib: loaded only when asked for

    if args.document and args.format not in documents.DOCUMENT_FORMATS:
        console.print(f"[bold red]The {args.document} is written as docx or pdf.[/]")
        return 1
    db, service = await _open(args)
    try:
        organisation = await _existing_organisation(service, args.org)
        if args.document:
            doc = await service.document(
                DocumentKind(args.document), organisation.id, number=args.review
            )
            title, name = doc.title, documents.filename(doc, args.format)
        else:
            document = await service.plan_document(organisation.id, number=args.review)
            title, name = document.title, exports.default_filename(document, "docx")
            name = name.removesuffix(".docx") + f".{args.format}"
    except (UsageError, LookupError) as exc:
        console.print(f"[bold red]{exc}[/]")
        return 1
    finally:
        await db.close()
    try:
        if args.document:
            data = await asyncio.to_thread(documents.write, doc, args.format)
        elif args.format == "pdf":
            data = await asyncio.to_thread(documents.to_pdf, exports.export(document, "docx"))
        else:
            data = exports.export(document, args.format)
    except RuntimeError as exc:  # LibreOffice missing or failing
        console.print(Text(str(exc), style="bold red"))
        return 1
    if args.out == "-":
        sys.stdout.buffer.write(data)
        return 0
    path = Path(args.out or name)
    path.write_bytes(data)
    console.print(f"Wrote {path} ({title}).", markup=False)
    return 0


async def _write_documents(
    service: ReviewService, replies: Sequence[Reply], console: Console
) -> None:
    """The terminal's way of sending a document: written beside you, its path printed."""
    wanted = [r for r in replies if isinstance(r, SendDocument)]
    if not wanted:
        return
    from bot import documents

    for request in wanted:
        doc = await service.document(request.kind, request.organisation_id, request.review_id)
        data = await asyncio.to_thread(documents.write, doc, request.fmt)
        path = Path(documents.filename(doc, request.fmt))
        path.write_bytes(data)
        console.print(Text(f"Wrote {path} ({request.kind.label})."))


async def reviews_command(args: argparse.Namespace, console: Console) -> int:
    """`careers-bot reviews`: the numbers that `export --review` takes, with how far each got."""
    db, service = await _open(args)
    try:
        organisation = await _existing_organisation(service, args.org)
        async with db.read() as session:
            rows = await repo.review_counts(session, organisation.id)
    except UsageError as exc:
        console.print(f"[bold red]{exc}[/]")
        return 1
    finally:
        await db.close()
    if not rows:
        console.print(f"{organisation.name} has no review yet.")
        return 0
    table = Table(title=f"Reviews – {terminal_safe(organisation.name)}")
    for column in ("No.", "Title", "Started", "Completed", "Status"):
        table.add_column(column)
    for column in ("Answered", "Priorities", "Actions"):
        table.add_column(column, justify="right")
    zone = organisation.timezone
    for row in rows:
        review = row.review
        done = review.completed_at
        table.add_row(
            str(review.number),
            terminal_safe(review.title),
            format_date(local_date(review.started_at, zone)),
            format_date(local_date(done, zone)) if done else "",
            "completed" if done else "in progress",
            f"{row.answered} of {len(load_model(review.edition).statements)}",
            str(row.priorities),
            str(row.actions),
        )
    console.print(table)
    return 0


def parse_term_dates(year: str, words: Sequence[str]) -> list[HalfTerm]:
    """Read "HT1 3/9/2025 24/10/2025 HT2 ..." for one academic year; all six are needed."""
    if not re.fullmatch(r"\d{4}/\d{2}", year):
        raise UsageError(f"{year!r} is not an academic year: write it like 2025/26.")
    if len(words) != 18:
        raise UsageError(
            f"Give all six half-terms, each as HTn START END with dates like {DATE_FORMS}, "
            "e.g. HT1 3/9/2025 24/10/2025 HT2 3/11/2025 19/12/2025 ... HT6 1/6/2026 21/7/2026."
        )
    half_terms = []
    for index in range(0, 18, 3):
        code, start, end = words[index : index + 3]
        match = re.fullmatch(r"HT([1-6])", code.upper())
        if not match:
            raise UsageError(f"{code!r} should be a half-term, HT1 to HT6.")
        try:
            first, last = parse_day(start), parse_day(end)
        except CalendarError as exc:
            raise UsageError(f"{code}: {exc}.") from exc
        half_terms.append(HalfTerm(year, int(match.group(1)), first, last))
    return half_terms


async def terms_command(args: argparse.Namespace, console: Console) -> int:
    db, service = await _open(args)
    try:
        organisation = await _existing_organisation(service, args.org)
        if args.terms_command == "show":
            async with service.db.transaction() as session:
                calendar = await service.calendar(session, organisation)
                own = {
                    (t.academic_year, t.half_term)
                    for t in await repo.term_dates(session, organisation.id)
                }
            show_terms(console, organisation.name, calendar, own, args.year)
            return 0
        if args.terms_command == "set":
            half_terms = parse_term_dates(args.year, args.dates)
        else:
            path = Path(args.file)
            if not path.is_file():
                raise UsageError(f"There is no file {path}.")
            half_terms = parse_ics(path.read_bytes(), source=path.name)
        calendar = await service.set_term_dates(organisation.id, half_terms)
    except (UsageError, CalendarError) as exc:
        console.print(f"[bold red]{exc}[/] Nothing was changed.")
        return 1
    finally:
        await db.close()
    years = sorted({h.year for h in half_terms})
    own = {(h.year, h.number) for h in half_terms}
    for year in years:
        show_terms(console, organisation.name, calendar, own, year)
    console.print(f"Saved term dates for {', '.join(years)}.")
    return 0


def show_terms(
    console: Console,
    name: str,
    calendar: TermCalendar,
    own: set[tuple[str, int]],
    year: str | None,
) -> None:
    table = Table(title=f"Term dates – {name}")
    for column in ("Year", "Half-term", "Starts", "Ends", "Source"):
        table.add_column(column)
    for each in calendar.years():
        if year and each != year:
            continue
        for number in range(1, 7):
            half = calendar.half_term(each, number)
            table.add_row(
                each,
                f"HT{number}",
                f"{half.start:%a} {half.start.day} {half.start:%b %Y}",
                f"{half.end:%a} {half.end.day} {half.end:%b %Y}",
                "this organisation" if (each, number) in own else "England default",
            )
    console.print(table)


async def chat(args: argparse.Namespace, console: Console) -> int:
    """The review in the terminal; Ctrl-C (once or twice) ends it with status 130."""
    settings = get_settings()
    db = Database(args.database_url or settings.database_url)
    terminal = Terminal(console)
    try:
        with terminal.catching_interrupts():
            try:
                return await _chat(args, console, db, terminal)
            finally:
                terminal.stopping = True
                await db.close()
    except Interrupted:
        console.print(f"\n{STOPPED}")
        return 130


async def _chat(
    args: argparse.Namespace, console: Console, db: Database, terminal: Terminal
) -> int:
    settings = get_settings()
    await db.migrate()
    service = ReviewService(db)
    if settings.plan_link_secret:  # `dashboard` links to the pages `serve` shows
        from bot.dashboard import DashboardLinks

        links = DashboardLinks(settings.plan_link_secret, settings.public_url)
        service.dashboard_issuer = links.for_person
        service.group_dashboard_issuer = links.for_lead
    edition = args.edition or settings.default_edition
    reference = args.org or settings.default_organisation
    try:
        found = await _matching(service, reference)
    except UsageError as exc:
        console.print(Text(str(exc), style="bold red"))
        return 1
    if not found and reference.strip().lower().startswith("id:"):
        console.print(Text(f"No organisation has the id {reference!r}.", style="bold red"))
        return 1
    organisation = found[0] if found else await service.organisation(reference, edition)
    if args.edition and organisation.edition != args.edition:
        console.print(
            Text(
                f"{terminal_safe(organisation.name)} uses the {organisation.edition} edition; "
                f"--edition {args.edition} is ignored."
            )
        )
    who = await _terminal_person(service, organisation, args.name, terminal)
    result = await service.open(organisation.id, who, new=args.new, blank=args.blank)
    if result.completed and not args.new:
        terminal.show_completed(result.replies)
        console.print("Run `careers-bot chat --new` to start the next review from these answers.")
    else:
        terminal.show(result.replies)
    while True:
        if terminal.stop_requested:
            raise Interrupted
        line = terminal.read()
        if line is None:
            console.print("End of input: everything answered so far is saved.")
            return 0
        result = await service.turn(organisation.id, who, line)
        terminal.show(result.replies)
        await _write_documents(service, result.replies, console)
        if line.strip().lower() in LEAVE_WORDS:
            return 0


async def _terminal_person(
    service: ReviewService, organisation: Organisation, name: str | None, terminal: Terminal
) -> Who:
    """Who is at the terminal, by the name they gave, never by the computer's login.

    A terminal identity is per organisation: one login may review for several schools (a
    Careers Hub adviser), while a chat identity belongs to one school. The login is only the
    key that finds the person again; the name shown is --name, the name given before, the
    name asked for once, or "You".
    """
    login = getpass.getuser()
    workspace = f"organisation-{organisation.id}"
    async with service.db.read() as session:
        person = await repo.person_by_identity(
            session, "terminal", workspace, login, organisation.id
        )
    stored = person.display_name if person is not None else None
    known = stored if stored != login else None  # earlier versions stored the login
    wanted = (name or "").strip() or known
    if wanted is None and terminal.interactive:
        wanted = terminal.ask_name(NEUTRAL_NAME)
    wanted = wanted or NEUTRAL_NAME
    if person is not None and stored != wanted:
        # No repository function renames a person yet, so it is done here, in one short
        # transaction: a name taken from the login, or a new --name, replaces the old one.
        async with service.db.transaction() as session:
            found = await repo.person_by_identity(
                session, "terminal", workspace, login, organisation.id
            )
            if found is not None:
                found.display_name = wanted
                found.initials = repo.initials_of(wanted)
    return Who("terminal", login, wanted, workspace=workspace)


if __name__ == "__main__":
    raise SystemExit(main())
