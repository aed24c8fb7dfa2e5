"""Evidence links: http(s) addresses with optional labels, checked before anything is saved."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from workflows import messages as msg
from workflows.limits import MAX_LABEL, MAX_URL

# Anything that looks like an address: a scheme, or a bare "www." host.
_CANDIDATE = re.compile(r"(?:[a-z][a-z0-9+.-]*://\S+|www\.\S+|<[^>\s]+>)", re.IGNORECASE)
_LABEL_TRIM = " \t-–—:|,;()[]"


class LinkError(ValueError):
    """A message held no valid link; its text says what is accepted."""


@dataclass(frozen=True)
class Link:
    url: str
    label: str | None


def _check(url: str) -> str:
    url = url.strip("<>").rstrip(".,;)")
    if len(url) > MAX_URL:
        raise LinkError(msg.LINK_TOO_LONG.format(limit=MAX_URL))
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname or " " in url:
        raise LinkError(msg.BAD_LINK.format(url=url))
    if "." not in parts.hostname and parts.hostname != "localhost":
        raise LinkError(msg.BAD_LINK.format(url=url))
    return url


def parse_links(text: str) -> list[Link]:
    """All links in a message, each with the words before it as its label.

    A message with any unacceptable address is refused whole, so nothing half-saved.
    Chat clients wrap links as <https://...|label> (Slack) or plain text: both are read.
    """
    text = re.sub(r"<(https?://[^|>\s]+)\|([^>]+)>", r"\2 \1", text)
    matches = list(_CANDIDATE.finditer(text))
    if not matches:
        raise LinkError(msg.NO_LINK.format(text=text[:80]))
    links: list[Link] = []
    cursor = 0
    for match in matches:
        url = _check(match.group(0))
        label = text[cursor : match.start()].strip(_LABEL_TRIM) or None
        links.append(Link(url, label))
        cursor = match.end()
    trailing = text[cursor:].strip(_LABEL_TRIM)
    if trailing and links[-1].label is None:
        links[-1] = Link(links[-1].url, trailing)
    for link in links:
        if link.label is not None and len(link.label) > MAX_LABEL:
            raise LinkError(msg.LABEL_TOO_LONG.format(length=len(link.label), limit=MAX_LABEL))
    return links
