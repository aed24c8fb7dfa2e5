"""Microsoft Teams: the review, actions, set-up and digests through the Bot Framework.

`setup_teams(app)` adds `POST /api/messages` to the aiohttp app; `send_proactive` and
`send_to_member` let the scheduler speak first through stored conversation references.
See docs/teams.md for registration and install.
"""

from bot.teams.adapter import check_settings, setup_teams
from bot.teams.proactive import send_proactive, send_to_member
from bot.teams.runtime import TEAMS, TEAMS_SDK_CONFIG, TeamsRuntime

__all__ = [
    "TEAMS",
    "TEAMS_SDK_CONFIG",
    "TeamsRuntime",
    "check_settings",
    "send_proactive",
    "send_to_member",
    "setup_teams",
]
