"""When a handler fails: log it with the update id, and tell the person without internals."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.context import CrmContext
from core.domain.org.language import from_app_language
from core.ports import StorageBusy

log = logging.getLogger("crmbot.errors")


async def on_error(update: object, context: CrmContext) -> None:
    """Log the traceback; apologise to the person in their language."""
    update_id = update.update_id if isinstance(update, Update) else None
    busy = _caused_by(context.error, StorageBusy)
    if busy:
        # Nothing broke: another write (an org import, a busy minute) held the database.
        log.warning("update %s waited too long for the database: %r", update_id,
                    context.error.__cause__ or context.error)
    else:
        log.error("update %s failed", update_id, exc_info=context.error)
    if not isinstance(update, Update):
        return
    await _speak_their_language(update, context)
    if busy:
        text = context.t("One moment, please: the system is busy. Please send that again in a "
                         "few seconds.")
    else:
        text = context.t("Sorry, something went wrong on our side. Please try again in a "
                         "moment; if it keeps happening, tell your manager.")
    try:
        if update.callback_query:
            await update.callback_query.answer(text, show_alert=True)
        elif update.effective_message:
            await update.effective_message.reply_text(text)
    except TelegramError:
        log.warning("could not tell the user about the failure of update %s", update_id)


def _caused_by(error: BaseException | None, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, kind):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


async def _speak_their_language(update: Update, context: CrmContext) -> None:
    """PTB gives the error handler a fresh context, so find the language again."""
    user = update.effective_user
    if user is None:
        return
    try:
        visitor = await context.services.org.identify(user.id)
    except Exception:  # the failure may be the database itself
        context.speak(from_app_language(user.language_code) or "en")
    else:
        context.choose_language(visitor, user.language_code)
