"""What a person may type, enforced once in the engine before anything is written, the same
on every database: no NUL or control characters (PostgreSQL refuses NUL; terminals replay
escape sequences), and lengths the storage columns hold."""

from __future__ import annotations

import re

MAX_LABEL = 300  # evidence_links.label
MAX_URL = 2000
MAX_NAME = 200  # people, participants
MAX_TEXT = 4000  # next steps, a progress note
MAX_INPUT = 20_000  # anything typed at all: longer is refused before it is read

# C0 controls except tab and new line, DEL, C1 controls, lone surrogates.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def tidy(text: str) -> str:
    """Text as it may be kept: control characters removed, carriage returns as new lines."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
