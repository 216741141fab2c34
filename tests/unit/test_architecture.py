"""The layers stay apart: core knows no Telegram or database, handlers know no storage."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bootstrap", "bot", "core", "storage", "api", "standin", "web")


def python_files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported_modules(source: str, package: str) -> Iterator[tuple[int, str]]:
    """Every module an import statement names, at any depth, with its line."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                yield node.lineno, ".".join([*base, *([node.module] if node.module else [])])
            else:
                yield node.lineno, node.module or ""


def offending_imports(folder: str, allowed) -> list[str]:
    files = python_files(folder)
    assert files, f"no Python files under {folder}"
    return [f"{path.relative_to(ROOT)}:{line} imports {name}"
            for path in files
            for line, name in imported_modules(path.read_text(encoding="utf-8"), package_of(path))
            if not allowed(name)]


def top(name: str) -> str:
    return name.split(".")[0]


def test_core_knows_nothing_of_telegram_or_the_database():
    bad = offending_imports("core", lambda name: top(name) not in {"telegram", "sqlalchemy",
                                                                   "api", "fastapi"})
    assert not bad, "\n".join(bad)


def test_core_speaks_of_a_messenger_never_of_telegram():
    # A second messenger's front end is a package beside bot/: core names no messenger.
    mentions = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                for path in python_files("core")
                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if "telegram" in line.lower()]
    assert not mentions, "\n".join(mentions)


def test_the_api_is_a_front_end_beside_the_bot():
    bad = offending_imports("api", lambda name: top(name) not in {"bot", "telegram"})
    assert not bad, "\n".join(bad)


# What the Mini App shares with the bot: its words and how it writes dates, amounts and
# marks, so that a figure reads the same on the page as in the chat.
BOT_WORDS = {"bot.i18n", "bot.texts", "bot.timefmt", "bot.notices", "bot.funnel"}


def test_the_web_is_a_front_end_that_shares_only_the_bots_words():
    """The Mini App imports no Telegram library, and of the bot only its words and their
    formatting (the handlers' word tables among them), never what talks to Telegram."""
    bad = offending_imports("web", lambda name: top(name) != "telegram" and (
        top(name) != "bot" or name in BOT_WORDS or name.startswith("bot.handlers.")))
    assert bad == []


def test_the_domain_uses_only_the_standard_library_and_itself():
    def allowed(name: str) -> bool:
        return top(name) in sys.stdlib_module_names or name == "core.domain" or name.startswith(
            "core.domain.")

    bad = offending_imports("core/domain", allowed)
    assert not bad, "\n".join(bad)


def test_handlers_do_not_reach_into_storage():
    bad = offending_imports("bot/handlers", lambda name: top(name) not in {"storage",
                                                                            "sqlalchemy"})
    assert not bad, "\n".join(bad)


# The stand-in serves the demo and the tests; the product runs without it.
STANDIN_USERS = {Path("bot/demo.py"), Path("bot/stage.py")}


def test_only_the_demo_plays_against_the_standin():
    bad = [line
           for folder in ("bot", "core", "storage", "api", "web")
           for line in offending_imports(folder, lambda name: top(name) != "standin")
           if Path(line.partition(":")[0]) not in STANDIN_USERS]
    assert not bad, "\n".join(bad)


def test_the_standin_knows_nothing_of_the_product():
    bad = offending_imports("standin", lambda name: top(name) not in {"bot", "core", "storage",
                                                                       "api"})
    assert not bad, "\n".join(bad)


def test_migrations_are_frozen_they_import_no_project_code():
    bad = offending_imports("storage/migrations/versions",
                            lambda name: top(name) not in {*PACKAGES, "web"})
    assert not bad, "\n".join(bad)


def test_the_import_check_sees_every_kind_of_import():
    source = ("import telegram.ext\nfrom sqlalchemy import text\n"
              "def later():\n    from storage import tables\n"
              "from . import money\nfrom ..ports import Clock\n")
    assert sorted(name for _, name in imported_modules(source, "core.domain")) == sorted([
        "telegram.ext", "sqlalchemy", "storage", "core.domain", "core.ports"])


# Importing must not touch the network or build the bot.


class ImportSideEffect(AssertionError):
    pass


@contextmanager
def no_network_and_no_application() -> Iterator[list[str]]:
    """Refuse any connection and any Application being built while the body runs."""
    from telegram.ext import Application, ApplicationBuilder

    attempts: list[str] = []

    def refuse(what: str):
        def refused(*args, **kwargs):
            attempts.append(what)
            raise ImportSideEffect(f"{what} at import time")
        return refused

    patch = pytest.MonkeyPatch()
    try:
        patch.setattr(socket.socket, "connect", refuse("socket.connect"))
        patch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
        patch.setattr(socket, "create_connection", refuse("socket.create_connection"))
        patch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
        patch.setattr(ApplicationBuilder, "build", refuse("ApplicationBuilder.build"))
        patch.setattr(Application, "__init__", refuse("Application()"))
        yield attempts
    finally:
        patch.undo()


@contextmanager
def fresh_packages() -> Iterator[None]:
    """Forget the project's modules so they are imported (and run) again; then put them back."""
    saved = {name: module for name, module in sys.modules.items() if top(name) in PACKAGES}
    for name in saved:
        del sys.modules[name]
    try:
        yield
    finally:
        for name in [n for n in sys.modules if top(n) in PACKAGES]:
            del sys.modules[name]
        sys.modules.update(saved)


def import_everything() -> list[str]:
    imported = []
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        imported.append(package_name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            importlib.import_module(info.name)
            imported.append(info.name)
    return imported


def test_importing_every_module_opens_no_connection_and_builds_no_application():
    with fresh_packages(), no_network_and_no_application() as attempts:
        imported = import_everything()
    assert not attempts
    # Every module in a package was imported; alembic's migration scripts are not modules.
    expected = {module_name(path) for package in PACKAGES for path in python_files(package)
                if (path.parent / "__init__.py").exists()}
    assert expected - set(imported) == set()


def test_the_import_guard_catches_a_connection():
    with no_network_and_no_application() as attempts, pytest.raises(ImportSideEffect):
        socket.create_connection(("api.telegram.org", 443), timeout=0.01)
    assert attempts == ["socket.create_connection"]
