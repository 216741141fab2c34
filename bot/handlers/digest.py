"""/digest in a team group: today's digest, posted, or brought up to date where it is."""

from __future__ import annotations

from telegram import ReplyParameters, Update
from telegram.constants import ChatType
from telegram.ext import CommandHandler

from bot.context import CrmContext
from bot.scheduler import wake_dispatcher
from core.domain.errors import NotFound


def _not_bound(context: CrmContext) -> str:
    return context.t("This group is not the team chat of any department yet. A manager can "
                     "send /bindgroup here; the team digest then arrives every working "
                     "morning, and /digest shows it any time.")


async def digest(update: Update, context: CrmContext) -> None:
    """Post today's digest in a bound group, or refresh (edit) the one already posted."""
    chat, message, t = update.effective_chat, update.effective_message, context.t
    if chat.type == ChatType.PRIVATE:
        await message.reply_text(t("The team digest belongs to your team's group chat: "
                                   "send /digest there."))
        return
    if await context.services.groups.bound(chat.id) is None:
        await message.reply_text(_not_bound(context))
        return
    try:
        refresh = await context.services.reminders.refresh_digest(chat.id)
    except NotFound:  # unbound a moment ago
        await message.reply_text(_not_bound(context))
        return
    wake_dispatcher(context.application)
    posted = refresh.notification.message_id
    if refresh.created or posted is None:
        return  # the digest itself is the answer, on its way through the outbox
    # The digest may be far up the chat: answer under it, so one tap shows it.
    await context.bot.send_message(
        chat.id, t("I have updated today's digest.") if refresh.changed
        else t("Today's digest is up to date."),
        reply_parameters=ReplyParameters(posted, allow_sending_without_reply=True))


def handlers() -> list:
    return [CommandHandler("digest", digest)]
