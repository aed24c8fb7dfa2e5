"""Messages the bot sends unasked (reminders, digests), channel-neutral and JSON-serialisable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workflows.replies import Choice


@dataclass(frozen=True)
class Notice:
    kind: str  # reminder, digest
    title: str
    sections: list[tuple[str, list[str]]]
    buttons: list[Choice] = field(default_factory=list)
    attach_chart: bool = False  # digests: the maturity chart, where the channel allows it
    # A document that goes with it (a `DocumentKind` value: the governors' report with the
    # first digest of a half-term), as a file where the channel can post one, else by
    # `document_url` (a signed link, bot/plan_links.py) where one could be issued.
    document: str | None = None
    document_url: str | None = None

    def text(self) -> str:
        out = [self.title]
        for heading, lines in self.sections:
            out.append("")
            if heading:
                out.append(heading)
            out.extend(f"- {line}" if heading else line for line in lines)
        if self.document_url:
            out.append("")
            out.append(self.document_url)
        if self.buttons:
            out.append("")
            out.append("Reply: " + " · ".join(f"'{b.value}'" for b in self.buttons))
        return "\n".join(out) + "\n"

    def to_payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "sections": [[heading, list(lines)] for heading, lines in self.sections],
            "buttons": [[b.label, b.value] for b in self.buttons],
            "attach_chart": self.attach_chart,
            "document": self.document,
            "document_url": self.document_url,
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Notice:
        return cls(
            kind=data["kind"],
            title=data["title"],
            sections=[(heading, list(lines)) for heading, lines in data["sections"]],
            buttons=[Choice(label, value) for label, value in data.get("buttons", [])],
            attach_chart=bool(data.get("attach_chart")),
            document=data.get("document"),
            document_url=data.get("document_url"),
        )
