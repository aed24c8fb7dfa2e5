"""Text from a school made safe for the files and screens it ends up in.

Everything a school types (next steps, owners, notes, evidence labels and links, titles) is
stored as typed and only made safe on the way out, because each destination has its own hazard:

- every format: control characters. One stored ``\\x01`` made python-docx and openpyxl refuse
  the whole document, for good, so `clean_text` removes them and every writer uses it.
- spreadsheets (xlsx, csv): text starting ``=``, ``+``, ``-`` or ``@`` runs as a formula when
  opened (OWASP "CSV injection"), so `spreadsheet_text` prefixes it with ``'``.
- Markdown: ``<script>``, ``[x](javascript:...)`` and stray ``*``/``|`` would be live markup,
  so `markdown_text`, `markdown_cell` and `markdown_link` escape them and link only http(s).
- the terminal: escape sequences can recolour, retitle or rewrite the screen (`terminal_safe`).
"""

from __future__ import annotations

import dataclasses
import re
from enum import Enum
from typing import Any, TypeVar, cast
from urllib.parse import quote, urlsplit

from pydantic import BaseModel

T = TypeVar("T")

# C0 controls but tab and line feed, DEL, C1 controls, lone surrogates (UTF-16 halves that
# cannot be encoded as UTF-8) and U+FFFE/U+FFFF (not allowed in XML, so not in docx or xlsx).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_NEWLINE = re.compile(r"\r\n?")

# Spreadsheet cells whose text starts with one of these run as a formula (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# Markdown and HTML specials, escaped wherever school text goes. < > & [ ] become entities
# rather than backslash escapes, so the Markdown source itself never holds a raw "<script" or
# "](javascript:" for a renderer (or a chat client's Markdown dialect) that mishandles "\".
_MARKDOWN_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "&#91;",
        "]": "&#93;",
        "|": "\\|",
        "~": "\\~",
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
    }
)
# What opens a block at the start of a line: heading, list item, thematic break or setext
# underline, ordered list item ("1." or "1)"). Blockquote ">" is already an entity.
_BLOCK_MARK = re.compile(r"^[#=+-]")
_ORDERED_ITEM = re.compile(r"^(\d+)([.)])")
_WHITESPACE = re.compile(r"\s+")
# Characters kept as they are in a link destination: unreserved, reserved but "(" and ")", and
# "%" so existing escapes are not encoded twice. Spaces, brackets, quotes and the rest are
# percent-encoded so the URL cannot close the Markdown link early.
_URL_SAFE = "-._~:/?#[]@!$&'*+,;=%"
_LINK_SCHEMES = ("http", "https")

# Terminal escape sequences: CSI (colours, cursor moves), OSC (window title, hyperlinks)
# ended by BEL or ST, DCS/SOS/PM/APC strings, other two- or three-byte ESC sequences, 8-bit CSI.
_TERMINAL_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)


def clean_text(text: str) -> str:
    """The text without control characters: the one filter every export writer uses.

    Carriage returns become line feeds ("a\\r\\nb" and "a\\rb" keep their two lines); other C0
    controls but tab and line feed, DEL, C1 controls, lone surrogates and U+FFFE/U+FFFF are
    removed, because Word, Excel, XML and UTF-8 reject them and one of them fails the whole file.
    """
    return _CONTROL.sub("", _NEWLINE.sub("\n", text))


def clean_data(value: T) -> T:
    """`value` with `clean_text` applied to every string inside it, at any depth.

    Walks lists, tuples, dicts, dataclasses (frozen ones too) and pydantic models, so a writer
    can clean a whole `PlanDocument` once instead of remembering every field. Enums (the
    status and flag StrEnums) and other values are returned unchanged.
    """
    result: Any
    if isinstance(value, Enum):
        result = value
    elif isinstance(value, str):
        result = clean_text(value)
    elif isinstance(value, list):
        result = [clean_data(item) for item in value]
    elif isinstance(value, tuple) and not hasattr(value, "_fields"):
        result = tuple(clean_data(item) for item in value)
    elif isinstance(value, dict):
        result = {clean_data(key): clean_data(item) for key, item in value.items()}
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            field.name: clean_data(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if field.init
        }
        result = dataclasses.replace(value, **changes)
    elif isinstance(value, BaseModel):
        names = type(value).model_fields
        result = value.model_copy(update={name: clean_data(getattr(value, name)) for name in names})
    else:
        result = value
    return cast(T, result)


# ----- spreadsheets ------------------------------------------------------------------------


def spreadsheet_text(text: str) -> str:
    """Text that Excel, LibreOffice and Sheets show as text, never run as a formula.

    Follows OWASP's CSV-injection advice: text starting with = + - @ tab or carriage return,
    also after leading spaces, gets a leading single quote. Control characters are removed first.
    """
    text = clean_text(text)
    if text.startswith(FORMULA_TRIGGERS) or text.lstrip().startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def spreadsheet_value(value: T) -> T | str:
    """A spreadsheet cell's value: text made safe by `spreadsheet_text`; numbers, dates and
    empty cells unchanged so they stay typed (sortable, summable) cells."""
    if isinstance(value, str):
        return spreadsheet_text(value)
    return value


# ----- Markdown ----------------------------------------------------------------------------


def _markdown_inline(text: str) -> str:
    return text.translate(_MARKDOWN_ESCAPES)


def markdown_text(text: str | None) -> str:
    """School text for running Markdown (a heading, a paragraph, a list item), on one line.

    Line breaks and runs of spaces become one space, so a title cannot start a new block;
    specials are escaped and a leading "#", "-", "+", "=" or "1." cannot open a heading or list.
    """
    if not text:
        return ""
    line = _WHITESPACE.sub(" ", clean_text(text)).strip()
    escaped = _BLOCK_MARK.sub(lambda match: "\\" + match.group(), _markdown_inline(line))
    return _ORDERED_ITEM.sub(r"\1\\\2", escaped)


def markdown_cell(text: str | None) -> str:
    """School text for a GitHub table cell: specials and pipes escaped, line breaks as <br>.

    A cell holds inline content only, so line-start markers ("1.", "#") need no escape there.
    """
    if not text:
        return ""
    lines = [line.strip() for line in clean_text(text).split("\n")]
    return "<br>".join(_markdown_inline(line) for line in lines)


def link_target(url: str | None) -> str | None:
    """The URL to link to if it is an http(s) address with a host, percent-encoded; else None.

    Only web addresses become links: javascript:, data:, file: and the like stay plain text.
    Spaces, brackets and quotes are encoded so the URL cannot end a Markdown link early.
    """
    if not url:
        return None
    cleaned = clean_text(url).strip()
    try:
        parts = urlsplit(cleaned)
    except ValueError:  # "https://[::1" and other malformed hosts
        return None
    if parts.scheme.lower() not in _LINK_SCHEMES or not parts.netloc:
        return None
    return quote(cleaned, safe=_URL_SAFE)


def markdown_link(url: str, label: str | None = None) -> str:
    """ "[label](<https://...>)" for an http(s) URL; anything else as escaped plain text."""
    target = link_target(url)
    text = markdown_text(label or url)
    if target is None:
        shown = markdown_text(url)
        return text if not label or text == shown else f"{text} – {shown}"
    return f"[{text}](<{target}>)"


# ----- the terminal ------------------------------------------------------------------------


def terminal_safe(text: str) -> str:
    """Text that prints as itself in a terminal: escape sequences and control characters removed.

    A stored "\\x1b[2J" or "\\x1b]0;title\\x07" would otherwise clear the screen or rename the
    window of whoever reviews the plan in the terminal. Tabs and line breaks are kept.
    """
    return clean_text(_TERMINAL_SEQUENCE.sub("", text))


__all__ = [
    "FORMULA_TRIGGERS",
    "clean_data",
    "clean_text",
    "link_target",
    "markdown_cell",
    "markdown_link",
    "markdown_text",
    "spreadsheet_text",
    "spreadsheet_value",
    "terminal_safe",
]
