"""Log lines as an operator reads them: text or JSON, the update's fields on each line written
while it is handled, and none of the config's secrets anywhere."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import UTC, datetime

import pytest
from telegram import Update

from bootstrap.config import parse_config
from bootstrap.logs import LoggingConfig, configure_logging, handler_for, secrets_of
from bot.observe import finished
from bot.updates import handled
from core.trace import bind_member, handling_update, record_outcome
from storage.tables import DepartmentRow

TOKEN = "7000001:AAH-the-secret-half_of_the_token"
WEBHOOK_SECRET = "hook-secret-Zq81xx"
API_TOKEN = "finance-api-token-0123456789abcdef"
OTHER_API_TOKEN = "ledger-api-token-fedcba9876543210"
CURSOR_SECRET = "cursor-secret-0123456789abcdef0123456789"
PASSWORD = "pa@ss/w0rd"  # %-escaped in the URL
SECRETS = {
    "bot token": TOKEN,
    "the token's secret half": TOKEN.partition(":")[2],
    "webhook secret": WEBHOOK_SECRET,
    "API token": API_TOKEN,
    "another API token": OTHER_API_TOKEN,
    "cursor secret": CURSOR_SECRET,
    "database password": PASSWORD,
    "database password as written in the URL": "pa%40ss%2Fw0rd",
}
LOGGERS = ("crmbot.test", "crmbot.updates", "uvicorn.access")


@pytest.fixture(autouse=True)
def _crash_and_warning_hooks_as_they_were(monkeypatch):
    """configure_logging routes crashes and warnings into the log; the next test must not."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    yield
    logging.captureWarnings(False)


def config_with_secrets(**logging_section):
    return parse_config({
        "telegram": {"token": TOKEN, "webhook": {"secret_token": WEBHOOK_SECRET}},
        "api": {"tokens": [{"name": "erp", "token": API_TOKEN},
                           {"name": "ledger", "token": OTHER_API_TOKEN}],
                "cursor_secret": CURSOR_SECRET},
        "database": {"url": "postgresql+asyncpg://crm:pa%40ss%2Fw0rd@db.internal:5432/crm"},
        "logging": logging_section}, env={})


class Log:
    """Loggers writing into a string through the handler that configure_logging installs."""

    def __init__(self, form: str = "text", secrets=()) -> None:
        self.stream = io.StringIO()
        self.handler = handler_for(LoggingConfig(format=form), secrets, self.stream)

    def __enter__(self) -> logging.Logger:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self.handler)
            logger.propagate, logger.level = False, logging.DEBUG
        return logging.getLogger("crmbot.test")

    def __exit__(self, *exc: object) -> None:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.removeHandler(self.handler)
            logger.propagate, logger.level = True, logging.NOTSET

    @property
    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def objects(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]


def message_update(update_id: int = 41, chat_id: int = 2001) -> Update:
    return Update.de_json({"update_id": update_id, "message": {
        "message_id": 7, "date": 1_800_000_000, "text": "/help",
        "chat": {"id": chat_id, "type": "private", "first_name": "Carol"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "Carol"}}}, None)


def test_a_text_line_outside_an_update_is_time_level_logger_and_message():
    record = Log()
    with record as log:
        log.info("outbox delivered %d messages", 3)
    [line] = record.lines
    time, rest = line.split(" ", 1)
    assert rest == "INFO crmbot.test: outbox delivered 3 messages"
    assert time.endswith("Z") and datetime.fromisoformat(time).utcoffset().total_seconds() == 0


def test_a_text_line_inside_an_update_carries_its_fields_the_member_once_known():
    record = Log()
    with record as log, handling_update(41, 2001):
        log.info("before the gate")
        bind_member(12, "carol")
        log.info("after the gate")
    before, after = record.lines
    assert before.endswith(
        "crmbot.test: before the gate update_id=41 chat_id=2001 member_id= member_key=")
    assert after.endswith(
        "crmbot.test: after the gate update_id=41 chat_id=2001 member_id=12 member_key=carol")


def test_a_json_line_is_one_object_with_time_level_logger_message_and_the_fields():
    record = Log("json")
    with record as log:
        log.warning("no update here")
        with handling_update(41, -100777):
            bind_member(12, "carol")
            log.debug("in a group: %s", "东区")
    outside, inside = record.objects()
    assert set(outside) == {"time", "level", "logger", "message"}
    assert outside["level"] == "WARNING" and outside["logger"] == "crmbot.test"
    assert datetime.fromisoformat(outside["time"]).tzinfo is not None
    assert datetime.fromisoformat(outside["time"]).utcoffset() == UTC.utcoffset(None)
    assert {k: v for k, v in inside.items() if k != "time"} == {
        "level": "DEBUG", "logger": "crmbot.test", "message": "in a group: 东区",
        "update_id": 41, "chat_id": -100777, "member_id": 12, "member_key": "carol"}


def test_the_closing_line_says_kind_time_taken_and_outcome():
    record = Log("json")
    with record, handling_update(41, 2001) as fields:
        record_outcome("committed")
        finished("callback_query", 0.0123, fields.outcome)
    [line] = record.objects()
    assert line["message"] == "update handled" and line["level"] == "INFO"
    assert (line["update_id"], line["chat_id"], line["member_id"]) == (41, 2001, None)
    assert (line["kind"], line["ms"], line["outcome"]) == ("callback_query", 12.3, "committed")


def test_a_rollback_outweighs_a_commit_and_a_commit_nothing():
    with handling_update(41, 2001) as fields:
        assert fields.outcome == "none"
        record_outcome("committed")
        record_outcome("rolled_back")
        record_outcome("committed")
        assert fields.outcome == "rolled_back"
    record_outcome("committed")  # outside an update: nobody to tell, no error


async def test_an_update_is_closed_with_its_kind_also_when_its_handlers_fail():
    record = Log("json")

    async def failing() -> None:
        logging.getLogger("crmbot.test").error("handler failed")
        raise RuntimeError("boom")

    with record, pytest.raises(RuntimeError):
        await handled(message_update(), failing())
    failure, closing = record.objects()
    assert (failure["update_id"], failure["chat_id"]) == (41, 2001)
    assert (closing["message"], closing["kind"], closing["outcome"]) == (
        "update handled", "message", "none")
    assert closing["ms"] >= 0


async def test_each_update_handled_at_once_keeps_its_own_fields():
    record = Log("json")

    async def speak(key: str) -> None:
        bind_member(len(key), key)
        logging.getLogger("crmbot.test").info("said by %s", key)

    with record:
        await handled(message_update(1, 2001), speak("carol"))
        await handled(message_update(2, 2002), speak("li"))
    lines = [line for line in record.objects() if line["message"].startswith("said")]
    assert [(x["update_id"], x["chat_id"], x["member_key"]) for x in lines] == [
        (1, 2001, "carol"), (2, 2002, "li")]


@pytest.mark.parametrize("form", ["text", "json"])
@pytest.mark.parametrize("kind", list(SECRETS))
def test_no_secret_of_the_config_reaches_a_line_or_a_traceback(kind, form):
    secret = SECRETS[kind]
    record = Log(form, secrets_of(config_with_secrets()))
    with record as log:
        log.info(f"in the message {secret} itself")
        log.info("in an argument: %s", f"https://api.example/bot{secret}/getMe")
        try:
            raise RuntimeError(f"failed with {secret}")
        except RuntimeError:
            log.exception("in a traceback")
        log.warning("in a stack", stack_info=True, extra={"why": secret})
    text = "\n".join(record.lines)
    assert secret not in text
    assert "in the message <" in text and "RuntimeError: failed with <" in text


def test_each_secret_is_named_by_its_kind_and_the_bot_id_stays():
    record = Log(secrets=secrets_of(config_with_secrets()))
    with record as log:
        log.info("GET /bot%s/getMe", TOKEN)
        log.info("%s %s %s %s", WEBHOOK_SECRET, API_TOKEN, CURSOR_SECRET, PASSWORD)
    first, second = (line.split(": ", 1)[1] for line in record.lines)
    assert first == "GET /bot<token>/getMe"
    assert second == "<webhook-secret> <api-token> <cursor-secret> <password>"


def test_the_access_log_shows_query_names_without_their_values():
    record = Log()
    with record:
        # As uvicorn writes it: client, method, path with query, HTTP version, status.
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "10.0.0.7:5123", "GET",
            "/api/v1/claims/approved?cursor=eyJhIjoxfQ.c2ln&access_token=leaked&limit=100",
            "1.1", 200)
    [line] = record.lines
    assert line.endswith('uvicorn.access: 10.0.0.7:5123 - "GET /api/v1/claims/approved?'
                         'cursor=<hidden>&access_token=<hidden>&limit=<hidden> HTTP/1.1" 200')


def test_the_config_chooses_format_and_level_and_a_command_can_ask_for_less(capsys):
    configure_logging(config_with_secrets(format="json", level="DEBUG"))
    assert logging.getLogger().level == logging.DEBUG
    logging.getLogger("crmbot.test").debug("from %s", TOKEN)
    assert json.loads(capsys.readouterr().err)["message"] == "from <token>"

    configure_logging(config_with_secrets(format="json", level="DEBUG"), floor=logging.WARNING)
    assert logging.getLogger().level == logging.WARNING
    assert logging.getLogger("aiosqlite").level == logging.WARNING


def test_text_at_info_is_the_default_without_a_config(capsys):
    configure_logging()
    assert logging.getLogger().level == logging.INFO
    logging.getLogger("crmbot.test").info("started")
    assert capsys.readouterr().err.rstrip().endswith(" INFO crmbot.test: started")


def test_a_crash_is_logged_masked_through_the_same_handler(capsys):
    configure_logging(config_with_secrets(format="json"))
    try:
        raise RuntimeError(f"cannot reach {API_TOKEN}")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    line = json.loads(capsys.readouterr().err)
    assert line["level"] == "CRITICAL" and API_TOKEN not in json.dumps(line)
    assert "RuntimeError: cannot reach <api-token>" in line["exc_info"]


async def test_units_of_work_tell_the_update_what_they_came_to(database):
    with handling_update(41, 2001) as fields:
        async with database.uow(read_only=True):
            pass
        assert fields.outcome == "none"
        async with database.uow():
            pass  # nothing written, nothing to commit
        assert fields.outcome == "none"
        async with database.uow() as uow:
            await uow.commit()
        assert fields.outcome == "committed"

    with handling_update(42, 2001) as fields:
        with pytest.raises(ValueError):
            async with database.uow() as uow:
                uow.session.add(DepartmentRow(key="east", name="East"))
                raise ValueError("refused")
        assert fields.outcome == "rolled_back"

    with handling_update(43, 2001) as fields:
        with pytest.raises(ValueError):
            async with database.uow(read_only=True):
                raise ValueError("not found")
        assert fields.outcome == "none"
