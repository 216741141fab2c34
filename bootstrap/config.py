"""The config file: a TOML file read with tomllib into validated pydantic models, one section
per module (core/config.py) and per front end (the bot's [telegram], the API's [api])."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import Field, ValidationError

from bootstrap.logs import LoggingConfig
from bot.config import TOKEN_ENV, TelegramConfig
from core.config import (
    CURSOR_SECRET_ENV,
    DATABASE_URL_ENV,
    ApiConfig,
    CalendarConfig,
    CheckInConfig,
    ConfigError,
    DatabaseConfig,
    ExpensesConfig,
    OrgConfig,
    OutboxConfig,
    PipelineConfig,
    RemindersConfig,
    Section,
    StorageConfig,
)
from web.config import WEB_PORT_ENV, WebConfig

CONFIG_ENV = "CRMBOT_CONFIG"
# The health port of one of several processes on a machine (a systemd instance's own).
HEALTH_PORT_ENV = "CRMBOT_HEALTH_PORT"
# Values the environment sets over the file: the secrets, and what differs per process.
ENV_OVERRIDES = (
    (TOKEN_ENV, "telegram", "token"),
    (CURSOR_SECRET_ENV, "api", "cursor_secret"),
    (DATABASE_URL_ENV, "database", "url"),
    (HEALTH_PORT_ENV, "health", "port"),
    (WEB_PORT_ENV, "web", "port"),
)


class HealthConfig(Section):
    """Where `crmbot run` answers /healthz, /readyz and /metrics; port 0 turns it off."""

    listen: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)


class Config(Section):
    telegram: TelegramConfig = TelegramConfig()
    database: DatabaseConfig = DatabaseConfig()
    storage: StorageConfig = StorageConfig()
    logging: LoggingConfig = LoggingConfig()
    org: OrgConfig = OrgConfig()
    reminders: RemindersConfig = RemindersConfig()
    calendar: CalendarConfig = CalendarConfig()
    outbox: OutboxConfig = OutboxConfig()
    checkin: CheckInConfig = CheckInConfig()
    expenses: ExpensesConfig = ExpensesConfig()
    api: ApiConfig = ApiConfig()
    pipeline: PipelineConfig = PipelineConfig()
    health: HealthConfig = HealthConfig()
    web: WebConfig = WebConfig()

    def require_token(self) -> str:
        """The bot token, or ConfigError when none is configured."""
        if self.telegram.token is None:
            raise ConfigError(
                f"telegram.token: missing (set it in the config file or in {TOKEN_ENV})"
            )
        return self.telegram.token.get_secret_value()


def _first_error(error: ValidationError) -> str:
    detail = error.errors()[0]
    # A quoted TOML key may hold any character; keep the message on one line.
    key = ".".join(part if isinstance(part, str) and part.isprintable() else repr(part)
                   for part in detail["loc"])
    message = detail["msg"].removeprefix("Value error, ")
    if detail["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{key}: {message}" if key else message


def parse_config(data: dict, *, env: dict[str, str] | None = None) -> Config:
    """Validate a config mapping; the secrets may come from the environment."""
    env = os.environ if env is None else env
    for variable, section, key in ENV_OVERRIDES:
        table = data.get(section) or {}
        # Not a table: left alone, so validation names the section instead of crashing here.
        if env.get(variable) and isinstance(table, dict):
            data = {**data, section: {**table, key: env[variable]}}
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_first_error(error)) from None
    if config.telegram.mode == "webhook" and not config.telegram.webhook.url:
        raise ConfigError('telegram.webhook.url: required when telegram.mode is "webhook"')
    return config


def load_config(path: str | Path | None = None, *, env: dict[str, str] | None = None) -> Config:
    """Read the config from `path`, else $CRMBOT_CONFIG, else ./config.toml."""
    env = os.environ if env is None else env
    chosen = Path(path or env.get(CONFIG_ENV) or "config.toml")
    try:
        with chosen.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{chosen}: config file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{chosen}: not valid TOML ({error})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{chosen}: not valid TOML (the file must be UTF-8 text)") from None
    except OSError as error:
        raise ConfigError(f"{chosen}: cannot read the config file ({error.strerror})") from None
    return parse_config(data, env=env)
