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

    def text(self) -> str:
        out = [self.title]
        for heading, lines in self.sections:
            out.append("")
            if heading:
                out.append(heading)
            out.extend(f"- {line}" if heading else line for line in lines)
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
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Notice:
        return cls(
            kind=data["kind"],
            title=data["title"],
            sections=[(heading, list(lines)) for heading, lines in data["sections"]],
            buttons=[Choice(label, value) for label, value in data.get("buttons", [])],
            attach_chart=bool(data.get("attach_chart")),
        )
