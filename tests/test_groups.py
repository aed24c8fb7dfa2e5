"""Issue 13, the group view: figures for a seeded group of 30 schools checked against an
independent computation (the statistics module over what was seeded), suppression under
five schools, figures per edition, the comparison that names no school, the workbook, and
a constant number of statements however many schools. SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re
import statistics
from typing import Any

import openpyxl
import pytest
from group_seed import TODAY_AT, seed_group
from sqlalchemy import event

from bot import group_workbook
from bot.groups import GroupService
from model_data import load_model
from storage import groups as repo_groups
from storage.db import Database
from workflows.groups import (
    MIN_SCHOOLS,
    Distribution,
    GroupView,
    compare_school,
    parse_group_command,
)

SPARSE = "6.3"  # answered by only four schools of the thirty


def expected(values: list[float]) -> dict[str, Any]:
    """Median, range and quartiles, computed here from the seeded values."""
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {
        "schools": len(values),
        "median": round(statistics.median(values), 2),
        "lowest": round(min(values), 2),
        "highest": round(max(values), 2),
        "lower_quartile": round(q1, 2),
        "upper_quartile": round(q3, 2),
    }


def shown(d: Distribution) -> dict[str, Any]:
    assert d.suppressed is None, d
    return {
        "schools": d.schools, "median": d.median, "lowest": d.lowest, "highest": d.highest,
        "lower_quartile": d.lower_quartile, "upper_quartile": d.upper_quartile,
    }  # fmt: skip


def service(database: Database) -> GroupService:
    return GroupService(database, clock=lambda: TODAY_AT)


async def test_thirty_schools_figures_match_an_independent_computation(
    database: Database,
) -> None:
    group_id, seeded = await seed_group(database, "North Hub", 30, sparse={SPARSE})
    view = await service(database).view(group_id)
    assert view is not None and view.schools == 30
    model = load_model("school")
    assessed = [s for s in seeded if s.completed]
    assert 5 <= len(assessed) < 30  # some schools' reviews are still in progress

    # Maturity by theme: a school's theme level is the mean of its answered statements.
    [figures] = view.editions
    assert (figures.edition, figures.schools, figures.assessed) == ("school", 30, len(assessed))
    for theme in figures.themes:
        ids = [s.id for s in model.theme(theme.number).statements]
        values = []
        for school in assessed:
            mine = [school.levels[i] for i in ids if i in school.levels]
            values.append(sum(mine) / len(mine))
        assert shown(theme.maturity) == expected(values), theme.number

    # Per statement; the sparse one (four schools) is suppressed with its reason.
    by_id = {s.statement_id: s for s in figures.statements}
    for statement in model.statements:
        values = [float(s.levels[statement.id]) for s in assessed if statement.id in s.levels]
        figure = by_id[statement.id].levels
        if len(values) < MIN_SCHOOLS:
            assert statement.id == SPARSE
            assert figure.median is None and figure.lowest is None
            assert figure.suppressed == f"fewer than 5 schools ({len(values)})"
        else:
            assert shown(figure) == expected(values), statement.id
    assert by_id[SPARSE].levels.suppressed is not None

    # Review progress and the actions to chase, counted from what was seeded.
    actions = [a for s in seeded for a in s.actions if a.status not in ("done", "dropped")]
    assert view.started.value == 30
    assert view.completed.value == len(assessed)
    assert view.answered.value == sum(len(s.levels) for s in seeded)
    assert view.overdue.value == sum(1 for a in actions if a.due == "HT1")
    assert view.without_owner.value == sum(1 for a in actions if a.owners == 0 or a.owners_tbc)
    assert view.without_date.value == sum(1 for a in actions if not a.due or a.due_tbc)
    assert view.overdue.value and view.without_owner.value and view.without_date.value
    # A lead sees the group's own schools, one line each.
    assert sorted(line.name for line in view.members) == sorted(s.name for s in seeded)


async def test_a_group_of_four_shows_no_figure_at_all(database: Database) -> None:
    group_id, seeded = await seed_group(database, "Small Trust", 4, kind="trust")
    view = await service(database).view(group_id)
    assert view is not None
    counts = [view.started, view.completed, view.answered, view.overdue, view.without_owner,
              view.without_date]  # fmt: skip
    assert all(c.value is None and c.suppressed == "fewer than 5 schools (4)" for c in counts)
    for figures in view.editions:
        for d in [t.maturity for t in figures.themes] + [s.levels for s in figures.statements]:
            assert d.suppressed is not None and d.median is None and d.highest is None
    # The comparison of one of them shows its own levels and nothing of the others'.
    rows = await _rows(database, group_id)
    first = seeded[0]
    comparison = compare_school("Small Trust", rows, first.organisation_id, first.levels)
    assert all(r.group.suppressed and r.group.median is None for r in comparison.rows)
    assert {r.statement_id: r.own for r in comparison.rows if r.own} == first.levels


async def _rows(database: Database, group_id: int) -> list[Any]:
    from bot.groups import facts

    async with database.read() as session:
        schools, _ = facts(await repo_groups.group_rows(session, group_id))
    return schools


async def test_a_mixed_group_has_figures_per_edition(database: Database) -> None:
    """Schools and colleges answer different models: the three colleges' figures are
    suppressed; the schools' are computed from schools only."""
    group_id, seeded = await seed_group(database, "Mixed Hub", 12, extra=[("college", 3)], seed=7)
    view = await service(database).view(group_id)
    assert view is not None and view.schools == 15
    school, college = view.editions
    assert (school.edition, school.schools, college.edition, college.schools) == (
        "school", 12, "college", 3,
    )  # fmt: skip
    assert all(t.maturity.suppressed for t in college.themes)
    assert len(college.statements) == len(load_model("college").statements)
    values = [float(s.levels["1.1"]) for s in seeded if s.edition == "school" and s.completed]
    assert shown(school.statements[0].levels) == expected(values)
    assert view.started.value == 15  # the whole group's counts: 15 schools


async def test_comparison_and_workbook_name_no_other_school(database: Database) -> None:
    group_id, seeded = await seed_group(database, "East Hub", 9, seed=3)
    rows = await _rows(database, group_id)
    me = seeded[1]
    comparison = compare_school("East Hub", rows, me.organisation_id, me.levels)
    text = repr(comparison)
    assert all(s.name not in text for s in seeded)  # not even its own name
    assessed = [s for s in seeded if s.completed]
    row = next(r for r in comparison.rows if r.statement_id == "2.1")
    assert row.own == me.levels["2.1"]
    assert shown(row.group) == expected([float(s.levels["2.1"]) for s in assessed])


async def test_the_workbook_opens_and_matches_the_view(database: Database) -> None:
    group_id, _ = await seed_group(database, '=HYPERLINK("x") Hub', 30, sparse={SPARSE})
    view = await service(database).view(group_id)
    assert view is not None
    book = openpyxl.load_workbook(io.BytesIO(group_workbook.workbook(view)))
    assert book.sheetnames == ["Progress", "Themes", "Statements", "Schools"]
    title = book["Progress"]["A1"].value
    assert isinstance(title, str) and title.startswith("'=HYPERLINK")  # never a formula
    progress = {r[0]: r[1:] for r in book["Progress"].iter_rows(min_row=3, values_only=True)}
    assert progress["Overdue actions"] == (view.overdue.value, None)
    assert progress["Schools with a review completed"] == (view.completed.value, None)
    themes = list(book["Themes"].iter_rows(min_row=2, values_only=True))
    [figures] = view.editions
    for line, theme in zip(themes, figures.themes, strict=True):
        d = theme.maturity
        assert line[1:] == (
            theme.number, theme.title, d.schools, d.median, d.lowest, d.highest,
            d.lower_quartile, d.upper_quartile, None,
        )  # fmt: skip
    statements = {r[1]: r for r in book["Statements"].iter_rows(min_row=2, values_only=True)}
    sparse = statements[SPARSE]
    assert sparse[4:9] == (None,) * 5 and sparse[9] == "fewer than 5 schools (4)"
    assert statements["1.1"][4] == figures.statements[0].levels.median
    schools = list(book["Schools"].iter_rows(min_row=2, values_only=True))
    assert [s[0] for s in schools] == [
        ("'" + line.name) if line.name.startswith("=") else line.name for line in view.members
    ]
    assert sum(s[5] for s in schools) == view.overdue.value


async def test_the_view_reads_a_constant_number_of_statements(database: Database) -> None:
    small, _ = await seed_group(database, "Small", 6, seed=1)
    large, _ = await seed_group(database, "Large", 30, seed=2)
    counted: list[str] = []

    def count(*args: Any) -> None:
        counted.append(str(args[2]))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        views: list[GroupView | None] = []
        for group_id in (small, large):
            before = len(counted)
            views.append(await service(database).view(group_id))
            counted.append(f"-- {len(counted) - before}")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    per_view = [int(c.split()[1]) for c in counted if c.startswith("-- ")]
    assert per_view[0] == per_view[1] <= 8, per_view
    assert [v.schools for v in views if v] == [6, 30]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("group", "ShowGroup(xlsx=False)"), ("Group xlsx", "ShowGroup(xlsx=True)"),
     ("compare", "CompareWithGroup()"), ("invitations", "ListInvitations()"),
     ("join group 4", "AnswerInvitation(group_id=4, accept=True)"),
     ("decline group #12", "AnswerInvitation(group_id=12, accept=False)"),
     ("invite school  Hill   School", "InviteSchool(school='Hill School', group=None)"),
     ("invite school Valley College to South Trust",
      "InviteSchool(school='Valley College', group='South Trust')"),
     ("we should invite schools to the fair", "None"),
     ("we should group our careers fairs", "None"), ("join group four", "None")],
)  # fmt: skip
def test_group_commands_are_whole_messages(typed: str, meant: str) -> None:
    assert repr(parse_group_command(typed)) == meant


async def test_the_cli_writes_the_view_and_its_workbook(database: Database, tmp_path: Any) -> None:
    """`careers-bot group view GROUP --xlsx FILE`: the printed figures and the file are the
    view's; `group list` and `group members` show the group and its schools."""
    from test_slack import url_of
    from test_two_schools import careers_bot

    group_id, seeded = await seed_group(database, "West Hub", 8, seed=11)
    url, out = url_of(database), tmp_path / "west.xlsx"
    status, printed = await careers_bot(url, "group", "view", "West Hub", "--xlsx", str(out))
    assert status == 0, printed
    view = await GroupService(database).view(group_id)
    assert view is not None
    assert re.search(rf"Schools with a review completed\s*│\s*{view.completed.value} ", printed)
    assert re.search(rf"Overdue actions\s*│\s*{view.overdue.value} ", printed)
    [figures] = view.editions
    assert all(f"{t.number} {t.title}" in printed for t in figures.themes)
    book = openpyxl.load_workbook(out)
    medians = [r[4] for r in book["Themes"].iter_rows(min_row=2, values_only=True)]
    assert medians == [t.maturity.median for t in figures.themes]
    status, listed = await careers_bot(url, "group", "members", str(group_id))
    assert status == 0 and all(s.name in listed for s in seeded), listed
