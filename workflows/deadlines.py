"""Half-term deadlines as careers leaders write them: "HT3", "HT3/4", "ongoing"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

HALF_TERMS = range(1, 7)

_ONGOING = re.compile(r"^\s*on[\s-]?going\s*$", re.IGNORECASE)
_HALF_TERM = re.compile(
    r"^\s*HT\s*([0-9]+)\s*(?:(?:/|-|–|to)\s*(?:HT\s*)?([0-9]+))?\s*$", re.IGNORECASE
)


class DeadlineError(ValueError):
    """The text is not a half-term deadline; the message says what is accepted."""


@dataclass(frozen=True, order=True)
class ByWhen:
    """A deadline: a half-term (HT3), a span of half-terms (HT3/4, due at the end of HT4), or ongoing."""

    first: int | None
    last: int | None

    @property
    def ongoing(self) -> bool:
        return self.first is None

    @property
    def due_half_term(self) -> int | None:
        """The half-term whose end is the deadline."""
        return self.last

    @property
    def code(self) -> str:
        """Canonical form kept in the database: "HT3", "HT3/4" or "ongoing"."""
        if self.first is None:
            return "ongoing"
        if self.first == self.last:
            return f"HT{self.first}"
        return f"HT{self.first}/{self.last}"

    @property
    def label(self) -> str:
        return "Ongoing" if self.ongoing else self.code

    def __str__(self) -> str:
        return self.code


ONGOING = ByWhen(None, None)

ACCEPTED = "a half-term HT1 to HT6, a span such as HT3/4, or 'ongoing'"


@lru_cache(maxsize=256)
def parse_by_when(text: str) -> ByWhen:
    """Read a deadline as typed; raise DeadlineError with a helpful message otherwise.
    Remembered: a reminder sweep reads the same few stored deadlines thousands of times."""
    if _ONGOING.match(text):
        return ONGOING
    match = _HALF_TERM.match(text)
    if not match:
        raise DeadlineError(f"“{text.strip()}” is not a deadline I know. Use {ACCEPTED}.")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) else first
    for number in (first, last):
        if number not in HALF_TERMS:
            raise DeadlineError(
                f"There is no half-term HT{number}: the year has HT1 to HT6. Use {ACCEPTED}."
            )
    if last < first:
        raise DeadlineError(
            f"HT{first}/{last} runs backwards: write the earlier half-term first, e.g. HT{last}/{first}."
        )
    return ByWhen(first, last)
