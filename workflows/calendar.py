"""Half-terms with real dates: when "HT3" is due, which days are school days, and .ics import.

Careers leaders set deadlines as half-terms; people need to see the real date, and reminders
must wait for the next school day. Pure: today, or the moment of a reminder, comes in as an
argument; the default dates come from model_data, a school's own from the caller.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from model_data.term_dates import load_default_term_dates
from workflows.deadlines import ByWhen

if TYPE_CHECKING:
    import icalendar

LONDON = "Europe/London"
HALF_TERM_NUMBERS = range(1, 7)
SET_THEM = "set them with careers-bot terms set"
EXPECTED_ICS = "expected 6 half-terms, or 3 terms with a half-term break in each"

_ONE_DAY = timedelta(days=1)
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_YEAR = re.compile(r"^(\d{4})/(\d{2})$")


class CalendarError(ValueError):
    """Term dates are missing or do not make sense; the message says what is accepted."""


def format_date(day: date) -> str:
    """ "Fri 13 Feb 2026": the form people read in messages, the same whatever the server locale."""
    return f"{_DAY_NAMES[day.weekday()]} {day.day} {_MONTH_NAMES[day.month - 1]} {day.year}"


_TYPED_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$|^(\d{1,2})/(\d{1,2})/(\d{4})$")
DATE_FORMS = "2/9/2027, 02/09/2027 (day first) or 2027-09-02"


def parse_day(text: str) -> date:
    """A date as a person in England types it: day/month/year, or ISO year-month-day.

    "2/9/2027" is 2 September (UK order), never February; anything else is refused with the
    forms that work, so "31/02/2027" says it is not a date rather than "invalid isoformat".
    """
    typed = text.strip()
    match = _TYPED_DATE.match(typed)
    if not match:
        raise CalendarError(f"“{typed}” is not a date: write it like {DATE_FORMS}")
    if match.group(1):
        year, month, day = (int(match.group(n)) for n in (1, 2, 3))
    else:
        day, month, year = (int(match.group(n)) for n in (4, 5, 6))
    try:
        return date(year, month, day)
    except ValueError:
        raise CalendarError(f"{typed} is not a date: there is no such day") from None


@dataclass(frozen=True, order=True)
class HalfTerm:
    """One half-term of an academic year; `start` and `end` are its first and last days."""

    year: str
    number: int
    start: date
    end: date

    @property
    def label(self) -> str:
        return f"HT{self.number} {self.year}"

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def academic_year_of(day: date) -> str:
    """The academic year (September to August) a day belongs to, e.g. "2025/26"."""
    first = day.year if day.month >= 9 else day.year - 1
    return f"{first}/{(first + 1) % 100:02d}"


def _first_year(year: str) -> int:
    match = _YEAR.match(year)
    if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise CalendarError(
            f"“{year}” is not an academic year: write two consecutive years, e.g. 2025/26"
        )
    return int(match.group(1))


def next_academic_year(year: str) -> str:
    """The year after, e.g. "2025/26" -> "2026/27"."""
    first = _first_year(year) + 1
    return f"{first}/{(first + 1) % 100:02d}"


def local_date(moment: datetime, timezone: str = LONDON) -> date:
    """The calendar date of a moment where the school is, so 23:30 UTC in June is tomorrow."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"{moment.isoformat()} has no time zone: pass an aware datetime (e.g. in UTC)"
        )
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"“{timezone}” is not a time zone name such as {LONDON}") from exc
    return moment.astimezone(zone).date()


class TermCalendar:
    """An organisation's half-terms and bank holidays: deadlines, term days and holidays.

    Built once from checked dates, so every question after that has an answer or a clear
    CalendarError saying which dates are missing.
    """

    def __init__(self, half_terms: Iterable[HalfTerm], bank_holidays: Iterable[date] = ()) -> None:
        ordered = sorted(half_terms, key=lambda half: half.start)
        _validate(ordered)
        self._half_terms = tuple(ordered)
        self._starts = [half.start for half in ordered]
        self._by_key = {(half.year, half.number): half for half in ordered}
        self._years = sorted({half.year for half in ordered})
        self._bank_holidays = frozenset(bank_holidays)
        # Answers already worked out (a calendar never changes once built): a sweep asks the
        # same few days for thousands of actions. A CalendarError is remembered too.
        self._next_school_days: dict[date, date | CalendarError] = {}
        self.memo: dict[object, object] = {}  # for pure callers' own derived answers

    def __repr__(self) -> str:
        return f"TermCalendar({self._years[0]} to {self._years[-1]}, {len(self._half_terms)} half-terms)"

    @property
    def half_terms(self) -> tuple[HalfTerm, ...]:
        """Every half-term, in date order."""
        return self._half_terms

    @property
    def bank_holidays(self) -> frozenset[date]:
        return self._bank_holidays

    def years(self) -> list[str]:
        """The academic years with dates, oldest first."""
        return list(self._years)

    def half_term(self, year: str, number: int) -> HalfTerm:
        if number not in HALF_TERM_NUMBERS:
            raise CalendarError(f"There is no half-term HT{number}: the year has HT1 to HT6")
        try:
            return self._by_key[(year, number)]
        except KeyError:
            raise CalendarError(f"No dates for HT{number} {year}: {SET_THEM}") from None

    def half_term_on(self, day: date) -> HalfTerm | None:
        """The half-term a day falls in, or None in a holiday between half-terms."""
        index = bisect_right(self._starts, day) - 1
        if index >= 0 and self._half_terms[index].contains(day):
            return self._half_terms[index]
        return None

    def is_term_day(self, day: date) -> bool:
        """A school day: inside a half-term, Monday to Friday, not a bank holiday."""
        return (
            day.weekday() < 5
            and day not in self._bank_holidays
            and self.half_term_on(day) is not None
        )

    def quiet_reason(self, day: date) -> str | None:
        """Why nothing is sent on `day` (a weekend, a holiday), or None on a school day.

        The same rule as `is_term_day`, which the reminder and digest schedules use; the
        words are for people who asked for a send by hand and got none.
        """
        if self.is_term_day(day):
            return None
        shown = format_date(day)
        if day.weekday() >= 5:
            return f"{shown} is a weekend"
        if day in self._bank_holidays:
            return f"{shown} is a bank holiday"
        index = bisect_right(self._starts, day) - 1
        if 0 <= index < len(self._half_terms) - 1:
            before, after = self._half_terms[index], self._half_terms[index + 1]
            return f"{shown} is in the school holiday between {before.label} and {after.label}"
        return f"{shown} is outside the term dates known for this school"

    def is_holiday(self, day: date) -> bool:
        """A school holiday: between half-terms, or a bank holiday (a term weekend is neither)."""
        return day in self._bank_holidays or self.half_term_on(day) is None

    def current_or_next_half_term(self, day: date) -> HalfTerm:
        """The half-term a day is in, or the next one to start (across the summer if need be)."""
        year = academic_year_of(day)
        for candidate in (year, next_academic_year(year)):
            if candidate not in self._years:
                raise CalendarError(
                    f"No term dates for {candidate}, needed for {format_date(day)}: {SET_THEM}"
                )
            for number in HALF_TERM_NUMBERS:
                half = self._by_key[(candidate, number)]
                if half.end >= day:
                    return half
        raise AssertionError("unreachable: the next year's half-terms all start after `day`")

    def next_school_day(self, day: date) -> date:
        """The first term day on or after `day`: where a reminder that falls in a holiday waits."""
        known = self._next_school_days.get(day)
        if known is None:
            try:
                known = self._find_next_school_day(day)
            except CalendarError as exc:
                known = exc
            self._next_school_days[day] = known
        if isinstance(known, CalendarError):
            raise known
        return known

    def _find_next_school_day(self, day: date) -> date:
        while True:
            half = self.current_or_next_half_term(day)
            day = max(day, half.start)
            while day <= half.end:
                if self.is_term_day(day):
                    return day
                day += _ONE_DAY

    def due_in_year(self, by_when: ByWhen, year: str) -> date | None:
        """The last day of the deadline's half-term in `year`; None for ongoing."""
        if by_when.due_half_term is None:
            return None
        return self.half_term(year, by_when.due_half_term).end

    def due(self, by_when: ByWhen, set_on: date) -> tuple[str, date] | None:
        """(academic year, due date) for a deadline set on `set_on`; None for ongoing.

        "HT3" is this academic year's HT3, unless that has already ended, when it means next
        year's: nobody sets an action that is late on the day it is written. The last day of
        the half-term still counts as this year's.
        """
        if by_when.due_half_term is None:
            return None
        year = academic_year_of(set_on)
        end = self.half_term(year, by_when.due_half_term).end
        if end < set_on:
            year = next_academic_year(year)
            end = self.half_term(year, by_when.due_half_term).end
        return year, end

    def describe(self, by_when: ByWhen, year: str) -> str:
        """The deadline with the real date people can plan to: "HT3 - ends Fri 13 Feb 2026"."""
        end = self.due_in_year(by_when, year)
        if end is None:
            return "Ongoing - no fixed date"
        return f"{by_when.code} - ends {format_date(end)}"

    def with_overrides(self, half_terms: Iterable[HalfTerm]) -> TermCalendar:
        """This calendar with whole years replaced by an organisation's own dates.

        A school's dates replace the defaults year by year; other years keep the defaults, so
        a school that set only this year still gets sensible dates for next year.
        """
        own = list(half_terms)
        replaced = {half.year for half in own}
        kept = [half for half in self._half_terms if half.year not in replaced]
        return TermCalendar([*kept, *own], self._bank_holidays)


def _validate(ordered: list[HalfTerm]) -> None:
    """Six numbered half-terms per year, each inside its year, in order, none overlapping."""
    if not ordered:
        raise CalendarError(
            "No half-terms given: a term calendar needs HT1 to HT6 for at least one academic year"
        )
    numbers: dict[str, list[int]] = {}
    for half in ordered:
        _first_year(half.year)
        if half.number not in HALF_TERM_NUMBERS:
            raise CalendarError(
                f"HT{half.number} {half.year}: there is no half-term HT{half.number}; "
                "the year has HT1 to HT6"
            )
        if half.end < half.start:
            raise CalendarError(
                f"{half.label} ends on {format_date(half.end)}, before it starts on "
                f"{format_date(half.start)}"
            )
        for name, day in (("starts", half.start), ("ends", half.end)):
            if academic_year_of(day) != half.year:
                raise CalendarError(
                    f"{half.label} {name} on {format_date(day)}, which is in academic year "
                    f"{academic_year_of(day)}: a half-term must fall between 1 September and "
                    f"31 August of its year"
                )
        numbers.setdefault(half.year, []).append(half.number)
    for year, found in numbers.items():
        if sorted(found) != list(HALF_TERM_NUMBERS):
            listed = ", ".join(f"HT{n}" for n in sorted(found))
            raise CalendarError(f"{year} has {listed}; expected HT1 to HT6, each once")
    for before, after in pairwise(ordered):
        if after.start <= before.end:
            raise CalendarError(
                f"{after.label} (starts {format_date(after.start)}) overlaps {before.label} "
                f"(ends {format_date(before.end)})"
            )
        if (after.year, after.number) < (before.year, before.number):
            raise CalendarError(
                f"{after.label} starts before {before.label}: half-terms must be numbered in "
                "date order"
            )


@cache
def default_calendar() -> TermCalendar:
    """England's default dates (model_data/term_dates.yaml), until a school sets its own."""
    dates = load_default_term_dates()
    return TermCalendar(
        (HalfTerm(year, number, start, end) for year, number, start, end in dates.half_terms()),
        dates.bank_holiday_dates(),
    )


class TermDateRow(Protocol):
    """A school's own half-term as stored (storage.models.TermDate, or a plain row)."""

    @property
    def academic_year(self) -> str: ...
    @property
    def half_term(self) -> int: ...
    @property
    def starts_on(self) -> date: ...
    @property
    def ends_on(self) -> date: ...


def calendar_of(own: Iterable[TermDateRow]) -> TermCalendar:
    """England's default term dates, with a school's own years (its rows) in their place:
    the one rule for a school's calendar, wherever its rows were read."""
    calendar = default_calendar()
    mine = [HalfTerm(r.academic_year, r.half_term, r.starts_on, r.ends_on) for r in own]
    return calendar.with_overrides(mine) if mine else calendar


# --- iCalendar import -------------------------------------------------------------------

# A holiday unless it is plainly a numbered half-term ("Autumn half term 1", "first half term").
_HOLIDAY = re.compile(r"half[\s-]*term|holiday|\bbreak\b|\bclosed\b|\bclosure\b|\binset\b", re.I)
_HALF_TERM_BREAK = re.compile(r"half[\s-]*term", re.I)
_NUMBERED_HALF = re.compile(
    r"half[\s-]*term\s*[1-6]\b|\b(first|second|1st|2nd)\s+half[\s-]*term", re.I
)
_TERM = re.compile(
    r"\bterm\b|\b(autumn|spring|summer)\s*(?:[1-6]|one|two|i{1,2})\b|\bHT\s*[1-6]\b", re.I
)
_STARTS = re.compile(r"\b(starts?|begins?|start of|beginning of|first day|opens?)\b", re.I)
_ENDS = re.compile(r"\b(ends?|finish(?:es)?|end of|last day|closes?)\b", re.I)
# With no "half term" event in a term, a holiday must run Monday to Friday to be the break.
_SHORTEST_UNNAMED_BREAK = timedelta(days=4)


@dataclass(frozen=True)
class _Period:
    summary: str
    start: date
    end: date  # inclusive

    def show(self) -> str:
        return f"“{self.summary}” {format_date(self.start)} to {format_date(self.end)}"


def parse_ics(data: bytes, source: str = "file") -> list[HalfTerm]:
    """Half-terms from a council's or school's iCalendar (.ics) term-dates file.

    Reads either six half-term events a year, or three whole terms split by the half-term
    holiday events inside them; "... term starts" / "... term ends" day markers are paired up
    into terms first. Other events (INSET days, parents' evenings) are ignored.
    """
    calendar = _read_calendar(data, source)
    terms: list[_Period] = []
    holidays: list[_Period] = []
    starts: list[_Period] = []
    ends: list[_Period] = []
    events = calendar.walk("VEVENT")
    if not events:
        raise CalendarError(
            f"{source}: no events (VEVENT) in this calendar; expected the term dates as "
            "all-day events"
        )
    for position, event in enumerate(events, start=1):
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        summary = " ".join(str(event.get("SUMMARY", "")).split())
        name = f"event “{summary}”" if summary else f"event {position} (no SUMMARY)"
        first, last = _event_days(event, name, source)
        period = _Period(summary or f"event {position}", first, last)
        if _HOLIDAY.search(summary) and not _NUMBERED_HALF.search(summary):
            holidays.append(period)
        elif _TERM.search(summary):
            one_day = first == last
            if one_day and _STARTS.search(summary):
                starts.append(period)
            elif one_day and _ENDS.search(summary):
                ends.append(period)
            else:
                terms.append(period)
    terms.extend(_pair_markers(starts, ends, source))
    terms = _without_umbrellas(_trimmed(terms))
    if not terms:
        raise CalendarError(
            f"{source}: no term events found (an event's SUMMARY should say which term, e.g. "
            f"“Autumn term 1” or “Spring 2”); {EXPECTED_ICS}"
        )
    by_year: dict[str, list[_Period]] = {}
    for period in sorted(terms, key=lambda p: (p.start, p.end)):
        by_year.setdefault(academic_year_of(period.start), []).append(period)
    half_terms: list[HalfTerm] = []
    for year, periods in sorted(by_year.items()):
        if len(periods) == 3:
            periods = [half for term in periods for half in _split(term, holidays, year, source)]
        if len(periods) != 6:
            found = "; ".join(period.show() for period in periods)
            plural = "period" if len(periods) == 1 else "periods"
            raise CalendarError(
                f"{year}: found {len(periods)} term {plural} in {source}; {EXPECTED_ICS} "
                f"(found {found})"
            )
        half_terms.extend(
            HalfTerm(year, number, period.start, period.end)
            for number, period in enumerate(periods, start=1)
        )
    try:
        TermCalendar(half_terms)
    except CalendarError as exc:
        raise CalendarError(f"{source}: {exc}") from exc
    return sorted(half_terms)


def _read_calendar(data: bytes, source: str) -> icalendar.Component:
    import icalendar  # only when a calendar is imported: 3 MB of every serving process

    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception as exc:  # icalendar raises several types on broken input
        reason = (str(exc).splitlines() or [""])[0][:80]
        readable = f" ({reason})" if reason.isprintable() and "\ufffd" not in reason else ""
        raise CalendarError(
            f"{source}: not an iCalendar (.ics) file{readable}: it should be text starting "
            "with BEGIN:VCALENDAR; export the term dates as iCalendar and try again"
        ) from exc
    if calendar.name != "VCALENDAR":
        raise CalendarError(
            f"{source}: not an iCalendar (.ics) file: it should start with BEGIN:VCALENDAR, "
            f"not BEGIN:{calendar.name}"
        )
    return calendar


def _value(event: icalendar.Component, key: str) -> object:
    """The `.dt` of a date or time property; AttributeError (as before) for any other kind."""
    import icalendar

    prop = event[key]
    # The property types that hold a date, date-time, duration or period in `.dt`; a vBroken
    # (a value icalendar could not parse) raises AttributeError there, saying why.
    if isinstance(
        prop,
        (
            icalendar.vBroken,
            icalendar.vDDDTypes,
            icalendar.vDate,
            icalendar.vDatetime,
            icalendar.vDuration,
            icalendar.vPeriod,
            icalendar.vTime,
        ),
    ):
        return prop.dt
    raise AttributeError(f"'{type(prop).__name__}' object has no attribute 'dt'")


def _event_days(event: icalendar.Component, name: str, source: str) -> tuple[date, date]:
    """First and last day (inclusive) of an event; all-day DTEND is exclusive (RFC 5545)."""
    if event.get("DTSTART") is None:
        raise CalendarError(f"{source}: {name} has no start date (DTSTART)")
    try:
        start = _value(event, "DTSTART")
        end = _value(event, "DTEND") if event.get("DTEND") is not None else None
        duration = _value(event, "DURATION") if event.get("DURATION") is not None else None
    except (ValueError, KeyError, AttributeError) as exc:
        raise CalendarError(f"{source}: {name} has a date that cannot be read ({exc})") from exc
    if isinstance(start, datetime):
        start = _aware(start)
        if end is None:
            end = start + (duration if isinstance(duration, timedelta) else timedelta())
        elif isinstance(end, datetime):
            end = _aware(end)
        elif isinstance(end, date):
            end = datetime.combine(end, time(), ZoneInfo(LONDON))
        if not isinstance(end, datetime):
            raise CalendarError(f"{source}: {name} has an end (DTEND) that is not a date")
        if end < start:
            raise CalendarError(
                f"{source}: {name} ends ({_show(end)}) before it starts ({_show(start)}); "
                "check its DTEND"
            )
        first, last = local_date(start), local_date(end)
        # An end at midnight is exclusive: 3 Sep 00:00 to 25 Oct 00:00 is the last day 24 Oct.
        if end > start and end.astimezone(ZoneInfo(LONDON)).time() == time() and last > first:
            last -= _ONE_DAY
        return first, last
    if not isinstance(start, date):
        raise CalendarError(f"{source}: {name} has a start (DTSTART) that is not a date")
    if end is None:
        end = start + (duration if isinstance(duration, timedelta) else _ONE_DAY)
    if isinstance(end, datetime):
        end = local_date(_aware(end))
    if not isinstance(end, date):
        raise CalendarError(f"{source}: {name} has an end (DTEND) that is not a date")
    if end < start:
        raise CalendarError(
            f"{source}: {name} ends ({_show(end)}) before it starts ({_show(start)}); "
            "check its DTEND"
        )
    return start, max(start, end - _ONE_DAY)


def _aware(moment: datetime) -> datetime:
    """Floating times (no TZID) in a school's file mean UK wall-clock time."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(LONDON))


def _show(value: date) -> str:
    if isinstance(value, datetime):
        return f"{format_date(value.date())} {value:%H:%M %Z}".strip()
    return format_date(value)


def _pair_markers(starts: list[_Period], ends: list[_Period], source: str) -> list[_Period]:
    """Turn "Autumn term starts" and "Autumn term ends" day events into one term period."""
    markers = sorted(
        [(p.start, 0, p) for p in starts] + [(p.end, 1, p) for p in ends],
        key=lambda item: (item[0], item[1]),
    )
    periods: list[_Period] = []
    opened: _Period | None = None
    for day, kind, marker in markers:
        if kind == 0:
            if opened is not None:
                raise CalendarError(
                    f"{source}: “{opened.summary}” ({format_date(opened.start)}) has no term end "
                    f"before “{marker.summary}” ({format_date(day)})"
                )
            opened = marker
        else:
            if opened is None:
                raise CalendarError(
                    f"{source}: “{marker.summary}” ({format_date(day)}) has no term start before it"
                )
            periods.append(_Period(f"{opened.summary} / {marker.summary}", opened.start, day))
            opened = None
    if opened is not None:
        raise CalendarError(
            f"{source}: “{opened.summary}” ({format_date(opened.start)}) has no term end after it"
        )
    return periods


def _trimmed(periods: list[_Period]) -> list[_Period]:
    """Drop weekends at either end, so "HT1 ends" is a Friday even if the event ran to Sunday."""
    result: set[_Period] = set()
    for period in periods:
        start, end = period.start, period.end
        while start <= end and start.weekday() >= 5:
            start += _ONE_DAY
        while end >= start and end.weekday() >= 5:
            end -= _ONE_DAY
        if start <= end:
            result.add(_Period(period.summary, start, end))
    # The same dates under two names (a feed that repeats an event) are one period.
    unique: dict[tuple[date, date], _Period] = {}
    for period in sorted(result, key=lambda p: (p.start, p.end, p.summary)):
        unique.setdefault((period.start, period.end), period)
    return list(unique.values())


def _without_umbrellas(periods: list[_Period]) -> list[_Period]:
    """Drop a whole-term event when its half-terms are listed too ("Autumn term" + "Autumn 1")."""
    return [
        outer
        for outer in periods
        if sum(
            1
            for inner in periods
            if inner is not outer and outer.start <= inner.start and inner.end <= outer.end
        )
        < 2
    ]


def _split(term: _Period, holidays: list[_Period], year: str, source: str) -> list[_Period]:
    """Split a whole term in two at the half-term holiday inside it."""
    inside = [h for h in holidays if term.start < h.start and h.end < term.end]
    named = [h for h in inside if _HALF_TERM_BREAK.search(h.summary)]
    candidates = named or [h for h in inside if h.end - h.start >= _SHORTEST_UNNAMED_BREAK]
    if not candidates:
        raise CalendarError(
            f"{year}: the term {term.show()} in {source} has no half-term holiday inside it; "
            f"{EXPECTED_ICS}"
        )
    blocks: list[list[date]] = []
    for holiday in sorted(candidates, key=lambda h: h.start):
        if blocks and _only_weekend_between(blocks[-1][1], holiday.start):
            blocks[-1][1] = max(blocks[-1][1], holiday.end)
        else:
            blocks.append([holiday.start, holiday.end])
    gap_start, gap_end = max(blocks, key=lambda block: block[1] - block[0])
    first_end = gap_start - _ONE_DAY
    while first_end.weekday() >= 5:
        first_end -= _ONE_DAY
    second_start = gap_end + _ONE_DAY
    while second_start.weekday() >= 5:
        second_start += _ONE_DAY
    if first_end < term.start or second_start > term.end:
        raise CalendarError(
            f"{year}: the half-term holiday in {term.show()} in {source} leaves no school days "
            f"on one side; {EXPECTED_ICS}"
        )
    return [
        _Period(f"{term.summary} (first half)", term.start, first_end),
        _Period(f"{term.summary} (second half)", second_start, term.end),
    ]


def _only_weekend_between(end: date, start: date) -> bool:
    """True when two holidays touch, overlap, or have only a weekend between them."""
    day = end + _ONE_DAY
    while day < start:
        if day.weekday() < 5:
            return False
        day += _ONE_DAY
    return True
