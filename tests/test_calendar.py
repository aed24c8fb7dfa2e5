"""Term calendar: default dates, half-term deadlines, school days, clock changes, .ics import."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest
import yaml

from model_data.loader import ModelDataError
from model_data.term_dates import load_default_term_dates, parse_term_dates
from workflows.calendar import (
    CalendarError,
    HalfTerm,
    TermCalendar,
    academic_year_of,
    default_calendar,
    format_date,
    local_date,
    next_academic_year,
    parse_day,
    parse_ics,
)
from workflows.deadlines import parse_by_when

ICS = Path(__file__).parent / "fixtures" / "ics"
YEARS = ["2024/25", "2025/26", "2026/27", "2027/28"]


@pytest.fixture
def cal() -> TermCalendar:
    return default_calendar()


def d(text: str) -> date:
    return date.fromisoformat(text)


def ics(name: str) -> list[HalfTerm]:
    return parse_ics((ICS / name).read_bytes(), name)


def rows(half_terms: list[HalfTerm]) -> list[tuple[str, int, str, str]]:
    return [(h.year, h.number, h.start.isoformat(), h.end.isoformat()) for h in half_terms]


def make_ics(*events: str) -> bytes:
    lines = ["BEGIN:VCALENDAR", "PRODID:-//Test//Term dates//EN", "VERSION:2.0", *events]
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


def vevent(summary: str, start: str, end: str) -> str:
    """An all-day event when given dates (20250903), a timed one when given 20250903T...Z."""
    kind = "" if "T" in start else ";VALUE=DATE"
    return "\r\n".join(
        [
            "BEGIN:VEVENT",
            f"UID:{summary}-{start}@test",
            "DTSTAMP:20250101T000000Z",
            f"DTSTART{kind}:{start}",
            f"DTEND{kind}:{end}",
            f"SUMMARY:{summary}",
            "END:VEVENT",
        ]
    )


# --- the default dates --------------------------------------------------------------------


def test_defaults_load_four_years_of_six_half_terms(cal: TermCalendar) -> None:
    assert cal.years() == YEARS
    assert len(cal.half_terms) == 24
    for year in YEARS:
        assert [cal.half_term(year, n).number for n in range(1, 7)] == [1, 2, 3, 4, 5, 6]
    assert cal.half_term("2025/26", 3) == HalfTerm("2025/26", 3, d("2026-01-05"), d("2026-02-13"))
    assert cal.half_term("2027/28", 6).end == d("2028-07-20")
    assert len(cal.bank_holidays) == 40
    assert default_calendar() is cal  # built once per process


def test_default_dates_are_school_days_in_order() -> None:
    dates = load_default_term_dates()
    rows_ = dates.half_terms()
    assert [row[0] for row in rows_[::6]] == YEARS
    previous_end: date | None = None
    for year, number, start, end in rows_:
        assert start.weekday() < 5, f"HT{number} {year} starts on a weekend: {start}"
        assert end.weekday() < 5, f"HT{number} {year} ends on a weekend: {end}"
        assert start <= end
        assert academic_year_of(start) == academic_year_of(end) == year
        if previous_end is not None:
            assert start > previous_end, f"HT{number} {year} starts before the last one ends"
        previous_end = end
    holidays = dates.bank_holiday_dates()
    assert len(holidays) == len(set(holidays)) == 40
    assert holidays == sorted(holidays)
    assert {day.year for day in holidays} == {2024, 2025, 2026, 2027, 2028}
    for day in holidays:
        assert day.weekday() < 5, f"bank holiday {day} is a weekend: give the substitute day"


def test_default_file_says_where_the_dates_come_from() -> None:
    text = resources.files("model_data").joinpath("term_dates.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    assert "typical" in raw["source"] and "local-authority" in raw["source"]
    assert "careers-bot terms set" in raw["note"] and "careers-bot terms import" in raw["note"]
    dates = load_default_term_dates()
    assert dates.source == raw["source"].strip()


GOOD_YEAR = """
source: test
note: test
years:
  - year: "2025/26"
    half_terms:
      - {number: 1, start: 2025-09-03, end: 2025-10-24}
      - {number: 2, start: 2025-11-03, end: 2025-12-19}
      - {number: 3, start: 2026-01-05, end: 2026-02-13}
      - {number: 4, start: 2026-02-23, end: 2026-03-27}
      - {number: 5, start: 2026-04-13, end: 2026-05-22}
      - {number: 6, start: 2026-06-01, end: 2026-07-21}
bank_holidays:
  - {date: 2026-05-04, name: Early May bank holiday}
"""


def test_a_good_term_dates_text_parses() -> None:
    dates = parse_term_dates("mine.yaml", GOOD_YEAR)
    assert dates.half_terms()[2] == ("2025/26", 3, d("2026-01-05"), d("2026-02-13"))
    assert dates.bank_holiday_dates() == [d("2026-05-04")]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "end: 2026-02-13}",
            "end: 2026-13-02}",
            "mine.yaml: year 2025/26, HT3, field end: Value error, expected a date like 2025-09-03, got '2026-13-02'",
        ),
        (
            "end: 2026-02-13}",
            "end: 20260213}",
            "mine.yaml: year 2025/26, HT3, field end: Value error, expected a date like 2025-09-03, got 20260213",
        ),
        (
            "start: 2026-01-05, end: 2026-02-13",
            "start: 2026-02-14, end: 2026-02-13",
            "mine.yaml: year 2025/26, HT3, field end: 2026-02-13 is before start 2026-02-14",
        ),
        (
            "      - {number: 4, start: 2026-02-23, end: 2026-03-27}\n",
            "",
            "mine.yaml: year 2025/26, field half_terms: expected HT1 to HT6 in order, got HT1, HT2, HT3, HT5, HT6",
        ),
        (
            'year: "2025/26"',
            'year: "2025/27"',
            "mine.yaml: year 2025/27, field year: expected two consecutive years",
        ),
        (
            'year: "2025/26"',
            'year: "2024/25"',
            "mine.yaml: year 2024/25, HT1, field start: 2025-09-03 is not in academic year 2024/25",
        ),
        (
            "start: 2025-11-03",
            "start: 2025-10-20",
            "mine.yaml: year 2025/26, HT2, field start: 2025-10-20 is not after the end of HT1 2025/26 (2025-10-24)",
        ),
        (
            "{number: 6, start: 2026-06-01, end: 2026-07-21}",
            "{number: 6, start: 2026-06-01}",
            "mine.yaml: year 2025/26, HT6, field end: Field required",
        ),
        ("source: test\n", "", "mine.yaml: field source: Field required"),
    ],
)
def test_bad_term_dates_name_the_file_year_and_field(old: str, new: str, message: str) -> None:
    assert old in GOOD_YEAR
    with pytest.raises(ModelDataError) as caught:
        parse_term_dates("mine.yaml", GOOD_YEAR.replace(old, new, 1))
    assert message in str(caught.value)


def test_not_yaml_is_a_model_data_error() -> None:
    with pytest.raises(ModelDataError, match=r"^mine\.yaml: not valid YAML"):
        parse_term_dates("mine.yaml", "years: [\n")


# --- years, dates, time zones ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "year"),
    [
        ("2026-08-31", "2025/26"),
        ("2026-09-01", "2026/27"),
        ("2025-12-31", "2025/26"),
        ("2026-01-01", "2025/26"),
        ("1999-09-01", "1999/00"),
        ("2000-01-01", "1999/00"),
    ],
)
def test_academic_year_runs_september_to_august(day: str, year: str) -> None:
    assert academic_year_of(d(day)) == year


def test_next_academic_year_and_bad_labels() -> None:
    assert next_academic_year("2025/26") == "2026/27"
    assert next_academic_year("2099/00") == "2100/01"
    with pytest.raises(CalendarError, match="“2025-26” is not an academic year: write two"):
        next_academic_year("2025-26")


def test_format_date_is_locale_free() -> None:
    assert format_date(d("2026-02-13")) == "Fri 13 Feb 2026"
    assert format_date(d("2025-09-03")) == "Wed 3 Sep 2025"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Spring forward: 01:00 UTC on 29 March 2026 is 02:00 BST; either side is still the 29th.
        ("2026-03-29T00:59:59+00:00", "2026-03-29"),
        ("2026-03-29T01:00:00+00:00", "2026-03-29"),
        ("2026-03-28T23:30:00+00:00", "2026-03-28"),  # GMT still: 23:30 on the 28th
        ("2026-03-29T23:30:00+00:00", "2026-03-30"),  # BST now: 00:30 on the 30th
        # Fall back: 01:00 UTC on 25 October 2026 is 01:00 GMT again.
        ("2026-10-25T00:30:00+00:00", "2026-10-25"),
        ("2026-10-25T01:00:00+00:00", "2026-10-25"),
        ("2026-10-24T23:30:00+00:00", "2026-10-25"),  # still BST: 00:30 on the 25th
        ("2026-10-25T23:30:00+00:00", "2026-10-25"),  # GMT: 23:30 on the 25th
        # A late evening in summer is tomorrow in London; in winter it is today.
        ("2026-06-30T23:30:00+00:00", "2026-07-01"),
        ("2026-01-31T23:30:00+00:00", "2026-01-31"),
        # Other offsets are converted, not read as wall time.
        ("2026-07-01T00:30:00+02:00", "2026-06-30"),
    ],
)
def test_local_date_follows_london_clock_changes(moment: str, expected: str) -> None:
    assert local_date(datetime.fromisoformat(moment)) == d(expected)


def test_local_date_in_another_zone_and_refusals() -> None:
    moment = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    assert local_date(moment, "UTC") == d("2026-06-30")
    assert local_date(moment, "Asia/Tokyo") == d("2026-07-01")
    with pytest.raises(ValueError, match="has no time zone: pass an aware datetime"):
        local_date(datetime(2026, 6, 30, 23, 30))
    with pytest.raises(ValueError, match="“Mars/Olympus” is not a time zone name"):
        local_date(moment, "Mars/Olympus")


def test_half_term_label_and_contains() -> None:
    half = HalfTerm("2025/26", 3, d("2026-01-05"), d("2026-02-13"))
    assert half.label == "HT3 2025/26"
    assert half.contains(d("2026-01-05")) and half.contains(d("2026-02-13"))
    assert not half.contains(d("2026-01-04")) and not half.contains(d("2026-02-14"))
    assert sorted([half, HalfTerm("2025/26", 1, d("2025-09-03"), d("2025-10-24"))])[0].number == 1


# --- deadlines -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "set_on", "expected"),
    [
        ("HT3", "2025-11-10", ("2025/26", "2026-02-13")),
        ("HT1", "2025-11-10", ("2026/27", "2026-10-23")),  # HT1 has passed: next year's
        ("HT3/4", "2025-11-10", ("2025/26", "2026-03-27")),  # due at the end of HT4
        ("HT3", "2026-02-13", ("2025/26", "2026-02-13")),  # last day of HT3: still this year's
        ("HT3", "2026-02-14", ("2026/27", "2027-02-12")),  # the day after: next year's
        ("HT3", "2026-02-16", ("2026/27", "2027-02-12")),  # set in the half-term break
        ("HT1", "2025-09-01", ("2025/26", "2025-10-24")),  # before term starts
        ("HT6", "2026-08-31", ("2026/27", "2027-07-20")),  # summer holiday, last day of 2025/26
        ("HT6", "2026-09-01", ("2026/27", "2027-07-20")),
        ("HT2", "2025-12-31", ("2026/27", "2026-12-18")),
        ("HT5/6", "2026-01-01", ("2025/26", "2026-07-21")),
        ("HT1", "2024-09-03", ("2024/25", "2024-10-25")),
    ],
)
def test_due_is_the_end_of_the_half_term(
    cal: TermCalendar, text: str, set_on: str, expected: tuple[str, str]
) -> None:
    assert cal.due(parse_by_when(text), d(set_on)) == (expected[0], d(expected[1]))


def test_ongoing_has_no_due_date(cal: TermCalendar) -> None:
    ongoing = parse_by_when("ongoing")
    assert cal.due(ongoing, d("2025-11-10")) is None
    assert cal.due_in_year(ongoing, "2025/26") is None
    assert cal.describe(ongoing, "2025/26") == "Ongoing - no fixed date"


@pytest.mark.parametrize(
    ("text", "year", "described"),
    [
        ("HT3", "2025/26", "HT3 - ends Fri 13 Feb 2026"),
        ("HT3/4", "2025/26", "HT3/4 - ends Fri 27 Mar 2026"),
        ("HT1", "2026/27", "HT1 - ends Fri 23 Oct 2026"),
        ("HT4", "2026/27", "HT4 - ends Thu 25 Mar 2027"),
        ("ht 6", "2024/25", "HT6 - ends Tue 22 Jul 2025"),
    ],
)
def test_describe_shows_the_real_date(
    cal: TermCalendar, text: str, year: str, described: str
) -> None:
    assert cal.describe(parse_by_when(text), year) == described


def test_due_in_year(cal: TermCalendar) -> None:
    assert cal.due_in_year(parse_by_when("HT3/4"), "2026/27") == d("2027-03-25")


def test_unknown_years_say_how_to_set_dates(cal: TermCalendar) -> None:
    with pytest.raises(CalendarError) as caught:
        cal.half_term("2029/30", 3)
    assert str(caught.value) == "No dates for HT3 2029/30: set them with careers-bot terms set"
    with pytest.raises(CalendarError, match=r"^No dates for HT1 2028/29: set them with"):
        cal.due(parse_by_when("HT1"), d("2027-11-01"))  # HT1 2027/28 is over; 2028/29 unknown
    with pytest.raises(CalendarError, match=r"^No dates for HT3 2023/24"):
        cal.due(parse_by_when("HT3"), d("2024-01-10"))
    with pytest.raises(CalendarError, match=r"^No dates for HT2 2030/31"):
        cal.describe(parse_by_when("HT2"), "2030/31")
    with pytest.raises(CalendarError, match="There is no half-term HT7: the year has HT1 to HT6"):
        cal.half_term("2025/26", 7)


# --- school days and holidays ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "term_day", "holiday", "half_term"),
    [
        ("2026-02-11", True, False, "HT3 2025/26"),  # Wednesday in term
        ("2026-02-14", False, True, None),  # Saturday after HT3 ends: holiday
        ("2026-02-18", False, True, None),  # February half-term break
        ("2026-01-10", False, False, "HT3 2025/26"),  # a Saturday inside term: neither
        ("2026-05-04", False, True, "HT5 2025/26"),  # early May bank holiday inside HT5
        ("2026-04-03", False, True, None),  # Good Friday, in the Easter holiday
        ("2026-08-31", False, True, None),  # summer holiday and a bank holiday
        ("2026-09-01", False, True, None),  # new academic year, before HT1
        ("2026-09-03", True, False, "HT1 2026/27"),  # first day of HT1
        ("2025-12-31", False, True, None),  # 31 December: Christmas holiday
        ("2026-01-01", False, True, None),  # 1 January: bank holiday
        ("2026-01-05", True, False, "HT3 2025/26"),
        ("2023-06-01", False, True, None),  # before any known year
    ],
)
def test_term_days_and_holidays(
    cal: TermCalendar, day: str, term_day: bool, holiday: bool, half_term: str | None
) -> None:
    assert cal.is_term_day(d(day)) is term_day
    assert cal.is_holiday(d(day)) is holiday
    found = cal.half_term_on(d(day))
    assert (found.label if found else None) == half_term


@pytest.mark.parametrize(
    ("day", "next_day"),
    [
        ("2026-02-11", "2026-02-11"),  # a term day is its own next school day
        ("2026-01-10", "2026-01-12"),  # Saturday -> Monday
        ("2026-02-14", "2026-02-23"),  # half-term break -> first day of HT4
        ("2026-05-02", "2026-05-05"),  # Saturday before the May bank holiday -> Tuesday
        ("2026-07-22", "2026-09-03"),  # summer holiday -> first day of HT1 next year
        ("2026-08-31", "2026-09-03"),
        ("2026-09-01", "2026-09-03"),
        ("2025-12-20", "2026-01-05"),  # Christmas holiday, over the new year
        ("2027-12-18", "2028-01-04"),  # over Christmas 2027 and New Year's substitute day
    ],
)
def test_next_school_day(cal: TermCalendar, day: str, next_day: str) -> None:
    assert cal.next_school_day(d(day)) == d(next_day)


def test_next_school_day_skips_a_whole_closed_half_term() -> None:
    one_day = HalfTerm("2025/26", 1, d("2025-09-05"), d("2025-09-05"))  # a Friday
    others = [
        HalfTerm("2025/26", n, d(start), d(end))
        for n, start, end in [
            (2, "2025-11-03", "2025-12-19"),
            (3, "2026-01-05", "2026-02-13"),
            (4, "2026-02-23", "2026-03-27"),
            (5, "2026-04-13", "2026-05-22"),
            (6, "2026-06-01", "2026-07-21"),
        ]
    ]
    calendar = TermCalendar([one_day, *others], bank_holidays=[d("2025-09-05")])
    assert calendar.next_school_day(d("2025-09-01")) == d("2025-11-03")


def test_next_school_day_beyond_the_known_years(cal: TermCalendar) -> None:
    with pytest.raises(CalendarError) as caught:
        cal.next_school_day(d("2028-07-21"))
    assert str(caught.value) == (
        "No term dates for 2028/29, needed for Fri 21 Jul 2028: set them with careers-bot terms set"
    )
    with pytest.raises(CalendarError, match="No term dates for 2023/24"):
        cal.next_school_day(d("2024-07-30"))


@pytest.mark.parametrize(
    ("day", "label"),
    [
        ("2026-02-13", "HT3 2025/26"),
        ("2026-02-14", "HT4 2025/26"),
        ("2026-07-22", "HT1 2026/27"),
        ("2026-09-01", "HT1 2026/27"),
        ("2024-09-01", "HT1 2024/25"),
    ],
)
def test_current_or_next_half_term(cal: TermCalendar, day: str, label: str) -> None:
    assert cal.current_or_next_half_term(d(day)).label == label


# --- building and overriding calendars -------------------------------------------------------


def year_of(year: str, dates: list[tuple[str, str]]) -> list[HalfTerm]:
    return [HalfTerm(year, n, d(s), d(e)) for n, (s, e) in enumerate(dates, start=1)]


Y2526 = [
    ("2025-09-03", "2025-10-24"),
    ("2025-11-03", "2025-12-19"),
    ("2026-01-05", "2026-02-13"),
    ("2026-02-23", "2026-03-27"),
    ("2026-04-13", "2026-05-22"),
    ("2026-06-01", "2026-07-21"),
]


@pytest.mark.parametrize(
    ("half_terms", "message"),
    [
        ([], "No half-terms given: a term calendar needs HT1 to HT6"),
        (
            year_of("2025/26", Y2526)[:5],
            "2025/26 has HT1, HT2, HT3, HT4, HT5; expected HT1 to HT6, each once",
        ),
        (
            [*year_of("2025/26", Y2526), HalfTerm("2025/26", 7, d("2026-07-22"), d("2026-07-23"))],
            "HT7 2025/26: there is no half-term HT7; the year has HT1 to HT6",
        ),
        (
            [
                *year_of("2025/26", Y2526)[:2],
                HalfTerm("2025/26", 3, d("2026-02-13"), d("2026-01-05")),
                *year_of("2025/26", Y2526)[3:],
            ],
            "HT3 2025/26 ends on Mon 5 Jan 2026, before it starts on Fri 13 Feb 2026",
        ),
        (
            year_of("2025/26", [("2025-09-03", "2025-11-05"), *Y2526[1:]]),
            "HT2 2025/26 (starts Mon 3 Nov 2025) overlaps HT1 2025/26 (ends Wed 5 Nov 2025)",
        ),
        (
            year_of("2025/26", [Y2526[1], Y2526[0], *Y2526[2:]]),
            "HT1 2025/26 starts before HT2 2025/26: half-terms must be numbered in date order",
        ),
        (
            year_of("2026/27", Y2526),
            "HT1 2026/27 starts on Wed 3 Sep 2025, which is in academic year 2025/26",
        ),
        (year_of("2025-26", Y2526), "“2025-26” is not an academic year"),
    ],
)
def test_calendar_refuses_bad_half_terms(half_terms: list[HalfTerm], message: str) -> None:
    with pytest.raises(CalendarError) as caught:
        TermCalendar(half_terms)
    assert message in str(caught.value)


def test_overrides_replace_whole_years_and_keep_the_rest(cal: TermCalendar) -> None:
    own = [h for h in ics("half_terms.ics") if h.year == "2025/26"]
    mine = cal.with_overrides(own)
    assert mine.years() == YEARS
    assert mine.half_term("2025/26", 1).start == d("2025-09-02")  # the school's own
    assert mine.half_term("2025/26", 6).end == d("2026-07-22")
    assert cal.half_term("2025/26", 1).start == d("2025-09-03")  # defaults untouched
    assert mine.half_term("2024/25", 3) == cal.half_term("2024/25", 3)
    assert mine.half_term("2026/27", 1) == cal.half_term("2026/27", 1)
    assert mine.bank_holidays == cal.bank_holidays
    assert mine.is_term_day(d("2025-09-02")) and not cal.is_term_day(d("2025-09-02"))
    assert mine.due(parse_by_when("HT6"), d("2026-07-22")) == ("2025/26", d("2026-07-22"))


def test_overrides_can_add_a_year_and_must_be_whole(cal: TermCalendar) -> None:
    later = cal.with_overrides(
        year_of(
            "2028/29",
            [
                ("2028-09-05", "2028-10-20"),
                ("2028-10-30", "2028-12-20"),
                ("2029-01-03", "2029-02-09"),
                ("2029-02-19", "2029-03-29"),
                ("2029-04-16", "2029-05-25"),
                ("2029-06-04", "2029-07-20"),
            ],
        )
    )
    assert later.years() == [*YEARS, "2028/29"]
    assert later.next_school_day(d("2028-07-21")) == d("2028-09-05")
    with pytest.raises(CalendarError, match="2025/26 has HT1, HT2; expected HT1 to HT6"):
        cal.with_overrides(year_of("2025/26", Y2526[:2]))


# --- iCalendar import ------------------------------------------------------------------------


def test_ics_six_half_term_events_a_year() -> None:
    assert rows(ics("half_terms.ics")) == [
        ("2025/26", 1, "2025-09-02", "2025-10-24"),  # DTEND 25 Oct is exclusive
        ("2025/26", 2, "2025-11-03", "2025-12-19"),
        ("2025/26", 3, "2026-01-05", "2026-02-13"),
        ("2025/26", 4, "2026-02-23", "2026-03-27"),
        ("2025/26", 5, "2026-04-13", "2026-05-22"),
        ("2025/26", 6, "2026-06-01", "2026-07-22"),
        ("2026/27", 1, "2026-09-02", "2026-10-23"),
        ("2026/27", 2, "2026-11-02", "2026-12-18"),
        ("2026/27", 3, "2027-01-04", "2027-02-12"),
        ("2026/27", 4, "2027-02-22", "2027-03-25"),
        ("2026/27", 5, "2027-04-12", "2027-05-28"),
        ("2026/27", 6, "2027-06-07", "2027-07-23"),  # ran to Sunday: ends on the Friday
    ]


def test_ics_three_terms_split_by_their_half_term_holidays(cal: TermCalendar) -> None:
    # Half-terms end on the Friday before the break and start on the Monday after it, even
    # when the break event includes the weekends; the timed summer term uses local dates.
    assert ics("terms_and_holidays.ics") == [cal.half_term("2025/26", n) for n in range(1, 7)]


def test_ics_term_start_and_end_markers(cal: TermCalendar) -> None:
    assert ics("term_markers.ics") == [cal.half_term("2025/26", n) for n in range(1, 7)]


def test_ics_whole_terms_listed_with_their_half_terms_are_not_counted_twice() -> None:
    data = make_ics(
        vevent("Autumn term", "20250903", "20251220"),
        vevent("Autumn 1", "20250903", "20251025"),
        vevent("Autumn 2", "20251103", "20251220"),
        vevent("Spring term", "20260105", "20260328"),
        vevent("Spring 1", "20260105", "20260214"),
        vevent("Spring 2", "20260223", "20260328"),
        vevent("Summer 1", "20260413", "20260523"),
        vevent("Summer 2", "20260601", "20260722"),
        vevent("Summer 2", "20260601", "20260722"),  # a repeated event
    )
    assert [h.end for h in parse_ics(data)][:2] == [d("2025-10-24"), d("2025-12-19")]
    assert len(parse_ics(data)) == 6


def test_ics_timed_events_use_london_dates() -> None:
    # 23:00 UTC on 2 Sep is midnight BST on 3 Sep; an end at local midnight is exclusive.
    data = make_ics(
        vevent("Autumn 1", "20250902T230000Z", "20251024T230000Z"),
        vevent("Autumn 2", "20251103T083000Z", "20251219T153000Z"),
        vevent("Spring 1", "20260105T000000Z", "20260214T000000Z"),  # GMT: midnight is midnight
        vevent("Spring 2", "20260223", "20260328"),
        vevent("Summer 1", "20260413", "20260523"),
        vevent("Summer 2", "20260601", "20260722"),
    )
    assert rows(parse_ics(data))[:3] == [
        ("2025/26", 1, "2025-09-03", "2025-10-24"),
        ("2025/26", 2, "2025-11-03", "2025-12-19"),
        ("2025/26", 3, "2026-01-05", "2026-02-13"),
    ]


def test_ics_other_events_are_ignored() -> None:
    data = (
        (ICS / "half_terms.ics")
        .read_bytes()
        .replace(
            b"END:VCALENDAR",
            vevent("Sports day", "20260618", "20260619").encode()
            + b"\r\n"
            + vevent("Year 11 mock exams", "20251201", "20251206").encode()
            + b"\r\nEND:VCALENDAR",
        )
    )
    assert rows(parse_ics(data)) == rows(ics("half_terms.ics"))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "not_ical.ics",
            "not_ical.ics: not an iCalendar (.ics) file: it should be text starting with "
            "BEGIN:VCALENDAR; export the term dates as iCalendar and try again",
        ),
        (
            "no_events.ics",
            "no_events.ics: no events (VEVENT) in this calendar; expected the term dates as "
            "all-day events",
        ),
        (
            "missing_dtstart.ics",
            "missing_dtstart.ics: event “Autumn term 2” has no start date (DTSTART)",
        ),
        (
            "end_before_start.ics",
            "end_before_start.ics: event “Spring 1” ends (Mon 5 Jan 2026) before it starts "
            "(Fri 13 Feb 2026); check its DTEND",
        ),
        (
            "four_periods.ics",
            "2025/26: found 4 term periods in four_periods.ics; expected 6 half-terms, or 3 "
            "terms with a half-term break in each (found “Autumn 1” Wed 3 Sep 2025 to Fri 24 "
            "Oct 2025; “Autumn 2”",
        ),
    ],
)
def test_ics_malformed_files_say_what_is_wrong(name: str, message: str) -> None:
    with pytest.raises(CalendarError) as caught:
        ics(name)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "upload.ics: not an iCalendar (.ics) file"),
        (
            b"hello, these are our term dates",
            "upload.ics: not an iCalendar (.ics) file (Content line",
        ),
        (
            vevent("Autumn 1", "20250903", "20251025").encode(),
            "upload.ics: not an iCalendar (.ics) file: it should start with BEGIN:VCALENDAR, not "
            "BEGIN:VEVENT",
        ),
        (
            make_ics(vevent("Autumn 1", "20250903", "20251025").replace("20250903", "2025093")),
            "upload.ics: event “Autumn 1” has a date that cannot be read",
        ),
        (
            make_ics(vevent("Staff meeting", "20250903", "20250904")),
            "upload.ics: no term events found (an event's SUMMARY should say which term",
        ),
        (
            make_ics(
                vevent("Autumn term", "20250903", "20251220"),
                vevent("Autumn half term", "20251027", "20251101"),
                vevent("Spring term", "20260105", "20260328"),
                vevent("Summer term", "20260413", "20260722"),
                vevent("Whitsun half term", "20260525", "20260530"),
            ),
            "2025/26: the term “Spring term” Mon 5 Jan 2026 to Fri 27 Mar 2026 in upload.ics has "
            "no half-term holiday inside it; expected 6 half-terms, or 3 terms with a half-term "
            "break in each",
        ),
        (
            make_ics(
                vevent("Autumn 1", "20250903", "20251025"),
                vevent("Autumn 2", "20251020", "20251220"),
                vevent("Spring 1", "20260105", "20260214"),
                vevent("Spring 2", "20260223", "20260328"),
                vevent("Summer 1", "20260413", "20260523"),
                vevent("Summer 2", "20260601", "20260722"),
            ),
            "upload.ics: HT2 2025/26 (starts Mon 20 Oct 2025) overlaps HT1 2025/26",
        ),
        (
            make_ics(vevent("Autumn term starts", "20250903", "20250904")),
            "upload.ics: “Autumn term starts” (Wed 3 Sep 2025) has no term end after it",
        ),
    ],
)
def test_ics_broken_input_names_the_source(data: bytes, message: str) -> None:
    with pytest.raises(CalendarError) as caught:
        parse_ics(data, "upload.ics")
    assert str(caught.value).startswith(message)


def test_ics_a_year_with_one_period_out_of_place() -> None:
    # A file that starts with the last half-term of the year before: that year is incomplete.
    data = (
        (ICS / "half_terms.ics")
        .read_bytes()
        .replace(
            b"END:VCALENDAR",
            vevent("Summer 2", "20250602", "20250723").encode() + b"\r\nEND:VCALENDAR",
        )
    )
    with pytest.raises(CalendarError, match=r"^2024/25: found 1 term period in school\.ics;"):
        parse_ics(data, "school.ics")


def test_ics_results_build_a_calendar(cal: TermCalendar) -> None:
    mine = cal.with_overrides(ics("terms_and_holidays.ics"))
    assert mine.describe(parse_by_when("HT3"), "2025/26") == "HT3 - ends Fri 13 Feb 2026"
    assert mine.next_school_day(d("2026-05-23")) == d("2026-06-01")
    assert mine.half_term("2025/26", 5).end - mine.half_term("2025/26", 5).start == timedelta(
        days=39
    )


def test_ics_names_councils_use() -> None:
    # "Autumn half term 1" is a half-term, not a holiday; "Spring 2" is a half-term too.
    six = make_ics(
        vevent("Autumn half term 1", "20250903", "20251025"),
        vevent("Autumn half term 2", "20251103", "20251220"),
        vevent("Spring 1", "20260105", "20260214"),
        vevent("Spring 2", "20260223", "20260328"),
        vevent("HT5", "20260413", "20260523"),
        vevent("Summer second half term", "20260601", "20260722"),
    )
    assert [h.end for h in parse_ics(six)][:2] == [d("2025-10-24"), d("2025-12-19")]
    # A week's "break" splits its term when it has no half-term event; a one-day closure
    # does not.
    three = make_ics(
        vevent("Autumn term", "20250903", "20251220"),
        vevent("October half-term", "20251027", "20251101"),
        vevent("Spring term", "20260105", "20260328"),
        vevent("School closed - polling day", "20260122", "20260123"),
        vevent("February break", "20260216", "20260221"),
        vevent("Summer term", "20260413", "20260722"),
        vevent("Half Term", "20260525", "20260530"),
    )
    assert rows(parse_ics(three))[2:4] == [
        ("2025/26", 3, "2026-01-05", "2026-02-13"),
        ("2025/26", 4, "2026-02-23", "2026-03-27"),
    ]


# --- dates as people type them; why a day is quiet -----------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2/9/2027", "2027-09-02"),  # day first, as in England
        ("02/09/2027", "2027-09-02"),
        ("2027-09-02", "2027-09-02"),
        (" 29/2/2028 ", "2028-02-29"),
    ],
)
def test_dates_are_read_day_first(typed: str, expected: str) -> None:
    assert parse_day(typed) == d(expected)


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("31/02/2027", "31/02/2027 is not a date"),
        ("29/2/2027", "29/2/2027 is not a date"),
        ("2027-13-01", "2027-13-01 is not a date"),
        ("2/9/27", "“2/9/27” is not a date: write it like 2/9/2027"),
        ("next tuesday", "“next tuesday” is not a date"),
        ("", "is not a date"),
    ],
)
def test_anything_else_is_named_as_not_a_date(typed: str, says: str) -> None:
    with pytest.raises(CalendarError, match=says):
        parse_day(typed)


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        ("2026-02-11", None),  # a school day
        ("2026-01-10", "Sat 10 Jan 2026 is a weekend"),
        ("2026-02-18", "Wed 18 Feb 2026 is in the school holiday between HT3 2025/26 and HT4"),
        ("2026-05-04", "Mon 4 May 2026 is a bank holiday"),
        ("2023-06-01", "Thu 1 Jun 2023 is outside the term dates known"),
    ],
)
def test_quiet_reason_is_the_term_day_rule_in_words(
    cal: TermCalendar, day: str, reason: str | None
) -> None:
    said = cal.quiet_reason(d(day))
    assert (said is None) is cal.is_term_day(d(day))  # one rule: the schedule's own
    if reason is None:
        assert said is None
    else:
        assert said is not None and said.startswith(reason)
