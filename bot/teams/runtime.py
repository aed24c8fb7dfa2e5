"""What the Teams adapter keeps on the aiohttp app while it runs (no module-level state)."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import web
from botbuilder.core import ActivityHandler

from bot.teams.sending import RetryingCloudAdapter
from bot.teams.work import BackgroundWork


@dataclass
class TeamsRuntime:
    adapter: RetryingCloudAdapter  # a CloudAdapter whose sends and updates are retried
    # The activity handler (bot.teams.bot.CareersBot), typed by its SDK base class so this
    # module never imports bot.py: bot.py -> proactive.py -> runtime.py stays acyclic.
    bot: ActivityHandler
    work: BackgroundWork
    app_id: str  # "" in local mode (Bot Framework Emulator, tests)
    http: aiohttp.ClientSession  # uploads to OneDrive

    @property
    def local(self) -> bool:
        return not self.app_id


TEAMS = web.AppKey("teams", TeamsRuntime)

# Extra Bot Framework configuration, in the SDK's own names (e.g.
# TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL, TO_BOT_FROM_CHANNEL_TOKEN_ISSUER, CHANNEL_SERVICE),
# for sovereign clouds and for tests that serve their own signing keys. Set it on the app
# before it starts; the adapter is built at start-up.
TEAMS_SDK_CONFIG = web.AppKey("teams_sdk_config", dict)
