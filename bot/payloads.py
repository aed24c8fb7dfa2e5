"""Reading what Slack and Teams send, defensively: a malformed body is a 4xx, never a 500.

Bodies are bounded before they are parsed (size by aiohttp's `client_max_size`, nesting
here), and the fields the adapters rely on are checked for their type once, at the door,
so a handler never meets a string where it expects an object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

MAX_DEPTH = 64  # real payloads nest a dozen levels; 100,000 brackets must not reach json


class PayloadError(ValueError):
    """Why a body cannot be read (said in the 400)."""


def nesting(text: str) -> int:
    """How deep [ and { nest in a JSON text, strings skipped: checked before parsing."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def bounded_json(text: str) -> Any:
    """JSON with its nesting bounded; PayloadError for anything else."""
    if nesting(text) > MAX_DEPTH:
        raise PayloadError("the body nests too deeply")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"the body is not JSON: {exc}") from exc


def decoded(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("the body is not UTF-8") from exc


def _optional(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> None:
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        raise PayloadError(f"'{key}' has the wrong type")


def slack_body(text: str, content_type: str) -> dict[str, Any]:
    """A Slack request body (events API JSON, or a form with a `payload` or a command),
    checked for the shapes the adapter reads."""
    if "application/json" in content_type:
        data = bounded_json(text)
        if not isinstance(data, dict):
            raise PayloadError("expected a JSON object")
        _optional(data, "type", str)
        if data.get("type") == "event_callback":
            event = data.get("event")
            if not isinstance(event, dict):
                raise PayloadError("'event' must be an object")
            for key in ("type", "text", "user", "channel", "channel_type", "subtype", "ts"):
                _optional(event, key, str)
        return data
    form = {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}
    if "payload" in form:
        payload = bounded_json(form["payload"])
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            raise PayloadError("'payload' must be an object with a type")
        _optional(payload, "actions", list)
        for action in payload.get("actions") or []:
            if not isinstance(action, dict):
                raise PayloadError("each action must be an object")
            for key in ("action_id", "block_id", "value"):
                _optional(action, key, str)
        for key in ("view", "user", "team", "container", "message", "channel"):
            _optional(payload, key, dict)
        view = payload.get("view")
        if isinstance(view, dict):
            _optional(view, "state", dict)
            state = view.get("state")
            if isinstance(state, dict):
                _optional(state, "values", dict)
        return payload
    return form


def teams_activity(text: str) -> dict[str, Any]:
    """A Bot Framework activity as JSON, checked for the shapes the Teams adapter reads."""
    data = bounded_json(text)
    if not isinstance(data, dict):
        raise PayloadError("expected an activity object")
    if not isinstance(data.get("type"), str):
        raise PayloadError("an activity needs a type")
    for key in ("text", "id", "serviceUrl", "channelId", "replyToId", "name"):
        _optional(data, key, str)
    for key in ("from", "recipient", "conversation", "channelData"):
        _optional(data, key, dict)
    for key in ("membersAdded", "membersRemoved", "entities", "attachments"):
        _optional(data, key, list)
    if data.get("type") == "invoke":
        _optional(data, "value", dict)
    if data.get("type") == "message" and "value" in data:
        _optional(data, "value", dict)
    return data
