"""The composition root: config in, a ready python-telegram-bot Application out."""

from __future__ import annotations

import gc
import logging

from telegram import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeDefault
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bootstrap import build_services
from bootstrap.config import Config
from bot.commands import everyone_commands
from bot.context import CrmContext
from bot.conversations import expense, opportunity, plan
from bot.conversations import log as work_log
from bot.dashboard import DASHBOARD, Dashboard
from bot.handlers import (
    approvals,
    budgets,
    calendar,
    checkins,
    claims,
    digest,
    errors,
    export,
    fallback,
    gate,
    goals,
    groups,
    inbox,
    invite,
    language,
    opportunities,
    reminders,
    start,
    stats,
    team,
)
from bot.handlers import help as help_
from bot.i18n import LANGUAGES, TELEGRAM_CODES, Translator
from bot.inbound import JournaledPolling, JournaledQueue, UpdateJournal
from bot.outbox import Dispatcher
from bot.pacing import Pacer
from bot.persistence import DatabasePersistence
from bot.scheduler import start_scheduler
from bot.transport import AiohttpRequest
from bot.updates import PerChatUpdateProcessor
from core.ports import Clock, SystemClock
from storage.chat_states import ChatStates
from storage.database import Database

log = logging.getLogger("crmbot")

# Handler groups: the gate first, then features, then the catch-alls.
GATE_GROUP = -10
GUARD_GROUP = -5
FEATURE_GROUP = 0


def settle_memory() -> None:
    """Leave what the bot keeps for its whole life (modules, handlers, mappers, the
    application) out of the garbage collector's full collections: they then walk only what
    updates made since, and hold the event loop for a fraction of the time."""
    gc.collect()
    gc.freeze()


def build_application(config: Config, *, database: Database | None = None,
                      clock: Clock | None = None, token: str | None = None,
                      settle: bool = False, worker: str | None = None) -> Application:
    """Build the Application; nothing connects until it is initialized. With `settle`, memory
    is settled once it has started: for a long-running process, not for tests, which build
    hundreds of applications in one process."""
    database = database or Database.connect(config.database.url, echo=config.database.echo)
    clock = clock or SystemClock()
    telegram = config.telegram
    services = build_services(config, database, clock, worker)
    journal = UpdateJournal(services.inbound)
    persistence = DatabasePersistence(ChatStates(database))
    dashboard = Dashboard(config.web.public_url)

    async def post_init(application: Application) -> None:
        # Handled first once the bot starts: what an earlier process received and never did.
        unhandled = await journal.unhandled(application.bot)
        if unhandled:
            log.info("%d updates received before a stop are handled now", len(unhandled))
        await application.update_queue.replay(unhandled)
        await publish_commands(application)
        await dashboard.start(application)
        await start_scheduler(application)
        await application.bot_data["dispatcher"].start()
        if settle:
            settle_memory()

    async def post_stop(application: Application) -> None:
        # The bot can still send here: what is on its way is finished and recorded.
        await dashboard.stop()
        await application.bot_data["dispatcher"].stop()
        await journal.flush()

    async def post_shutdown(application: Application) -> None:
        await dashboard.stop()
        await application.bot_data["dispatcher"].stop()  # when post_stop never ran
        await journal.flush()
        await database.dispose()

    application = (
        ApplicationBuilder()
        .token(token or config.require_token())
        .base_url(telegram.base_url)
        .base_file_url(telegram.base_file_url)
        .request(AiohttpRequest())
        .get_updates_request(JournaledPolling(journal, connection_pool_size=1))
        .update_queue(JournaledQueue(journal))
        .rate_limiter(Pacer.from_config(config.outbox))
        .concurrent_updates(PerChatUpdateProcessor(telegram.concurrent_updates))
        .context_types(ContextTypes(context=CrmContext))
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
        .persistence(persistence)
        .build()
    )

    async def save_chat_states() -> None:
        await application.update_persistence()
        await persistence.save()

    journal.before_marking = save_chat_states
    application.update_processor.on_handled = journal.handled  # type: ignore[attr-defined]
    application.bot_data["services"] = services
    application.bot_data["dispatcher"] = Dispatcher(
        application.bot, services.outbox, batch=config.outbox.batch,
        single_process=database.is_sqlite)
    application.bot_data["database"] = database
    application.bot_data[DASHBOARD] = dashboard
    application.bot_data["journal"] = journal
    register_handlers(application)
    return application


def register_handlers(application: Application) -> None:
    application.add_handler(gate.gate_handler(), group=GATE_GROUP)
    application.add_handlers([fallback.edit_guard(), fallback.group_guard()], group=GUARD_GROUP)
    for module in (start, help_, language, invite, inbox, reminders, groups, digest, checkins,
                   calendar, team, claims, approvals, budgets, stats, export, opportunities,
                   goals):
        application.add_handlers(module.handlers(), group=FEATURE_GROUP)
    # Conversations of later modules go before these, in the same group.
    application.add_handlers([*expense.handlers(application),
                              *opportunity.handlers(application), plan.conversation(application),
                              work_log.conversation(application), *plan.after_conversations()],
                             group=FEATURE_GROUP)
    application.add_handlers(fallback.handlers(), group=FEATURE_GROUP)
    application.add_error_handler(errors.on_error)


async def publish_commands(application: Application) -> None:
    """The command menu in each language (role-specific ones are listed by /help)."""
    bot = application.bot
    for code in LANGUAGES:
        t = Translator(code)
        commands = [BotCommand(c.name, t(c.description)) for c in everyone_commands()]
        await bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats(),
                                  language_code=TELEGRAM_CODES[code])
    default = Translator("en")
    await bot.set_my_commands(
        [BotCommand(c.name, default(c.description)) for c in everyone_commands()
         if not c.private_only],
        scope=BotCommandScopeDefault())
    await bot.set_my_commands(
        [BotCommand(c.name, default(c.description)) for c in everyone_commands()],
        scope=BotCommandScopeAllPrivateChats())
