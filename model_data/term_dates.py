"""Default term dates for England and the bank holidays, validated on load.

Deadlines are written as half-terms ("HT3"); these dates turn them into real days until a
school sets its own. Plain data only: `workflows.calendar` builds the calendar from it, and
model_data must not import workflows.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from model_data.loader import ModelDataError, read_yaml

FILENAME = "term_dates.yaml"

_YEAR = re.compile(r"^(\d{4})/(\d{2})$")


def _a_date(value: Any) -> date:
    """Accept a YAML date or an ISO string; refuse numbers and times, which pydantic would coerce."""
    if isinstance(value, datetime):
        raise ValueError("expected a date like 2025-09-03, not a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a date like 2025-09-03, got {value!r}")


Day = Annotated[date, BeforeValidator(_a_date)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HalfTermDates(_Frozen):
    """One half-term: first and last school day, both inclusive."""

    number: int = Field(ge=1, le=6)
    start: Day
    end: Day


class AcademicYearDates(_Frozen):
    """The six half-terms of one academic year, e.g. "2025/26"."""

    year: str = Field(pattern=_YEAR.pattern)
    half_terms: list[HalfTermDates]


class BankHoliday(_Frozen):
    date: Day
    name: str = Field(min_length=1)


class TermDates(_Frozen):
    """The whole file: where the dates come from, the years, and the bank holidays."""

    source: str = Field(min_length=1)
    note: str = Field(min_length=1)
    years: list[AcademicYearDates] = Field(min_length=1)
    bank_holidays: list[BankHoliday]

    def half_terms(self) -> list[tuple[str, int, date, date]]:
        """(year, number, start, end) rows, in date order."""
        return [
            (year.year, half.number, half.start, half.end)
            for year in self.years
            for half in year.half_terms
        ]

    def bank_holiday_dates(self) -> list[date]:
        return [holiday.date for holiday in self.bank_holidays]


class _DatesLoader(yaml.SafeLoader):
    """Safe YAML, except that an impossible date (2026-02-30) stays text for the checks below.

    PyYAML raises a bare ValueError there, which would lose the year and field.
    """


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_DatesLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


def _where(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into "year 2025/26, HT3, field end" where possible."""
    parts: list[str] = []
    field_path: list[str] = []
    node = raw
    for key in loc:
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            node = None
        if isinstance(node, dict) and "year" in node and "half_terms" in node:
            parts.append(f"year {node['year']}")
            field_path = []
        elif isinstance(node, dict) and "number" in node and "start" in node:
            parts.append(f"HT{node['number']}")
            field_path = []
        elif isinstance(node, dict) and "date" in node and "name" in node:
            parts.append(f"bank holiday {node['date']}")
            field_path = []
        else:
            field_path.append(str(key))
    if field_path:
        parts.append("field " + ".".join(field_path))
    return ", ".join(parts) or "top level"


def _academic_year(day: date) -> str:
    first = day.year if day.month >= 9 else day.year - 1
    return f"{first}/{(first + 1) % 100:02d}"


def _check(filename: str, dates: TermDates) -> None:
    """Years consecutive in label, six half-terms each, every one after the last and inside its year."""
    previous: tuple[str, date] | None = None
    seen_years: set[str] = set()
    for year in dates.years:
        where = f"{filename}: year {year.year}"
        first, second = year.year.split("/")  # the model's pattern has checked the shape
        if (int(first) + 1) % 100 != int(second):
            raise ModelDataError(
                f"{where}, field year: expected two consecutive years, e.g. 2025/26"
            )
        if year.year in seen_years:
            raise ModelDataError(f"{where}, field year: the year appears twice")
        seen_years.add(year.year)
        numbers = [half.number for half in year.half_terms]
        if numbers != list(range(1, 7)):
            raise ModelDataError(
                f"{where}, field half_terms: expected HT1 to HT6 in order, got "
                f"{', '.join(f'HT{n}' for n in numbers) or 'none'}"
            )
        for half in year.half_terms:
            at = f"{where}, HT{half.number}"
            if half.end < half.start:
                raise ModelDataError(f"{at}, field end: {half.end} is before start {half.start}")
            for name, day in (("start", half.start), ("end", half.end)):
                if _academic_year(day) != year.year:
                    raise ModelDataError(
                        f"{at}, field {name}: {day} is not in academic year {year.year} "
                        "(September to August)"
                    )
            if previous is not None and half.start <= previous[1]:
                raise ModelDataError(
                    f"{at}, field start: {half.start} is not after the end of {previous[0]} "
                    f"({previous[1]})"
                )
            previous = (f"HT{half.number} {year.year}", half.end)
    days = dates.bank_holiday_dates()
    for day in days:
        if days.count(day) > 1:
            raise ModelDataError(f"{filename}: bank holiday {day}, field date: listed twice")


def parse_term_dates(filename: str = FILENAME, text: str | None = None) -> TermDates:
    """Parse and check a term-dates file (from the package, or `text` for tests)."""
    raw = read_yaml(filename, text, loader=_DatesLoader)
    try:
        dates = TermDates.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(raw, err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ModelDataError(f"{filename}: {problems}") from exc
    _check(filename, dates)
    return dates


@cache
def load_default_term_dates() -> TermDates:
    """The packaged England defaults; read once per process."""
    return parse_term_dates(FILENAME)
