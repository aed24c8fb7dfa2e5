"""One settings object, read from the environment and an optional `.env` file."""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default an SQLite file in the user's data directory.",
    )
    careers_bot_env: str = Field(default="development", description="development or production")
    default_organisation: str = Field(
        default="My school", description="Organisation used by `careers-bot chat` without --org."
    )
    default_edition: str = Field(default="school", description="school or college")

    # Slack
    slack_signing_secret: str | None = Field(default=None, description="Slack app signing secret")
    slack_bot_token: str | None = Field(default=None, description="xoxb- token for one workspace")
    slack_client_id: str | None = Field(default=None, description="for multi-workspace OAuth")
    slack_client_secret: str | None = Field(default=None, description="for multi-workspace OAuth")
    slack_app_token: str | None = Field(default=None, description="xapp- token for Socket Mode")
    socket_mode: bool = Field(
        default=False, description="use Slack Socket Mode (serve --socket-mode)"
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/",
        description="Slack Web API base URL (tests point it locally)",
    )

    # Microsoft Teams (Bot Framework)
    teams_enabled: bool = Field(
        default=True, description="serve /api/messages (false for a Slack-only deployment)"
    )
    microsoft_app_id: str = Field(default="", description="Azure bot registration app id")
    microsoft_app_password: str = Field(default="", description="client secret")
    microsoft_app_tenant_id: str = Field(default="", description="tenant, for SingleTenant bots")
    microsoft_app_type: str = Field(
        default="MultiTenant", description="MultiTenant or SingleTenant"
    )

    # Reminders and the weekly digest (`careers-bot serve` turns the scheduler on)
    scheduler_enabled: bool = Field(default=False, description="run reminder and digest sweeps")
    sweep_seconds: float = Field(default=60, description="how often the scheduler sweeps")
    delivery_lease_seconds: float = Field(
        default=30,
        gt=0,
        description="how long a claimed reminder or digest is held before another replica "
        "may take it over (renewed every third of it while sending; docs/delivery.md)",
    )

    plan_link_secret: str | None = Field(
        default=None, description="signs the full-plan links in digests (none: no links)"
    )

    # Public URL of `careers-bot serve` (Teams valid domains, Slack OAuth redirect)
    public_url: str = Field(default="http://localhost:3978", description="https URL of the bot")

    @property
    def production(self) -> bool:
        return self.careers_bot_env.lower() == "production"

    @property
    def slack_configured(self) -> bool:
        """Slack is on when a signing secret is given (it may be set but empty: refused)."""
        return self.slack_signing_secret is not None

    @property
    def slack_oauth(self) -> bool:
        return bool(self.slack_client_id and self.slack_client_secret)


@cache
def get_settings() -> Settings:
    return Settings()
