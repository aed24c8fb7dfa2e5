"""The stored "next reminder at" is read off the same schedule as what is sent (pure).

A sweep that looks at an action only when its next reminder falls due must record exactly
what a sweep every hour records: nothing early, nothing missed.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_reminders import action, at
from workflows.calendar import default_calendar
from workflows.digest import DigestSchedule, digest_slot, next_digest_at
from workflows.plan import ActionStatus
from workflows.reminders import ReminderRules, due_reminders, next_reminder_at, plan_reminders

CALENDAR = default_calendar()
START = at("2025-09-01T00:00")


def test_next_reminder_is_the_next_stage_on_a_school_day() -> None:
    rules = ReminderRules()
    assert next_reminder_at(action(), CALENDAR, rules, START) == at("2026-01-05T08:00")
    assert next_reminder_at(action(), CALENDAR, rules, at("2026-01-05T08:00")) == at(
        "2026-01-30T08:00"
    )
    # Due week done; Sat 14 Feb and half-term wait for Monday 23 Feb.
    assert next_reminder_at(action(), CALENDAR, rules, at("2026-02-09T09:00")) == at(
        "2026-02-23T08:00"
    )


def test_closed_actions_and_snoozes() -> None:
    rules = ReminderRules()
    assert next_reminder_at(action(status=ActionStatus.DONE), CALENDAR, rules, START) is None
    snoozed = {(7, 1): date(2026, 2, 12)}
    after = at("2026-02-01T00:00")
    assert next_reminder_at(action(), CALENDAR, rules, after, snoozed=snoozed) == at(
        "2026-02-23T08:00"
    )


def test_no_more_reminders_after_a_term_of_overdue_weeks() -> None:
    assert next_reminder_at(action(), CALENDAR, ReminderRules(), at("2026-07-01T00:00")) is None


@settings(max_examples=30, deadline=None)
@given(
    due_offset=st.integers(min_value=0, max_value=300),
    created_offset=st.integers(min_value=0, max_value=200),
    days_before=st.sampled_from([0, 7, 14]),
    snooze=st.one_of(st.none(), st.integers(min_value=0, max_value=300)),
)
def test_sweeping_only_when_due_records_what_a_frequent_sweep_records(
    due_offset: int, created_offset: int, days_before: int, snooze: int | None
) -> None:
    due_date = date(2025, 9, 1) + timedelta(days=due_offset)
    created = START + timedelta(days=created_offset, hours=5)
    subject = action(due=due_date.isoformat(), due_year=None, due_date=due_date, created_at=created)
    rules = ReminderRules(days_before=days_before)
    snoozed = {(7, 1): date(2025, 9, 1) + timedelta(days=snooze)} if snooze is not None else {}
    end = START + timedelta(days=420)

    frequent: set[str] = set()
    moment = START
    while moment < end:
        frequent |= {
            r.key for r in due_reminders([subject], CALENDAR, rules, moment, snoozed=snoozed)
        }
        moment += timedelta(hours=6)  # a reminder stays due for a school day at least

    lazy: set[str] = set()
    looked = START
    due = next_reminder_at(subject, CALENDAR, rules, START - timedelta(seconds=1), snoozed=snoozed)
    while due is not None and due < end:
        # The sweep comes round within the hour after the stored moment.
        looked = due + timedelta(minutes=30)
        lazy |= {r.key for r in due_reminders([subject], CALENDAR, rules, looked, snoozed=snoozed)}
        due = next_reminder_at(subject, CALENDAR, rules, looked, snoozed=snoozed)
    assert lazy == frequent


@settings(max_examples=30, deadline=None)
@given(
    start_days=st.integers(min_value=0, max_value=330),
    day=st.sampled_from(["monday", "wednesday", "friday"]),
    hour=st.integers(min_value=6, max_value=17),
)
def test_next_digest_is_where_the_weekly_slot_next_opens(
    start_days: int, day: str, hour: int
) -> None:
    schedule = DigestSchedule.from_settings({"digest_day": day, "digest_time": f"{hour:02d}:00"})
    after = START + timedelta(days=start_days, hours=3)
    due = next_digest_at(schedule, CALENDAR, after)
    assert due is not None and due > after
    # Nothing opens in between, and the slot is open at that moment.
    moment = after + timedelta(hours=1)
    while moment < due:
        slot = digest_slot(1, schedule, CALENDAR, moment)
        assert slot is None or slot.due_at <= after, moment
        moment += timedelta(hours=1)
    slot = digest_slot(1, schedule, CALENDAR, due)
    assert slot is not None and slot.due_at == due


@settings(max_examples=80, deadline=None)
@given(
    due_offset=st.integers(min_value=0, max_value=300),
    created_offset=st.integers(min_value=0, max_value=200),
    moment_hours=st.integers(min_value=0, max_value=24 * 420),
    days_before=st.sampled_from([0, 7, 14]),
    snooze=st.one_of(st.none(), st.integers(min_value=0, max_value=300)),
)
def test_the_sweeps_one_pass_agrees_with_the_two_rules(
    due_offset: int, created_offset: int, moment_hours: int, days_before: int, snooze: int | None
) -> None:
    due_date = date(2025, 9, 1) + timedelta(days=due_offset)
    subject = action(
        due=due_date.isoformat(),
        due_year=None,
        due_date=due_date,
        created_at=START + timedelta(days=created_offset, hours=5),
    )
    rules = ReminderRules(days_before=days_before)
    snoozed = {(7, 1): date(2025, 9, 1) + timedelta(days=snooze)} if snooze is not None else {}
    moment = START + timedelta(hours=moment_hours)
    due, following = plan_reminders(subject, CALENDAR, rules, moment, snoozed=snoozed)
    assert due == due_reminders([subject], CALENDAR, rules, moment, snoozed=snoozed)
    assert following == next_reminder_at(subject, CALENDAR, rules, moment, snoozed=snoozed)
