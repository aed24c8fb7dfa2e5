"""The reminder rules on their own: stages, holidays, snoozes and settings (pure, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from workflows.actions import ActionView
from workflows.answers import Owner
from workflows.calendar import default_calendar
from workflows.plan import ActionStatus
from workflows.reminders import ReminderRules, due_reminders

LONDON = ZoneInfo("Europe/London")


def action(**changes: object) -> ActionView:
    base: dict[str, object] = {
        "id": 7,
        "statement_id": "1.2",
        "statement_label": "1.2 Leaders' vision",
        "current_level": 2,
        "target_level": 4,
        "next_steps": "Share the vision",
        "owners": (Owner(name="SR", person_id=1), Owner(name="HOFS")),
        "due": "HT3",
        "due_year": "2025/26",
        "due_date": date(2026, 2, 13),
        "status": ActionStatus.NOT_STARTED,
        "updated_at": datetime(2025, 9, 10, tzinfo=UTC),
        "created_at": datetime(2025, 9, 10, tzinfo=UTC),
    }
    base.update(changes)
    return ActionView(**base)  # type: ignore[arg-type]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON).astimezone(UTC)


def stages(moment: str, **changes: object) -> list[str]:
    found = due_reminders([action(**changes)], default_calendar(), ReminderRules(), at(moment))
    return [f"{r.stage}@{r.due_at.astimezone(LONDON):%Y-%m-%d %H:%M}" for r in found]


def test_each_stage_in_turn_to_known_owners_only() -> None:
    assert stages("2026-01-05T08:00") == ["start@2026-01-05 08:00"]  # HT3 2025/26 begins
    assert stages("2026-01-30T08:00") == ["before@2026-01-30 08:00"]  # 14 days before Fri 13 Feb
    assert stages("2026-02-09T08:00") == ["due_week@2026-02-09 08:00"]
    # Due Fri 13 Feb; Sat 14 and the half-term week 16-20 Feb wait for Mon 23 Feb.
    assert stages("2026-02-16T08:00") == ["due_week@2026-02-09 08:00"]
    assert stages("2026-02-23T08:00") == ["overdue@2026-02-23 08:00"]
    assert stages("2026-03-02T08:00") == ["overdue@2026-03-02 08:00"]
    assert stages("2026-01-05T07:59") == []  # before the send time


def test_finished_or_ongoing_actions_are_not_reminded() -> None:
    assert stages("2026-01-30T08:00", status=ActionStatus.DONE) == []
    assert stages("2026-01-30T08:00", due="ongoing", due_year=None, due_date=None) == []


def test_a_stage_before_the_action_was_set_is_skipped() -> None:
    late = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
    assert stages("2026-01-20T13:00", created_at=late) == []
    assert stages("2026-01-30T08:00", created_at=late) == ["before@2026-01-30 08:00"]


def test_snooze_holds_reminders_for_that_owner() -> None:
    snoozed = {(7, 1): date(2026, 2, 12)}
    found = due_reminders(
        [action()], default_calendar(), ReminderRules(), at("2026-02-09T08:00"), snoozed=snoozed
    )
    assert found == []


def test_rules_come_from_organisation_settings() -> None:
    rules = ReminderRules.from_settings(
        {"reminders": {"days_before": 7, "at_half_term_start": False, "send_time": "16:30"}}
    )
    assert rules == ReminderRules(at_half_term_start=False, days_before=7, send_time=time(16, 30))
    found = due_reminders([action()], default_calendar(), rules, at("2026-02-06T16:30"))
    assert [r.stage for r in found] == ["before"]
    assert ReminderRules.from_settings({}) == ReminderRules()
