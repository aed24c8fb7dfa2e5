"""Forms (Slack modals): evidence links, priority details, an action update, the set-up.

The choices come from the engine's own questions (target levels above the current one,
half-terms labelled with their real dates); a submission is read back into the same texts
a person would type, and the service applies them all or none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.slack import wording as slack_wording
from bot.slack.render import MAX_HEADER, Block, clip, escape, section
from model_data import Edition
from workflows.answers import ActionDraft
from workflows.replies import Choice, Question

EVIDENCE = "careers:evidence"
PRIORITY = "careers:priority"
UPDATE = "careers:update"
SETUP = "careers:setup"

LINK_ROWS = 3
MAX_TITLE = 24
MAX_OPTION = 75


def link_url_block(n: int) -> str:
    return f"link_{n}_url"


def link_label_block(n: int) -> str:
    return f"link_{n}_label"


TARGET, NEXT_STEPS, OWNERS_PEOPLE, OWNERS_TEXT, DUE = (
    "target",
    "next_steps",
    "owners_people",
    "owners_text",
    "due",
)
# The priority form's answers in the order the engine asks for them.
PRIORITY_FIELDS = (TARGET, NEXT_STEPS, OWNERS_PEOPLE, DUE)
NOTE, LINK = "note", "link"
ORG_NAME, EDITION, SLT_CHANNEL, DIGEST_DAY, DIGEST_TIME = (
    "org_name",
    "edition",
    "slt_channel",
    "digest_day",
    "digest_time",
)
LEADER, COLLEAGUES, SLT = "leader", "colleagues", "slt"


def _text(value: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": value, "emoji": True}


def _option(choice: Choice) -> dict[str, Any]:
    return {"text": _text(clip(choice.label, MAX_OPTION)), "value": choice.value}


def _modal(
    callback_id: str, title: str, blocks: list[Block], metadata: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _text(clip(title, MAX_TITLE)),
        "submit": _text(slack_wording.SLACK_SAVE),
        "close": _text(slack_wording.SLACK_CANCEL),
        "private_metadata": json.dumps(dict(metadata), separators=(",", ":")),
        "blocks": blocks,
    }


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    optional: bool = False,
    hint: str | None = None,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": _text(clip(label, 2000)),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = _text(hint)
    return block


def _select(choices: Sequence[Choice], initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": "choice",
        "options": [_option(c) for c in choices][:100],
    }
    chosen = next((c for c in choices if c.value == initial), None)
    if chosen is not None:
        element["initial_option"] = _option(chosen)
    return element


def _plain(initial: str | None = None, multiline: bool = False) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "text"}
    if multiline:
        element["multiline"] = True
    if initial:
        element["initial_value"] = initial
    return element


# ----- evidence ------------------------------------------------------------------------------


def evidence_modal(label: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    blocks: list[Block] = [section(slack_wording.SLACK_EVIDENCE_INTRO.format(label=escape(label)))]
    for n in range(1, LINK_ROWS + 1):
        blocks.append(
            _input(
                link_url_block(n),
                slack_wording.SLACK_LINK_URL.format(n=n),
                {"type": "url_text_input", "action_id": "url"},
                optional=n > 1,
            )
        )
        blocks.append(
            _input(
                link_label_block(n),
                slack_wording.SLACK_LINK_LABEL.format(n=n),
                _plain(),
                optional=True,
                hint=slack_wording.SLACK_LINK_LABEL_HINT if n == 1 else None,
            )
        )
    return _modal(EVIDENCE, slack_wording.SLACK_EVIDENCE_TITLE, blocks, metadata)


@dataclass(frozen=True)
class EvidenceForm:
    """The links as the engine reads them ("label url"), each with the field it came from."""

    links: list[tuple[str, str]]  # (block_id of the URL, "label url")

    @classmethod
    def read(cls, view: Mapping[str, Any]) -> EvidenceForm:
        values = Values(view)
        links = []
        for n in range(1, LINK_ROWS + 1):
            url = values.text(link_url_block(n))
            if not url:
                continue
            label = values.text(link_label_block(n))
            links.append((link_url_block(n), f"{label} {url}" if label else url))
        return cls(links)

    def texts(self) -> list[str]:
        """What a person would type: each link, then 'done'."""
        return [text for _, text in self.links] + ["done"]


# ----- priority details ------------------------------------------------------------------------


def priority_modal(
    label: str,
    level: int | None,
    target: Question,
    due: Question,
    draft: ActionDraft | None,
    metadata: Mapping[str, Any],
) -> dict[str, Any]:
    """Target (levels above the current one), next steps, owners, and by when (dated)."""
    draft = draft or ActionDraft()
    people = [o.name for o in draft.owners]
    blocks: list[Block] = [
        section(slack_wording.SLACK_PRIORITY_INTRO.format(label=escape(label), level=level or "–")),
        _input(
            TARGET,
            slack_wording.SLACK_TARGET,
            _select(target.choices, str(draft.target_level) if draft.target_level else None),
        ),
        _input(
            NEXT_STEPS,
            slack_wording.SLACK_NEXT_STEPS,
            _plain(draft.next_steps, multiline=True),
            hint=slack_wording.SLACK_NEXT_STEPS_HINT,
        ),
        _input(
            OWNERS_PEOPLE,
            slack_wording.SLACK_OWNERS_PEOPLE,
            {"type": "multi_users_select", "action_id": "users"},
            optional=True,
        ),
        _input(
            OWNERS_TEXT,
            slack_wording.SLACK_OWNERS_TEXT,
            _plain(", ".join(people) if people else None),
            optional=True,
            hint=slack_wording.SLACK_OWNERS_TEXT_HINT,
        ),
        _input(DUE, slack_wording.SLACK_DUE, _select(due.choices, draft.due)),
    ]
    return _modal(PRIORITY, slack_wording.SLACK_PRIORITY_TITLE, blocks, metadata)


@dataclass(frozen=True)
class PriorityForm:
    target: str
    next_steps: str
    people: list[str]  # Slack user ids
    owners_text: str
    due: str

    @classmethod
    def read(cls, view: Mapping[str, Any]) -> PriorityForm:
        values = Values(view)
        return cls(
            target=values.text(TARGET),
            next_steps=values.text(NEXT_STEPS),
            people=values.users(OWNERS_PEOPLE),
            owners_text=values.text(OWNERS_TEXT),
            due=values.text(DUE),
        )

    def texts(self, names: Mapping[str, str]) -> list[str]:
        """Target, next steps, owners ("Sam Rivers, HOFS"), by when: as the engine asks."""
        owners = [names[user] for user in self.people]
        if self.owners_text:
            owners.append(self.owners_text)
        # One step per line in the form; typed, steps are separated with ';'.
        steps = "; ".join(line.strip() for line in self.next_steps.splitlines() if line.strip())
        return [self.target, steps, ", ".join(owners), self.due]


# ----- an action update ------------------------------------------------------------------------


def update_modal(action_id: int, label: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    blocks: list[Block] = [
        section(f"*#{action_id} {escape(label)}*"),
        _input(NOTE, slack_wording.SLACK_UPDATE_NOTE, _plain(multiline=True)),
        _input(
            LINK,
            slack_wording.SLACK_UPDATE_LINK,
            {"type": "url_text_input", "action_id": "url"},
            True,
        ),
    ]
    return _modal(UPDATE, slack_wording.SLACK_UPDATE_TITLE.format(id=action_id), blocks, metadata)


def update_text(action_id: int, view: Mapping[str, Any]) -> str:
    """The command a person would type: "progress 12 Met the adviser https://..."."""
    values = Values(view)
    parts = [f"progress {action_id}", " ".join(values.text(NOTE).split())]
    link = values.text(LINK)
    if link:
        parts.append(link)
    return " ".join(part for part in parts if part)


# ----- set-up ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetupForm:
    name: str
    edition: str
    slt_channel: str | None
    digest_day: str
    digest_time: str
    leader: str | None
    colleagues: list[str]
    slt: list[str]

    @classmethod
    def read(cls, view: Mapping[str, Any]) -> SetupForm:
        values = Values(view)
        return cls(
            name=" ".join(values.text(ORG_NAME).split()),
            edition=values.text(EDITION) or Edition.SCHOOL.value,
            slt_channel=values.raw(SLT_CHANNEL).get("selected_conversation") or None,
            digest_day=values.text(DIGEST_DAY) or "monday",
            digest_time=values.raw(DIGEST_TIME).get("selected_time") or "08:00",
            leader=values.raw(LEADER).get("selected_user") or None,
            colleagues=values.users(COLLEAGUES),
            slt=values.users(SLT),
        )

    def roles(self) -> dict[str, str]:
        """Slack user id -> role, as the form sets them."""
        out = {user: "slt" for user in self.slt}
        out.update({user: "colleague" for user in self.colleagues})
        if self.leader:
            out[self.leader] = "careers_leader"
        return out

    def people(self) -> list[str]:
        return list(
            dict.fromkeys([*([self.leader] if self.leader else []), *self.colleagues, *self.slt])
        )

    def twice(self) -> bool:
        """Someone chosen both to answer and to view (or twice as answering)."""
        answering = [*([self.leader] if self.leader else []), *self.colleagues]
        return len(set(answering)) != len(answering) or bool(set(answering) & set(self.slt))


def setup_modal(
    name: str,
    edition: str,
    settings: Mapping[str, Any],
    leader: str | None,
    colleagues: Iterable[str],
    slt: Iterable[str],
    metadata: Mapping[str, Any],
) -> dict[str, Any]:
    editions = [Choice(e.label.capitalize(), e.value) for e in Edition]
    days = [Choice(label, value) for value, label in slack_wording.SLACK_SETUP_DAYS.items()]
    channel: dict[str, Any] = {
        "type": "conversations_select",
        "action_id": "channel",
        "filter": {
            "include": ["public", "private"],
            "exclude_bot_users": True,
            "exclude_external_shared_channels": True,
        },
    }
    if settings.get("slt_channel"):
        channel["initial_conversation"] = settings["slt_channel"]
    leader_element: dict[str, Any] = {"type": "users_select", "action_id": "user"}
    if leader:
        leader_element["initial_user"] = leader
    blocks: list[Block] = [
        _input(
            ORG_NAME,
            slack_wording.SLACK_SETUP_NAME,
            {**_plain(name), "max_length": 200},
        ),
        _input(EDITION, slack_wording.SLACK_SETUP_EDITION, _select(editions, edition)),
        _input(SLT_CHANNEL, slack_wording.SLACK_SETUP_SLT_CHANNEL, channel, optional=True),
        _input(
            DIGEST_DAY,
            slack_wording.SLACK_SETUP_DIGEST_DAY,
            _select(days, str(settings.get("digest_day") or "monday")),
        ),
        _input(
            DIGEST_TIME,
            slack_wording.SLACK_SETUP_DIGEST_TIME,
            {
                "type": "timepicker",
                "action_id": "time",
                "initial_time": str(settings.get("digest_time") or "08:00"),
            },
        ),
        _input(LEADER, slack_wording.SLACK_SETUP_LEADER, leader_element),
        _users(COLLEAGUES, slack_wording.SLACK_SETUP_COLLEAGUES, colleagues),
        _users(SLT, slack_wording.SLACK_SETUP_SLT, slt),
    ]
    return _modal(SETUP, clip(slack_wording.SLACK_SETUP_TITLE, MAX_HEADER), blocks, metadata)


def _users(block_id: str, label: str, initial: Iterable[str]) -> Block:
    element: dict[str, Any] = {"type": "multi_users_select", "action_id": "users"}
    users = list(initial)
    if users:
        element["initial_users"] = users
    return _input(block_id, label, element, optional=True)


# ----- reading a submission --------------------------------------------------------------------


class Values:
    """A submitted view's `state.values`, by block id (each of our blocks has one element)."""

    def __init__(self, view: Mapping[str, Any]) -> None:
        self.values: Mapping[str, Mapping[str, Any]] = view.get("state", {}).get("values", {})

    def raw(self, block_id: str) -> Mapping[str, Any]:
        elements = self.values.get(block_id) or {}
        return next(iter(elements.values()), {}) if elements else {}

    def text(self, block_id: str) -> str:
        """A text input's value, or a select's chosen value; "" when empty."""
        raw = self.raw(block_id)
        if raw.get("selected_option"):
            return str(raw["selected_option"].get("value") or "")
        return str(raw.get("value") or "").strip()

    def users(self, block_id: str) -> list[str]:
        return [str(u) for u in self.raw(block_id).get("selected_users") or []]


def metadata(view: Mapping[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
