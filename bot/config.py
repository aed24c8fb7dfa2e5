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


@cache
def get_settings() -> Settings:
    return Settings()
