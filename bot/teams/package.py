"""The Teams app package (`careers-bot teams-package`): manifest.json and two icons, zipped.

An IT admin uploads the zip in the Teams admin centre (or sideloads it) once per tenant.
The manifest names the bot by its Azure app id, lists its commands for personal chats and
teams, and allows the domain of PUBLIC_URL. The icons are drawn here with Pillow (four rising
bars: the four maturity levels), so the package needs no binary files in the repository.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, ImageDraw

from bot.config import Settings
from bot.teams import wording as teams_wording

MANIFEST_VERSION = "1.17"
SCHEMA = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/"
    f"v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
)
ACCENT = "#1F4E79"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
FILE_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same settings give the same zip
DEFAULT_FILENAME = "careers-impact-bot-teams.zip"


class PackageError(ValueError):
    """Settings a Teams app package cannot be built from (the message says which)."""


def _version() -> str:
    try:
        return metadata.version("careers-impact-bot")
    except metadata.PackageNotFoundError:  # running from a checkout that is not installed
        return "0.1.0"


def manifest(settings: Settings) -> dict[str, Any]:
    app_id = settings.microsoft_app_id.strip()
    if not GUID.match(app_id):
        raise PackageError(
            "MICROSOFT_APP_ID must be the bot's Microsoft App ID from its Azure Bot registration "
            f"(a GUID such as 3f1c2b4a-9d8e-4f7a-b6c5-d4e3f2a1b0c9), not {app_id!r}."
        )
    url = settings.public_url.rstrip("/")
    host = urlsplit(url).hostname
    if not host:
        raise PackageError(f"PUBLIC_URL {settings.public_url!r} has no host name.")
    return {
        "$schema": SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": _version(),
        "id": app_id,
        "developer": {
            "name": teams_wording.TEAMS_APP_NAME_SHORT,
            "websiteUrl": url,
            "privacyUrl": f"{url}/privacy",
            "termsOfUseUrl": f"{url}/terms",
        },
        "name": {
            "short": teams_wording.TEAMS_APP_NAME_SHORT,
            "full": teams_wording.TEAMS_APP_NAME_FULL,
        },
        "description": {
            "short": teams_wording.TEAMS_APP_DESCRIPTION_SHORT,
            "full": teams_wording.TEAMS_APP_DESCRIPTION_FULL,
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT,
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal", "team"],
                "supportsFiles": True,  # the plan as a document, through file consent cards
                "isNotificationOnly": False,
                "commandLists": [
                    {
                        "scopes": [scope],
                        "commands": [
                            {"title": title, "description": description}
                            for title, description in commands
                        ],
                    }
                    for scope, commands in teams_wording.TEAMS_APP_COMMANDS.items()
                ],
            }
        ],
        # A personal tab next to the chat. It cannot tell who opens it without the Teams
        # JavaScript SDK's sign-in, so its page opens no school's figures: it says to type
        # `dashboard` in the chat for a signed link made for that person (docs/teams.md).
        "staticTabs": [
            {"entityId": "conversations", "scopes": ["personal"]},
            {
                "entityId": "dashboard",
                "name": teams_wording.TEAMS_TAB_NAME,
                "contentUrl": f"{url}/dashboard/teams",
                "websiteUrl": f"{url}/dashboard/teams",
                "scopes": ["personal"],
            },
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "defaultInstallScope": "personal",
        "validDomains": [host],
    }


def _bars(draw: ImageDraw.ImageDraw, size: int, margin: int, fill: Any) -> None:
    """Four rising bars, one per maturity level."""
    width = size - 2 * margin
    gap = max(1, width // 14)
    bar = (width - 3 * gap) // 4
    for level in range(4):
        left = margin + level * (bar + gap)
        top = size - margin - (width * (level + 1)) // 4
        draw.rectangle((left, top, left + bar - 1, size - margin - 1), fill=fill)


def color_icon() -> bytes:
    """192x192, full colour: white bars on the accent colour."""
    image = Image.new("RGB", (192, 192), ACCENT)
    _bars(ImageDraw.Draw(image), 192, 36, (255, 255, 255))
    return _png(image)


def outline_icon() -> bytes:
    """32x32, white on a transparent background, as Teams requires for the outline icon."""
    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    _bars(ImageDraw.Draw(image), 32, 4, (255, 255, 255, 255))
    return _png(image)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def build_package(settings: Settings) -> bytes:
    """The zip to upload in Teams: manifest.json, color.png and outline.png at its root."""
    files = {
        "manifest.json": json.dumps(manifest(settings), indent=2, ensure_ascii=False).encode(),
        "color.png": color_icon(),
        "outline.png": outline_icon(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in files.items():
            package.writestr(zipfile.ZipInfo(name, FILE_TIME), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
