"""The config file: defaults, one-line errors naming the key, the token kept secret."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bootstrap.config import Config, load_config, parse_config
from core.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def refusal(data: dict, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, env=env or {})
    message = str(caught.value)
    assert "\n" not in message, f"not one line: {message!r}"
    return message


def test_an_empty_file_gives_the_defaults():
    config = parse_config({}, env={})
    assert config.telegram.token is None
    assert config.telegram.mode == "polling"
    assert config.telegram.base_url == "https://api.telegram.org/bot"
    assert config.telegram.webhook.port == 8443
    assert config.telegram.webhook.listen == "127.0.0.1"
    assert config.telegram.concurrent_updates == 32
    assert config.telegram.invite_ttl == timedelta(days=7)
    assert config.database.url == "sqlite+aiosqlite:///data/crm.db"
    assert config.database.echo is False
    assert config.storage.photos_dir == Path("data/photos")
    assert config.org.timezone == "UTC"
    assert config.org.currency == "CNY"
    assert config.org.default_language == "en"


def test_a_missing_token_is_refused_only_when_the_bot_needs_it():
    config = parse_config({}, env={})
    with pytest.raises(ConfigError, match=r"^telegram\.token: missing .*CRMBOT_TOKEN"):
        config.require_token()
    assert parse_config({"telegram": {"token": TOKEN}}, env={}).require_token() == TOKEN


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"telegram": {"mode": "carrier-pigeon"}}, "telegram.mode: "),
        ({"telegram": {"token": "not-a-token"}}, "telegram.token: "),
        ({"telegram": {"token": "abc:def"}}, "telegram.token: "),
        ({"telegram": {"token": "123456:"}}, "telegram.token: "),
        ({"telegram": {"base_url": "ftp://example.org/bot"}}, "telegram.base_url: "),
        ({"telegram": {"concurrent_updates": 0}}, "telegram.concurrent_updates: "),
        ({"telegram": {"invite_ttl_days": 366}}, "telegram.invite_ttl_days: "),
        ({"telegram": {"webhook": {"port": 0}}}, "telegram.webhook.port: "),
        ({"telegram": {"webhook": {"port": 65536}}}, "telegram.webhook.port: "),
        ({"telegram": {"webhook": {"port": "high"}}}, "telegram.webhook.port: "),
        ({"telegram": {"webhook": {"secret_token": "has spaces"}}},
         "telegram.webhook.secret_token: "),
        ({"telegram": {"webhook": {"secret_token": "x" * 257}}},
         "telegram.webhook.secret_token: "),
        ({"database": {"url": "mysql://localhost/crm"}}, "database.url: "),
        ({"database": {"url": "sqlite:///crm.db"}}, "database.url: "),
        ({"org": {"timezone": "Mars/Olympus_Mons"}}, "org.timezone: unknown time zone "),
        ({"org": {"timezone": "../../etc/passwd"}}, "org.timezone: unknown time zone "),
        ({"org": {"timezone": ""}}, "org.timezone: unknown time zone "),
        ({"org": {"currency": "yuan"}}, "org.currency: "),
        ({"org": {"currency": "cny"}}, "org.currency: "),
        ({"org": {"default_language": "fr"}}, "org.default_language: "),
        ({"telegram": {"tokn": TOKEN}}, "telegram.tokn: unknown key"),
        ({"telegram": {"webhook": {"prot": 80}}}, "telegram.webhook.prot: unknown key"),
        ({"databse": {}}, "databse: unknown key"),
        ({"telegram": "polling"}, "telegram: "),
    ],
)
def test_a_bad_value_is_refused_in_one_line_naming_its_key(data, expected):
    assert refusal(data).startswith(expected)


def test_an_unknown_key_is_reported_as_unknown():
    assert refusal({"telegram": {"tokn": TOKEN}}) == "telegram.tokn: unknown key"


def test_an_unknown_time_zone_is_named_in_the_message():
    message = refusal({"org": {"timezone": "Mars/Olympus_Mons"}})
    assert message.startswith("org.timezone: unknown time zone 'Mars/Olympus_Mons'")


def test_webhook_mode_needs_the_public_url():
    message = refusal({"telegram": {"mode": "webhook"}})
    assert message.startswith("telegram.webhook.url: required")
    config = parse_config(
        {"telegram": {"mode": "webhook", "webhook": {"url": "https://crm.example.org/hook"}}},
        env={})
    assert config.telegram.webhook.url == "https://crm.example.org/hook"


@given(st.text(min_size=1, max_size=20).filter(
    lambda k: k not in Config.model_fields["telegram"].annotation.model_fields))
def test_any_unknown_key_gives_one_line_naming_it(key):
    message = refusal({"telegram": {key: 1}})
    assert message.startswith("telegram.")
    assert message.endswith(": unknown key")


def test_the_environment_token_wins_over_the_file():
    config = parse_config({"telegram": {"token": "1:from-file"}}, env={"CRMBOT_TOKEN": TOKEN})
    assert config.require_token() == TOKEN
    config = parse_config({}, env={"CRMBOT_TOKEN": TOKEN})
    assert config.require_token() == TOKEN


def test_an_empty_environment_token_leaves_the_file_token():
    config = parse_config({"telegram": {"token": "1:from-file"}}, env={"CRMBOT_TOKEN": ""})
    assert config.require_token() == "1:from-file"


def test_a_bad_environment_token_is_refused_as_the_token():
    assert refusal({}, env={"CRMBOT_TOKEN": "garbage"}).startswith("telegram.token: ")


def test_a_telegram_value_that_is_not_a_table_is_refused_even_with_an_environment_token():
    message = refusal({"telegram": "polling"}, env={"CRMBOT_TOKEN": TOKEN})
    assert message.startswith("telegram: ")


def test_the_environment_database_url_wins_over_the_file():
    url = "postgresql+asyncpg://crmbot:s3cret@postgres:5432/crmbot"
    config = parse_config({"database": {"url": "sqlite+aiosqlite:///data/crm.db", "echo": True}},
                          env={"CRMBOT_DATABASE_URL": url})
    assert (config.database.url, config.database.echo) == (url, True)
    assert parse_config({}, env={"CRMBOT_DATABASE_URL": url}).database.url == url


def test_an_empty_environment_database_url_leaves_the_file_url():
    config = parse_config({"database": {"url": "sqlite+aiosqlite:///crm.db"}},
                          env={"CRMBOT_DATABASE_URL": ""})
    assert config.database.url == "sqlite+aiosqlite:///crm.db"


def test_an_unsupported_environment_database_url_is_refused_as_the_url():
    message = refusal({}, env={"CRMBOT_DATABASE_URL": "mysql://crm@db/crm"})
    assert message.startswith("database.url: must start with")


def test_the_environment_health_port_wins_over_the_file():
    config = parse_config({"health": {"listen": "0.0.0.0", "port": 8081}},
                          env={"CRMBOT_HEALTH_PORT": "8082"})
    assert (config.health.listen, config.health.port) == ("0.0.0.0", 8082)


def test_a_bad_environment_health_port_is_refused_as_the_port():
    assert refusal({}, env={"CRMBOT_HEALTH_PORT": "eighty"}).startswith("health.port: ")


def test_the_token_never_shows_in_printed_or_dumped_config():
    config = parse_config({"telegram": {"token": TOKEN}}, env={})
    secret_part = TOKEN.split(":")[1]
    for shown in (str(config), repr(config), config.model_dump_json(), str(config.telegram),
                  repr(config.telegram), str(config.model_dump())):
        assert secret_part not in shown


def test_the_webhook_secret_never_shows_in_printed_config():
    secret = "very-secret-webhook-value"
    config = parse_config({"telegram": {"webhook": {"secret_token": secret}}}, env={})
    assert config.telegram.webhook.secret_token.get_secret_value() == secret
    for shown in (str(config), repr(config), config.model_dump_json()):
        assert secret not in shown


def test_a_refused_token_is_not_echoed_in_the_error():
    message = refusal({"telegram": {"token": "abc:supersecretvalue"}})
    assert "supersecretvalue" not in message


def test_the_config_is_frozen():
    config = parse_config({}, env={})
    with pytest.raises(ValueError):
        config.org.currency = "EUR"


# Files.


def test_a_config_file_is_read(tmp_path):
    path = tmp_path / "crm.toml"
    path.write_text('[org]\nname = "Harbor"\ntimezone = "Asia/Shanghai"\n', encoding="utf-8")
    config = load_config(path, env={})
    assert (config.org.name, config.org.timezone) == ("Harbor", "Asia/Shanghai")


def test_the_config_path_may_come_from_the_environment(tmp_path):
    path = tmp_path / "crm.toml"
    path.write_text('[org]\ncurrency = "EUR"\n', encoding="utf-8")
    assert load_config(env={"CRMBOT_CONFIG": str(path)}).org.currency == "EUR"


def test_a_missing_config_file_is_named(tmp_path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_config(path, env={})


def test_invalid_toml_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[telegram\ntoken = "1:x"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    message = str(caught.value)
    assert message.startswith(f"{path}: not valid TOML")
    assert "\n" not in message


def test_a_config_file_not_in_utf8_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "gbk.toml"
    path.write_bytes('[org]\nname = "销售团队"\n'.encode("gbk"))
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: "):
        load_config(path, env={})


def test_a_directory_given_as_config_file_is_refused_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(tmp_path))}: "):
        load_config(tmp_path, env={})


def test_a_bad_value_in_a_file_names_the_key(tmp_path):
    path = tmp_path / "crm.toml"
    path.write_text('[telegram.webhook]\nport = 99999\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^telegram\.webhook\.port: "):
        load_config(path, env={})


# The example shipped at the repository root.


def test_the_example_config_loads_with_its_placeholder_token():
    config = load_config(EXAMPLE, env={})
    assert config.require_token() == "123456789:replace-with-your-token"


def test_the_example_config_shows_the_defaults():
    shown = load_config(EXAMPLE, env={}).model_dump(exclude={"telegram": {"token"}})
    assert shown == Config().model_dump(exclude={"telegram": {"token"}})


_KEY_LINE = re.compile(r"^#?\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*\S")
_TABLE = re.compile(r"^\[([A-Za-z0-9_.]+)\]\s*$")


def _example_lines() -> list[str]:
    return [line.strip() for line in EXAMPLE.read_text(encoding="utf-8").splitlines()]


def test_every_key_in_the_example_config_is_explained_by_a_comment():
    lines = _example_lines()
    unexplained = []
    for number, line in enumerate(lines):
        if not _KEY_LINE.match(line):
            continue
        # Walk up through the key lines of this block to the comment that explains them.
        above = number - 1
        while above >= 0 and _KEY_LINE.match(lines[above]):
            above -= 1
        if above < 0 or not lines[above].startswith("#"):
            unexplained.append(f"line {number + 1}: {line}")
    assert not unexplained, "keys without a comment above them:\n" + "\n".join(unexplained)


def _leaf_fields(model: type, prefix: str = "") -> set[str]:
    names = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            names |= _leaf_fields(annotation, f"{prefix}{name}.")
        else:
            names.add(f"{prefix}{name}")
    return names


def test_the_example_config_mentions_every_setting():
    table, shown = "", set()
    for line in _example_lines():
        if header := _TABLE.match(line):
            table = header[1] + "."
        elif key := _KEY_LINE.match(line):
            shown.add(table + key[1])
    assert _leaf_fields(Config) - shown == set()
    assert shown - _leaf_fields(Config) == set()


def test_the_example_config_is_plain_toml():
    with EXAMPLE.open("rb") as handle:
        assert set(tomllib.load(handle)) == set(Config.model_fields)
