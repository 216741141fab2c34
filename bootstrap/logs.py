"""Every crmbot process's log: text or JSON lines on stderr, the fields of the update being
handled on each line written meanwhile, and no secret of the config in any line or traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from pythonjsonlogger.json import JsonFormatter
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.config import Section
from core.trace import current_update

if TYPE_CHECKING:
    from bootstrap.config import Config

# The fields of the update being handled, on every line; the closing line's own after them.
UPDATE_FIELDS = ("update_id", "chat_id", "member_id", "member_key")
CLOSING_FIELDS = ("kind", "ms", "outcome")
FIELDS = UPDATE_FIELDS + CLOSING_FIELDS

# Shorter secrets are not masked: hiding every "abc" would garble the lines, not protect them.
MIN_SECRET = 4
# Libraries that speak at INFO or DEBUG of every request or statement.
CHATTY = ("httpx", "httpcore", "aiosqlite", "apscheduler", "alembic")


class LoggingConfig(Section):
    """How the process logs: plain text lines or one JSON object a line, from which level."""

    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"


class StampUpdate(logging.Filter):
    """Puts the fields of the update being handled on each record written while it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = current_update()
        if fields is not None:
            record.update_id, record.chat_id = fields.update_id, fields.chat_id
            record.member_id, record.member_key = fields.member_id, fields.member_key
        return True


def fields_of(record: logging.LogRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in FIELDS if hasattr(record, name)}


def utc_time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def _text_value(value: object) -> str:
    """A field's value after `key=`: empty for none, quoted when it holds a space or quote."""
    text = "" if value is None else str(value)
    if " " in text or '"' in text:
        return '"' + text.replace('"', '\\"') + '"'
    return text


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...`, a traceback on the lines below."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return utc_time(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        return super().formatMessage(record) + "".join(
            f" {name}={_text_value(value)}" for name, value in fields_of(record).items())


class JsonLineFormatter(JsonFormatter):
    """One JSON object a line: time (UTC), level, logger, message, the fields, a traceback."""

    def __init__(self) -> None:
        super().__init__(json_ensure_ascii=False)

    def add_fields(self, log_data: dict, record: logging.LogRecord,
                   message_dict: dict) -> None:
        log_data.update(time=utc_time(record), level=record.levelname, logger=record.name,
                        message=record.message, **fields_of(record), **message_dict)


def secrets_of(config: Config) -> list[tuple[str, str]]:
    """Every secret the config holds, each with what stands for it in the logs."""
    found: list[tuple[str, str]] = []
    telegram = config.telegram
    if telegram.token is not None:
        token = telegram.token.get_secret_value()
        found += [(token, "<token>"), (token.partition(":")[2], "<token>")]
    if telegram.webhook.secret_token is not None:
        found.append((telegram.webhook.secret_token.get_secret_value(), "<webhook-secret>"))
    found += [(t.token.get_secret_value(), "<api-token>") for t in config.api.tokens]
    if config.api.cursor_secret is not None:
        found.append((config.api.cursor_secret.get_secret_value(), "<cursor-secret>"))
    try:
        password = make_url(config.database.url).password
    except ArgumentError:
        password = None
    if password:
        # As written in the URL too, where characters like @ or / are escaped.
        found += [(str(password), "<password>"), (quote(str(password), safe=""), "<password>")]
    return found


def _hidden_query(path: str) -> str:
    """A request's path with the values of its query parameters hidden."""
    path, mark, query = path.partition("?")
    if not mark:
        return path
    return path + "?" + "&".join(f"{part.partition('=')[0]}=<hidden>"
                                 for part in query.split("&"))


class Redact(logging.Filter):
    """Keeps the config's secrets out of every log line and traceback, and query parameters
    out of the API's access log; network errors in one line.

    httpx and python-telegram-bot log request URLs, which carry the token; a client may put a
    credential in a query string; a Bot API server that is down makes python-telegram-bot log
    a three-part traceback that says no more than its last line.
    """

    def __init__(self, secrets: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__()
        # The longest first: the token goes whole before its secret half is looked for.
        self.secrets = sorted({(secret, label) for secret, label in secrets
                               if len(secret) >= MIN_SECRET}, key=lambda pair: -len(pair[0]))

    def clean(self, text: str) -> str:
        for secret, label in self.secrets:
            if secret in text:
                text = text.replace(secret, label)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        from telegram.error import NetworkError

        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(
                record.args) == 5:
            client, method, path, version, status = record.args
            record.args = (client, method, _hidden_query(str(path)), version, status)
        message = record.getMessage()
        if record.exc_info and isinstance(record.exc_info[1], NetworkError):
            message = f"{message} ({record.exc_info[1]})"
            record.exc_info, record.exc_text = None, None
        elif record.exc_info:
            record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        record.msg, record.args = self.clean(message), ()
        return True


def handler_for(settings: LoggingConfig, secrets: Iterable[tuple[str, str]] = (),
                stream=None) -> logging.Handler:
    """A handler writing `settings.format` lines to `stream` (stderr), secrets masked."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter() if settings.format == "json" else TextFormatter())
    handler.addFilter(StampUpdate())
    handler.addFilter(Redact(secrets))
    return handler


def configure_logging(config: Config | None = None, *, floor: int = logging.NOTSET) -> None:
    """Log as `config`'s [logging] says (text at INFO without a config), never below `floor`:
    commands that print their results keep the log to warnings."""
    settings = config.logging if config is not None else LoggingConfig()
    level = max(logging.getLevelNamesMapping()[settings.level], floor)
    handler = handler_for(settings, secrets_of(config) if config is not None else ())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name in CHATTY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    # Warnings and a crash's traceback go the same way, masked too.
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught


def _log_uncaught(kind, error, traceback) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("crmbot").critical("stopped by an unexpected error",
                                         exc_info=(kind, error, traceback))
