"""The aiohttp app's shared objects, in a module of their own so every adapter can import them."""

from __future__ import annotations

from aiohttp import web

from bot.config import Settings
from bot.notify import Notifier
from bot.reviews import ReviewService
from bot.workspaces import WorkspaceService
from storage.db import Database

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
SERVICE = web.AppKey("service", ReviewService)
# Which school a workspace is, set-up, roles, uninstall: shared by the chat channels.
WORKSPACES = web.AppKey("workspaces", WorkspaceService)
# Chat channels register how to send reminders and digests here (channel name -> Notifier).
NOTIFIERS = web.AppKey("notifiers", dict[str, Notifier])


class ConfigurationError(Exception):
    """Settings that must not start a server (e.g. an empty Slack signing secret)."""
