"""`careers-bot`: the command line for careers leaders (chat) and IT admins (model, db)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from bot.config import get_settings
from bot.reviews import ReviewService, Who
from bot.terminal import LEAVE_WORDS, Terminal, level_renderable
from model_data import LEVELS, Edition, ModelDataError, load_all, load_model
from storage.db import Database

EDITIONS = [e.value for e in Edition]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="careers-bot",
        description="Careers Impact Bot: the Careers Impact System self-review and action plan.",
    )
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: DATABASE_URL or SQLite)")
    commands = parser.add_subparsers(dest="command", required=True)

    chat = commands.add_parser("chat", help="run the self-review in the terminal")
    chat.add_argument("--org", help="organisation name (created on first run)")
    chat.add_argument("--edition", choices=EDITIONS, help="model edition for a new organisation")
    chat.add_argument("--name", help="your name as it should appear in the review")
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
    try:
        if args.command == "db":
            return asyncio.run(db_upgrade(args, console))
        return asyncio.run(chat(args, console))
    except KeyboardInterrupt:
        console.print("\nStopped. Everything answered so far is saved; run it again to resume.")
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


async def chat(args: argparse.Namespace, console: Console) -> int:
    settings = get_settings()
    db = Database(args.database_url or settings.database_url)
    try:
        await db.migrate()
        service = ReviewService(db)
        edition = args.edition or settings.default_edition
        organisation = await service.organisation(
            args.org or settings.default_organisation, edition
        )
        if args.edition and organisation.edition != args.edition:
            console.print(
                f"{organisation.name} uses the {organisation.edition} edition; "
                f"--edition {args.edition} is ignored."
            )
        user = getpass.getuser()
        who = Who("terminal", user, args.name or user)
        terminal = Terminal(console)
        result = await service.open(organisation.id, who, new=args.new, blank=args.blank)
        terminal.show(result.replies)
        if result.completed and not args.new:
            console.print(
                "Run `careers-bot chat --new` to start the next review from these answers."
            )
        while True:
            line = terminal.read()
            if line is None:
                console.print("End of input: everything answered so far is saved.")
                return 0
            result = await service.turn(organisation.id, who, line)
            terminal.show(result.replies)
            if line.strip().lower() in LEAVE_WORDS:
                return 0
    finally:
        await db.close()


if __name__ == "__main__":
    raise SystemExit(main())
