"""The shipped deployment: the image, the containers and the systemd units run an active bot, a
standby and the finance API, with the secrets from the environment and a valid config."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from bootstrap.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CONFIG_IN_CONTAINER = "/etc/crmbot/config.toml"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
# Each crmbot service, the subcommand it runs and the port of its /healthz.
CRMBOT_SERVICES = {"bot": ("run", 8081), "bot-standby": ("run", 8081), "api": ("api", 8080),
                   "web": ("web", 8090)}
SAMPLE_ENV = {
    "POSTGRES_PASSWORD": "9f2c41d07be35a68",
    "CRMBOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
    "CRMBOT_API_CURSOR_SECRET": "k3Vn8qXw2LrT6yPz0bHc5mJd9sFg4aEu",
}
REQUIRED_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z_]+):\?[^}]*\}")
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|DATABASE_URL")


def interpolate(value: str, env: dict[str, str]) -> str:
    """A compose value with its ${VAR:?message} references replaced from `env`."""
    return REQUIRED_VARIABLE.sub(lambda found: env[found["name"]], value)


def environment(service: str) -> dict[str, str]:
    return SERVICES[service].get("environment", {})


def instructions(stage: str | None = None) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined;
    with `stage="final"`, only those after the last FROM."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, arguments = line.strip().partition(" ")
            found.append((keyword.upper(), " ".join(arguments.split())))
    if stage == "final":
        last_from = max(i for i, (keyword, _) in enumerate(found) if keyword == "FROM")
        return found[last_from:]
    return found


def arguments(keyword: str, stage: str | None = None) -> list[str]:
    return [args for kw, args in instructions(stage) if kw == keyword]


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read(DEPLOY / "systemd" / name, encoding="utf-8")
    return parser


def compose_command() -> list[str] | None:
    """`docker compose` or `docker-compose`, whichever works here without a daemon."""
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


# --- docker-compose.yml ----------------------------------------------------------------------


def test_compose_runs_the_database_two_bots_the_api_and_the_dashboard():
    assert set(SERVICES) == {"postgres", "bot", "bot-standby", "api", "web"}


@pytest.mark.parametrize("service", CRMBOT_SERVICES)
def test_each_crmbot_service_runs_its_command_on_the_mounted_config(service):
    command, _ = CRMBOT_SERVICES[service]
    settings = SERVICES[service]
    assert settings["image"] == SERVICES["bot"]["image"]
    assert settings["command"] == [command, "--config", CONFIG_IN_CONTAINER]
    assert f"./deploy/config.toml:{CONFIG_IN_CONTAINER}:ro" in settings["volumes"]
    assert settings["restart"] == "unless-stopped"


@pytest.mark.parametrize("service", CRMBOT_SERVICES)
def test_each_crmbot_service_checks_healthz_on_its_port(service):
    _, port = CRMBOT_SERVICES[service]
    check = SERVICES[service]["healthcheck"]["test"]
    assert check[0] == "CMD"
    assert check[1] == "python"
    assert f"urllib.request.urlopen('http://127.0.0.1:{port}/healthz'" in check[-1]


def test_the_healthchecks_ask_the_ports_the_container_config_listens_on():
    config = load_config(DEPLOY / "config.toml", env={})
    assert (config.health.listen, config.health.port) == ("0.0.0.0", 8081)
    assert (config.api.listen, config.api.port) == ("0.0.0.0", 8080)
    assert SERVICES["api"]["ports"] == ["8080:8080"]


def test_postgres_is_checked_with_pg_isready():
    postgres = SERVICES["postgres"]
    assert postgres["image"] == "postgres:17"
    assert "pg_isready" in postgres["healthcheck"]["test"]


def test_the_database_and_the_photos_are_kept_in_declared_volumes():
    assert {"pgdata", "photos"} <= set(COMPOSE["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    for service in CRMBOT_SERVICES:
        assert "photos:/data/photos" in SERVICES[service]["volumes"]


def test_the_bots_keep_their_nightly_backups_in_a_declared_volume():
    config = load_config(DEPLOY / "config.toml", env={})
    assert config.reminders.backup.enabled
    assert "backups" in COMPOSE["volumes"]
    for service in ("bot", "bot-standby"):
        assert f"backups:{config.reminders.backup.folder}" in SERVICES[service]["volumes"]


@pytest.mark.parametrize("service", CRMBOT_SERVICES)
def test_each_crmbot_service_waits_for_a_healthy_database(service):
    assert SERVICES[service]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_no_secret_is_written_in_the_compose_file():
    for service, settings in SERVICES.items():
        for name, value in settings.get("environment", {}).items():
            if not SECRET_NAME.search(name):
                continue
            assert REQUIRED_VARIABLE.search(value), f"{service} {name}: {value}"
            unset = REQUIRED_VARIABLE.sub("", value)
            if name.endswith("_URL"):
                assert not urlsplit(unset).password, f"{service} {name}: {value}"
            else:
                assert unset == "", f"{service} {name}: {value}"


def test_each_service_gets_only_the_secrets_it_needs():
    secrets = {service: {name for name in environment(service) if SECRET_NAME.search(name)}
               for service in SERVICES}
    assert secrets == {
        "postgres": {"POSTGRES_PASSWORD"},
        "bot": {"CRMBOT_TOKEN", "CRMBOT_DATABASE_URL"},
        "bot-standby": {"CRMBOT_TOKEN", "CRMBOT_DATABASE_URL"},
        "api": {"CRMBOT_API_CURSOR_SECRET", "CRMBOT_DATABASE_URL"},
        "web": {"CRMBOT_TOKEN", "CRMBOT_DATABASE_URL"},
    }


def test_every_variable_the_compose_file_needs_is_in_the_env_example():
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    needed = {found["name"] for found in REQUIRED_VARIABLE.finditer(text)}
    listed = {line.partition("=")[0]
              for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines()
              if line and not line.startswith("#")}
    assert needed == listed == set(SAMPLE_ENV)


def test_the_database_url_reaches_the_compose_database_with_its_password():
    postgres = environment("postgres")
    for service in CRMBOT_SERVICES:
        url = urlsplit(interpolate(environment(service)["CRMBOT_DATABASE_URL"], SAMPLE_ENV))
        assert url.scheme == "postgresql+asyncpg"
        assert (url.hostname, url.port) == ("postgres", 5432)
        assert url.username == postgres["POSTGRES_USER"]
        assert url.password == SAMPLE_ENV["POSTGRES_PASSWORD"]
        assert url.path == f"/{postgres['POSTGRES_DB']}"


def test_docker_compose_accepts_the_file_and_refuses_it_without_the_secrets():
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    base = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    given = subprocess.run([*command, "config", "-q"], cwd=ROOT, capture_output=True,
                           text=True, env={**base, **SAMPLE_ENV})
    assert given.returncode == 0, given.stderr
    missing = subprocess.run([*command, "config", "-q"], cwd=ROOT, capture_output=True,
                             text=True, env=base)
    assert missing.returncode != 0
    assert "in deploy/.env" in missing.stderr


# --- the container config ---------------------------------------------------------------------


def test_the_shipped_container_config_is_valid_with_the_secrets_from_the_environment():
    url = interpolate(environment("bot")["CRMBOT_DATABASE_URL"], SAMPLE_ENV)
    env = {"CRMBOT_TOKEN": SAMPLE_ENV["CRMBOT_TOKEN"], "CRMBOT_DATABASE_URL": url,
           "CRMBOT_API_CURSOR_SECRET": SAMPLE_ENV["CRMBOT_API_CURSOR_SECRET"]}
    config = load_config(DEPLOY / "config.toml", env=env)
    assert config.require_token() == SAMPLE_ENV["CRMBOT_TOKEN"]
    assert config.database.url == url
    assert config.api.require_cursor_secret() == SAMPLE_ENV["CRMBOT_API_CURSOR_SECRET"].encode()
    assert config.storage.photos_dir == Path("/data/photos")


def test_the_container_config_holds_no_secret():
    data = tomllib.loads((DEPLOY / "config.toml").read_text(encoding="utf-8"))
    assert "token" not in data.get("telegram", {})
    assert "cursor_secret" not in data["api"]
    assert data["api"]["tokens"] == []
    assert not urlsplit(data["database"]["url"]).password


# --- Dockerfile --------------------------------------------------------------------------------


def test_the_image_is_built_in_stages_on_slim_python():
    stages = arguments("FROM")
    assert len(stages) >= 2
    assert all(stage.split()[0] == "python:3.11-slim-trixie" for stage in stages)
    assert "--from=build /opt/crmbot /opt/crmbot" in arguments("COPY", "final")
    # Of Debian's packages, only the PostgreSQL client (backups), without its recommends.
    installs = [run for run in arguments("RUN", "final") if "apt-get install" in run]
    assert len(installs) == 1
    assert "--no-install-recommends postgresql-client" in installs[0]


def test_the_image_runs_as_a_non_root_user():
    assert arguments("USER", "final")[-1] == "crmbot"
    assert any(re.search(r"useradd .*--uid 10001 .*\bcrmbot\b", run)
               for run in arguments("RUN", "final"))


def test_the_image_checks_the_bots_healthz_with_python():
    (check,) = arguments("HEALTHCHECK")
    assert "urllib.request.urlopen('http://127.0.0.1:8081/healthz'" in check


def test_the_image_runs_crmbot_on_the_mounted_config():
    assert arguments("ENTRYPOINT") == ['["crmbot"]']
    assert arguments("CMD") == [f'["run", "--config", "{CONFIG_IN_CONTAINER}"]']
    assert arguments("VOLUME") == ['["/data"]']
    assert any("PYTHONUNBUFFERED=1" in env for env in arguments("ENV", "final"))


def test_the_image_gets_every_package_the_project_ships_and_checks_the_font():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {name.rstrip("*") for name in
                pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {args.split()[0] for args in arguments("COPY")}
    ignored = {line for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").split("\n")
               if line and not line.startswith("#")}
    assert packages <= copied
    assert not packages & ignored
    assert {".git", ".venv", "data", "tests", "bench"} <= ignored
    assert any("noto_cjk_sans_jp_regular import FONT_PATH" in run for run in arguments("RUN"))


# --- systemd ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "command"), [("crmbot@.service", "run"),
                                               ("crmbot-api.service", "api"),
                                               ("crmbot-web.service", "web")])
def test_each_systemd_unit_runs_crmbot_as_its_own_user_and_restarts(name, command):
    service = unit(name)["Service"]
    program, *rest = shlex.split(service["ExecStart"])
    assert program == "/opt/crmbot/bin/crmbot"
    assert rest == [command, "--config", "/etc/crmbot/config.toml"]
    assert (service["Restart"], service["RestartSec"]) == ("always", "2")
    assert service["User"] == "crmbot"
    assert service["EnvironmentFile"] == "/etc/crmbot/env"


def test_each_bot_instance_answers_health_on_a_port_of_its_own():
    environment = shlex.split(unit("crmbot@.service")["Service"]["Environment"])
    assert "CRMBOT_HEALTH_PORT=808%i" in environment


@pytest.mark.parametrize("name", ["crmbot@.service", "crmbot-api.service",
                                  "crmbot-web.service"])
def test_each_systemd_unit_is_sandboxed_but_may_write_its_data(name):
    service = unit(name)["Service"]
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "true"
    assert service["PrivateTmp"] == "true"
    assert service["ReadWritePaths"] == service["WorkingDirectory"] == "/var/lib/crmbot"
    assert unit(name)["Install"]["WantedBy"] == "multi-user.target"
