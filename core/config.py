"""Configuration of the modules: the sections of the TOML file that core's use cases read.

The file as a whole (these sections and the front ends') is read in bootstrap/config.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

CURSOR_SECRET_ENV = "CRMBOT_API_CURSOR_SECRET"
DATABASE_URL_ENV = "CRMBOT_DATABASE_URL"
LANGUAGES = ("en", "zh_Hans")


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names the key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(Section):
    url: str = "sqlite+aiosqlite:///data/crm.db"
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class StorageConfig(Section):
    photos_dir: Path = Path("data/photos")


class OrgConfig(Section):
    name: str = "My sales team"
    timezone: str = "UTC"
    currency: str = "CNY"
    default_language: Literal["en", "zh_Hans"] = "en"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Asia/Shanghai)"
            ) from None
        return value

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha() or not value.isupper():
            raise ValueError("must be a three-letter ISO 4217 code like CNY or EUR")
        return value


class RuleConfig(Section):
    """One scheduled rule: on or off, and the local time it runs at."""

    enabled: bool = True
    at: str = "09:00"

    @field_validator("at")
    @classmethod
    def _clock(cls, value: str) -> str:
        hours, sep, minutes = value.partition(":")
        if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2
                and 0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
            raise ValueError("use HH:MM between 00:00 and 23:59, like 18:00")
        return f"{int(hours):02d}:{minutes}"


class ApprovalSlaConfig(Section):
    enabled: bool = True
    remind_after_hours: int = Field(default=24, ge=1, le=24 * 30)
    escalate_after_hours: int = Field(default=48, ge=1, le=24 * 60)


class FollowUpConfig(RuleConfig):
    at: str = "10:00"
    close_within_days: int = Field(default=3, ge=0, le=90)
    idle_days: int = Field(default=14, ge=1, le=365)


class BackupConfig(RuleConfig):
    """The nightly backup: every day at `at`, into a new dated folder inside `folder`."""

    enabled: bool = False
    at: str = "02:00"
    folder: Path = Path("backups")
    # After a backup is made, only this many of the rule's folders are kept (the newest).
    keep: int = Field(default=7, ge=1, le=3650)


class RemindersConfig(Section):
    # A rule missed while no bot ran is caught up only this long after its time.
    catch_up_minutes: int = Field(default=120, ge=0, le=24 * 60)
    # How often the scheduler looks for due rules (the team's clock decides what is due).
    check_seconds: float = Field(default=30, gt=0, le=600)
    plan_reminder: RuleConfig = RuleConfig(at="18:00")
    log_reminder: RuleConfig = RuleConfig(at="19:00")
    morning_digest: RuleConfig = RuleConfig(at="09:00")
    approval_sla: ApprovalSlaConfig = ApprovalSlaConfig()
    follow_up: FollowUpConfig = FollowUpConfig()
    backup: BackupConfig = BackupConfig()


class CalendarConfig(Section):
    """Working days: ISO weekdays (1 = Monday), minus holidays, plus make-up working days."""

    working_days: list[int] = [1, 2, 3, 4, 5]
    holidays: list[date] = []
    working_weekends: list[date] = []

    @field_validator("working_days")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if not value or any(not 1 <= day <= 7 for day in value):
            raise ValueError("use weekday numbers 1 (Monday) to 7 (Sunday)")
        return sorted(set(value))


class OutboxConfig(Section):
    """The messenger's sending limits the dispatcher keeps to, and how much it takes at a time."""

    messages_per_second: float = Field(default=30, gt=0, le=1000)
    private_per_second: float = Field(default=1, gt=0, le=100)
    group_per_minute: float = Field(default=20, gt=0, le=1000)
    batch: int = Field(default=50, ge=1, le=1000)
    lease_seconds: int = Field(default=60, ge=5, le=3600)


class CheckInConfig(Section):
    """When a shared location counts as a trusted check-in."""

    max_age_seconds: int = Field(default=120, ge=10, le=3600)
    max_accuracy_m: float = Field(default=100, gt=0, le=10_000)
    photo_required: bool = False
    # A photo with a caption sent within this many seconds of a check-in belongs to it.
    photo_window_seconds: int = Field(default=60, ge=0, le=3600)


class CategoryConfig(Section):
    """An expense category: its key, its name in each language, words that suggest it."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    name: str
    name_zh: str = ""
    keywords: list[str] = []


DEFAULT_CATEGORIES = [
    CategoryConfig(key="travel", name="Travel", name_zh="差旅",
                   keywords=["taxi", "train", "flight", "bus", "metro", "fuel", "toll", "parking",
                             "打车", "出租", "高铁", "火车", "机票", "地铁", "油费", "过路费",
                             "停车"]),
    CategoryConfig(key="lodging", name="Lodging", name_zh="住宿",
                   keywords=["hotel", "inn", "酒店", "宾馆", "住宿"]),
    CategoryConfig(key="meals", name="Meals", name_zh="餐费",
                   keywords=["lunch", "dinner", "breakfast", "meal", "午餐", "晚餐", "早餐",
                             "餐"]),
    CategoryConfig(key="entertainment", name="Client entertainment", name_zh="业务招待",
                   keywords=["client dinner", "gift", "entertain", "招待", "礼品", "宴请"]),
    CategoryConfig(key="office", name="Office supplies", name_zh="办公用品",
                   keywords=["printer", "paper", "stationery", "打印", "文具", "办公"]),
    CategoryConfig(key="other", name="Other", name_zh="其他"),
]


class DelegationConfig(Section):
    """While `member` is away, `delegate` decides the approvals waiting for them."""

    member: str
    delegate: str
    until: date | None = None


class ExpensesConfig(Section):
    """Claims: categories, limits, and who approves what."""

    categories: list[CategoryConfig] = DEFAULT_CATEGORIES
    # Larger amounts are refused as typos (in the org's currency).
    max_amount: Decimal = Field(default=Decimal("100000"), gt=0, le=Decimal("999999999999.99"))
    # A receipt photo is required above this amount (0: always).
    receipt_required_above: Decimal = Field(default=Decimal("200"), ge=0)
    # Claims for spending older than this many days are refused.
    max_age_days: int = Field(default=90, ge=1, le=3650)
    # Each threshold an amount exceeds adds the next manager up to the route.
    approval_thresholds: list[Decimal] = [Decimal("5000"), Decimal("20000")]
    # Finance approves last (any member with the finance role).
    finance_step: bool = True
    delegations: list[DelegationConfig] = []

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[CategoryConfig]) -> list[CategoryConfig]:
        if not value:
            raise ValueError("at least one category is needed")
        keys = [c.key for c in value]
        if len(set(keys)) != len(keys):
            raise ValueError("category keys must be unique")
        return value

    @field_validator("approval_thresholds")
    @classmethod
    def _thresholds(cls, value: list[Decimal]) -> list[Decimal]:
        if any(v <= 0 for v in value):
            raise ValueError("thresholds must be positive amounts")
        return sorted(value)


class StageConfig(Section):
    """A stage of the sales pipeline: its key, its name in each language, its probability."""

    # Short: buttons carry two stage keys in their 64 bytes of callback data.
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,15}$")
    name: str = Field(min_length=1, max_length=40)
    name_zh: str = Field(default="", max_length=40)
    # The chance of winning at this stage, in percent: the default of an opportunity's.
    probability: int = Field(ge=0, le=100)
    # "won" or "lost" makes the stage terminal; "" keeps the opportunity open.
    outcome: Literal["won", "lost", ""] = ""


DEFAULT_STAGES = [
    StageConfig(key="lead", name="Lead", name_zh="线索", probability=10),
    StageConfig(key="qualified", name="Qualified", name_zh="已确认", probability=25),
    StageConfig(key="proposal", name="Proposal", name_zh="方案报价", probability=50),
    StageConfig(key="negotiation", name="Negotiation", name_zh="商务谈判", probability=75),
    StageConfig(key="won", name="Won", name_zh="赢单", probability=100, outcome="won"),
    StageConfig(key="lost", name="Lost", name_zh="输单", probability=0, outcome="lost"),
]


class PipelineConfig(Section):
    """Opportunities: the stages in order, and the largest believable amount."""

    stages: list[StageConfig] = DEFAULT_STAGES
    # Larger amounts are refused as typos (in the org's currency).
    max_amount: Decimal = Field(default=Decimal("100000000"), gt=0,
                                le=Decimal("999999999999.99"))

    @field_validator("stages")
    @classmethod
    def _stages(cls, value: list[StageConfig]) -> list[StageConfig]:
        keys = [s.key for s in value]
        if len(set(keys)) != len(keys):
            raise ValueError("stage keys must be unique")
        outcomes = [s.outcome for s in value]
        if outcomes.count("won") != 1 or outcomes.count("lost") != 1:
            raise ValueError('exactly one stage has outcome "won" and one "lost"')
        if "" not in outcomes:
            raise ValueError("at least one open stage (outcome \"\") is needed")
        return value


class ApiTokenConfig(Section):
    """A bearer token of the finance API and what it may do."""

    name: str
    token: SecretStr
    scopes: list[Literal["claims:read", "claims:post"]] = ["claims:read"]

    @field_validator("token")
    @classmethod
    def _long(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 24:
            raise ValueError("must be at least 24 characters (a long random string)")
        return value


class ApiConfig(Section):
    """The HTTP API for the finance system (`crmbot api`)."""

    listen: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    tokens: list[ApiTokenConfig] = []
    # Signs page cursors: a server secret, so that holding a token is not enough to forge one.
    cursor_secret: SecretStr | None = None
    page_size: int = Field(default=1000, ge=1, le=10_000)

    @field_validator("tokens")
    @classmethod
    def _distinct_tokens(cls, value: list[ApiTokenConfig]) -> list[ApiTokenConfig]:
        # One secret under two names would be the last one's, whatever the first was for;
        # one name for two tokens would make the audit log ambiguous.
        names = [t.name for t in value]
        if len(set(names)) != len(names):
            raise ValueError("each token needs its own name")
        secrets = [t.token.get_secret_value() for t in value]
        if len(set(secrets)) != len(secrets):
            shared = sorted({t.name for t in value
                             if secrets.count(t.token.get_secret_value()) > 1})
            raise ValueError(f"tokens {', '.join(shared)} share one secret; give each its own")
        return value

    @field_validator("cursor_secret")
    @classmethod
    def _cursor_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (a long random string)")
        if value is not None and any(
                t.token.get_secret_value() == value.get_secret_value()
                for t in info.data.get("tokens", [])):
            raise ValueError("must differ from every token (a client would hold it)")
        return value

    def require_cursor_secret(self) -> bytes:
        """The cursor secret, or ConfigError when none is configured."""
        if self.cursor_secret is None:
            raise ConfigError(
                f"api.cursor_secret: missing (at least 32 random characters; set it in the "
                f"config file or in {CURSOR_SECRET_ENV})")
        return self.cursor_secret.get_secret_value().encode("utf-8")

    def require_servable(self) -> None:
        """ConfigError unless the API has what it needs to answer anyone."""
        if not self.tokens:
            raise ConfigError("api.tokens: none configured, so every call would be refused")
        self.require_cursor_secret()
