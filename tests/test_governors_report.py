"""The governors' report: the RAG rules (pure), the half-term's first week, the questions, the
document against the review's data (both editions), and the report through Slack."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from docx_reading import read_docx
from slack_mock import MockSlack
from test_slack import Slack, mock, seed, slack  # noqa: F401 - fixtures

from bot import documents
from bot.reviews import ReviewService
from model_data import load_model
from workflows.calendar import HalfTerm, default_calendar
from workflows.documents import Rag
from workflows.governors import (
    THEME_QUESTIONS,
    governors_report_due,
    questions,
    rag,
    theme_changes,
    weakest_themes,
)
from workflows.plan import ActionStatus, ActionUpdateView, PlanRow, Summary, ThemeProfile

HALF = HalfTerm("2024/25", 4, date(2025, 2, 24), date(2025, 4, 4))
AGREED = date(2025, 1, 15)


def action(status: ActionStatus = ActionStatus.NOT_STARTED, due: date | None = None,
           updated: date | None = None) -> PlanRow:  # fmt: skip
    updates = (
        (
            ActionUpdateView(
                datetime(updated.year, updated.month, updated.day, tzinfo=UTC), "SR", "progress"
            ),
        )
        if updated
        else ()
    )
    return PlanRow("1.2", "1.2 x", 2, "", 3, "", ["Step"], "HT4", ["SR"], due_date=due,
                   status=status, updates=updates)  # fmt: skip


@pytest.mark.parametrize(
    ("row", "today", "expected"),
    [
        (action(ActionStatus.DONE, date(2025, 2, 14)), date(2025, 3, 1), Rag.DONE),
        (action(ActionStatus.DROPPED, date(2025, 2, 14)), date(2025, 3, 1), None),
        (action(due=date(2025, 2, 14)), date(2025, 3, 1), Rag.OVERDUE),
        (
            action(ActionStatus.IN_PROGRESS, date(2025, 2, 14), date(2025, 2, 13)),
            date(2025, 3, 1),
            Rag.OVERDUE,
        ),
        # Due this half-term, nothing since the review agreed it seven weeks ago: at risk.
        (action(due=date(2025, 4, 4)), date(2025, 3, 5), Rag.AT_RISK),
        # ... an update three weeks ago keeps it on track; four weeks is at risk.
        (action(due=date(2025, 4, 4), updated=date(2025, 2, 12)), date(2025, 3, 5), Rag.ON_TRACK),
        (action(due=date(2025, 4, 4), updated=date(2025, 2, 5)), date(2025, 3, 5), Rag.AT_RISK),
        # Due in a later half-term, or ongoing: on track however quiet.
        (action(due=date(2025, 5, 23)), date(2025, 3, 5), Rag.ON_TRACK),
        (action(due=None), date(2025, 3, 5), Rag.ON_TRACK),
    ],
)
def test_rag(row: PlanRow, today: date, expected: Rag | None) -> None:
    assert rag(row, today, HALF, AGREED) is expected


def test_the_report_is_due_in_the_first_week_of_a_half_term() -> None:
    calendar = default_calendar()
    half = calendar.half_term_on(date(2025, 3, 3))
    assert half is not None
    start = half.start
    assert governors_report_due(calendar, start)
    assert governors_report_due(calendar, date.fromordinal(start.toordinal() + 6))
    assert not governors_report_due(calendar, date.fromordinal(start.toordinal() + 7))
    assert not governors_report_due(calendar, date(2025, 8, 10))  # the summer holiday


def summary(levels: dict[int, float | None]) -> Summary:
    themes = [ThemeProfile(n, f"Theme {n}", 1, 1, level) for n, level in levels.items()]
    return Summary("Review", "school", [], themes)


def test_questions_come_from_the_weakest_themes() -> None:
    now = summary({1: 2.4, 2: 1.7, 3: 2.2, 4: 1.5, 5: 2.3, 6: 1.3})
    assert [t.number for t in weakest_themes(now)] == [6, 4, 2]
    assert [q for _, q in questions(now)] == [THEME_QUESTIONS[n][0] for n in (6, 4, 2)]
    only_two = summary({1: 3.0, 2: 1.0, 3: None, 4: None, 5: None, 6: None})
    assert [q for _, q in questions(only_two)] == [
        THEME_QUESTIONS[2][0], THEME_QUESTIONS[1][0], THEME_QUESTIONS[2][1]
    ]  # fmt: skip


def test_change_since_the_last_review() -> None:
    changes = theme_changes(summary({1: 2.5, 2: 2.0}), summary({1: 2.0, 2: 2.0}))
    assert [c.change for c in changes] == [0.5, 0.0]
    assert [c.change for c in theme_changes(summary({1: 2.5}), None)] == [None]


async def test_the_report_against_the_review(seeded: tuple[ReviewService, int, str]) -> None:
    service, organisation_id, edition = seeded
    plan = await service.plan_document(organisation_id)
    data = documents.to_docx(await service.governors_report(organisation_id))
    doc = read_docx(data)
    assert doc.title == "Careers report for governors – Hill School – February 2025"
    assert doc.headings() == [
        "Where the school stands",
        "Actions by half-term",
        "Owners to chase",
        "Questions the link governor could ask",
    ]
    stands = doc.part("Where the school stands").tables[0]
    assert [row[0] for row in stands[1:]] == [f"{t.number}. {t.title}" for t in plan.summary.themes]
    assert [row[1] for row in stands[1:]] == [f"{t.average_level:.1f}" for t in plan.summary.themes]
    assert {row[2] for row in stands[1:]} == {"–"}  # the first review: nothing to compare
    actions = doc.part("Actions by half-term")
    table = actions.tables[0]
    assert len(table) - 1 == len(plan.plan.rows)
    statuses = [row[4] for row in table[1:]]
    # 26 February 2025: HT3 ended on 14 February (overdue); HT3/4 ends 4 April, nothing
    # since the review of 15 January (at risk); ongoing ones on track.
    for row, status in zip(table[1:], statuses, strict=True):
        if row[0].startswith("HT3 ("):
            assert status == "Overdue"
        elif row[0].startswith("HT3/4"):
            assert status == "At risk"
        elif row[0].startswith("Ongoing"):
            assert status == "On track"
    counts = actions.lines[0]
    assert f"{statuses.count('Overdue')} overdue" in counts
    assert f"{statuses.count('At risk')} at risk" in counts
    chase = doc.part("Owners to chase").text
    assert chase.startswith("SR: ")
    asked = doc.part("Questions the link governor could ask").lines
    weakest = weakest_themes(plan.summary)
    assert len(asked) == 3
    for line, theme in zip(asked, weakest, strict=True):
        assert line.startswith(THEME_QUESTIONS[theme.number][0])
        assert f"(Theme {theme.number}, " in line
    del edition


@pytest.mark.skipif(documents.soffice() is None, reason="LibreOffice (soffice) not installed")
async def test_one_to_three_pages(seeded: tuple[ReviewService, int, str]) -> None:
    import re

    service, organisation_id, _ = seeded
    pdf = documents.to_pdf(documents.to_docx(await service.governors_report(organisation_id)))
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert 1 <= pages <= 3


async def test_the_report_through_slack(slack: Slack, mock: MockSlack) -> None:  # noqa: F811
    """`governors report` typed in the DM: a word that it is coming, then the Word file."""
    await seed(slack, load_model("school"))
    await slack.dm("governors report")
    await mock.wait_for("files.completeUploadExternal", timeout=30)
    await slack.settle()
    asked = mock.calls_to("files.getUploadURLExternal")
    assert [c.params["filename"] for c in asked] == [
        "careers-governors-report-slack-workspace-t-hill-2025-01.docx"
    ]
    assert [u.params["head"] for u in mock.calls_to("upload")] == ["504b0304"]
    assert "Preparing the governors' report" in slack.texts()
    assert mock.last("files.completeUploadExternal").params["channel_id"] == "D_SAM"
