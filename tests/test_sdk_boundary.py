"""Where third-party SDKs may be imported, checked by reading the source with `ast`.

The Bot Framework SDK for Python (botbuilder-*) is archived and out of support; keeping it
inside `bot/teams/` means replacing it (with the Microsoft 365 Agents SDK) touches one
folder. `workflows/` is the pure domain: no channel, database or web library in it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "workflows", "storage", "model_data", "bench")
BOT_FRAMEWORK = ("botbuilder", "botframework")
TEAMS = ("bot", "teams")
NOT_IN_WORKFLOWS = (
    "bot",
    "storage",
    "slack_sdk",
    "slack_bolt",
    "botbuilder",
    "aiohttp",
    "sqlalchemy",
)


def python_files() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def module_parts(path: Path) -> tuple[str, ...]:
    """`bot/teams/adapter.py` -> ("bot", "teams", "adapter"); a package's `__init__` is the
    package itself."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return parts[:-1] if parts[-1] == "__init__" else parts


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """Every module a project file imports (see `imports_in`)."""
    here = module_parts(path)
    package = here if path.name == "__init__.py" else here[:-1]
    yield from imports_in(path.read_text("utf-8"), package, str(path))


def imports_in(source: str, package: tuple[str, ...], filename: str) -> Iterator[tuple[int, str]]:
    """Every module some source imports, as an absolute dotted name, with its line: `import`,
    `from ... import` (relative ones resolved against `package`), and
    `importlib.import_module("...")` or `__import__("...")` with a literal name."""
    tree = ast.parse(source, filename=filename)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else ()
            name = ".".join([*base, *([node.module] if node.module else [])])
            if name:
                yield node.lineno, name
            for alias in node.names:  # `from bot import teams` may import bot.teams
                yield node.lineno, f"{name}.{alias.name}" if name else alias.name
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (
                called in {"import_module", "__import__"}
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                yield node.lineno, first.value


def top(name: str) -> str:
    return name.split(".", 1)[0]


def test_the_bot_framework_sdk_is_imported_only_in_bot_teams() -> None:
    outside: list[str] = []
    inside: set[str] = set()
    files = list(python_files())
    for path in files:
        in_teams = module_parts(path)[:2] == TEAMS
        for line, name in imported(path):
            if top(name) in BOT_FRAMEWORK:
                if in_teams:
                    inside.add(path.name)
                else:
                    outside.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert len(files) > 20, "the walk found the project's modules"
    assert {"adapter.py", "sending.py"} <= inside, "the check sees the SDK where it is used"
    assert outside == [], "Bot Framework SDK outside bot/teams/:\n" + "\n".join(outside)


def test_workflows_imports_no_channel_database_or_web_library() -> None:
    files = list((ROOT / "workflows").rglob("*.py"))
    found: list[str] = []
    own: set[str] = set()
    for path in files:
        for line, name in imported(path):
            if top(name) in NOT_IN_WORKFLOWS:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
            if top(name) == "workflows":
                own.add(name)
    assert files and own, "the walk read workflows/ and saw its own imports"
    assert found == [], "workflows/ must stay pure:\n" + "\n".join(found)


def test_the_import_reader_resolves_relative_and_dynamic_imports() -> None:
    """The checks above are only as good as `imports_in`; show it sees each form."""
    source = (
        "import aiohttp.web\n"
        "from .. import bot\n"
        "from . import review\n"
        "from .plan import ActionPlan\n"
        "import importlib\n"
        "importlib.import_module('botbuilder.core')\n"
        "__import__('sqlalchemy')\n"
    )
    names = {name for _, name in imports_in(source, ("workflows",), "workflows/sample.py")}
    assert {"aiohttp.web", "bot", "workflows.review", "workflows.plan"} <= names
    assert {"botbuilder.core", "sqlalchemy"} <= names
    assert {top(name) for name in names} & set(NOT_IN_WORKFLOWS) == {
        "aiohttp", "bot", "botbuilder", "sqlalchemy",
    }  # fmt: skip
