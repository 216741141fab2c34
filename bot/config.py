"""The [telegram] section of the config file: the bot's token, polling or webhook, its server."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from core.config import Section

TOKEN_ENV = "CRMBOT_TOKEN"


class WebhookConfig(Section):
    listen: str = "127.0.0.1"
    port: int = Field(default=8443, ge=1, le=65535)
    url: str = ""
    secret_token: SecretStr | None = None
    path: str = "telegram"

    @field_validator("secret_token")
    @classmethod
    def _secret_charset(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and - only.
        if value is not None:
            raw = value.get_secret_value()
            if not (1 <= len(raw) <= 256) or not all(c.isalnum() or c in "_-" for c in raw):
                raise ValueError("must be 1-256 characters of letters, digits, _ and -")
        return value


class TelegramConfig(Section):
    token: SecretStr | None = None
    mode: Literal["polling", "webhook"] = "polling"
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook: WebhookConfig = WebhookConfig()
    concurrent_updates: int = Field(default=32, ge=1, le=1024)
    invite_ttl_days: int = Field(default=7, ge=1, le=365)

    @field_validator("base_url", "base_file_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            bot_id, _, secret = value.get_secret_value().partition(":")
            if not bot_id.isdigit() or not secret:
                raise ValueError("must look like 123456789:ABC... (the token from @BotFather)")
        return value

    @property
    def invite_ttl(self) -> timedelta:
        return timedelta(days=self.invite_ttl_days)
